"""The ``native`` backend: batch kernels in C over the system GMP (:mod:`fedcrypto._native`).

Every method allocates the output limb array and passes it, with the inputs and
the modulus as a ``(1, width)`` limb row, to the extension.  The extension
validates buffers and value ranges under the GIL, then runs the whole batch with
the GIL released on ``threads`` POSIX threads (static partition: results are
identical for any thread count).  See ``docs/native-kernel.md``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _native
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._base import (
    DEFAULT_MAX_TABLE_BYTES,
    MAX_WINDOW,
    Backend,
    FixedBaseTable,
    check_bool,
    check_table_args,
    default_threads,
    fixed_base_window,
    output_width,
)
from ._intops import IntOps, best_int_ops
from ._limbs import LimbArray, int_to_limbs

__all__ = ["NativeBackend", "NativeFixedBase"]


def _mod_row(mod: int) -> LimbArray:
    return int_to_limbs(mod)


#: Thread counts above this are clamped (the kernel uses at most 256 slices anyway).
_MAX_THREADS = 1024


def _t(threads: int) -> int:
    return min(threads, _MAX_THREADS)


def _out(count: int, mod: int) -> LimbArray:
    return np.empty((count, output_width(mod)), dtype=np.uint64)


class NativeFixedBase(FixedBaseTable):
    """A precomputed table of ``base^(d * 2^(i k))`` (Montgomery form for odd moduli).

    ``pow`` then needs one modular multiplication per non-zero ``k``-bit digit of
    the exponent and no squarings.  The table lives in C memory, is written once
    and only read afterwards, so one table can serve many threads at once.
    """

    __slots__ = ("_table",)
    _table: Any

    def __init__(
        self,
        base: int,
        mod: int,
        max_exp_bits: int,
        *,
        window: int = 0,
        secret: bool = False,
        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    ) -> None:
        """Build the table for ``base`` modulo ``mod`` and exponents of up to ``max_exp_bits``.

        ``window`` (bits, 0 = automatic: the widest up to 10 bits, 5 for constant-time
        tables, whose table fits ``max_table_bytes``) trades table size and build time
        against products per ``pow``.  ``secret=True`` (odd ``mod`` only) builds a
        constant-time table: every ``pow`` runs through all windows, reads each window's
        row whole (``mpn_sec_tabselect``) and multiplies with GMP's side-channel-silent
        schoolbook product, so neither time nor memory access depend on the exponents
        (about 2.5x slower than the variable-time table, still about 5x faster than
        ``mpn_sec_powm``).  The memory budget is checked here, before the kernel
        allocates anything.

        :raises InvalidArgumentError: an even modulus with ``secret=True``, a window above
            16, or a table larger than ``max_table_bytes`` (the message names both sizes).
        """
        sec = check_bool(secret, "secret")
        max_exp_bits, max_table_bytes = check_table_args(max_exp_bits, max_table_bytes)
        if isinstance(window, bool) or not isinstance(window, int):
            raise InvalidTypeError("window must be an int")
        if not 0 <= window <= MAX_WINDOW:
            raise InvalidArgumentError(f"window must be between 0 (automatic) and {MAX_WINDOW}")
        k = fixed_base_window(
            mod, max_exp_bits, secret=sec, max_table_bytes=max_table_bytes, window=window
        )
        super().__init__(base, mod, max_exp_bits, sec, k)
        table = _native.FixedBase(
            int_to_limbs(base), _mod_row(mod), max_exp_bits, k, default_threads(), sec
        )
        self._set(_table=table)

    @property
    def secret(self) -> bool:
        """Whether ``pow`` runs in constant time."""
        return bool(self._table.secret)

    @property
    def window(self) -> int:
        """Window width ``k`` in bits (one table row per ``k`` exponent bits)."""
        return int(self._table.window)

    @property
    def table_bytes(self) -> int:
        """Memory held by the precomputed table, in bytes (as the kernel reports it)."""
        return int(self._table.table_bytes)

    def _pow(self, exps: LimbArray, threads: int) -> LimbArray:
        out = _out(exps.shape[0], self.mod)
        self._table.pow(exps, out, _t(threads))
        return out

    def __repr__(self) -> str:
        return (
            f"NativeFixedBase(mod_bits={self.mod.bit_length()}, max_exp_bits={self.max_exp_bits}, "
            f"window={self.window})"
        )


class NativeBackend(Backend):
    """Batch modular arithmetic in C over GMP, multi-threaded, GIL released.

    Int-level operations (one value at a time) run on gmpy2 when it is installed, else
    on Python ints; curve25519 hash-to-curve runs the C kernel.
    """

    name = "native"
    native_h2c25519 = True
    native_x25519 = True

    def _make_int_ops(self) -> IntOps:
        return best_int_ops()  # imports gmpy2 on first use only: keeps `import fedcrypto` fast

    def _curve25519_h2c_u(self, uniform: bytes | bytearray | memoryview, threads: int) -> bytes:
        return bytes(_native.curve25519_h2c_u(uniform, _t(threads)))

    def _x25519_many(
        self,
        scalar: bytes | bytearray | memoryview,
        us: bytes | bytearray | memoryview,
        threads: int,
    ) -> bytes:
        return bytes(_native.x25519_many(scalar, us, _t(threads)))

    def _curve25519_u_status(self, us: bytes | bytearray | memoryview, threads: int) -> bytes:
        return bytes(_native.curve25519_u_status(us, _t(threads)))

    def _powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, secret: bool, threads: int
    ) -> LimbArray:
        out = _out(bases.shape[0], mod)
        _native.powmod(bases, exps, _mod_row(mod), out, secret, _t(threads))
        return out

    def _mulmod(self, a: LimbArray, b: LimbArray, mod: int, threads: int) -> LimbArray:
        out = _out(a.shape[0], mod)
        _native.mulmod(a, b, _mod_row(mod), out, _t(threads))
        return out

    def _prodmod(self, values: LimbArray, mod: int, threads: int) -> LimbArray:
        out = _out(1, mod)
        _native.prodmod(values, _mod_row(mod), out, _t(threads))
        return out

    def _multi_powmod(self, bases: LimbArray, exps: LimbArray, mod: int, threads: int) -> LimbArray:
        out = _out(1, mod)
        _native.multi_powmod(bases, exps, _mod_row(mod), out, _t(threads))
        return out

    def _fixed_base(
        self, base: int, mod: int, max_exp_bits: int, secret: bool, window: int
    ) -> FixedBaseTable:
        return NativeFixedBase(base, mod, max_exp_bits, window=window, secret=secret)

    def _crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, q_inv: int, threads: int
    ) -> LimbArray:
        out = _out(rp.shape[0], p * q)
        _native.crt(rp, rq, _mod_row(p), _mod_row(q), int_to_limbs(q_inv), out, _t(threads))
        return out

    def info(self) -> dict[str, str]:
        """``name``, linked ``gmp`` version, ``gmpy2`` version (if importable),
        ``constant_time``, the linked ``openssl`` (libcrypto) version or ``"not linked"``,
        ``ct_powmod`` (which code runs ``powmod(secret=True)``) and the default ``threads``."""
        info: dict[str, str] = {"name": self.name, "gmp": _native.gmp_version()}
        try:
            import gmpy2

            info["gmpy2"] = str(gmpy2.version())
        except ImportError:  # pragma: no cover - gmpy2 is a dependency
            pass
        info["constant_time"] = "yes"
        ossl = _native.openssl_version()
        info["openssl"] = ossl if ossl is not None else "not linked"
        info["ct_powmod"] = (
            "OpenSSL BN_mod_exp_mont_consttime" if ossl is not None else "GMP mpn_sec_powm"
        )
        info["threads"] = str(default_threads())
        return info

    def __reduce__(self) -> Any:
        return (NativeBackend, ())
