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
* Signing: ``b^d mod n`` computed with the CRT as in RFC 8017 (RSASP1, multi-prime form):
  ``b^(d_i) mod r_i`` with ``d_i = d mod (r_i - 1)`` for each prime factor, in constant time
  (``secret=True`` backend batch path), recombined by Garner's steps with the coefficients
  ``qInv`` and ``t_i`` (two- or three-prime keys).  Every signature is re-verified before it
  leaves (a faulty CRT half would otherwise reveal a factor of ``n``: the Bellcore attack).
* Unblinding: ``s = b^d / r = H(x)^d mod n``; the client checks ``s^e == H(x) mod n``.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Sequence

import numpy as np

from .._backend import get_backend, int_to_limbs, ints_to_limbs, limbs_to_ints
from .._immutable import Immutable
from .._random import VectorRNG, random_prime
from ..exceptions import InvalidArgumentError, InvalidSignatureError, InvalidTypeError
from .h2c import expand_message_xmd
from .modmath import is_probable_prime

__all__ = [
    "RsaBlindKey",
    "RsaPrivateCrtNumbers",
    "RsaPublicNumbers",
    "check_public_key",
    "full_domain_hash",
    "blind",
    "unblind_and_verify",
    "MIN_KEY_BITS",
    "MAX_KEY_BITS",
    "MAX_PRIMES",
]

MIN_KEY_BITS = 2048
#: Largest modulus accepted anywhere here (keys, peer public keys, generation).
MAX_KEY_BITS = 16384
#: Most prime factors of a private key (RFC 8017 allows more; the guidance cited in
#: docs/psi.md allows 3 below 4096 bits).
MAX_PRIMES = 3
DEFAULT_E = 65537
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{what} must be an int, got {type(value).__name__}")
    return int(value)


def _ints(values: object, what: str) -> list[int]:
    if isinstance(values, (str, bytes, bytearray)) or not isinstance(values, Sequence):
        raise InvalidTypeError(f"{what} must be a sequence of ints, got {type(values).__name__}")
    return [_int(v, what) for v in values]


def _check_bits(bits: object) -> int:
    b = _int(bits, "bits")
    if not MIN_KEY_BITS <= b <= MAX_KEY_BITS:
        raise InvalidArgumentError(
            f"RSA modulus size must be between {MIN_KEY_BITS} and {MAX_KEY_BITS} bits"
        )
    return b


