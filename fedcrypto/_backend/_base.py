"""The backend interface: batch modular arithmetic on limb arrays, plus a few
int-level operations and the curve25519 hash-to-curve capability.

Three implementations exist (``native`` over GMP in C, ``gmpy2``, ``pure`` Python
ints); all take and return limb arrays in the layout of :mod:`._limbs` and give
bit-identical results.  The public methods here check shapes, types and moduli
once, in Python, then call the implementation's ``_``-prefixed method.  Checks
that need the values (each base below the modulus) are done by the
implementation, under the GIL, before any arithmetic.

Int-level operations (:meth:`Backend.int_powmod`, :meth:`~Backend.int_invert`,
:meth:`~Backend.jacobi`, :meth:`~Backend.is_square`,
:meth:`~Backend.is_probable_prime`) take and return Python ints, one value at a
time: gmpy2 runs them where it is installed (``native`` and ``gmpy2`` backends),
Python ints on the ``pure`` backend.  They are variable time: public values only.
"""

from __future__ import annotations

import functools
import operator
import os
from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._h2c25519 import UNIFORM_BYTES, Curve25519Hasher
from ._intops import SMALL_PRIMES, IntOps
from ._limbs import LimbArray, check_limbs, width_of

__all__ = [
    "Backend",
    "FixedBaseTable",
    "default_threads",
    "check_modulus",
    "check_threads",
    "check_bool",
    "check_table_args",
    "fixed_base_table_bytes",
    "fixed_base_window",
    "DEFAULT_MAX_TABLE_BYTES",
    "MAX_EXP_BITS",
    "MAX_AUTO_WINDOW",
    "SECRET_WINDOW",
    "SECRET_WINDOW_WIDE",
    "secret_window",
]

#: Default memory budget of one fixed-base table (96 MiB), constant-time or not.
DEFAULT_MAX_TABLE_BYTES = 96 * 1024 * 1024
#: Widest exponent a fixed-base table (or ``exp_bits``) may be built for, and the widest
#: exponent row of the constant-time ``powmod(secret=True)``.
MAX_EXP_BITS = 1 << 16
#: Widest automatic window of a variable-time table (bits).
MAX_AUTO_WINDOW = 10
#: Window of a constant-time table for moduli under 32 limbs: every row of a window is read
#: for every exponent, so wider windows stop paying off (5 bits balances scan and products).
SECRET_WINDOW = 5
#: Window of a constant-time table for moduli of 32 limbs (2048 bits) and more: 6 bits
#: measured 6-10% faster than 5 at 2048-6144 bits once the row scan was vectorized
#: (docs/native-kernel.md, issue 12).
SECRET_WINDOW_WIDE = 6
#: Limb count from which constant-time tables use :data:`SECRET_WINDOW_WIDE`.
SECRET_WIDE_MIN_LIMBS = 32
#: Widest window the kernel accepts when one is given explicitly.
MAX_WINDOW = 16


def default_threads() -> int:
    """Number of cores this process may run on (the default ``threads``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None) -> int:
    """Resolve ``threads`` (None = all cores) and validate it."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise InvalidTypeError("threads must be an int or None")
    if threads < 1:
        raise InvalidArgumentError("threads must be at least 1")
    return int(threads)


def check_modulus(mod: object, *, odd: bool = False) -> int:
    """Validate a modulus: an integer > 1, odd when ``odd`` (constant-time paths, Montgomery)."""
    m = _as_int(mod, "modulus")
    if m <= 1:
        raise InvalidArgumentError("modulus must be greater than 1")
    if odd and m % 2 == 0:
        raise InvalidArgumentError("modulus must be odd for this operation")
    return m


def check_bool(value: object, what: str) -> bool:
    """``value`` if it is a real ``bool``; InvalidTypeError otherwise (``"no"`` is not False)."""
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{what} must be a bool, got {type(value).__name__}")
    return value


