"""Raw Paillier on ints (fedcrypto.hazmat.paillier) against the vectorised implementation."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto import paillier
from fedcrypto.exceptions import InvalidArgumentError, InvalidCiphertext, InvalidTypeError
from fedcrypto.hazmat import paillier as raw


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    a=st.integers(min_value=0, max_value=2**200),
    b=st.integers(min_value=0, max_value=2**200),
    k=st.integers(min_value=-(2**40), max_value=2**40),
)
def test_raw_homomorphism(sk, pk, a, b, k) -> None:
    n, p, q = pk.n, sk._p, sk._q
    ca, cb = raw.raw_encrypt(n, a), raw.raw_encrypt(n, b)
    assert raw.raw_decrypt(p, q, ca) == a
    assert raw.raw_decrypt(p, q, raw.raw_add(n, ca, cb)) == (a + b) % n
    assert raw.raw_decrypt(p, q, raw.raw_mul(n, ca, k)) == (k * a) % n
    rr = raw.raw_rerandomize(n, ca)
    assert rr != ca and raw.raw_decrypt(q, p, rr) == a


def test_raw_interoperates_with_vectors(sk, pk) -> None:
    c = raw.raw_encrypt(pk.n, 42, r=5)
    assert c == (1 + 42 * pk.n) * pow(5, pk.n, pk.nsquare) % pk.nsquare
    ev = paillier.EncryptedVector.from_ciphertexts(pk, [c])
    assert sk.decrypt(ev).tolist() == [42]
    assert raw.raw_decrypt(sk._p, sk._q, pk.encrypt([7]).ciphertexts()[0]) == 7


def test_raw_validation(sk, pk) -> None:
    n = pk.n
    with pytest.raises(InvalidArgumentError):
        raw.raw_encrypt(n, n)
    with pytest.raises(InvalidArgumentError):
        raw.raw_encrypt(n, -1)
    with pytest.raises(InvalidArgumentError):
        raw.raw_encrypt(n, 1, r=sk._p)
    with pytest.raises(InvalidArgumentError):
        raw.raw_encrypt(n + 1, 1)
    with pytest.raises(InvalidTypeError):
        raw.raw_encrypt(n, 1.0)  # type: ignore[arg-type]
    for bad in (0, pk.nsquare, sk._p):
        with pytest.raises(InvalidCiphertext):
            raw.raw_decrypt(sk._p, sk._q, bad)
        with pytest.raises(InvalidCiphertext):
            raw.raw_add(n, bad, 1)
    with pytest.raises(InvalidArgumentError):
        raw.raw_decrypt(sk._p, sk._p, 1)
