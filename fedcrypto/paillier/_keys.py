"""Paillier keys: generation, validation, serialization.

A public key is the modulus ``n = p*q`` (generator ``g = n + 1``) plus the
Damgård–Jurik–Nielsen (DJN) base ``h_s = h**n mod n**2`` used for fast
randomness.  The private key holds the primes and the constants of CRT
decryption.  Both are immutable; the DJN fixed-base tables are built lazily,
once, under a lock, and cached on the key object (they are process-local and
never serialized).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import threading
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .. import _random
from .._backend import FixedBaseTable, get_backend
from .._backend._limbs import LimbArray, int_to_limbs, width_of
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from ..hazmat.modmath import is_probable_prime, powmod
from ..serialization import ObjectType, Reader, Writer, pack, param_id, unpack

if TYPE_CHECKING:
    from ._packing import PackedVector
    from ._pool import RandomizerPool
    from ._vector import EncryptedVector

__all__ = [
    "PaillierPublicKey",
    "PaillierPrivateKey",
    "generate_private_key",
    "private_key_from_primes",
    "public_key_from_n",
    "MIN_KEY_SIZE",
    "DEFAULT_KEY_SIZE",
    "Randomness",
]

#: Smallest key size accepted without ``unsafe_allow_small_keys``.
MIN_KEY_SIZE = 2048
DEFAULT_KEY_SIZE = 3072
#: Smallest key size accepted at all (tests use these with the unsafe flag).
_ABSOLUTE_MIN_KEY_SIZE = 128

Randomness = Literal["djn", "full"]

_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"{what} must be an int, got {type(value).__name__}")
    return int(value)


def _check_size(bits: int, unsafe_allow_small_keys: bool) -> None:
    if bits < _ABSOLUTE_MIN_KEY_SIZE:
        raise InvalidArgumentError(
            f"Paillier keys must have at least {_ABSOLUTE_MIN_KEY_SIZE} bits"
        )
    if bits < MIN_KEY_SIZE and not unsafe_allow_small_keys:
        raise InvalidArgumentError(
            f"a {bits}-bit Paillier key is too small (minimum {MIN_KEY_SIZE}); "
            "pass unsafe_allow_small_keys=True only for tests"
        )


def _fingerprint(n: int) -> bytes:
    return param_id(b"fedcrypto/paillier/public-key", n.to_bytes((n.bit_length() + 7) // 8, "big"))


def _derive_djn_base(n: int) -> int:
    """A nothing-up-my-sleeve DJN base for a bare modulus: ``h = -x**2 mod n``, ``x`` hashed from n.

    Used only by :func:`public_key_from_n` when no base is supplied; nobody knows a
    discrete logarithm relating it to anything, and it is an n-th residue mod n**2.
    """
    nbytes = (n.bit_length() + 7) // 8
    counter = 0
    while True:
        stream = b"".join(
            hashlib.sha256(
                b"fedcrypto/paillier/djn-base"
                + counter.to_bytes(4, "big")
                + i.to_bytes(4, "big")
                + n.to_bytes(nbytes, "big")
            ).digest()
            for i in range(nbytes // 32 + 2)
        )
        x = int.from_bytes(stream[: nbytes + 8], "big") % n
        if x > 1 and math.gcd(x, n) == 1:
            h = (-x * x) % n
            return powmod(h, n, n * n)
        counter += 1  # pragma: no cover - probability ~2**-1000


class PaillierPublicKey:
    """A Paillier public key: modulus ``n``, generator ``g = n + 1``, DJN base ``h_s``.

    Encrypting ``m`` gives ``c = (1 + m*n) * rho mod n**2`` where ``rho`` is an n-th
    residue: ``r**n`` for a uniform unit ``r`` (``randomness="full"``) or
    ``h_s**alpha`` for a uniform ``alpha`` of ``ceil(|n|/2)`` bits (``"djn"``, the
    default, several times faster through a fixed-base table).

    Build with :func:`generate_private_key` then :meth:`PaillierPrivateKey.public_key`,
    :func:`public_key_from_n`, or :meth:`from_bytes`.  Immutable; equal keys have
    equal ``n``.
    """

    __slots__ = (
        "_n",
        "_nsquare",
        "_h_s",
        "_max_int",
        "_fp",
        "_n_row",
        "_nsq_row",
        "_lock",
        "_djn_table",
        "_djn_table_vt",
        "__weakref__",
    )
    _n: int
    _nsquare: int
    _h_s: int
    _max_int: int
    _fp: bytes
    _n_row: LimbArray
    _nsq_row: LimbArray
    _lock: threading.Lock
    _djn_table: FixedBaseTable | None
    _djn_table_vt: FixedBaseTable | None

    def __init__(self, n: int, h_s: int, *, unsafe_allow_small_keys: bool = False) -> None:
        """Low-level constructor; prefer :func:`public_key_from_n` (it validates the same)."""
        n = _as_int(n, "n")
        h_s = _as_int(h_s, "DJN base")
        _check_size(n.bit_length(), unsafe_allow_small_keys)
        if n % 2 == 0:
            raise InvalidArgumentError("Paillier modulus must be odd")
        for sp in _SMALL_PRIMES:
            if n % sp == 0:
                raise InvalidArgumentError("Paillier modulus has a small factor")
        r = math.isqrt(n)
        if r * r == n:
            raise InvalidArgumentError("Paillier modulus must not be a perfect square")
        nsq = n * n
        if not 0 < h_s < nsq or math.gcd(h_s, n) != 1:
            raise InvalidArgumentError("DJN base must be a unit modulo n**2")
        set_ = object.__setattr__
        set_(self, "_n", n)
        set_(self, "_nsquare", nsq)
        set_(self, "_h_s", h_s)
        set_(self, "_max_int", n // 3 - 1)
        set_(self, "_fp", _fingerprint(n))
        set_(self, "_n_row", int_to_limbs(n, width_of(n)))
        set_(self, "_nsq_row", int_to_limbs(nsq, width_of(nsq - 1)))
        set_(self, "_lock", threading.Lock())
        set_(self, "_djn_table", None)
        set_(self, "_djn_table_vt", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PaillierPublicKey is immutable")

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

    # -- internals shared by the package ---------------------------------------------
    def _djn(self, *, variable_time: bool = False) -> FixedBaseTable:
        """The cached DJN fixed-base table for ``h_s``: constant time in the (secret)
        exponent unless ``variable_time`` (faster; leaks through timing and cache)."""
        slot = "_djn_table_vt" if variable_time else "_djn_table"
        table: FixedBaseTable | None = getattr(self, slot)
        if table is None:
            with self._lock:
                table = getattr(self, slot)
                if table is None:
                    table = get_backend().fixed_base(
                        self._h_s, self._nsquare, self.djn_exponent_bits, secret=not variable_time
                    )
                    object.__setattr__(self, slot, table)
        return table

    def _check_same(self, other: PaillierPublicKey) -> None:
        if other is not self and other._n != self._n:
            raise KeyMismatchError("objects were made under different Paillier keys")

    # -- encryption ------------------------------------------------------------------
    def encrypt(
        self,
        values: Any,
        *,
        frac_bits: int | None = None,
        randomness: Randomness = "djn",
        pool: RandomizerPool | None = None,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
    ) -> EncryptedVector:
        """Encrypt a 1-D sequence or numpy array of ints or floats.

        Integers (any size, negative allowed) use the integer encoding ``m = v mod n``
        with ``|v| <= max_int``.  Floats (and ints when ``frac_bits`` is given) use
        fixed point: ``m = round(v * 2**frac_bits) mod n`` (default
        :data:`~fedcrypto.paillier.DEFAULT_FRAC_BITS`); NaN and infinities are refused.

        Parameters:
            values: 1-D sequence or numpy array (integer or floating dtype).
            frac_bits: fractional bits of the fixed-point encoding (forces fixed point).
            randomness: ``"djn"`` (default, fast, see docs for its assumption) or
                ``"full"`` (``r**n`` with uniform ``r``, the classic DCR guarantee).
            pool: precomputed randomizers to consume first (see :class:`RandomizerPool`).
            threads: kernel threads (default all cores).
            unsafe_variable_time: compute DJN randomizers ``h_s**alpha`` with the
                variable-time fixed-base table (about 3x faster).  Its table lookups
                depend on the secret ``alpha``, and ``alpha`` reveals the plaintext, so
                only use it where no one can observe this process's timing or cache
                (not on shared hosts).  Default: constant time.

        Returns:
            An :class:`EncryptedVector` of ``len(values)`` ciphertexts.

        Raises:
            EncodingError: NaN/inf, non-numeric values, not 1-D.
            EncodingOverflowError: a value does not fit ``[-max_int, max_int]``.
        """
        from ._crypto import encrypt_residues
        from ._encoding import encode
        from ._vector import EncryptedVector

        m, encoding = encode(self, values, frac_bits=frac_bits)
        c = encrypt_residues(
            self,
            m,
            randomness=randomness,
            pool=pool,
            threads=threads,
            variable_time=unsafe_variable_time,
        )
        return EncryptedVector._make(self, c, encoding, fresh=True)

    # -- serialization ---------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The key in the versioned envelope (type ``PAILLIER_PUBLIC_KEY``): ``n`` and ``h_s``."""
        nb = (self._n.bit_length() + 7) // 8
        payload = Writer().u32(nb).uint(self._n, nb).uint(self._h_s, 2 * nb).getvalue()
        return pack(ObjectType.PAILLIER_PUBLIC_KEY, payload, param=self._fp)

    @classmethod
    def from_bytes(cls, data: bytes, *, unsafe_allow_small_keys: bool = False) -> PaillierPublicKey:
        """Parse and validate a key written by :meth:`to_bytes`.

        Raises:
            SerializationError: malformed bytes, or a fingerprint that does not match ``n``.
            InvalidArgumentError: the modulus or base is not acceptable.
        """
        env = unpack(data, ObjectType.PAILLIER_PUBLIC_KEY)
        rd = Reader(env.payload)
        nb = rd.u32()
        if not 1 <= nb <= 8192:
            raise SerializationError("implausible Paillier modulus size")
        n = rd.uint(nb)
        h_s = rd.uint(2 * nb)
        rd.finish()
        if n.bit_length() == 0 or (n.bit_length() + 7) // 8 != nb:
            raise SerializationError("Paillier modulus is not minimally encoded")
        if not hmac.compare_digest(env.param_id, _fingerprint(n)):
            raise SerializationError("public key fingerprint does not match its modulus")
        return cls(n, h_s, unsafe_allow_small_keys=unsafe_allow_small_keys)

    # -- dunder ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PaillierPublicKey):
            return NotImplemented
        return self._n == other._n

    def __hash__(self) -> int:
        return hash(("PaillierPublicKey", self._n))

    def __repr__(self) -> str:
        return f"<PaillierPublicKey {self.key_size}-bit fingerprint={self._fp.hex()[:16]}>"

    def __reduce__(self) -> Any:
        raise TypeError("Paillier keys are not picklable; use to_bytes()/from_bytes()")


