"""Multi-prime RSA (RFC 8017) session keys: CRT numbers, signatures equal to plain RSA,
validation of malformed multi-prime keys, no secrets in reprs, nothing serialized."""

from __future__ import annotations

import math
import pickle

import pytest

from fedcrypto._random import random_prime
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat.rsa_blind import (
    MAX_PRIMES,
    RsaBlindKey,
    RsaPrivateCrtNumbers,
    blind,
    check_public_key,
    full_domain_hash,
    unblind_and_verify,
)


def _lambda(primes: tuple[int, ...]) -> int:
    return math.lcm(*(p - 1 for p in primes))


def test_rfc8017_numbers_of_a_three_prime_key(rsa_key3: RsaBlindKey) -> None:
    num = rsa_key3.private_crt_numbers()
    r = num.primes
    assert len(r) == 3 and math.prod(r) == num.n == rsa_key3.public().n
    assert all(p.bit_length() >= 2048 // 3 - 1 for p in r)  # ~683-bit primes
    for p, d in zip(r, num.exponents, strict=True):
        assert 0 < d < p - 1 and num.e * d % (p - 1) == 1
    q_inv, t3 = num.coefficients
    assert q_inv * r[1] % r[0] == 1  # RFC 8017 qInv = q^-1 mod p
    assert t3 * r[0] * r[1] % r[2] == 1  # t_3 = (r_1 r_2)^-1 mod r_3
    again = RsaBlindKey.from_private_numbers(
        n=num.n, e=num.e, primes=r, exponents=num.exponents, coefficients=num.coefficients
    )
    assert again.public() == rsa_key3.public() and again.prime_count == 3
    rebuilt = RsaPrivateCrtNumbers(num.n, num.e, r, num.exponents, num.coefficients)
    assert rebuilt.primes == r and rebuilt.coefficients == num.coefficients
    with pytest.raises(InvalidArgumentError):
        RsaPrivateCrtNumbers(num.n, num.e, r, num.exponents, num.coefficients[::-1])


@pytest.mark.parametrize("bits", [2048, 3072])
def test_three_prime_signatures_equal_plain_rsa(bits: int, rsa_key3: RsaBlindKey) -> None:
    key = rsa_key3 if bits == 2048 else RsaBlindKey.generate(bits, primes=3)
    pub = key.public()
    assert pub.bits == bits and key.prime_count == 3
    primes, e = key.private_numbers()
    d = pow(e, -1, _lambda(primes))
    h = full_domain_hash([b"alice", b"bob", b""], pub.n, b"dst")
    h += [0, 1, pub.n - 1]  # pinned edge values
    sigs = key.sign_many(h, threads=1)
    assert sigs == [pow(x, d, pub.n) for x in h]  # the one e-th root: what 2-prime code gives
    assert all(pow(s, e, pub.n) == x for s, x in zip(sigs, h, strict=True))
    # The same message under a two-modulus CRT (r1 r2 | r3) computed by hand agrees too.
    m12 = primes[0] * primes[1]
    for x, s in zip(h, sigs, strict=True):
        a = pow(x, d % _lambda(primes[:2]), m12)
        b = pow(x, d % (primes[2] - 1), primes[2])
        assert (a + m12 * ((b - a) * pow(m12, -1, primes[2]) % primes[2])) == s
    # Through blinding, as the PSI client does.
    b_, rs = blind(h[:3], pub)
    assert unblind_and_verify(key.sign_many(b_), rs, h[:3], pub) == sigs[:3]
    assert check_public_key(pub.n, pub.e, bits) == pub  # the peer's checks accept it


def test_two_and_three_primes_sign_identically_for_the_same_modulus_shape() -> None:
    # Same messages, same e: each key's signatures are the unique e-th roots mod its n.
    for primes in (2, 3):
        k = RsaBlindKey.generate(1536, primes=primes, unsafe_allow_small_keys=True)
        ps, e = k.private_numbers()
        n = k.public().n
        h = full_domain_hash([b"x", b"y"], n, b"d")
        assert k.sign_many(h) == [pow(x, pow(e, -1, _lambda(ps)), n) for x in h]


def _composite_near(p: int) -> int:
    c = p + 2
    while all(c % s for s in (3, 5, 7, 11, 13)):
        c += 2
    return c


def test_malformed_multi_prime_keys_are_rejected(rsa_key3: RsaBlindKey) -> None:
    num = rsa_key3.private_crt_numbers()
    r1, r2, r3 = num.primes
    n, e = num.n, num.e

    def bad(**kw: object) -> None:
        args: dict[str, object] = {"n": n, "e": e, "primes": (r1, r2, r3)}
        args.update(kw)
        with pytest.raises(InvalidArgumentError):
            RsaBlindKey.from_private_numbers(**args)  # type: ignore[arg-type]

    bad(n=n + 2)  # wrong product
    bad(primes=(r1, r2))  # product is not n
    c = _composite_near(r3)
    bad(n=r1 * r2 * c, primes=(r1, r2, c))  # a non-prime factor
    bad(n=r1 * r1 * r3, primes=(r1, r1, r3))  # duplicate primes
    bad(n=n * 3, primes=(r1, r2, r3, 3))  # more than MAX_PRIMES
    bad(n=2 * r2 * r3, primes=(2, r2, r3))  # an even prime
    bad(n=-n, primes=(-r1, r2, r3))  # negative
    small = random_prime(200)
    big1, big2 = random_prime(924), random_prime(924)
    bad(n=big1 * big2 * small, primes=(big1, big2, small))  # unbalanced: ECM finds a small prime
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey(big1, big2, small)  # the constructor checks the balance too
    assert RsaBlindKey(big1, big2, small, unsafe_allow_small_keys=True).prime_count == 3
    bad(exponents=num.exponents[:2])
    bad(exponents=(num.exponents[0] + 1, *num.exponents[1:]))
    bad(coefficients=(num.coefficients[0], num.coefficients[1] + 1))
    bad(coefficients=num.coefficients + (1,))
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey(r1, r2, r3, 3 * 5 * 7 + 2)  # four primes to the constructor
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey(r1, r2, r3, e=3 if any((p - 1) % 3 == 0 for p in (r1, r2, r3)) else 4)
    with pytest.raises(InvalidArgumentError):  # a huge "prime" is refused before any work
        RsaBlindKey.from_private_numbers(n=(1 << 20000) + 1, e=e, primes=(r1, r2, r3))
    with pytest.raises(InvalidTypeError):
        RsaBlindKey.from_private_numbers(n=n, e=e, primes=(float(r1), r2, r3))  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        RsaBlindKey.from_private_numbers(n=n, e=e, primes=5)  # type: ignore[arg-type]
    assert MAX_PRIMES == 3


def test_crt_numbers_are_secret(rsa_key3: RsaBlindKey) -> None:
    num = rsa_key3.private_crt_numbers()
    text = repr(num) + repr(rsa_key3)
    assert "primes=3" in text and "bits=2048" in text
    for secret in (*num.primes, *num.exponents, *num.coefficients):
        assert str(secret) not in text and hex(secret)[2:] not in text
    for obj in (num, rsa_key3):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
    with pytest.raises(AttributeError):
        num._primes = ()  # type: ignore[misc]
    assert num != rsa_key3.private_crt_numbers()  # identity only: no secret comparison
