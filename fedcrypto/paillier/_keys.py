"""Paillier keys: generation, encryption and decryption entry points, serialization.

A public key is the modulus ``n = p*q`` (generator ``g = n + 1``) plus the
Damgård–Jurik–Nielsen (DJN) base ``h_s = h**n mod n**2`` used for fast
randomness.  The private key holds the primes and the constants of CRT
decryption.  Both are immutable.  Their parameters, validation and cached DJN
fixed-base tables live in :mod:`._params` (the classes here subclass them); this
module adds what needs the higher layers: encryption to an
:class:`EncryptedVector`, decryption of vectors and packed vectors, the wire
format, and the factories.

``from_bytes`` and ``from_private_bytes`` are the doors for keys from a peer or a
file: they check the announced size against the policy of :mod:`._params` before
reading the numbers, and report every problem as :class:`SerializationError`.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from concurrent.futures import Executor
from typing import Any, cast

import numpy as np

from .. import _random
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    SerializationError,
)
from ..hazmat.modmath import powmod
from ..serialization import ObjectType, Reader, Writer, pack, unpack
from ._crypto import Randomness
from ._packing import PackedVector
from ._params import (
    ABSOLUTE_MAX_KEY_SIZE,
    DEFAULT_KEY_SIZE,
    MAX_KEY_SIZE,
    MIN_KEY_SIZE,
    PrivateParams,
    PublicParams,
    as_int,
    check_key_size,
    fingerprint,
)
from ._pool import RandomizerPool
from ._vector import EncryptedVector, decrypt_values, encrypt_values

__all__ = [
    "PaillierPublicKey",
    "PaillierPrivateKey",
    "generate_private_key",
    "private_key_from_primes",
    "public_key_from_n",
    "MIN_KEY_SIZE",
    "DEFAULT_KEY_SIZE",
    "MAX_KEY_SIZE",
    "Randomness",
]


def _max_modulus_bytes(unsafe_allow_large_keys: bool) -> int:
    """Largest byte length of ``n`` a parser reads before looking at the number."""
    return ((ABSOLUTE_MAX_KEY_SIZE if unsafe_allow_large_keys else MAX_KEY_SIZE) + 7) // 8


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


class PaillierPublicKey(PublicParams):
    """A Paillier public key: modulus ``n``, generator ``g = n + 1``, DJN base ``h_s``.

    Encrypting ``m`` gives ``c = (1 + m*n) * rho mod n**2`` where ``rho`` is an n-th
    residue: ``r**n`` for a uniform unit ``r`` (``randomness="full"``) or
    ``h_s**alpha`` for a uniform ``alpha`` of ``ceil(|n|/2)`` bits (``"djn"``, the
    default, several times faster through a fixed-base table).

    Build with :func:`generate_private_key` then :meth:`PaillierPrivateKey.public_key`,
    :func:`public_key_from_n`, or :meth:`from_bytes`.  Immutable; equal keys have
    equal ``n``.  The constructor ``PaillierPublicKey(n, h_s, *,
    unsafe_allow_small_keys=False, unsafe_allow_large_keys=False)`` validates like
    :func:`public_key_from_n`; key sizes outside ``[MIN_KEY_SIZE, MAX_KEY_SIZE]`` need
    the matching ``unsafe_`` flag.
    """

    __slots__ = ()

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
        executor: Executor | None = None,
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
            executor: any :class:`concurrent.futures.Executor` (a
                :func:`fedcrypto.scale.process_executor` pool, a Dask cluster): blocks of
                1024 ciphertexts become tasks that get the key as integers and plain limb
                arrays.  None (default): inline, with ``threads`` kernel threads.

        Returns:
            An :class:`EncryptedVector` of ``len(values)`` ciphertexts.

        Raises:
            EncodingError: NaN/inf, non-numeric values, not 1-D.
            EncodingOverflowError: a value does not fit ``[-max_int, max_int]``.
            KeyMismatchError: ``pool`` belongs to another key.
        """
        return encrypt_values(
            self,
            values,
            frac_bits=frac_bits,
            randomness=randomness,
            pool=pool,
            threads=threads,
            variable_time=unsafe_variable_time,
            executor=executor,
        )

    def warm_up(self, *, variable_time: bool = False) -> None:
        """Build the cached DJN fixed-base table now rather than on the first encryption.

        The table is a one-off per key (up to :data:`~fedcrypto.paillier.TABLE_BUDGET`
        bytes, about a second for a 3072-bit key); benchmarks and latency-sensitive servers
        call this once after loading a key.  ``variable_time`` builds the table used by
        ``encrypt(..., unsafe_variable_time=True)`` instead.  Idempotent and thread safe.
        """
        self._djn(variable_time=variable_time)

    # -- serialization ---------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """The key in the versioned envelope (type ``PAILLIER_PUBLIC_KEY``): ``n`` and ``h_s``."""
        nb = (self._n.bit_length() + 7) // 8
        payload = Writer().u32(nb).uint(self._n, nb).uint(self._h_s, 2 * nb).getvalue()
        return pack(ObjectType.PAILLIER_PUBLIC_KEY, payload, param=self._fp)

    @classmethod
    def from_bytes(
        cls,
        data: bytes,
        *,
        unsafe_allow_small_keys: bool = False,
        unsafe_allow_large_keys: bool = False,
    ) -> PaillierPublicKey:
        """Parse and validate a key written by :meth:`to_bytes` (a peer's key).

        The announced size is checked against the key-size policy before ``n`` is
        read: at most :data:`MAX_KEY_SIZE` bits (65,536 with
        ``unsafe_allow_large_keys``), at least :data:`MIN_KEY_SIZE` (128 with
        ``unsafe_allow_small_keys``).  Then ``n`` and ``h_s`` are validated as by the
        constructor and the envelope's fingerprint must match ``n``.

        Raises:
            SerializationError: malformed bytes, a size outside the policy, a modulus or
                base that is not acceptable, or a fingerprint that does not match ``n``.
        """
        env = unpack(data, ObjectType.PAILLIER_PUBLIC_KEY)
        rd = Reader(env.payload)
        nb = rd.u32()
        if not 1 <= nb <= _max_modulus_bytes(unsafe_allow_large_keys):
            raise SerializationError(
                f"a Paillier modulus of {nb} bytes is outside the key-size policy "
                f"(at most {MAX_KEY_SIZE} bits unless unsafe_allow_large_keys=True)"
            )
        n = rd.uint(nb)
        h_s = rd.uint(2 * nb)
        rd.finish()
        if n.bit_length() == 0 or (n.bit_length() + 7) // 8 != nb:
            raise SerializationError("Paillier modulus is not minimally encoded")
        if not hmac.compare_digest(env.param_id, fingerprint(n)):
            raise SerializationError("public key fingerprint does not match its modulus")
        try:
            return cls(
                n,
                h_s,
                unsafe_allow_small_keys=unsafe_allow_small_keys,
                unsafe_allow_large_keys=unsafe_allow_large_keys,
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid Paillier public key: {exc}") from None


class PaillierPrivateKey(PrivateParams):
    """A Paillier private key: the primes ``p``, ``q`` and CRT constants.

    Decryption works modulo ``p**2`` and ``q**2`` separately:
    ``m_p = L_p(c**(p-1) mod p**2) * h_p mod p`` with ``L_p(x) = (x - 1) / p`` and
    ``h_p = (-q)**-1 mod p`` (because ``g = n + 1``), likewise for ``q``, then
    ``m = CRT(m_p, m_q)``.  The exponentiations use constant-time code by default.

    ``repr`` never shows secrets, pickling is refused, equality compares public
    keys, and serialization is explicit (:meth:`private_bytes`).  The constructor
    ``PaillierPrivateKey(p, q, *, djn_base=None, unsafe_allow_small_keys=False,
    unsafe_allow_large_keys=False)`` validates like :func:`private_key_from_primes`.
    """

    __slots__ = ()
    _public_class = PaillierPublicKey

    def public_key(self) -> PaillierPublicKey:
        """The matching public key."""
        return cast(PaillierPublicKey, self._pub)

    def encrypt(
        self,
        values: Any,
        *,
        frac_bits: int | None = None,
        randomness: Randomness = "djn",
        threads: int | None = None,
        unsafe_variable_time: bool = False,
        executor: Executor | None = None,
    ) -> EncryptedVector:
        """Encrypt like :meth:`PaillierPublicKey.encrypt`, faster: randomizers are computed
        modulo ``p**2`` and ``q**2`` and recombined by CRT (same distribution).
        ``unsafe_variable_time`` and ``executor`` as for :meth:`PaillierPublicKey.encrypt`
        (with an executor, ``p`` and ``q`` travel to its workers)."""
        return encrypt_values(
            self._pub,
            values,
            frac_bits=frac_bits,
            randomness=randomness,
            threads=threads,
            private_key=self,
            variable_time=unsafe_variable_time,
            executor=executor,
        )

    def decrypt(
        self,
        vector: EncryptedVector | PackedVector,
        *,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
        executor: Executor | None = None,
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
            executor: any :class:`concurrent.futures.Executor` (None: inline); blocks of
                ciphertexts become tasks, and ``p`` and ``q`` travel to its workers.

        Raises:
            KeyMismatchError: the vector was made under another key.
            EncodingOverflowError: a plaintext is outside the encoding's range
                (the result of an overflowing homomorphic computation).
        """
        if isinstance(vector, EncryptedVector):
            return decrypt_values(
                self,
                vector,
                threads=threads,
                variable_time=unsafe_variable_time,
                executor=executor,
            )
        if isinstance(vector, PackedVector):
            return vector.decrypt(
                self,
                threads=threads,
                unsafe_variable_time=unsafe_variable_time,
                executor=executor,
            )
        raise InvalidTypeError(f"cannot decrypt {type(vector).__name__}")

    def warm_up(self, *, variable_time: bool = False) -> None:
        """Build the cached tables of this key (the public DJN table and the CRT tables
        modulo ``p**2`` and ``q**2`` used by :meth:`encrypt`) now rather than on first use.

        ``variable_time`` builds the tables of the ``unsafe_variable_time=True`` paths.
        Idempotent and thread safe.
        """
        self.public_key().warm_up(variable_time=variable_time)
        self._tables(variable_time=variable_time)

    def private_numbers(self) -> tuple[int, int]:
        """The secret primes ``(p, q)`` with ``p * q == n``, e.g. to build another library's key
        (python-paillier's ``PaillierPrivateKey(public_key, p, q)``).

        The output is secret: handle it like :meth:`private_bytes`.  The inverse is
        :func:`private_key_from_primes`.
        """
        return (self._p, self._q)

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
        cls,
        data: bytes,
        *,
        unsafe_allow_small_keys: bool = False,
        unsafe_allow_large_keys: bool = False,
    ) -> PaillierPrivateKey:
        """Parse and validate a key written by :meth:`private_bytes`.

        Sizes are checked against the key-size policy (as for
        :meth:`PaillierPublicKey.from_bytes`) before any arithmetic; then the
        fingerprint, then the primes (primality tests: up to seconds for the largest
        sizes) and the DJN base.

        Raises:
            SerializationError: malformed bytes, fingerprint mismatch, a size outside
                the policy, or primes or a base that are not acceptable.
        """
        env = unpack(data, ObjectType.PAILLIER_PRIVATE_KEY)
        rd = Reader(env.payload)
        nb = rd.u32()
        if not 1 <= nb <= _max_modulus_bytes(unsafe_allow_large_keys):
            raise SerializationError(
                f"a Paillier modulus of {nb} bytes is outside the key-size policy "
                f"(at most {MAX_KEY_SIZE} bits unless unsafe_allow_large_keys=True)"
            )
        p = rd.big(8 * nb)
        q = rd.big(8 * nb)
        h_s = rd.uint(2 * nb)
        rd.finish()
        if p.bit_length() + q.bit_length() > 8 * nb + 1:  # then p*q has more than nb bytes
            raise SerializationError("private key primes do not match the modulus size")
        if not hmac.compare_digest(env.param_id, fingerprint(p * q)):
            raise SerializationError("private key fingerprint does not match its primes")
        try:
            return cls(
                p,
                q,
                djn_base=h_s,
                unsafe_allow_small_keys=unsafe_allow_small_keys,
                unsafe_allow_large_keys=unsafe_allow_large_keys,
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid Paillier private key: {exc}") from None


def generate_private_key(
    key_size: int = DEFAULT_KEY_SIZE,
    *,
    unsafe_allow_small_keys: bool = False,
    unsafe_allow_large_keys: bool = False,
) -> PaillierPrivateKey:
    """Generate a Paillier key pair with a ``key_size``-bit modulus.

    Two distinct primes of ``key_size / 2`` bits each (top two bits set, so ``n``
    has exactly ``key_size`` bits) from the OS CSPRNG, with ``gcd(n, phi(n)) = 1``;
    ``g = n + 1``; a fresh DJN base ``h_s = (-x**2)**n mod n**2``.

    Parameters:
        key_size: bits of ``n``; even; at least 2048 (3072 recommended beyond 2030),
            at most :data:`MAX_KEY_SIZE` (16,384).
        unsafe_allow_small_keys: allow sizes down to 128 bits (tests only).
        unsafe_allow_large_keys: allow sizes up to 65,536 bits.

    Raises:
        InvalidArgumentError: odd, too small or too large ``key_size``.
    """
    key_size = as_int(key_size, "key_size")
    flags = {
        "unsafe_allow_small_keys": unsafe_allow_small_keys,
        "unsafe_allow_large_keys": unsafe_allow_large_keys,
    }
    check_key_size(key_size, **flags)
    if key_size % 2:
        raise InvalidArgumentError("key_size must be even")
    half = key_size // 2
    while True:
        p = _random.random_prime(half)
        q = _random.random_prime(half)
        if p != q and math.gcd(p * q, (p - 1) * (q - 1)) == 1:
            return PaillierPrivateKey(p, q, **flags)


def private_key_from_primes(
    p: int,
    q: int,
    *,
    djn_base: int | None = None,
    unsafe_allow_small_keys: bool = False,
    unsafe_allow_large_keys: bool = False,
) -> PaillierPrivateKey:
    """A private key from known primes (interoperability: keys made by other tools).

    Validates that ``n`` is within the key-size policy (before anything else), that
    ``p`` and ``q`` are distinct probable primes with ``gcd(n, phi(n)) = 1``.  A DJN
    base is generated unless given (a given base is checked to be an n-th residue).

    Raises:
        InvalidTypeError: a non-int argument.
        InvalidArgumentError: a check fails.
    """
    return PaillierPrivateKey(
        p,
        q,
        djn_base=djn_base,
        unsafe_allow_small_keys=unsafe_allow_small_keys,
        unsafe_allow_large_keys=unsafe_allow_large_keys,
    )


def public_key_from_n(
    n: int,
    *,
    djn_base: int | None = None,
    unsafe_allow_small_keys: bool = False,
    unsafe_allow_large_keys: bool = False,
) -> PaillierPublicKey:
    """A public key from a bare modulus (e.g. a python-paillier key's ``n``).

    Without ``djn_base``, a deterministic nothing-up-my-sleeve base is derived from
    ``n`` by hashing, so every holder of ``n`` gets the same key.  The modulus is
    checked (size first, then odd, no small factor, not a square); a base is checked
    to be a unit modulo ``n**2``.

    Raises:
        InvalidTypeError: a non-int argument.
        InvalidArgumentError: a check fails.
    """
    n = as_int(n, "n")
    flags = {
        "unsafe_allow_small_keys": unsafe_allow_small_keys,
        "unsafe_allow_large_keys": unsafe_allow_large_keys,
    }
    if n < 3:
        raise InvalidArgumentError("Paillier modulus is too small")
    check_key_size(n.bit_length(), **flags)
    if n % 2 == 0:
        raise InvalidArgumentError("Paillier modulus must be odd")
    base = _derive_djn_base(n) if djn_base is None else djn_base
    return PaillierPublicKey(n, base, **flags)
