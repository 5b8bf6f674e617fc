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
* Signing: ``b^d mod n`` computed with the CRT: ``b^(d mod p_i-1) mod p_i`` for each prime
  factor in constant time (``secret=True`` backend batch path), recombined with
  :meth:`Backend.crt` (two- or three-prime keys).  Every signature is re-verified before it
  leaves (a faulty CRT half would otherwise reveal a factor of ``n``: the Bellcore attack).
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
    """An RSA private key for blind signing, with two or three prime factors.

    ``repr`` shows no secrets; pickling is refused.  Create with :meth:`generate` (or from
    known primes); :meth:`public` gives the public numbers.

    Three-prime ("multi-prime", RFC 8017 section 3) keys sign about 2.2 times faster: the
    CRT exponentiations are modulo three primes of ``bits/3`` bits instead of two of
    ``bits/2``.  For 2048- and 3072-bit moduli three primes do not lower the security level
    (factoring the modulus with the number field sieve stays cheaper than finding a
    683-bit / 1024-bit factor with ECM; the usual guidance allows up to 3 primes at these
    sizes).  Signatures are ordinary RSA signatures: ``s^e = m mod n``.
    """

    __slots__ = ("_pub", "_primes", "_dexps")

    def __init__(
        self, *primes: int, e: int = DEFAULT_E, unsafe_allow_small_keys: bool = False
    ) -> None:
        """Build a key from its 2 or 3 distinct primes (validated, ``e`` invertible mod every
        ``p_i - 1``).

        :raises InvalidArgumentError: bad primes, exponent, or a modulus below 2048 bits
            without ``unsafe_allow_small_keys``.
        """
        ps = tuple(int(p) for p in primes)
        e = int(e)
        if len(ps) not in (2, 3) or len(set(ps)) != len(ps):
            raise InvalidArgumentError("an RSA key needs 2 or 3 distinct primes")
        if not all(p > 2 and gmpy2.is_prime(p) for p in ps):
            raise InvalidArgumentError("RSA factors must be odd primes")
        n = math.prod(ps)
        if n.bit_length() < MIN_KEY_BITS and not unsafe_allow_small_keys:
            raise InvalidArgumentError(f"RSA keys must have at least {MIN_KEY_BITS} bits")
        if e < 3 or e % 2 == 0 or any(math.gcd(e, p - 1) != 1 for p in ps):
            raise InvalidArgumentError("public exponent must be odd and invertible")
        self._pub = RsaPublicNumbers(n, e)
        self._primes = ps
        self._dexps = tuple(pow(e, -1, p - 1) for p in ps)

    @classmethod
    def generate(cls, bits: int = 2048, *, primes: int = 2, e: int = DEFAULT_E,
                 unsafe_allow_small_keys: bool = False) -> RsaBlindKey:
        """A fresh key: ``primes`` (2 or 3) random primes of about ``bits/primes`` bits with
        ``gcd(e, p_i - 1) = 1``, redrawn until ``n`` has exactly ``bits`` bits.

        :raises InvalidArgumentError: for ``bits < 2048`` (unless ``unsafe_allow_small_keys``),
            a prime count other than 2 or 3.
        """
        if isinstance(bits, bool) or not isinstance(bits, int):
            raise InvalidTypeError("bits must be an int")
        if primes not in (2, 3):
            raise InvalidArgumentError("primes must be 2 or 3")
        if bits < 96 * primes or (bits < MIN_KEY_BITS and not unsafe_allow_small_keys):
            raise InvalidArgumentError(f"RSA key size must be >= {MIN_KEY_BITS}")
        sizes = [bits // primes + (1 if i < bits % primes else 0) for i in range(primes)]
        while True:
            ps = [random_prime(b) for b in sizes]
            if len(set(ps)) != primes or any(math.gcd(e, p - 1) != 1 for p in ps):
                continue
            if math.prod(ps).bit_length() == bits:
                return cls(*ps, e=e, unsafe_allow_small_keys=unsafe_allow_small_keys)

    def public(self) -> RsaPublicNumbers:
        """The public numbers ``(n, e)``."""
        return self._pub

    @property
    def prime_count(self) -> int:
        """Number of prime factors (2 or 3)."""
        return len(self._primes)

    def sign_many(self, values: Sequence[int], *, threads: int | None = None) -> list[int]:
        """``v^d mod n`` for each ``v`` in ``[0, n)`` (CRT, constant time, fault-checked).

        One batch ``powmod(secret=True)`` per prime ``p_i`` (exponent ``d mod p_i - 1``), then
        :meth:`Backend.crt` recombination (twice for three primes: mod ``p1 p2``, then mod
        ``n``).  Every result is checked with ``s^e == v`` before it is returned.

        :raises InvalidArgumentError: a value outside ``[0, n)``.
        :raises RuntimeError: if a computed signature fails its own verification (fault).
        """
        n = self._pub.n
        if not values:
            return []
        if any(not 0 <= v < n for v in values):
            raise InvalidArgumentError("values to sign must be in [0, n)")
        be = get_backend()
        parts = []
        for p, dp in zip(self._primes, self._dexps, strict=True):
            w = (p.bit_length() + 63) // 64
            parts.append(be.powmod(ints_to_limbs([v % p for v in values], w), int_to_limbs(dp),
                                   p, secret=True, threads=threads))
        s = be.crt(parts[0], parts[1], self._primes[0], self._primes[1], threads=threads)
        if len(self._primes) == 3:
            m = self._primes[0] * self._primes[1]
            s = be.crt(s, parts[2], m, self._primes[2], threads=threads)
        check = be.powmod(s, int_to_limbs(self._pub.e), n, threads=threads)
        if not np.array_equal(check, ints_to_limbs(values, check.shape[1])):
            raise RuntimeError("RSA-CRT fault detected: a signature failed verification")
        return limbs_to_ints(s)

    def __repr__(self) -> str:
        return (f"RsaBlindKey(bits={self._pub.bits}, primes={len(self._primes)}, "
                f"e={self._pub.e})")

    def __reduce__(self) -> Any:
        raise TypeError("RSA private keys cannot be pickled")

    def private_numbers(self) -> tuple[tuple[int, ...], int]:
        """``(primes, e)``: explicit export of the secret factors (e.g. to worker processes)."""
        return self._primes, self._pub.e


def full_domain_hash(messages: Sequence[bytes], n: int, dst: bytes) -> list[int]:
    """``H(m) = OS2IP(expand_message_xmd_SHA256(m, dst, |n|/8 + 16)) mod n`` for each message."""
    # TEMPORARY (branch wt-psi): psi's create_party now imports the RSA party at module level,
    # so hazmat importing psi at module level is a cycle.  Superseded by the move of
    # expand_message_xmd into hazmat (issue 9 item 1, other branch): take that version.
    from ..psi._h2c import expand_message_xmd

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