class RsaPublicNumbers(Immutable):
    """An RSA public key ``(n, e)`` (immutable, compared by value)."""

    __slots__ = ("_n", "_e")
    _n: int
    _e: int

    def __init__(self, n: int, e: int) -> None:
        """Store ``(n, e)``: positive ints (use :func:`check_public_key` for a peer's key).

        :raises InvalidTypeError: non-int ``n`` or ``e``.
        :raises InvalidArgumentError: ``n < 3`` or ``e < 1``.
        """
        nn, ee = _int(n, "n"), _int(e, "e")
        if nn < 3 or ee < 1:
            raise InvalidArgumentError("RSA public numbers must be positive (n >= 3, e >= 1)")
        self._set(_n=nn, _e=ee)

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

    Checks: ``n`` has exactly ``bits`` bits (``2048 <= bits <= 16384``), is odd, has no
    prime factor below 2000 and is not a perfect square; ``e`` is odd with
    ``3 <= e < 2^32`` and ``e < n``.  (These are sanity checks, not a proof that ``n`` is
    a product of two primes: the RSA PSI protocol assumes a semi-honest signer, see
    docs/psi.md.)

    :raises InvalidArgumentError: on any failed check.
    :raises InvalidTypeError: non-int arguments.
    """
    nn, ee, size = _int(n, "n"), _int(e, "e"), _check_bits(bits)
    if nn.bit_length() != size:
        raise InvalidArgumentError(f"RSA modulus must have exactly {size} bits")
    if nn % 2 == 0 or any(nn % p == 0 for p in _SMALL_PRIMES) or get_backend().is_square(nn):
        raise InvalidArgumentError("RSA modulus is malformed (even, small factor or square)")
    if not (3 <= ee < 1 << 32) or ee % 2 == 0 or ee >= nn:
        raise InvalidArgumentError("RSA public exponent must be odd and in [3, 2^32)")
    return RsaPublicNumbers(nn, ee)


class RsaPrivateCrtNumbers(Immutable):
    """The RFC 8017 (section 3.2, second form) private numbers of an :class:`RsaBlindKey`.

    ``primes`` are ``r_1 = p, r_2 = q, r_3 ...``; ``exponents`` the CRT exponents
    ``d_i = d mod (r_i - 1)`` (``dP, dQ, d_3 ...``); ``coefficients`` the CRT coefficients
    ``t_i = (r_1 * ... * r_(i-1))^-1 mod r_i`` for ``i >= 2`` (``t_2`` is RFC 8017's
    ``qInv = q^-1 mod p``; there is one coefficient fewer than primes).  Secret: ``repr``
    shows only the sizes, equality is identity, pickling is refused.
    """

    __slots__ = ("_n", "_e", "_primes", "_exponents", "_coefficients")
    _n: int
    _e: int
    _primes: tuple[int, ...]
    _exponents: tuple[int, ...]
    _coefficients: tuple[int, ...]

    def __init__(
        self,
        n: int,
        e: int,
        primes: Sequence[int],
        exponents: Sequence[int],
        coefficients: Sequence[int],
        *,
        unsafe_allow_small_keys: bool = False,
    ) -> None:
        """Validated numbers (every check of :meth:`RsaBlindKey.from_private_numbers`).

        :raises InvalidArgumentError: numbers that do not form a valid key.
        :raises InvalidTypeError: non-int values.
        """
        key = RsaBlindKey.from_private_numbers(
            n=n,
            e=e,
            primes=primes,
            exponents=exponents,
            coefficients=coefficients,
            unsafe_allow_small_keys=unsafe_allow_small_keys,
        )
        self._set(
            _n=key._pub.n,
            _e=key._pub.e,
            _primes=key._primes,
            _exponents=key._dexps,
            _coefficients=key._coeffs,
        )

    @property
    def n(self) -> int:
        """The modulus ``r_1 * ... * r_u``."""
        return self._n

    @property
    def e(self) -> int:
        """The public exponent."""
        return self._e

    @property
    def primes(self) -> tuple[int, ...]:
        """The prime factors ``r_i`` (secret)."""
        return self._primes

    @property
    def exponents(self) -> tuple[int, ...]:
        """The CRT exponents ``d_i`` (secret)."""
        return self._exponents

    @property
    def coefficients(self) -> tuple[int, ...]:
        """The CRT coefficients ``t_2 = qInv, t_3, ...`` (secret)."""
        return self._coefficients

    def __repr__(self) -> str:
        return f"RsaPrivateCrtNumbers(bits={self._n.bit_length()}, primes={len(self._primes)})"


def _crt_coefficients(primes: Sequence[int]) -> tuple[int, ...]:
    """``t_2 = r_2^-1 mod r_1`` (RFC 8017's qInv) and ``t_i = (r_1...r_(i-1))^-1 mod r_i``."""
    out = [pow(primes[1], -1, primes[0])]
    acc = primes[0] * primes[1]
    for r in primes[2:]:
        out.append(pow(acc, -1, r))
        acc *= r
    return tuple(out)


def _same_secret(a: Sequence[int], b: Sequence[int]) -> bool:
    """Compare two tuples of secret ints without an early exit on the first difference."""
    if len(a) != len(b):
        return False
    ok = True
    for x, y in zip(a, b, strict=True):
        size = max(x.bit_length(), y.bit_length(), 1) // 8 + 1
        if x < 0 or y < 0:
            return False
        ok &= hmac.compare_digest(x.to_bytes(size, "big"), y.to_bytes(size, "big"))
    return ok


class RsaBlindKey(Immutable):
    """An RSA private key for blind signing, with two or three prime factors.

    ``repr`` shows no secrets; pickling is refused.  Create with :meth:`generate`, from
    known primes (``RsaBlindKey(p, q[, r])``) or from RFC 8017 numbers
    (:meth:`from_private_numbers`); :meth:`public` gives the public numbers.

    Three-prime ("multi-prime", RFC 8017 section 3) keys sign about 2.2 times faster: the
    CRT exponentiations are modulo three primes of ``bits/3`` bits instead of two of
    ``bits/2``.  For 2048- and 3072-bit moduli three primes do not lower the security level
    (factoring the modulus with the number field sieve stays cheaper than finding a
    683-bit / 1024-bit factor with ECM; the usual guidance allows up to 3 primes at these
    sizes, see docs/psi.md).  Signatures are ordinary RSA signatures: ``s^e = m mod n``,
    the same whatever the number of primes.

    Unless ``unsafe_allow_small_keys``, the primes must be balanced: each has at least
    ``bits/u - 16`` bits for ``u`` primes (a small factor would fall to ECM).
    """

    __slots__ = ("_pub", "_primes", "_dexps", "_coeffs")
    _pub: RsaPublicNumbers
    _primes: tuple[int, ...]
    _dexps: tuple[int, ...]
    _coeffs: tuple[int, ...]

    def __init__(
        self, *primes: int, e: int = DEFAULT_E, unsafe_allow_small_keys: bool = False
    ) -> None:
        """Build a key from its 2 or 3 distinct primes (validated, ``e`` invertible mod every
        ``p_i - 1``).  The CRT exponents and coefficients are derived (RFC 8017).

        :raises InvalidArgumentError: bad primes, exponent, unbalanced primes or a modulus
            below 2048 bits without ``unsafe_allow_small_keys``.
        :raises InvalidTypeError: non-int primes or exponent.
        """
        ps = tuple(_int(p, "prime") for p in primes)
        e = _int(e, "e")
        if not isinstance(unsafe_allow_small_keys, bool):
            raise InvalidTypeError("unsafe_allow_small_keys must be a bool")
        if not 2 <= len(ps) <= MAX_PRIMES or len(set(ps)) != len(ps):
            raise InvalidArgumentError(f"an RSA key needs 2 to {MAX_PRIMES} distinct primes")
        if any(p.bit_length() > MAX_KEY_BITS for p in ps):  # before the product: bounded work
            raise InvalidArgumentError(f"RSA keys must have at most {MAX_KEY_BITS} bits")
        n = math.prod(p for p in ps if p > 0)
        if n.bit_length() > MAX_KEY_BITS:
            raise InvalidArgumentError(f"RSA keys must have at most {MAX_KEY_BITS} bits")
        if not all(p > 2 and is_probable_prime(p) for p in ps):
            raise InvalidArgumentError("RSA factors must be odd primes")
        if n.bit_length() < MIN_KEY_BITS and not unsafe_allow_small_keys:
            raise InvalidArgumentError(f"RSA keys must have at least {MIN_KEY_BITS} bits")
        if not unsafe_allow_small_keys and min(p.bit_length() for p in ps) < (
            n.bit_length() // len(ps) - 16
        ):
            raise InvalidArgumentError(
                "RSA primes must be balanced (each at least bits/primes - 16 bits)"
            )
        if e < 3 or e % 2 == 0 or any(math.gcd(e, p - 1) != 1 for p in ps):
            raise InvalidArgumentError("public exponent must be odd and invertible")
        self._set(
            _pub=RsaPublicNumbers(n, e),
            _primes=ps,
            _dexps=tuple(pow(e, -1, p - 1) for p in ps),
            _coeffs=_crt_coefficients(ps),
        )

    @classmethod
    def from_private_numbers(
        cls,
        *,
        n: int,
        e: int,
        primes: Sequence[int],
        exponents: Sequence[int] | None = None,
        coefficients: Sequence[int] | None = None,
        unsafe_allow_small_keys: bool = False,
    ) -> RsaBlindKey:
        """A key from RFC 8017 private numbers, every part checked against the others.

        :param n: the modulus; must equal the product of ``primes``.
        :param e: the public exponent.
        :param primes: ``r_1, r_2[, r_3]``: 2 or 3 distinct odd primes.
        :param exponents: optional ``d_i``; each must satisfy ``e * d_i = 1 mod (r_i - 1)``
            with ``0 < d_i < r_i - 1`` (i.e. equal ``d mod (r_i - 1)``).
        :param coefficients: optional ``t_2 = r_2^-1 mod r_1`` and
            ``t_i = (r_1...r_(i-1))^-1 mod r_i``, in ``(0, r_1)`` / ``(0, r_i)``.
        :raises InvalidArgumentError: a wrong product, non-primes, duplicates, more than
            ``MAX_PRIMES`` primes, unbalanced primes, or exponents / coefficients that do
            not match the primes (the message names which part, never its value).
        :raises InvalidTypeError: non-int values.
        """
        nn, ee = _int(n, "n"), _int(e, "e")
        if nn.bit_length() > MAX_KEY_BITS:
            raise InvalidArgumentError(f"RSA keys must have at most {MAX_KEY_BITS} bits")
        ps = _ints(primes, "primes")
        if not 2 <= len(ps) <= MAX_PRIMES:
            raise InvalidArgumentError(f"an RSA key needs 2 to {MAX_PRIMES} distinct primes")
        if any(p.bit_length() > MAX_KEY_BITS for p in ps) or math.prod(ps) != nn:
            raise InvalidArgumentError("the product of the primes is not the modulus n")
        key = cls(*ps, e=ee, unsafe_allow_small_keys=unsafe_allow_small_keys)
        if exponents is not None:
            ds = _ints(exponents, "exponents")
            if len(ds) != len(ps) or not _same_secret(ds, key._dexps):
                raise InvalidArgumentError("the CRT exponents do not match the primes and e")
        if coefficients is not None:
            ts = _ints(coefficients, "coefficients")
            if len(ts) != len(ps) - 1 or not _same_secret(ts, key._coeffs):
                raise InvalidArgumentError("the CRT coefficients do not match the primes")
        return key

    @classmethod
    def generate(
        cls,
        bits: int = 2048,
        *,
        primes: int = 2,
        e: int = DEFAULT_E,
        unsafe_allow_small_keys: bool = False,
    ) -> RsaBlindKey:
        """A fresh key: ``primes`` (2 or 3) random primes of about ``bits/primes`` bits with
        ``gcd(e, p_i - 1) = 1``, redrawn until ``n`` has exactly ``bits`` bits.

        :raises InvalidArgumentError: for ``bits < 2048`` (unless ``unsafe_allow_small_keys``),
            a prime count other than 2 or 3.
        """
        bits = _int(bits, "bits")
        primes = _int(primes, "primes")
        e = _int(e, "e")
        if not isinstance(unsafe_allow_small_keys, bool):
            raise InvalidTypeError("unsafe_allow_small_keys must be a bool")
        if primes not in (2, 3):
            raise InvalidArgumentError("primes must be 2 or 3")
        if bits < 96 * primes or (bits < MIN_KEY_BITS and not unsafe_allow_small_keys):
            raise InvalidArgumentError(f"RSA key size must be >= {MIN_KEY_BITS}")
        if bits > MAX_KEY_BITS:
            raise InvalidArgumentError(f"RSA key size must be <= {MAX_KEY_BITS}")
        if e < 3 or e % 2 == 0:
            raise InvalidArgumentError("public exponent must be odd and at least 3")
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
        """``v^d mod n`` for each ``v`` in ``[0, n)``: RFC 8017 RSASP1 with the CRT,
        constant time per prime, fault-checked.

        One batch ``powmod(secret=True)`` per prime: ``s_i = v^(d_i) mod r_i``.  Then
        Garner's recombination, RFC 8017 section 5.2.1 step 2.b: ``s = s_2 + q * h`` with
        ``h = (s_1 - s_2) * qInv mod p``, and for the third prime ``s = s + R * h`` with
        ``h = (s_3 - s) * t_3 mod r_3``, ``R = r_1 r_2`` (each step one
        :meth:`Backend.crt` batch, which derives the same coefficient).  Every result is
        checked with ``s^e == v`` before it is returned (Bellcore).

        :raises InvalidArgumentError: a value outside ``[0, n)``.
        :raises RuntimeError: if a computed signature fails its own verification (fault).
        """
        n = self._pub.n
        values = _ints(values, "values to sign")
        if not values:
            return []
        if any(not 0 <= v < n for v in values):
            raise InvalidArgumentError("values to sign must be in [0, n)")
        be = get_backend()
        parts = []
        for p, dp in zip(self._primes, self._dexps, strict=True):
            w = (p.bit_length() + 63) // 64
            parts.append(
                be.powmod(
                    ints_to_limbs([v % p for v in values], w),
                    int_to_limbs(dp),
                    p,
                    secret=True,
                    threads=threads,
                )
            )
        s = be.crt(parts[0], parts[1], self._primes[0], self._primes[1], threads=threads)
        acc = self._primes[0] * self._primes[1]
        for r, s_i in zip(self._primes[2:], parts[2:], strict=True):
            s = be.crt(s_i, s, r, acc, threads=threads)
            acc *= r
        check = be.powmod(s, int_to_limbs(self._pub.e), n, threads=threads)
        if not np.array_equal(check, ints_to_limbs(values, check.shape[1])):
            raise RuntimeError("RSA-CRT fault detected: a signature failed verification")
        return limbs_to_ints(s)

    def __repr__(self) -> str:
        return f"RsaBlindKey(bits={self._pub.bits}, primes={len(self._primes)}, e={self._pub.e})"

    def private_numbers(self) -> tuple[tuple[int, ...], int]:
        """``(primes, e)``: explicit export of the secret factors (e.g. to worker processes)."""
        return self._primes, self._pub.e

    def private_crt_numbers(self) -> RsaPrivateCrtNumbers:
        """The RFC 8017 private numbers (primes, CRT exponents, CRT coefficients): an
        explicit export of secrets, accepted back by :meth:`from_private_numbers`."""
        return RsaPrivateCrtNumbers._trusted(
            _n=self._pub.n,
            _e=self._pub.e,
            _primes=self._primes,
            _exponents=self._dexps,
            _coefficients=self._coeffs,
        )


def full_domain_hash(messages: Sequence[bytes], n: int, dst: bytes) -> list[int]:
    """``H(m) = OS2IP(expand_message_xmd_SHA256(m, dst, |n|/8 + 16)) mod n`` for each message.

    :raises InvalidTypeError: ``messages`` not a sequence of bytes-like objects, ``n`` not
        an int, ``dst`` not bytes.
    :raises InvalidArgumentError: ``n`` outside ``[3, 2^16384)``, an empty ``dst``.
    """
    nn = _int(n, "n")
    if not 3 <= nn or nn.bit_length() > MAX_KEY_BITS:
        raise InvalidArgumentError(f"n must be at least 3 and at most {MAX_KEY_BITS} bits")
    if isinstance(messages, (str, bytes, bytearray)) or not isinstance(messages, Sequence):
        raise InvalidTypeError("messages must be a sequence of bytes")
    L = (nn.bit_length() + 7) // 8 + 16
    return [int.from_bytes(expand_message_xmd(m, dst, L, "sha256"), "big") % nn for m in messages]


def blind(hashes: Sequence[int], pub: RsaPublicNumbers) -> tuple[list[int], list[int]]:
    """Blind each hash: ``b = h * r^e mod n`` with fresh ``r`` uniform in ``Z*_n``.

    :returns: ``(blinded, r)`` — keep ``r`` secret for :func:`unblind_and_verify`.
    """
    if not isinstance(pub, RsaPublicNumbers):
        raise InvalidTypeError("pub must be RsaPublicNumbers")
    n, e = pub.n, pub.e
    hashes = _ints(hashes, "hashes")
    if any(not 0 <= h < n for h in hashes):
        raise InvalidArgumentError("every hash must be in [0, n)")
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
    if not isinstance(pub, RsaPublicNumbers):
        raise InvalidTypeError("pub must be RsaPublicNumbers")
    n, e = pub.n, pub.e
    sigs = _ints(signatures, "signatures")
    rs = _ints(rs, "blinding factors")
    hashes = _ints(hashes, "hashes")
    if not len(sigs) == len(rs) == len(hashes):
        raise InvalidArgumentError("signatures, blinding factors and hashes differ in length")
    if not sigs:
        return []
    if any(not 0 <= s < n for s in sigs):
        raise InvalidSignatureError("peer sent a blind signature outside [0, n)")
    if any(not 0 < r < n for r in rs) or any(not 0 <= h < n for h in hashes):
        raise InvalidArgumentError("blinding factors and hashes must be in [0, n)")
    be = get_backend()
    ops = be.int_ops  # one inversion and one product per element, on the backend's numbers
    num, nn = ops.num, ops.num(n)
    unblinded = []
    for s, r in zip(sigs, rs, strict=True):
        r_inv = ops.invert(num(r), nn)
        if r_inv is None:
            raise InvalidArgumentError("a blinding factor is not invertible modulo n")
        unblinded.append(int(num(s) * r_inv % nn))
    w = (n.bit_length() + 63) // 64
    check = be.powmod(ints_to_limbs(unblinded, w), int_to_limbs(e), n)
    if not np.array_equal(check, ints_to_limbs(hashes, check.shape[1])):
        raise InvalidSignatureError("an RSA blind signature from the peer does not verify")
    return unblinded
