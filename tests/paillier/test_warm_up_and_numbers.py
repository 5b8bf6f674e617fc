"""The public replacements for what benchmarks used to reach into: warm_up, private_numbers,
multiply(threads=)."""

from __future__ import annotations

import numpy as np
import pytest

from fedcrypto import paillier
from fedcrypto.exceptions import EncodingOverflowError, InvalidTypeError


@pytest.fixture(scope="module")
def sk() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(1024, unsafe_allow_small_keys=True)


def test_warm_up_is_idempotent_and_encryption_still_correct(
    sk: paillier.PaillierPrivateKey,
) -> None:
    pk = sk.public_key()
    for vt in (False, True):
        pk.warm_up(variable_time=vt)
        pk.warm_up(variable_time=vt)
        sk.warm_up(variable_time=vt)
        ev = pk.encrypt([1, -2, 3], unsafe_variable_time=vt)
        ev2 = sk.encrypt([4, 5], unsafe_variable_time=vt)
        assert sk.decrypt(ev).tolist() == [1, -2, 3]
        assert sk.decrypt(ev2).tolist() == [4, 5]


def test_private_numbers_rebuild_the_key(sk: paillier.PaillierPrivateKey) -> None:
    p, q = sk.private_numbers()
    assert p * q == sk.public_key().n
    again = paillier.private_key_from_primes(p, q, unsafe_allow_small_keys=True)
    assert again == sk
    assert again.decrypt(sk.public_key().encrypt([7])).tolist() == [7]
    assert str(p) not in repr(sk)


@pytest.mark.parametrize("threads", [1, 2, None])
def test_multiply_matches_the_operator(
    sk: paillier.PaillierPrivateKey, threads: int | None
) -> None:
    pk = sk.public_key()
    x = np.array([3, -4, 5, 0], dtype=np.int64)
    w = np.array([2, 7, -3, 9], dtype=np.int64)
    ev = pk.encrypt(x)
    assert sk.decrypt(ev.multiply(w, threads=threads)).tolist() == (x * w).tolist()
    assert sk.decrypt(ev.multiply(-2, threads=threads)).tolist() == (x * -2).tolist()
    assert sk.decrypt(ev * w).tolist() == (x * w).tolist()


def test_multiply_refuses_what_the_operator_refuses(sk: paillier.PaillierPrivateKey) -> None:
    pk = sk.public_key()
    ev = pk.encrypt([1, 2])
    with pytest.raises(InvalidTypeError):
        ev.multiply(ev)
    with pytest.raises(InvalidTypeError):
        ev.multiply("2")
    with pytest.raises(EncodingOverflowError):
        ev.multiply(pk.max_int + 1)
