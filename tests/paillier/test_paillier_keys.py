"""Paillier keys: generation, validation, serialization, secrecy."""

from __future__ import annotations

import pickle

import pytest

from fedcrypto import paillier
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from fedcrypto.serialization import ObjectType, pack


def test_generated_key_structure(sk: paillier.PaillierPrivateKey) -> None:
    pk = sk.public_key()
    p, q = sk._p, sk._q
    assert p != q and p * q == pk.n
    assert p.bit_length() == q.bit_length() == pk.key_size // 2
    assert pk.g == pk.n + 1 and pk.nsquare == pk.n**2
    # h_s is an n-th residue: its order divides phi(n).
    assert pow(pk.djn_base, (p - 1) * (q - 1), pk.nsquare) == 1
    assert pk.djn_exponent_bits == (pk.key_size + 1) // 2


def test_key_size_policy() -> None:
    with pytest.raises(InvalidArgumentError, match="too small"):
        paillier.generate_private_key(1024)
    with pytest.raises(InvalidArgumentError):
        paillier.generate_private_key(1025, unsafe_allow_small_keys=True)
    with pytest.raises(InvalidArgumentError):
        paillier.generate_private_key(64, unsafe_allow_small_keys=True)
    with pytest.raises(InvalidTypeError):
        paillier.generate_private_key(2048.0)  # type: ignore[arg-type]
    sk = paillier.generate_private_key(256, unsafe_allow_small_keys=True)
    assert sk.key_size == 256


@pytest.mark.slow
def test_generate_2048() -> None:
    sk = paillier.generate_private_key(2048)
    assert sk.public_key().key_size == 2048
    ev = sk.public_key().encrypt([1, -2, 3])
    assert sk.decrypt(ev).tolist() == [1, -2, 3]


def test_from_primes_validation(sk: paillier.PaillierPrivateKey) -> None:
    p, q = sk._p, sk._q
    again = paillier.private_key_from_primes(q, p, unsafe_allow_small_keys=True)
    assert again == sk and again.public_key() == sk.public_key()
    with pytest.raises(InvalidArgumentError):
        paillier.private_key_from_primes(p, p, unsafe_allow_small_keys=True)
    with pytest.raises(InvalidArgumentError):
        paillier.private_key_from_primes(p, q * 3, unsafe_allow_small_keys=True)  # composite
    with pytest.raises(InvalidArgumentError):
        paillier.private_key_from_primes(p, q)  # too small without the flag
    with pytest.raises(InvalidArgumentError, match="n-th residue"):
        paillier.private_key_from_primes(p, q, djn_base=2, unsafe_allow_small_keys=True)
    with pytest.raises(InvalidTypeError):
        paillier.private_key_from_primes(True, q, unsafe_allow_small_keys=True)  # type: ignore[arg-type]
    # gcd(n, phi(n)) != 1 when p divides q - 1.
    from fedcrypto._random import random_prime
    from fedcrypto.hazmat.modmath import is_probable_prime

    small = random_prime(100)
    k = 1 << 40
    while not is_probable_prime(2 * k * small + 1):
        k += 1
    with pytest.raises(InvalidArgumentError, match="gcd"):
        paillier.private_key_from_primes(small, 2 * k * small + 1, unsafe_allow_small_keys=True)


def test_public_key_from_n(pk: paillier.PaillierPublicKey) -> None:
    again = paillier.public_key_from_n(pk.n, unsafe_allow_small_keys=True)
    assert again == pk
    # The derived DJN base is deterministic and an n-th residue -> encryption works.
    assert again.djn_base == paillier.public_key_from_n(pk.n, unsafe_allow_small_keys=True).djn_base
    with pytest.raises(InvalidArgumentError):
        paillier.public_key_from_n(pk.n + 1, unsafe_allow_small_keys=True)  # even
    with pytest.raises(InvalidArgumentError):
        paillier.public_key_from_n(pk.n * 3, unsafe_allow_small_keys=True)  # small factor
    r = (1 << 600) + 1
    while r % 3 == 0 or r % 5 == 0:
        r += 2
    with pytest.raises(InvalidArgumentError):
        paillier.public_key_from_n(r * r, unsafe_allow_small_keys=True)  # square (or small factor)
    with pytest.raises(InvalidArgumentError):
        paillier.public_key_from_n(pk.n)  # too small without the flag
    with pytest.raises(InvalidArgumentError):
        paillier.public_key_from_n(pk.n, djn_base=pk.n, unsafe_allow_small_keys=True)  # not a unit