class PaillierPrivateKey:
    """A Paillier private key: the primes ``p``, ``q`` and CRT constants.

    Decryption works modulo ``p**2`` and ``q**2`` separately:
    ``m_p = L_p(c**(p-1) mod p**2) * h_p mod p`` with ``L_p(x) = (x - 1) / p`` and
    ``h_p = (-q)**-1 mod p`` (because ``g = n + 1``), likewise for ``q``, then
    ``m = CRT(m_p, m_q)``.  The exponentiations use constant-time code by default.

    ``repr`` never shows secrets, pickling is refused, equality compares public
    keys, and serialization is explicit (:meth:`private_bytes`).
    """

    __slots__ = (
        "_pub",
        "_p",
        "_q",
        "_psq",
        "_qsq",
        "_hp",
        "_hq",
        "_lock",
        "_crt_tables",
        "_crt_tables_vt",
        "__weakref__",
    )
    _pub: PaillierPublicKey
    _p: int
    _q: int
    _psq: int
    _qsq: int
    _hp: int
    _hq: int
    _lock: threading.Lock
    _crt_tables: tuple[FixedBaseTable, FixedBaseTable] | None
    _crt_tables_vt: tuple[FixedBaseTable, FixedBaseTable] | None

    def __init__(
        self,
        p: int,
        q: int,
        *,
        djn_base: int | None = None,
        unsafe_allow_small_keys: bool = False,
    ) -> None:
        """Low-level constructor; prefer the module's factories (they validate the same)."""
        p = _as_int(p, "p")
        q = _as_int(q, "q")
        if p == q:
            raise InvalidArgumentError("p and q must be distinct")
        if p < 3 or q < 3 or not is_probable_prime(p) or not is_probable_prime(q):
            raise InvalidArgumentError("p and q must be odd primes")
        n = p * q
        _check_size(n.bit_length(), unsafe_allow_small_keys)
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
            djn_base = (hq_s + qsq * ((hp_s - hq_s) * pow(qsq, -1, psq) % psq)) % nsq
        else:
            djn_base = _as_int(djn_base, "DJN base")
            # An n-th residue has order dividing phi(n) = lambda-ish: check h_s**((p-1)(q-1)) == 1.
            if not 0 < djn_base < nsq or powmod(djn_base, (p - 1) * (q - 1), nsq, secret=True) != 1:
                raise InvalidArgumentError("DJN base is not an n-th residue modulo n**2")
        pub = PaillierPublicKey(n, djn_base, unsafe_allow_small_keys=unsafe_allow_small_keys)
        set_ = object.__setattr__
        set_(self, "_pub", pub)
        set_(self, "_p", p)
        set_(self, "_q", q)
        set_(self, "_psq", psq)
        set_(self, "_qsq", qsq)
        set_(self, "_hp", pow(-q % p, -1, p))
        set_(self, "_hq", pow(-p % q, -1, q))
        set_(self, "_lock", threading.Lock())
        set_(self, "_crt_tables", None)
        set_(self, "_crt_tables_vt", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("PaillierPrivateKey is immutable")

    def public_key(self) -> PaillierPublicKey:
        """The matching public key."""
        return self._pub

    @property
    def key_size(self) -> int:
        """Bit length of ``n``."""
        return self._pub.key_size

    def _tables(self, *, variable_time: bool = False) -> tuple[FixedBaseTable, FixedBaseTable]:
        """DJN fixed-base tables modulo ``p**2`` and ``q**2`` (private-key encryption);
        constant time unless ``variable_time``."""
        slot = "_crt_tables_vt" if variable_time else "_crt_tables"
        tables: tuple[FixedBaseTable, FixedBaseTable] | None = getattr(self, slot)
        if tables is None:
            with self._lock:
                tables = getattr(self, slot)
                if tables is None:
                    be = get_backend()
                    bits = self._pub.djn_exponent_bits
                    h = self._pub.djn_base
                    ct = not variable_time
                    tables = (
                        be.fixed_base(h % self._psq, self._psq, bits, secret=ct),
                        be.fixed_base(h % self._qsq, self._qsq, bits, secret=ct),
                    )
                    object.__setattr__(self, slot, tables)
        return tables

    def encrypt(
        self,
        values: Any,
        *,
        frac_bits: int | None = None,
        randomness: Randomness = "djn",
        threads: int | None = None,
        unsafe_variable_time: bool = False,
    ) -> EncryptedVector:
        """Encrypt like :meth:`PaillierPublicKey.encrypt`, faster: randomizers are computed
        modulo ``p**2`` and ``q**2`` and recombined by CRT (same distribution).
        ``unsafe_variable_time`` as for :meth:`PaillierPublicKey.encrypt`."""
        from ._crypto import encrypt_residues
        from ._encoding import encode
        from ._vector import EncryptedVector

        m, encoding = encode(self._pub, values, frac_bits=frac_bits)
        c = encrypt_residues(
            self._pub,
            m,
            randomness=randomness,
            threads=threads,
            private_key=self,
            variable_time=unsafe_variable_time,
        )
        return EncryptedVector._make(self._pub, c, encoding, fresh=True)

    def decrypt(
        self,
        vector: EncryptedVector | PackedVector,
        *,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
    ) -> np.ndarray:
        """Decrypt an :class:`EncryptedVector` (or a :class:`PackedVector`) to a numpy array.

        Integer encodings give int64 when every value fits, else an object array of
        Python ints; fixed point gives float64; packed vectors give the float64 sum
        tensor in its original shape.

        Parameters:
            vector: ciphertexts under this key.
            threads: kernel threads (default all cores).
            unsafe_variable_time: use variable-time exponentiation (faster with some
                backends, but leaks timing information about ``p`` and ``q``).

        Raises:
            KeyMismatchError: the vector was made under another key.
            EncodingOverflowError: a plaintext is outside the encoding's range
                (the result of an overflowing homomorphic computation).
        """
        from ._crypto import decrypt_residues
        from ._encoding import decode
        from ._vector import EncryptedVector

        if not isinstance(vector, EncryptedVector):
            from ._packing import PackedVector

            if isinstance(vector, PackedVector):
                return vector.decrypt(
                    self, threads=threads, unsafe_variable_time=unsafe_variable_time
                )
            raise InvalidTypeError(f"cannot decrypt {type(vector).__name__}")
        self._pub._check_same(vector.public_key)
        m = decrypt_residues(self, vector._c, threads=threads, secret=not unsafe_variable_time)
        return decode(self._pub, m, vector.encoding)

    def private_bytes(self) -> bytes:
        """The key in the versioned envelope (type ``PAILLIER_PRIVATE_KEY``): ``p``, ``q``, ``h_s``.

        The output is secret: store it encrypted.
        """
        n = self._pub.n
        nb = (n.bit_length() + 7) // 8
        w = Writer().u32(nb).big(self._p).big(self._q).uint(self._pub.djn_base, 2 * nb)
        return pack(ObjectType.PAILLIER_PRIVATE_KEY, w.getvalue(), param=self._pub.fingerprint)

    @classmethod
    def from_private_bytes(
        cls, data: bytes, *, unsafe_allow_small_keys: bool = False
    ) -> PaillierPrivateKey:
        """Parse and validate a key written by :meth:`private_bytes`.

        Raises:
            SerializationError: malformed bytes or fingerprint mismatch.
            InvalidArgumentError: the primes or base are not acceptable.
        """
        env = unpack(data, ObjectType.PAILLIER_PRIVATE_KEY)
        rd = Reader(env.payload)
        nb = rd.u32()
        if not 1 <= nb <= 8192:
            raise SerializationError("implausible Paillier modulus size")
        p = rd.big(8 * nb)
        q = rd.big(8 * nb)
        h_s = rd.uint(2 * nb)
        rd.finish()
        if not hmac.compare_digest(env.param_id, _fingerprint(p * q)):
            raise SerializationError("private key fingerprint does not match its primes")
        return cls(p, q, djn_base=h_s, unsafe_allow_small_keys=unsafe_allow_small_keys)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PaillierPrivateKey):
            return NotImplemented
        return self._pub == other._pub

    def __hash__(self) -> int:
        return hash(("PaillierPrivateKey", self._pub.n))

    def __repr__(self) -> str:
        fp = self._pub.fingerprint.hex()[:16]
        return f"<PaillierPrivateKey {self.key_size}-bit fingerprint={fp}>"

    def __reduce__(self) -> Any:
        raise TypeError("Paillier private keys cannot be pickled; use private_bytes() explicitly")


