"""hazmat.rsa_blind: blind signing round trip, key checks, refusal to pickle."""

from __future__ import annotations

import pickle

import pytest

from fedcrypto.exceptions import InvalidArgumentError, InvalidSignatureError, InvalidTypeError
from fedcrypto.hazmat.rsa_blind import (
    RsaBlindKey,
    RsaPublicNumbers,
    blind,
    check_public_key,
    full_domain_hash,
    unblind_and_verify,
)


def test_blind_sign_unblind_verify(rsa_key: RsaBlindKey) -> None:
    pub = rsa_key.public()
    assert pub.bits == 2048 and pub.e == 65537
    msgs = [b"a", b"b", b"c"]
    h = full_domain_hash(msgs, pub.n, b"dst")
    assert all(0 <= x < pub.n for x in h)
    assert h != full_domain_hash(msgs, pub.n, b"other")
    b1, r1 = blind(h, pub)
    b2, _ = blind(h, pub)
    assert b1 != b2 and b1 != h  # fresh blinding each time
    s = unblind_and_verify(rsa_key.sign_many(b1), r1, h, pub)
    primes, _e = rsa_key.private_numbers()
    phi = 1
    for p in primes:
        phi *= p - 1
    assert s == [pow(x, pow(pub.e, -1, phi), pub.n) for x in h]
    bad = list(rsa_key.sign_many(b1))
    bad[1] = (bad[1] * 2) % pub.n
    with pytest.raises(InvalidSignatureError):
        unblind_and_verify(bad, r1, h, pub)
    with pytest.raises(InvalidSignatureError):
        unblind_and_verify([pub.n], r1[:1], h[:1], pub)


def test_key_checks(rsa_key: RsaBlindKey) -> None:
    pub = rsa_key.public()
    assert check_public_key(pub.n, pub.e, 2048) == pub
    with pytest.raises(InvalidArgumentError):
        check_public_key(pub.n, pub.e, 3072)
    with pytest.raises(InvalidArgumentError):
        check_public_key(pub.n - 1, pub.e, 2048)  # even modulus
    with pytest.raises(InvalidArgumentError):
        check_public_key(pub.n, 2, 2048)
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey.generate(1024)
    with pytest.raises(InvalidArgumentError):
        rsa_key.sign_many([pub.n])
    with pytest.raises(TypeError):
        pickle.dumps(rsa_key)
    assert "bits=2048" in repr(rsa_key)
    primes, _ = rsa_key.private_numbers()
    assert all(str(p) not in repr(rsa_key) for p in primes)
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey(primes[0], primes[0])
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey(primes[0], primes[1] + 2)
    with pytest.raises(InvalidArgumentError):
        RsaBlindKey.generate(2048, primes=4)


@pytest.mark.parametrize("primes", [2, 3])
def test_small_keys_only_when_unsafe(primes: int) -> None:
    k = RsaBlindKey.generate(512, primes=primes, unsafe_allow_small_keys=True)
    assert k.public().bits == 512 and k.prime_count == primes
    h = full_domain_hash([b"x", b"y"], k.public().n, b"d")
    b, r = blind(h, k.public())
    assert unblind_and_verify(k.sign_many(b), r, h, k.public()) == k.sign_many(h)


def test_three_prime_key_signs_like_two_prime_rsa(rsa_key3: RsaBlindKey) -> None:
    pub = rsa_key3.public()
    assert pub.bits == 2048 and rsa_key3.prime_count == 3
    primes, e = rsa_key3.private_numbers()
    d = pow(e, -1, (primes[0] - 1) * (primes[1] - 1) * (primes[2] - 1))
    h = full_domain_hash([b"a", b"b"], pub.n, b"d")
    assert rsa_key3.sign_many(h) == [pow(x, d, pub.n) for x in h]


def test_bad_arguments_are_typed_errors(rsa_key: RsaBlindKey) -> None:
    pub = rsa_key.public()
    h = full_domain_hash([b"a", b"b"], pub.n, b"d")
    b, r = blind(h, pub)
    s = rsa_key.sign_many(b)
    with pytest.raises(InvalidArgumentError):  # used to be zip(strict=True)'s ValueError
        unblind_and_verify(s, r[:1], h, pub)
    with pytest.raises(InvalidTypeError):
        unblind_and_verify([1.0, 2.0], r, h, pub)  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        RsaPublicNumbers("12345", 3)  # type: ignore[arg-type]  # int() used to accept it
    with pytest.raises(InvalidTypeError):
        RsaBlindKey(7.0, 11.0, unsafe_allow_small_keys=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        check_public_key(pub.n, pub.e, 2**20)  # above the 16384-bit cap
    with pytest.raises(InvalidTypeError):
        full_domain_hash(["text"], pub.n, b"d")  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        blind([pub.n], pub)


def test_public_numbers_are_immutable_values(rsa_key: RsaBlindKey) -> None:
    pub = rsa_key.public()
    assert RsaPublicNumbers(pub.n, pub.e) == pub and hash(RsaPublicNumbers(pub.n, pub.e)) == hash(
        pub
    )
    with pytest.raises(AttributeError):
        pub._n = 5  # type: ignore[misc]
    with pytest.raises(AttributeError):
        rsa_key._primes = ()  # type: ignore[misc]
    with pytest.raises(TypeError):
        pickle.dumps(pub)


def test_rsa_blind_does_not_import_psi() -> None:
    import ast
    from pathlib import Path

    import fedcrypto.hazmat.rsa_blind as mod

    tree = ast.parse(Path(mod.__file__).read_text())
    mods = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert "h2c" in mods and not any("psi" in m for m in mods)
