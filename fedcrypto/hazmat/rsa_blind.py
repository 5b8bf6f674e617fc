"""Raw RSA blind signing (Chaum) on batches, as used by the RSA PSI protocol.

.. warning::
   Hazardous material: textbook RSA on full-domain hashes, no padding.  Use it only inside
   a protocol that hashes every message with :func:`full_domain_hash` and verifies every
   unblinded signature (as :mod:`fedcrypto.psi` does).

The maths, in plain words:

* ``H(x)``: the message expanded with RFC 9380 ``expand_message_xmd`` (SHA-256) to
  ``|n| + 128`` bits and reduced mod ``n`` — statistically close to uniform in ``Z_n``.
* Blinding: the client draws ``r`` uniform in ``Z*_n`` and sends ``b = H(x) * r^e mod n``,
  which is uniform in ``Z*_n`` whatever ``x`` is.
* Signing: ``b^d mod n`` computed with the CRT: ``b^(d mod p-1) mod p`` and
  ``b^(d mod q-1) mod q`` in constant time (``secret=True`` backend batch path), recombined
  with :meth:`Backend.crt`.  Every signature is re-verified before it leaves (a faulty CRT
  half would otherwise reveal a factor of ``n``: the Bellcore attack).
* Unblinding: ``s = b^d / r = H(x)^d mod n``; the client checks ``s^e == H(x) mod n``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import gmpy2
import numpy as np

from .._backend import get_backend
from .._backend._limbs import int_to_limbs, ints_to_limbs, limbs_to_ints
from .._random import VectorRNG, random_prime
from ..exceptions import InvalidArgumentError, InvalidSignatureError, InvalidTypeError
from ..psi._h2c import expand_message_xmd

__all__ = [
    "RsaBlindKey",
    "RsaPublicNumbers",
    "check_public_key",
    "full_domain_hash",
    "blind",
    "unblind_and_verify",
    "MIN_KEY_BITS",
]

MIN_KEY_BITS = 2048
DEFAULT_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


class RsaPublicNumbers:
    """An RSA public key ``(n, e)`` (immutable)."""

    __slots__ = ("_n", "_e")

    def __init__(self, n: int, e: int) -> None:
        self._n = int(n)
        self._e = int(e)

    @property
    def n(self) -> int:
        """The modulus."""
        return self._n

    @property
    def e(self) -> int:
        """The public exponent."""
        return self._e

    @property
    def bits(self) -> int:
        """Size of the modulus in bits."""
        return self._n.bit_length()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RsaPublicNumbers) and (self.n, self.e) == (other.n, other.e)

    def __hash__(self) -> int:
        return hash((self.n, self.e))

    def __repr__(self) -> str:
        return f"RsaPublicNumbers(bits={self.bits}, e={self.e})"


def check_public_key(n: int, e: int, bits: int) -> RsaPublicNumbers:
    """Validate a public key received from a peer.

    Checks: ``n`` has exactly ``bits`` bits (>= 2048), is odd, has no prime factor below
    2000 and is not a perfect square; ``e`` is odd with ``3 <= e < 2^32`` and ``e < n``.
    (These are sanity checks, not a proof that ``n`` is a product of two primes: the RSA PSI
    protocol assumes a semi-honest signer, see docs/psi.md.)

    :raises InvalidArgumentError: on any failed check.
    """
    if bits < MIN_KEY_BITS or n.bit_length() != bits:
        raise InvalidArgumentError(f"RSA modulus must have exactly {bits} bits (>= {MIN_KEY_BITS})")
    if n % 2 == 0 or any(n % p == 0 for p in _SMALL_PRIMES) or gmpy2.is_square(n):
        raise InvalidArgumentError("RSA modulus is malformed (even, small factor or square)")
    if not (3 <= e < 1 << 32) or e % 2 == 0 or e >= n:
        raise InvalidArgumentError("RSA public exponent must be odd and in [3, 2^32)")
    return RsaPublicNumbers(n, e)


class RsaBlindKey:
    """An RSA private key for blind signing.  ``repr`` shows no secrets; pickling is refused.

    Create with :meth:`generate`.  :meth:`public` gives the public numbers.
    """

    __slots__ = ("_pub", "_p", "_q", "_dp", "_dq")

    def __init__(
        self, p: int, q: int, e: int = DEFAULT_E, *, unsafe_allow_small_keys: bool = False
    ) -> None:
        """Build a key from its primes (validated: distinct, ``e`` invertible mod ``(p-1)(q-1)``).

        :raises InvalidArgumentError: bad primes, exponent, or a modulus below 2048 bits
            without ``unsafe_allow_small_keys``.
        """
        p, q, e = int(p), int(q), int(e)
        n = p * q
        if p == q or not gmpy2.is_prime(p) or not gmpy2.is_prime(q):
            raise InvalidArgumentError("RSA primes must be distinct primes")
        if n.bit_length() < MIN_KEY_BITS and not unsafe_allow_small_keys:
            raise InvalidArgumentError(f"RSA keys must have at least {MIN_KEY_BITS} bits")
        if e < 3 or e % 2 == 0 or math.gcd(e, (p - 1) * (q - 1)) != 1:
            raise InvalidArgumentError("public exponent must be odd and invertible")
        self._pub = RsaPublicNumbers(n, e)
        self._p, self._q = p, q
        self._dp = pow(e, -1, p - 1)
        self._dq = pow(e, -1, q - 1)

    @classmethod
    def generate(cls, bits: int = 2048, *, e: int = DEFAULT_E,
                 unsafe_allow_small_keys: bool = False) -> RsaBlindKey:
        """A fresh key: two random primes of ``bits/2`` bits (top two bits set, so ``n`` has
        exactly ``bits`` bits) with ``gcd(e, p-1) = gcd(e, q-1) = 1``.

        :raises InvalidArgumentError: for ``bits < 2048`` (unless ``unsafe_allow_small_keys``)
            or an odd bit count.
        """
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise InvalidTypeError("bits must be an int")
        if bits % 2 or bits < 64 or (bits < MIN_KEY_BITS and not unsafe_allow_small_keys):
            raise InvalidArgumentError(f"RSA key size must be even and >= {MIN_KEY_BITS}")
        while True:
            p = random_prime(bits // 2)
            q = random_prime(bits // 2)
            if p != q and math.gcd(e, (p - 1) * (q - 1)) == 1:
                return cls(p, q, e, unsafe_allow_small_keys=unsafe_allow_small_keys)

    def public(self) -> RsaPublicNumbers:
        """The public numbers ``(n, e)``."""
        return self._pub

    def sign_many(self, values: Sequence[int], *, threads: int | None = None) -> list[int]:
        """``v^d mod n`` for each ``v`` in ``[0, n)`` (CRT, constant time, fault-checked).

        :raises InvalidArgumentError: a value outside ``[0, n)``.
        :raises RuntimeError: if a computed signature fails its own verification (fault).
        """
        n = self._pub.n
        if not values:
            return []
        if any(not 0 <= v < n for v in values):
            raise InvalidArgumentError("values to sign must be in [0, n)")
        be = get_backend()
        p, q = self._p, self._q
        wp, wq = (p.bit_length() + 63) // 64, (q.bit_length() + 63) // 64
        sp = be.powmod(ints_to_limbs([v % p for v in values], wp), int_to_limbs(self._dp), p,
                       secret=True, threads=threads)
        sq = be.powmod(ints_to_limbs([v % q for v in values], wq), int_to_limbs(self._dq), q,
                       secret=True, threads=threads)
        s = be.crt(sp, sq, p, q, threads=threads)
        check = be.powmod(s, int_to_limbs(self._pub.e), n, threads=threads)
        if not np.array_equal(check, ints_to_limbs(values, check.shape[1])):
            raise RuntimeError("RSA-CRT fault detected: a signature failed verification")
        return limbs_to_ints(s)

    def __repr__(self) -> str:
        return f"RsaBlindKey(bits={self._pub.bits}, e={self._pub.e})"

    def __reduce__(self) -> Any:
        raise TypeError("RSA private keys cannot be pickled")

    def private_numbers(self) -> tuple[int, int, int]:
        """``(p, q, e)``: explicit export of the secret primes (e.g. to worker processes)."""
        return self._p, self._q, self._pub.e


def full_domain_hash(messages: Sequence[bytes], n: int, dst: bytes) -> list[int]:
    """``H(m) = OS2IP(expand_message_xmd_SHA256(m, dst, |n|/8 + 16)) mod n`` for each message."""
    L = (n.bit_length() + 7) // 8 + 16
    return [int.from_bytes(expand_message_xmd(m, dst, L, "sha256"), "big") % n for m in messages]


def blind(hashes: Sequence[int], pub: RsaPublicNumbers) -> tuple[list[int], list[int]]:
    """Blind each hash: ``b = h * r^e mod n`` with fresh ``r`` uniform in ``Z*_n``.

    :returns: ``(blinded, r)`` — keep ``r`` secret for :func:`unblind_and_verify`.
    """
    n, e = pub.n, pub.e
    if not hashes:
        return [], []
    rng = VectorRNG()
    rs = rng.ints_below(n, len(hashes))
    for i, r in enumerate(rs):
        while r == 0 or math.gcd(r, n) != 1:  # probability ~2^-1023
            r = rng.ints_below(n, 1)[0]
        rs[i] = r
    be = get_backend()
    w = (n.bit_length() + 63) // 64
    re = be.powmod(ints_to_limbs(rs, w), int_to_limbs(e), n, secret=True)
    blinded = be.mulmod(ints_to_limbs(hashes, w), re, n)
    return limbs_to_ints(blinded), rs


def unblind_and_verify(
    signatures: Sequence[int], rs: Sequence[int], hashes: Sequence[int], pub: RsaPublicNumbers
) -> list[int]:
    """Unblind ``s = b^d * r^-1 mod n`` and check ``s^e == H(x) mod n`` for every element.

    :returns: the unblinded signatures ``H(x)^d mod n``.
    :raises InvalidSignatureError: if any signature does not verify (its position is not
        reported beyond the batch, nothing secret is).
    """
    n, e = pub.n, pub.e
    if not signatures:
        return []
    if any(not 0 <= s < n for s in signatures):
        raise InvalidSignatureError("peer sent a blind signature outside [0, n)")
    nn = gmpy2.mpz(n)
    unblinded = [int(gmpy2.mpz(s) * gmpy2.invert(r, nn) % nn) for s, r in zip(signatures, rs,
                                                                             strict=True)]
    be = get_backend()
    w = (n.bit_length() + 63) // 64
    check = be.powmod(ints_to_limbs(unblinded, w), int_to_limbs(e), n)
    if not np.array_equal(check, ints_to_limbs(hashes, check.shape[1])):
        raise InvalidSignatureError("an RSA blind signature from the peer does not verify")
    return unblinded
