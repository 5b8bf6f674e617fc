"""Paillier key parameters: the one low module the rest of the package builds on.

:class:`PublicParams` holds what every public-key operation needs: the modulus
``n``, ``n**2``, the DJN base ``h_s``, ``max_int``, the fingerprint, the limb rows
of ``n`` and ``n**2``, the lazily built DJN fixed-base tables and the same-key
check.  :class:`PrivateParams` adds the primes and the CRT constants.  The key
classes of :mod:`._keys` subclass them (adding encryption, decryption and
serialization); vectors, encodings, pools and packing only ever need these
parameters, so they depend on this module and never on the key classes: the
package's import graph has no cycle.

Size policy (every constructor and parser checks it before any allocation or
arithmetic on the modulus):

* ``MIN_KEY_SIZE = 2048`` bits, below which ``unsafe_allow_small_keys=True`` is needed
  (and never below 128 bits);
* ``MAX_KEY_SIZE = 16384`` bits, above which ``unsafe_allow_large_keys=True`` is needed
  (and never above 65,536 bits).  A key from a peer costs time and memory that grow
  with the square of its size; the cap bounds what one message can make us spend.

Fixed-base tables are capped at :data:`TABLE_BUDGET` bytes, constant time or not.
When a key's table would be larger, randomizers are computed by plain (constant-time
unless asked otherwise) exponentiation instead: slower, but with no table at all.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import ClassVar, Generic, TypeVar, cast

import numpy as np

from .. import _random
from .._backend import FixedBaseTable, LimbArray, get_backend, int_to_limbs, secret_window, width_of
from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError, KeyMismatchError
from ..hazmat.modmath import is_probable_prime, powmod
from ..serialization import param_id

__all__ = [
    "MIN_KEY_SIZE",
    "DEFAULT_KEY_SIZE",
    "MAX_KEY_SIZE",
    "ABSOLUTE_MIN_KEY_SIZE",
    "ABSOLUTE_MAX_KEY_SIZE",
    "TABLE_BUDGET",
    "PublicParams",
    "PrivateParams",
    "as_int",
    "check_key_size",
    "fingerprint",
    "table_bytes",
]

#: Smallest key size accepted without ``unsafe_allow_small_keys``.
MIN_KEY_SIZE = 2048
#: Key size of :func:`~fedcrypto.paillier.generate_private_key` by default.
DEFAULT_KEY_SIZE = 3072
#: Largest key size accepted without ``unsafe_allow_large_keys`` (from a peer, a file or a caller).
MAX_KEY_SIZE = 16384
#: Smallest key size accepted at all (tests use these with the unsafe flag).
ABSOLUTE_MIN_KEY_SIZE = 128
#: Largest key size accepted at all, even with ``unsafe_allow_large_keys``.
ABSOLUTE_MAX_KEY_SIZE = 65536
#: Largest fixed-base table (bytes) built for a key's DJN base: the budget of the native
#: kernel's automatic window choice, applied to constant-time tables as well.
TABLE_BUDGET = 96 * 1024 * 1024

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]

T = TypeVar("T")


def as_int(value: object, what: str) -> int:
    """``value`` as a Python int; refuses bools, floats and anything that is not an integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"{what} must be an int, got {type(value).__name__}")
    return int(value)