def generate_private_key(
    key_size: int = DEFAULT_KEY_SIZE, *, unsafe_allow_small_keys: bool = False
) -> PaillierPrivateKey:
    """Generate a Paillier key pair with a ``key_size``-bit modulus.

    Two distinct primes of ``key_size / 2`` bits each (top two bits set, so ``n``
    has exactly ``key_size`` bits) from the OS CSPRNG, with ``gcd(n, phi(n)) = 1``;
    ``g = n + 1``; a fresh DJN base ``h_s = (-x**2)**n mod n**2``.

    Parameters:
        key_size: bits of ``n``; even; at least 2048 (3072 recommended beyond 2030).
        unsafe_allow_small_keys: allow sizes down to 128 bits (tests only).

    Raises:
        InvalidArgumentError: odd or too small ``key_size``.
    """
    key_size = _as_int(key_size, "key_size")
    if key_size % 2:
        raise InvalidArgumentError("key_size must be even")
    _check_size(key_size, unsafe_allow_small_keys)
    half = key_size // 2
    while True:
        p = _random.random_prime(half)
        q = _random.random_prime(half)
        if p != q and math.gcd(p * q, (p - 1) * (q - 1)) == 1:
            return PaillierPrivateKey(p, q, unsafe_allow_small_keys=unsafe_allow_small_keys)


