"""Type stub for the native GMP kernel ``fedcrypto._native`` (src_native/glue.c).

Limb arrays are 2-D C-contiguous ``uint64`` arrays ``(count, width)``, limb 0 least
significant; moduli are ``(1, width)`` limb rows.  Outputs are allocated by the
caller with shape ``(count, width_of(m - 1))`` and must not overlap any input.
Errors: :class:`fedcrypto.exceptions.InvalidTypeError` (layout, dtype, argument types),
:class:`fedcrypto.exceptions.InvalidArgumentError` (values, lengths, moduli, ``threads < 1``)
and :class:`fedcrypto.exceptions.KernelError` (a reduction exceeded its proven bound: no
result; see docs/native-kernel.md).  Checked against the module by
``python -m mypy.stubtest fedcrypto._native --mypy-config-file pyproject.toml``.
"""

from typing import final

import numpy as np
import numpy.typing as npt

_Limbs = npt.NDArray[np.uint64]

def gmp_version() -> str:
    """Version of the GMP library linked in."""

def _redc_selftest(mod: _Limbs, rounds: int, seed: int, /) -> int | None:
    """Test hook: mismatches between the two Montgomery reductions (None: not applicable)."""

def _barrett_selftest(mod: _Limbs, rounds: int, seed: int, broken_mu: bool, /) -> int | None:
    """Test hook: mismatches between Barrett's reduction and division (None: not used for
    ``mod``); ``broken_mu`` replays the old truncated mu, which raises KernelError."""

def openssl_version() -> str | None:
    """Version of the libcrypto used for constant-time exponentiation (None: built without
    it; GMP's ``mpn_sec_powm`` is used)."""

def _powmod_gmp_sec(bases: _Limbs, exps: _Limbs, mod: _Limbs, out: _Limbs, threads: int, /) -> None:
    """Reference/benchmark hook: ``powmod(secret=True)`` through GMP's ``mpn_sec_powm`` only."""

def gmp_default_allocators() -> bool:
    """True when libgmp uses its own allocators (batches then run without the GIL)."""

def powmod(
    bases: _Limbs, exps: _Limbs, mod: _Limbs, out: _Limbs, secret: bool, threads: int, /
) -> None:
    """``out[i] = bases[i] ** exps[i or 0] mod m``; ``secret``: constant time, odd ``m``,
    exponent rows of at most 65,536 bits (OpenSSL's ``BN_mod_exp_mont_consttime`` when linked)."""

def mulmod(a: _Limbs, b: _Limbs, mod: _Limbs, out: _Limbs, threads: int, /) -> None:
    """``out[i] = a[i] * b[i or 0] mod m``."""

def prodmod(values: _Limbs, mod: _Limbs, out: _Limbs, threads: int, /) -> None:
    """``out[0] = prod(values) mod m`` (1 when empty)."""

def multi_powmod(bases: _Limbs, exps: _Limbs, mod: _Limbs, out: _Limbs, threads: int, /) -> None:
    """``out[0] = prod(bases[i] ** exps[i]) mod m`` (Pippenger; 1 when empty)."""

def crt(
    rp: _Limbs, rq: _Limbs, p: _Limbs, q: _Limbs, qinv: _Limbs, out: _Limbs, threads: int, /
) -> None:
    """``out[i] = rq[i] + q * ((rp[i] - rq[i]) * qinv mod p)``."""

@final
class FixedBase:
    """Immutable table of powers of one base; safe to share between threads."""

    def __new__(
        cls,
        base: _Limbs,
        mod: _Limbs,
        max_exp_bits: int,
        window: int,
        threads: int,
        secret: bool = False,
    ) -> FixedBase: ...
    def pow(self, exps: _Limbs, out: _Limbs, threads: int, /) -> None:
        """``out[i] = base ** exps[i] mod m``."""
    @property
    def window(self) -> int: ...
    @property
    def table_bytes(self) -> int: ...
    @property
    def secret(self) -> bool: ...
    @property
    def max_exp_bits(self) -> int: ...
    @property
    def out_width(self) -> int: ...

def curve25519_h2c_u(uniform: bytes | bytearray | memoryview, threads: int, /) -> bytes:
    """RFC 9380 ``curve25519_XMD:SHA-512_ELL2_RO_`` after ``expand_message_xmd``.

    ``uniform`` holds 96 bytes per message (the two 48-byte big-endian field-element
    strings); returns 32 bytes per message, the little-endian u-coordinate of the hashed
    point (0 for the point at infinity).  GIL released, ``threads`` POSIX threads;
    results do not depend on ``threads``.  Raises InvalidTypeError for a non-buffer and
    InvalidArgumentError for a length that is not a multiple of 96 or ``threads < 1``.
    """

def x25519_many(
    scalar: bytes | bytearray | memoryview, us: bytes | bytearray | memoryview, threads: int, /
) -> bytes:
    """RFC 7748 ``X25519(scalar, u)`` for each 32-byte little-endian ``u`` (constant time,
    GIL released, ``threads`` threads); 32 bytes per ``u``, all zero for a low-order ``u``.
    Raises InvalidTypeError for a non-buffer and InvalidArgumentError for a scalar that is
    not 32 bytes, ``us`` not a multiple of 32 bytes or ``threads < 1``."""

def curve25519_u_status(us: bytes | bytearray | memoryview, threads: int, /) -> bytes:
    """One status byte per 32-byte little-endian ``u``: 0 on curve25519, 1 non-canonical
    (``u >= p``), 2 on the quadratic twist.  Public data (not constant time); GIL released.
    Raises InvalidTypeError for a non-buffer and InvalidArgumentError for a length that is
    not a multiple of 32 or ``threads < 1``."""