def check_key_size(
    bits: int, *, unsafe_allow_small_keys: bool = False, unsafe_allow_large_keys: bool = False
) -> None:
    """Refuse a key of ``bits`` bits outside the policy (see the module docstring).

    Raises:
        InvalidArgumentError: too small or too large, naming the limit and the flag.
    """
    if bits < ABSOLUTE_MIN_KEY_SIZE:
        raise InvalidArgumentError(f"Paillier keys must have at least {ABSOLUTE_MIN_KEY_SIZE} bits")
    if bits < MIN_KEY_SIZE and not unsafe_allow_small_keys:
        raise InvalidArgumentError(
            f"a {bits}-bit Paillier key is too small (minimum {MIN_KEY_SIZE}); "
            "pass unsafe_allow_small_keys=True only for tests"
        )
    if bits > ABSOLUTE_MAX_KEY_SIZE:
        raise InvalidArgumentError(
            f"a {bits}-bit Paillier key is too large (at most {ABSOLUTE_MAX_KEY_SIZE} bits)"
        )
    if bits > MAX_KEY_SIZE and not unsafe_allow_large_keys:
        raise InvalidArgumentError(
            f"a {bits}-bit Paillier key is too large (maximum {MAX_KEY_SIZE}); "
            "pass unsafe_allow_large_keys=True to accept it"
        )