def private_key_from_primes(
    p: int, q: int, *, djn_base: int | None = None, unsafe_allow_small_keys: bool = False
) -> PaillierPrivateKey:
    """A private key from known primes (interoperability: keys made by other tools).

    Validates that ``p`` and ``q`` are distinct probable primes with
    ``gcd(n, phi(n)) = 1`` and that ``n`` is large enough.  A DJN base is generated
    unless given (a given base is checked to be an n-th residue).
    """
    return PaillierPrivateKey(
        p, q, djn_base=djn_base, unsafe_allow_small_keys=unsafe_allow_small_keys
    )


def public_key_from_n(
    n: int, *, djn_base: int | None = None, unsafe_allow_small_keys: bool = False
) -> PaillierPublicKey:
    """A public key from a bare modulus (e.g. a python-paillier key's ``n``).

    Without ``djn_base``, a deterministic nothing-up-my-sleeve base is derived from
    ``n`` by hashing, so every holder of ``n`` gets the same key.  The modulus is
    checked (odd, no small factor, not a square, size); a base is checked to be a
    unit modulo ``n**2``.
    """
    n = _as_int(n, "n")
    if n < 3:
        raise InvalidArgumentError("Paillier modulus is too small")
    _check_size(n.bit_length(), unsafe_allow_small_keys)
    if n % 2 == 0:
        raise InvalidArgumentError("Paillier modulus must be odd")
    base = _derive_djn_base(n) if djn_base is None else djn_base
    return PaillierPublicKey(n, base, unsafe_allow_small_keys=unsafe_allow_small_keys)