def _as_int(value: object, what: str) -> int:
    """``value`` as a Python int: ints and numpy integer scalars, never bool or float."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    try:
        return int(operator.index(value))
    except TypeError:  # e.g. a numpy array with more than one element
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}") from None


def fixed_base_table_bytes(mod: int, max_exp_bits: int, window: int, secret: bool) -> int:
    """Bytes of a fixed-base table: one row of ``2^window - 1`` powers (``2^window`` when
    constant time, digit 0 included) per ``window``-bit digit of the exponent, each power
    as wide as the modulus."""
    windows = -(-max_exp_bits // window)
    per_window = (1 << window) - (0 if secret else 1)
    return windows * per_window * width_of(mod) * 8


def secret_window(mod: int) -> int:
    """Window (bits) of a constant-time fixed-base table modulo ``mod``, chosen by measurement:
    6 from 32 limbs (2048 bits) up, 5 below."""
    return SECRET_WINDOW_WIDE if width_of(mod) >= SECRET_WIDE_MIN_LIMBS else SECRET_WINDOW


def fixed_base_window(
    mod: int,
    max_exp_bits: int,
    *,
    secret: bool,
    max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    window: int = 0,
) -> int:
    """The window (bits) of a fixed-base table, within the memory budget ``max_table_bytes``.

    ``window=0`` picks the widest window up to 10 bits (up to :func:`secret_window` when
    ``secret``) whose table fits the budget; a window given explicitly must fit it too.

    :raises InvalidArgumentError: when even the smallest table (1-bit window) is larger than
        ``max_table_bytes``; the message names the bytes needed and allowed.
    """
    if window:
        need = fixed_base_table_bytes(mod, max_exp_bits, window, secret)
        if need > max_table_bytes:
            raise InvalidArgumentError(_too_big(need, max_table_bytes, mod, max_exp_bits, window))
        return window
    top = min(secret_window(mod) if secret else MAX_AUTO_WINDOW, max_exp_bits)
    for k in range(top, 0, -1):
        if fixed_base_table_bytes(mod, max_exp_bits, k, secret) <= max_table_bytes:
            return k
    need = fixed_base_table_bytes(mod, max_exp_bits, 1, secret)
    raise InvalidArgumentError(_too_big(need, max_table_bytes, mod, max_exp_bits, 1))


def _too_big(need: int, allowed: int, mod: int, max_exp_bits: int, window: int) -> str:
    return (
        f"a fixed-base table for a {mod.bit_length()}-bit modulus and {max_exp_bits}-bit "
        f"exponents needs {need:,} bytes (window {window}), above the limit of {allowed:,} bytes "
        "(max_table_bytes)"
    )


def check_table_args(max_exp_bits: object, max_table_bytes: object) -> tuple[int, int]:
    """Validate ``max_exp_bits`` (``1..65536``) and ``max_table_bytes`` (positive int)."""
    if isinstance(max_exp_bits, bool) or not isinstance(max_exp_bits, int):
        raise InvalidTypeError("max_exp_bits must be an int")
    if not 1 <= max_exp_bits <= MAX_EXP_BITS:
        raise InvalidArgumentError(f"max_exp_bits must be between 1 and {MAX_EXP_BITS}")
    if isinstance(max_table_bytes, bool) or not isinstance(max_table_bytes, int):
        raise InvalidTypeError("max_table_bytes must be an int")
    if max_table_bytes < 1:
        raise InvalidArgumentError("max_table_bytes must be positive")
    return max_exp_bits, max_table_bytes


def _check_pair(a: LimbArray, b: LimbArray, what_a: str, what_b: str, *, broadcast_b: bool) -> None:
    n_a, n_b = a.shape[0], b.shape[0]
    if n_a != n_b and not (broadcast_b and n_b == 1):
        raise InvalidArgumentError(
            f"{what_a} and {what_b} have different lengths ({n_a} and {n_b})"
        )


class FixedBaseTable(Immutable, ABC):
    """Precomputed powers of one base modulo one modulus; immutable and thread-safe.

    ``pow(exps)`` returns ``base ** e mod m`` for each exponent row, faster than a
    plain exponentiation because the squarings were done once, at construction.
    Exponents wider than ``max_exp_bits`` are rejected.  ``window`` is the table's
    window in bits and ``table_bytes`` the memory its rows take (or would take, for
    the loop backends, which exponentiate directly), within the budget it was built for.
    """

    __slots__ = ("_base", "_mod", "_max_exp_bits", "_secret", "_window")
    _base: int
    _mod: int
    _max_exp_bits: int
    _secret: bool
    _window: int

    def __init__(
        self, base: int, mod: int, max_exp_bits: int, secret: bool = False, window: int = 1
    ) -> None:
        self._set(_base=base, _mod=mod, _max_exp_bits=max_exp_bits, _secret=secret, _window=window)

    @property
    def base(self) -> int:
        return self._base

    @property
    def mod(self) -> int:
        return self._mod

    @property
    def max_exp_bits(self) -> int:
        return self._max_exp_bits

    @property
    def secret(self) -> bool:
        """Whether ``pow`` is constant time in the exponent."""
        return self._secret

    @property
    def window(self) -> int:
        """Window width in bits (one table row per ``window`` exponent bits)."""
        return self._window

    @property
    def table_bytes(self) -> int:
        """Memory of the precomputed rows in bytes (see :func:`fixed_base_table_bytes`)."""
        return fixed_base_table_bytes(self._mod, self._max_exp_bits, self._window, self._secret)

    def pow(self, exps: LimbArray, *, threads: int | None = None) -> LimbArray:
        """``base ** e mod m`` for every row ``e`` of the limb array ``exps``."""
        exps = check_limbs(exps, "exponents")
        nthreads = check_threads(threads)
        return self._pow(exps, nthreads)

    @abstractmethod
    def _pow(self, exps: LimbArray, threads: int) -> LimbArray: ...


class Backend(ABC):
    """Batch modular arithmetic over limb arrays (see :mod:`._limbs` for the layout),
    int-level operations on Python ints, and curve25519 hash-to-curve."""

    name: str = "abstract"
    #: Whether :meth:`curve25519_h2c_u` runs a native kernel (else the Python implementation).
    native_h2c25519: bool = False
    #: Whether :meth:`x25519_many` runs the native batch ladder (else ``cryptography`` per call).
    native_x25519: bool = False

    # -- public, validated entry points ------------------------------------------------
    def powmod(
        self,
        bases: LimbArray,
        exps: LimbArray,
        mod: int,
        *,
        secret: bool = False,
        threads: int | None = None,
    ) -> LimbArray:
        """``bases[i] ** exps[i] mod mod`` for every row.

        ``exps`` has one row per base, or a single row shared by all bases.
        ``secret=True`` uses constant-time exponentiation (requires an odd modulus, and
        exponent rows of at most :data:`MAX_EXP_BITS` bits: the time depends on the row
        width, not on the exponents' values).  Every base must be below ``mod``.

        :raises InvalidArgumentError: an even, zero or unit modulus with ``secret``, or
            exponent rows wider than :data:`MAX_EXP_BITS` bits with ``secret``.
        """
        bases = check_limbs(bases, "bases")
        exps = check_limbs(exps, "exponents")
        sec = check_bool(secret, "secret")
        m = check_modulus(mod, odd=sec)
        _check_pair(bases, exps, "bases", "exponents", broadcast_b=True)
        if sec and exps.shape[1] * 64 > MAX_EXP_BITS:
            raise InvalidArgumentError(
                f"constant-time exponent rows are limited to {MAX_EXP_BITS} bits, "
                f"got {exps.shape[1] * 64}"
            )
        return self._powmod(bases, exps, m, sec, check_threads(threads))

    def mulmod(
        self, a: LimbArray, b: LimbArray, mod: int, *, threads: int | None = None
    ) -> LimbArray:
        """``a[i] * b[i] mod mod`` elementwise; both operands below ``mod``."""
        a = check_limbs(a, "left operands")
        b = check_limbs(b, "right operands")
        m = check_modulus(mod)
        _check_pair(a, b, "left operands", "right operands", broadcast_b=True)
        return self._mulmod(a, b, m, check_threads(threads))

    def prodmod(self, values: LimbArray, mod: int, *, threads: int | None = None) -> LimbArray:
        """The product of all rows mod ``mod`` as a ``(1, width)`` array (1 for an empty batch)."""
        values = check_limbs(values, "values")
        m = check_modulus(mod)
        return self._prodmod(values, m, check_threads(threads))

    def multi_powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, *, threads: int | None = None
    ) -> LimbArray:
        """``prod(bases[i] ** exps[i]) mod mod`` as a ``(1, width)`` array (1 when empty)."""
        bases = check_limbs(bases, "bases")
        exps = check_limbs(exps, "exponents")
        m = check_modulus(mod)
        _check_pair(bases, exps, "bases", "exponents", broadcast_b=False)
        return self._multi_powmod(bases, exps, m, check_threads(threads))

    def fixed_base(
        self,
        base: int,
        mod: int,
        max_exp_bits: int,
        *,
        secret: bool = False,
        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    ) -> FixedBaseTable:
        """Precompute a table for raising ``base`` to exponents of up to ``max_exp_bits`` bits.

        ``secret=True`` makes ``pow`` constant time in the exponent (every table row is read
        whole, a fixed number of products per exponent; odd modulus required): use it
        whenever the exponent is secret, e.g. Paillier DJN randomizers.

        The table takes ``ceil(max_exp_bits / k) * (2^k - 1)`` powers of the modulus' width
        (``2^k`` when ``secret``) for a window of ``k`` bits: the widest window up to 10
        bits (5 when ``secret``) whose table fits ``max_table_bytes`` (96 MiB by default)
        is used, on every backend alike.

        :raises InvalidArgumentError: ``max_exp_bits`` outside ``[1, 65536]``, a base outside
            ``[0, mod)``, an even modulus with ``secret``, or a table that does not fit
            ``max_table_bytes`` even with a 1-bit window (the message names both sizes).
        :raises InvalidTypeError: non-integer arguments or a ``secret`` that is not a bool.
        """
        sec = check_bool(secret, "secret")
        m = check_modulus(mod, odd=sec)
        if isinstance(base, bool) or not isinstance(base, int):
            raise InvalidTypeError("base must be an int")
        if not 0 <= base < m:
            raise InvalidArgumentError("base must be in [0, modulus)")
        bits, budget = check_table_args(max_exp_bits, max_table_bytes)
        window = fixed_base_window(m, bits, secret=sec, max_table_bytes=budget)
        return self._fixed_base(base, m, bits, sec, window)

    def crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, *, threads: int | None = None
    ) -> LimbArray:
        """The unique ``x mod p*q`` with ``x = rp[i] mod p`` and ``x = rq[i] mod q``.

        ``p`` and ``q`` must be coprime; ``rp`` rows below ``p``, ``rq`` rows below ``q``.
        """
        rp = check_limbs(rp, "residues mod p")
        rq = check_limbs(rq, "residues mod q")
        pp = check_modulus(p)
        qq = check_modulus(q)
        _check_pair(rp, rq, "residues mod p", "residues mod q", broadcast_b=False)
        try:
            q_inv = pow(qq, -1, pp)
        except ValueError:
            raise InvalidArgumentError("CRT moduli must be coprime") from None
        return self._crt(rp, rq, pp, qq, q_inv, check_threads(threads))

    # -- int-level operations: Python ints in and out, variable time -------------------
    # Each has a fast path for plain ints in range (the library's own calls, per element on
    # PSI hot paths) and falls back to full validation for anything else.
    def int_powmod(self, base: int, exp: int, mod: int) -> int:
        """``base ** exp mod mod`` for one value (variable time: public exponents only).

        ``base`` is any integer (reduced mod ``mod``), ``exp >= 0``, ``mod > 1``.
        """
        if not (type(base) is int and type(exp) is int and type(mod) is int):
            base, exp, mod = _as_int(base, "base"), _as_int(exp, "exponent"), _as_int(mod, "mod")
        if mod <= 1:
            check_modulus(mod)
        if exp < 0:
            raise InvalidArgumentError("exponent must be non-negative")
        return int(self._ints.powmod(base % mod, exp, mod))

    def int_invert(self, value: int, mod: int) -> int:
        """The inverse of ``value`` modulo ``mod`` (``mod > 1``), in ``[1, mod)``.

        :raises InvalidArgumentError: when ``gcd(value, mod) != 1``.
        """
        if not (type(value) is int and type(mod) is int):
            value, mod = _as_int(value, "value"), _as_int(mod, "mod")
        if mod <= 1:
            check_modulus(mod)
        inv = self._ints.invert(value % mod, mod)
        if inv is None:
            raise InvalidArgumentError("value is not invertible modulo the modulus")
        return int(inv)

    def jacobi(self, a: int, n: int) -> int:
        """The Jacobi symbol ``(a / n)`` (-1, 0 or 1) for an odd ``n >= 3``; for a prime
        ``n`` it is the Legendre symbol: 1 for a non-zero square mod ``n``, -1 for a
        non-square, 0 when ``n`` divides ``a``."""
        if not (type(a) is int and type(n) is int):
            a, n = _as_int(a, "a"), _as_int(n, "n")
        if n <= 1 or not n & 1:
            check_modulus(n, odd=True)
        return int(self._ints.jacobi(a % n, n))

    @property
    def int_ops(self) -> IntOps:
        """The backend's number type and its single-value operations, unvalidated.

        For hot loops over one field (hash-to-curve in :mod:`fedcrypto.hazmat.h2c`): numbers
        made with ``int_ops.num`` (gmpy2 ``mpz`` on the native and gmpy2 backends, ``int``
        on the pure one) support ``+ - * % **``, comparisons and ``&`` like ints, and
        ``int_ops.powmod`` / ``invert`` / ``jacobi`` take and return them.  Nothing is
        checked: callers keep values reduced and moduli valid, and convert results with
        ``int()`` before they leave.  Use the validated ``int_*`` methods otherwise.
        """
        return self._ints

    def is_square(self, n: int) -> bool:
        """Whether the integer ``n`` is a perfect square (False for negative ``n``)."""
        v = _as_int(n, "n")
        return v >= 0 and bool(self._ints.is_square(v))

    def is_probable_prime(self, n: int, bases: Sequence[int]) -> bool:
        """Trial division by the primes below 100, then one Miller–Rabin round per base.

        Deterministic: the caller draws the bases (``fedcrypto._random`` draws them
        uniformly from ``secrets``).  A composite passes one round with a uniform random
        base with probability below 1/4.

        :param n: the integer to test (anything below 2 is not prime).
        :param bases: at least one base, each in ``[2, n - 2]`` (ignored when trial
            division already decides, i.e. ``n`` has a factor below 100 or ``n < 101^2``).
        :raises InvalidArgumentError: no bases, or a base out of range.
        """
        v = _as_int(n, "n")
        if isinstance(bases, (str, bytes)) or not isinstance(bases, Sequence):
            raise InvalidTypeError("bases must be a sequence of ints")
        bs = [_as_int(a, "base") for a in bases]
        if not bs:
            raise InvalidArgumentError("a probable-prime test needs at least one base")
        if v < 2:
            return False
        for p in SMALL_PRIMES:
            if v % p == 0:
                return v == p
        if v < 101 * 101:
            return True  # no prime factor below 100 and below 101^2: prime
        if any(not 2 <= a <= v - 2 for a in bs):
            raise InvalidArgumentError("every Miller-Rabin base must be in [2, n - 2]")
        ops = self._ints
        return all(ops.is_strong_prp(v, a) for a in bs)

    # -- curve25519 hash-to-curve ------------------------------------------------------
    def curve25519_h2c_u(
        self, uniform: bytes | bytearray | memoryview, *, threads: int | None = 1
    ) -> bytes:
        """Finish RFC 9380 ``curve25519_XMD:SHA-512_ELL2_RO_`` for a batch of messages.

        ``uniform`` holds one 96-byte ``expand_message_xmd(msg, DST, 96, SHA-512)`` output
        per message; for each, ``u0`` and ``u1`` are its 48-byte big-endian halves mod
        ``p = 2^255 - 19`` and the result is the u-coordinate of ``8 (map(u0) + map(u1))``
        (Elligator 2, point addition, cofactor clearing) as 32 little-endian bytes, all
        zero for the point at infinity.  The native backend runs the C kernel (GIL
        released, ``threads`` threads; results do not depend on it); the others a
        Python implementation over their number type (``threads`` is ignored).

        :returns: ``32 * (len(uniform) // 96)`` bytes.
        :raises InvalidTypeError: ``uniform`` not a contiguous bytes-like object.
        :raises InvalidArgumentError: a length that is not a multiple of 96, bad ``threads``.
        """
        if not isinstance(uniform, (bytes, bytearray, memoryview)):
            raise InvalidTypeError(f"uniform must be bytes, got {type(uniform).__name__}")
        view = memoryview(uniform)
        if not view.c_contiguous:
            raise InvalidTypeError("uniform must be a contiguous buffer")
        if view.nbytes % UNIFORM_BYTES:
            raise InvalidArgumentError("uniform bytes must be a multiple of 96 bytes")
        nthreads = check_threads(threads)
        return self._curve25519_h2c_u(uniform, nthreads)

    # -- X25519 ------------------------------------------------------------------------
    def x25519_many(
        self,
        scalar: bytes | bytearray | memoryview,
        us: bytes | bytearray | memoryview,
        *,
        threads: int | None = 1,
    ) -> bytes:
        """RFC 7748 ``X25519(scalar, u)`` for every 32-byte little-endian ``u`` in ``us``.

        ``scalar`` is the 32-byte secret (clamped as RFC 7748 says); the u-coordinates
        are taken as RFC 7748 decodes them (top bit ignored, non-canonical values reduced).
        A low-order ``u`` gives 32 zero bytes (RFC 7748's all-zero output; callers that
        must refuse it check for it).  The native backend runs a constant-time C ladder
        (GIL released, ``threads`` threads; results do not depend on it); the others call
        ``cryptography``'s X25519 once per ``u``.

        :returns: ``len(us)`` bytes.
        :raises InvalidTypeError: non-bytes arguments or non-contiguous buffers.
        :raises InvalidArgumentError: a scalar that is not 32 bytes, ``us`` not a multiple
            of 32 bytes, bad ``threads``.
        """
        views = []
        for value, what in ((scalar, "scalar"), (us, "u-coordinates")):
            if not isinstance(value, (bytes, bytearray, memoryview)):
                raise InvalidTypeError(f"{what} must be bytes, got {type(value).__name__}")
            view = memoryview(value)
            if not view.c_contiguous:
                raise InvalidTypeError(f"{what} must be a contiguous buffer")
            views.append(view)
        if views[0].nbytes != 32:
            raise InvalidArgumentError("an X25519 scalar is 32 bytes")
        if views[1].nbytes % 32:
            raise InvalidArgumentError("u-coordinates must be a multiple of 32 bytes")
        return self._x25519_many(scalar, us, check_threads(threads))

    def curve25519_u_status(
        self, us: bytes | bytearray | memoryview, *, threads: int | None = 1
    ) -> bytes:
        """Validate 32-byte little-endian curve25519 u-coordinates (public data).

        :returns: one byte per ``u``: 0 when ``u < p`` and ``u^3 + A u^2 + u`` is a square
            or zero (a point of curve25519), 1 when ``u >= p`` (non-canonical), 2 when it is
            a point of the quadratic twist.  The native backend runs a C kernel (GIL
            released); the others use the backend's Jacobi symbol per ``u``.
        :raises InvalidTypeError: ``us`` not a contiguous bytes-like object.
        :raises InvalidArgumentError: a length that is not a multiple of 32, bad ``threads``.
        """
        if not isinstance(us, (bytes, bytearray, memoryview)):
            raise InvalidTypeError(f"u-coordinates must be bytes, got {type(us).__name__}")
        view = memoryview(us)
        if not view.c_contiguous:
            raise InvalidTypeError("u-coordinates must be a contiguous buffer")
        if view.nbytes % 32:
            raise InvalidArgumentError("u-coordinates must be a multiple of 32 bytes")
        return self._curve25519_u_status(us, check_threads(threads))

    def info(self) -> dict[str, str]:
        """Name and library versions of this backend."""
        return {"name": self.name}

    # -- implementation hooks ----------------------------------------------------------
    @functools.cached_property
    def _ints(self) -> IntOps:
        """The number type for int-level operations (made once, on first use)."""
        return self._make_int_ops()

    @abstractmethod
    def _make_int_ops(self) -> IntOps: ...

    @functools.cached_property
    def _h2c25519(self) -> Curve25519Hasher:
        return Curve25519Hasher(self._ints)

    def _curve25519_h2c_u(self, uniform: bytes | bytearray | memoryview, threads: int) -> bytes:
        """The Python implementation (overridden by backends with a kernel)."""
        return self._h2c25519.u_from_uniform(bytes(uniform))

    def _x25519_many(
        self,
        scalar: bytes | bytearray | memoryview,
        us: bytes | bytearray | memoryview,
        threads: int,
    ) -> bytes:
        """``cryptography``'s X25519, one call per ``u`` (overridden by the native backend).

        Imported here, on first use, to keep ``import fedcrypto`` fast."""
        from cryptography.hazmat.primitives.asymmetric.x25519 import (
            X25519PrivateKey,
            X25519PublicKey,
        )

        sk = X25519PrivateKey.from_private_bytes(bytes(scalar))
        data = bytes(us)
        out = []
        for i in range(0, len(data), 32):
            try:
                out.append(sk.exchange(X25519PublicKey.from_public_bytes(data[i : i + 32])))
            except ValueError:  # low-order u: RFC 7748's all-zero output
                out.append(bytes(32))
        return b"".join(out)

    def _curve25519_u_status(self, us: bytes | bytearray | memoryview, threads: int) -> bytes:
        """Per-``u`` Jacobi symbols (overridden by the native backend)."""
        p = (1 << 255) - 19
        data = bytes(us)
        out = bytearray(len(data) // 32)
        for i in range(len(out)):
            u = int.from_bytes(data[32 * i : 32 * i + 32], "little")
            if u >= p:
                out[i] = 1
            elif self.jacobi(u * (u * (u + 486662) + 1) % p, p) < 0:
                out[i] = 2
        return bytes(out)

    @abstractmethod
    def _powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, secret: bool, threads: int
    ) -> LimbArray: ...

    @abstractmethod
    def _mulmod(self, a: LimbArray, b: LimbArray, mod: int, threads: int) -> LimbArray: ...

    @abstractmethod
    def _prodmod(self, values: LimbArray, mod: int, threads: int) -> LimbArray: ...

    @abstractmethod
    def _multi_powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, threads: int
    ) -> LimbArray: ...

    @abstractmethod
    def _fixed_base(
        self, base: int, mod: int, max_exp_bits: int, secret: bool, window: int
    ) -> FixedBaseTable: ...

    @abstractmethod
    def _crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, q_inv: int, threads: int
    ) -> LimbArray: ...


def output_width(mod: int) -> int:
    """Limb width of results modulo ``mod``."""
    return width_of(mod - 1)


def empty_result(mod: int) -> LimbArray:
    return np.zeros((0, output_width(mod)), dtype=np.uint64)