def test_private_key_from_n_base_encrypts(sk: paillier.PaillierPrivateKey) -> None:
    pub = paillier.public_key_from_n(sk.public_key().n, unsafe_allow_small_keys=True)
    assert sk.decrypt(pub.encrypt([5, -6])).tolist() == [5, -6]


def test_public_key_round_trip(pk: paillier.PaillierPublicKey) -> None:
    data = pk.to_bytes()
    back = paillier.PaillierPublicKey.from_bytes(data, unsafe_allow_small_keys=True)
    assert back == pk and back.djn_base == pk.djn_base and hash(back) == hash(pk)
    with pytest.raises(SerializationError, match="too small"):
        paillier.PaillierPublicKey.from_bytes(data)  # small key refused without the flag
    for bad in (data[:-1], data + b"\x00", b"XXXX" + data[4:], data[:30]):
        with pytest.raises(SerializationError):
            paillier.PaillierPublicKey.from_bytes(bad, unsafe_allow_small_keys=True)
    # Fingerprint that does not match n.
    tampered = data[:8] + bytes(16) + data[24:]
    with pytest.raises(SerializationError, match="fingerprint"):
        paillier.PaillierPublicKey.from_bytes(tampered, unsafe_allow_small_keys=True)
    with pytest.raises(SerializationError):
        paillier.PaillierPrivateKey.from_private_bytes(data, unsafe_allow_small_keys=True)


def test_private_key_round_trip(sk: paillier.PaillierPrivateKey) -> None:
    data = sk.private_bytes()
    back = paillier.PaillierPrivateKey.from_private_bytes(data, unsafe_allow_small_keys=True)
    assert back == sk and back.public_key().djn_base == sk.public_key().djn_base
    ev = sk.public_key().encrypt([7, -8])
    assert back.decrypt(ev).tolist() == [7, -8]
    with pytest.raises(SerializationError):
        paillier.PaillierPrivateKey.from_private_bytes(data[:-3], unsafe_allow_small_keys=True)
    # A well-formed envelope whose primes are not prime.
    from fedcrypto.serialization import Writer, param_id  # noqa: F401

    nb = (sk.public_key().n.bit_length() + 7) // 8
    bogus_p, bogus_q = sk._p + 2, sk._q
    payload = Writer().u32(nb).big(bogus_p).big(bogus_q).uint(1, 2 * nb).getvalue()
    from fedcrypto.paillier._params import fingerprint

    env = pack(ObjectType.PAILLIER_PRIVATE_KEY, payload, param=fingerprint(bogus_p * bogus_q))
    with pytest.raises(SerializationError, match="primes"):
        paillier.PaillierPrivateKey.from_private_bytes(env, unsafe_allow_small_keys=True)


def test_secrets_stay_secret(sk: paillier.PaillierPrivateKey) -> None:
    text = repr(sk) + str(sk)
    for secret in (sk._p, sk._q):
        assert str(secret) not in text and hex(secret)[2:12] not in text
    with pytest.raises(TypeError):
        pickle.dumps(sk)
    with pytest.raises(TypeError):
        pickle.dumps(sk.public_key())
    with pytest.raises(AttributeError):
        sk._p = 3  # type: ignore[misc]
    with pytest.raises(AttributeError):
        sk.public_key()._n = 3  # type: ignore[misc]


def test_equality(sk: paillier.PaillierPrivateKey, other_sk: paillier.PaillierPrivateKey) -> None:
    assert sk != other_sk and sk.public_key() != other_sk.public_key()
    assert sk.public_key() != object() and sk != object()
    assert sk.public_key().fingerprint != other_sk.public_key().fingerprint