def fingerprint(n: int) -> bytes:
    """16-byte identifier of the public key ``n``: truncated SHA-256 over its bytes."""
    return param_id(b"fedcrypto/paillier/public-key", n.to_bytes((n.bit_length() + 7) // 8, "big"))


def table_bytes(mod: int, exp_bits: int, *, secret: bool) -> int:
    """Bytes of the native fixed-base table for ``mod`` and ``exp_bits``-bit exponents.

    Constant-time tables keep ``2**k`` entries for each of ``ceil(exp_bits / k)``
    windows (``k = secret_window(mod)``: 6 from 2048-bit moduli up, else 5);
    variable-time ones choose the widest window within :data:`TABLE_BUDGET`,
    whose smallest form is one entry per exponent bit.  Each entry is one residue
    (``width_of(mod)`` limbs).  The other backends keep no table: for them this is
    an upper bound.
    """
    entry = width_of(mod) * 8
    if secret:
        k = secret_window(mod)
        return -(-exp_bits // k) * (1 << k) * entry
    return exp_bits * entry


class _Lazy(Generic[T]):
    """A value built on first use, once, under a lock (the mutable cache of an immutable key)."""

    __slots__ = ("_lock", "_done", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        self._value: T | None = None

    def get(self, build: Callable[[], T]) -> T:
        if not self._done:
            with self._lock:
                if not self._done:
                    self._value = build()
                    self._done = True
        return cast(T, self._value)


def _check_modulus(n: int) -> None:
    """Cheap structural checks of a modulus: odd, no small factor, not a perfect square."""
    if n % 2 == 0:
        raise InvalidArgumentError("Paillier modulus must be odd")
    for sp in _SMALL_PRIMES:
        if n % sp == 0:
            raise InvalidArgumentError("Paillier modulus has a small factor")
    r = math.isqrt(n)
    if r * r == n:
        raise InvalidArgumentError("Paillier modulus must not be a perfect square")


class PublicParams(Immutable):
    """The parameters of a Paillier public key (base class of :class:`PaillierPublicKey`).

    ``n`` (odd, no small factor, not a square, within the size policy), ``n**2``,
    the DJN base ``h_s`` (a unit modulo ``n**2``), ``max_int = n // 3 - 1``, the
    fingerprint and limb rows; the DJN fixed-base tables are built on first use.
    Equal parameters have equal ``n``.
    """

    __slots__ = (
        "_n",
        "_nsquare",
        "_h_s",
        "_max_int",
        "_fp",
        "_n_row",
        "_nsq_row",
        "_hs_row",
        "_djn_ct",
        "_djn_vt",
        "__weakref__",
    )
    _n: int
    _nsquare: int
    _h_s: int
    _max_int: int
    _fp: bytes
    _n_row: LimbArray
    _nsq_row: LimbArray
    _hs_row: LimbArray
    _djn_ct: _Lazy[FixedBaseTable | None]
    _djn_vt: _Lazy[FixedBaseTable | None]

    def __init__(
        self,
        n: int,
        h_s: int,
        *,
        unsafe_allow_small_keys: bool = False,
        unsafe_allow_large_keys: bool = False,
    ) -> None:
        """Validate ``n`` and ``h_s``; prefer :func:`~fedcrypto.paillier.public_key_from_n`.

        Raises:
            InvalidTypeError: ``n`` or ``h_s`` is not an int.
            InvalidArgumentError: size outside the policy, bad modulus, base not a unit.
        """
        n = as_int(n, "n")
        h_s = as_int(h_s, "DJN base")
        check_key_size(
            n.bit_length(),
            unsafe_allow_small_keys=unsafe_allow_small_keys,
            unsafe_allow_large_keys=unsafe_allow_large_keys,
        )
        _check_modulus(n)
        nsq = n * n
        if not 0 < h_s < nsq or math.gcd(h_s, n) != 1:
            raise InvalidArgumentError("DJN base must be a unit modulo n**2")
        wc = width_of(nsq - 1)
        self._set(
            _n=n,
            _nsquare=nsq,
            _h_s=h_s,
            _max_int=n // 3 - 1,
            _fp=fingerprint(n),
            _n_row=int_to_limbs(n, width_of(n)),
            _nsq_row=int_to_limbs(nsq, wc),
            _hs_row=int_to_limbs(h_s, wc),
            _djn_ct=_Lazy(),
            _djn_vt=_Lazy(),
        )

    # -- properties ------------------------------------------------------------------
    @property
    def n(self) -> int:
        """The modulus ``n = p*q``."""
        return self._n

    @property
    def g(self) -> int:
        """The generator ``n + 1``."""
        return self._n + 1

    @property
    def nsquare(self) -> int:
        """``n**2``, the ciphertext modulus."""
        return self._nsquare

    @property
    def djn_base(self) -> int:
        """The public DJN base ``h_s`` (an n-th residue modulo ``n**2``)."""
        return self._h_s

    @property
    def key_size(self) -> int:
        """Bit length of ``n``."""
        return self._n.bit_length()

    @property
    def max_int(self) -> int:
        """Largest magnitude an integer encoding accepts: ``n // 3 - 1``.

        Plaintexts decrypting into ``(max_int, n - max_int)`` are reported as overflow.
        """
        return self._max_int

    @property
    def fingerprint(self) -> bytes:
        """16-byte identifier of this key (truncated SHA-256 of ``n``); envelopes carry it."""
        return self._fp

    @property
    def djn_exponent_bits(self) -> int:
        """Bit length of DJN exponents: ``ceil(|n| / 2)``."""
        return (self.key_size + 1) // 2

    @property
    def ciphertext_bytes(self) -> int:
        """Fixed width of one serialized ciphertext (bytes of ``n**2``)."""
        return (self._nsquare.bit_length() + 7) // 8

    @property
    def ciphertext_width(self) -> int:
        """Limbs per ciphertext row."""
        return int(self._nsq_row.shape[1])

    @property
    def plaintext_width(self) -> int:
        """Limbs per plaintext row."""
        return int(self._n_row.shape[1])

    # -- DJN randomizers -------------------------------------------------------------
    def _djn(self, *, variable_time: bool = False) -> FixedBaseTable | None:
        """The cached DJN fixed-base table for ``h_s`` (constant time unless ``variable_time``),
        or None when it would exceed :data:`TABLE_BUDGET`.  Built once, under a lock."""
        lazy = self._djn_vt if variable_time else self._djn_ct
        return lazy.get(lambda: self._build_djn(variable_time))

    def _build_djn(self, variable_time: bool) -> FixedBaseTable | None:
        bits = self.djn_exponent_bits
        if table_bytes(self._nsquare, bits, secret=not variable_time) > TABLE_BUDGET:
            return None
        return get_backend().fixed_base(self._h_s, self._nsquare, bits, secret=not variable_time)

    def djn_powers(
        self, alpha: LimbArray, *, variable_time: bool = False, threads: int | None = None
    ) -> LimbArray:
        """``h_s ** alpha[i] mod n**2`` for each exponent row (DJN randomizers).

        Through the fixed-base table, or, when the table is over budget, by
        exponentiation of ``h_s`` itself (constant time unless ``variable_time``).
        """
        table = self._djn(variable_time=variable_time)
        if table is not None:
            return table.pow(alpha, threads=threads)
        bases = np.repeat(self._hs_row, alpha.shape[0], axis=0)
        return get_backend().powmod(
            bases, alpha, self._nsquare, secret=not variable_time, threads=threads
        )

    # -- comparisons -----------------------------------------------------------------
    def _check_same(self, other: PublicParams) -> None:
        """Raise KeyMismatchError unless ``other`` is the same key."""
        if other is not self and other._n != self._n:
            raise KeyMismatchError("objects were made under different Paillier keys")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicParams):
            return NotImplemented
        return self._n == other._n

    def __hash__(self) -> int:
        return hash(("PaillierPublicKey", self._n))

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key_size}-bit fingerprint={self._fp.hex()[:16]}>"


def _crt_pair(hp: int, hq: int, psq: int, qsq: int) -> int:
    """The residue modulo ``psq * qsq`` that is ``hp`` mod ``psq`` and ``hq`` mod ``qsq``."""
    return hq + qsq * ((hp - hq) * pow(qsq, -1, psq) % psq)


class PrivateParams(Immutable):
    """The parameters of a Paillier private key (base class of :class:`PaillierPrivateKey`).

    The primes ``p > q``, ``p**2``, ``q**2``, the CRT decryption constants
    ``h_p = (-q)**-1 mod p`` and ``h_q = (-p)**-1 mod q``, the public parameters and
    the lazily built DJN tables modulo ``p**2`` and ``q**2``.  Equality compares the
    public parameters; ``repr`` shows no secret.
    """

    #: Class of the public part; the key class of :mod:`._keys` sets its public key class.
    _public_class: ClassVar[type[PublicParams]] = PublicParams

    __slots__ = (
        "_pub",
        "_p",
        "_q",
        "_psq",
        "_qsq",
        "_hp",
        "_hq",
        "_crt_ct",
        "_crt_vt",
        "__weakref__",
    )
    _pub: PublicParams
    _p: int
    _q: int
    _psq: int
    _qsq: int
    _hp: int
    _hq: int
    _crt_ct: _Lazy[tuple[FixedBaseTable, FixedBaseTable] | None]
    _crt_vt: _Lazy[tuple[FixedBaseTable, FixedBaseTable] | None]

    def __init__(
        self,
        p: int,
        q: int,
        *,
        djn_base: int | None = None,
        unsafe_allow_small_keys: bool = False,
        unsafe_allow_large_keys: bool = False,
    ) -> None:
        """Validate the primes (and the base, or make one); prefer the package's factories.

        Sizes are checked first (before any multiplication or primality test), then
        ``p != q``, primality, ``gcd(n, phi(n)) = 1`` and that a given base is an
        n-th residue.  Without ``djn_base`` a fresh ``h_s = (-x**2)**n mod n**2`` is made.

        Raises:
            InvalidTypeError: a non-int argument.
            InvalidArgumentError: any check above fails.
        """
        p = as_int(p, "p")
        q = as_int(q, "q")
        flags = {
            "unsafe_allow_small_keys": unsafe_allow_small_keys,
            "unsafe_allow_large_keys": unsafe_allow_large_keys,
        }
        if p < 3 or q < 3:
            raise InvalidArgumentError("p and q must be odd primes")
        # |p*q| is |p| + |q| or one less: refuse oversized factors before multiplying them.
        lower = p.bit_length() + q.bit_length() - 1
        if lower > MAX_KEY_SIZE:
            check_key_size(lower, **flags)
        n = p * q
        check_key_size(n.bit_length(), **flags)
        if p == q:
            raise InvalidArgumentError("p and q must be distinct")
        if not is_probable_prime(p) or not is_probable_prime(q):
            raise InvalidArgumentError("p and q must be odd primes")
        if math.gcd(n, (p - 1) * (q - 1)) != 1:
            raise InvalidArgumentError("gcd(n, phi(n)) must be 1")
        if p < q:
            p, q = q, p
        psq, qsq = p * p, q * q
        nsq = n * n
        if djn_base is None:
            x = _random.random_unit(n)
            h = (-x * x) % n
            # h**n mod n**2 through CRT: exponent reduced modulo p(p-1) and q(q-1).
            hp_s = powmod(h % psq, n % (p * (p - 1)), psq, secret=True)
            hq_s = powmod(h % qsq, n % (q * (q - 1)), qsq, secret=True)
            djn_base = _crt_pair(hp_s, hq_s, psq, qsq) % nsq
        else:
            djn_base = as_int(djn_base, "DJN base")
            # An n-th residue has order dividing phi(n): check h_s**((p-1)(q-1)) == 1.
            if not 0 < djn_base < nsq or powmod(djn_base, (p - 1) * (q - 1), nsq, secret=True) != 1:
                raise InvalidArgumentError("DJN base is not an n-th residue modulo n**2")
        pub = self._public_class(n, djn_base, **flags)
        self._set(
            _pub=pub,
            _p=p,
            _q=q,
            _psq=psq,
            _qsq=qsq,
            _hp=pow(-q % p, -1, p),
            _hq=pow(-p % q, -1, q),
            _crt_ct=_Lazy(),
            _crt_vt=_Lazy(),
        )

    @property
    def key_size(self) -> int:
        """Bit length of ``n``."""
        return self._pub.key_size

    def _tables(
        self, *, variable_time: bool = False
    ) -> tuple[FixedBaseTable, FixedBaseTable] | None:
        """DJN fixed-base tables modulo ``p**2`` and ``q**2`` (private-key encryption),
        constant time unless ``variable_time``; None when together they would exceed
        :data:`TABLE_BUDGET`."""
        lazy = self._crt_vt if variable_time else self._crt_ct
        return lazy.get(lambda: self._build_tables(variable_time))

    def _build_tables(self, variable_time: bool) -> tuple[FixedBaseTable, FixedBaseTable] | None:
        bits = self._pub.djn_exponent_bits
        ct = not variable_time
        need = table_bytes(self._psq, bits, secret=ct) + table_bytes(self._qsq, bits, secret=ct)
        if need > TABLE_BUDGET:
            return None
        be = get_backend()
        h = self._pub.djn_base
        return (
            be.fixed_base(h % self._psq, self._psq, bits, secret=ct),
            be.fixed_base(h % self._qsq, self._qsq, bits, secret=ct),
        )

    def djn_powers_crt(
        self, alpha: LimbArray, *, variable_time: bool = False, threads: int | None = None
    ) -> tuple[LimbArray, LimbArray]:
        """``h_s ** alpha[i]`` modulo ``p**2`` and modulo ``q**2`` (to be joined by CRT).

        Through the two fixed-base tables, or, when they are over budget, by
        exponentiation (constant time unless ``variable_time``).
        """
        tables = self._tables(variable_time=variable_time)
        if tables is not None:
            tp, tq = tables
            return tp.pow(alpha, threads=threads), tq.pow(alpha, threads=threads)
        be = get_backend()
        h = self._pub.djn_base
        out = []
        for mod in (self._psq, self._qsq):
            bases = np.repeat(int_to_limbs(h % mod, width_of(mod - 1)), alpha.shape[0], axis=0)
            out.append(be.powmod(bases, alpha, mod, secret=not variable_time, threads=threads))
        return out[0], out[1]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateParams):
            return NotImplemented
        return self._pub == other._pub

    def __hash__(self) -> int:
        return hash(("PaillierPrivateKey", self._pub.n))

    def __repr__(self) -> str:
        fp = self._pub.fingerprint.hex()[:16]
        return f"<{type(self).__name__} {self.key_size}-bit fingerprint={fp}>"
