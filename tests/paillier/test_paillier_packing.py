"""BatchCrypt-style packing: error bound, general decoder, overflow detection, wire format."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto import backend_info, paillier
from fedcrypto._random import VectorRNG
from fedcrypto.exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidCiphertext,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from fedcrypto.paillier import PackedVector, PackingScheme

PURE = backend_info()["name"] == "pure"
SLACK = 1e-9  # float64 rounding on top of the quantization bound


def _gauss(n: int, seed: int, scale: float = 0.8) -> np.ndarray:
    """Deterministic test data from the library's seeded AES-CTR generator (no numpy.random)."""
    u = VectorRNG(seed.to_bytes(32, "big")).uniform(2 * n).reshape(2, n)
    return scale * np.sqrt(-2 * np.log1p(-u[0])) * np.cos(2 * np.pi * u[1])


@pytest.mark.parametrize("k", list(range(1, 17)))
def test_sum_within_error_bound(sk, pk, k) -> None:
    alpha = 1.0
    sch = PackingScheme(bits=16, parties=k, alpha=alpha)
    shape = (3, 7) if not PURE else (5,)
    size = math.prod(shape)
    xs = [_gauss(size, 100 * k + i).reshape(shape).astype(np.float32) for i in range(k)]
    xs[0].reshape(-1)[0] = alpha  # exactly at the clip bounds
    xs[-1].reshape(-1)[-1] = -alpha
    xs[0].reshape(-1)[1] = 5 * alpha  # beyond: clipped
    total = PackedVector.sum([sch.encrypt(pk, x) for x in xs])
    assert total.weight == k
    dec = sk.decrypt(total)
    assert dec.shape == shape and dec.dtype == np.float64
    truth = sum(np.clip(x.astype(np.float64), -alpha, alpha) for x in xs)
    assert np.abs(dec - truth).max() < sch.error_bound() + SLACK


@pytest.mark.parametrize("k", [1, 2, 3, 5, 16])
def test_general_decoder_negative_sums(sk, pk, k) -> None:
    """All-negative and mixed sums decode exactly to the sum of the quantized values."""
    sch = PackingScheme(bits=8, parties=k, alpha=1.0, rounding="nearest")
    n = 40
    xs = [-np.abs(_gauss(n, 7 * k + i)) for i in range(k)]
    xs[0][:10] = 1.0  # mix in positives
    xs[-1][-5:] = -1.0  # and extreme negatives
    total = PackedVector.sum([sch.encrypt(pk, x) for x in xs])
    exact = sum(sch.quantize(x) for x in xs)
    assert np.array_equal(total.decrypt_quantized(sk), exact)
    assert exact.min() < 0
    # Nearest rounding: tighter bound.
    truth = sum(np.clip(x, -1, 1) for x in xs)
    assert np.abs(sk.decrypt(total) - truth).max() <= sch.error_bound() + SLACK


def test_extremes_for_many_parties(sk, pk) -> None:
    k = 16
    sch = PackingScheme(bits=8, parties=k, alpha=2.0, rounding="nearest")
    lo = [np.full(5, -2.0) for _ in range(k)]
    hi = [np.full(5, 2.0) for _ in range(k)]
    assert np.allclose(sk.decrypt(PackedVector.sum([sch.encrypt(pk, x) for x in lo])), -2.0 * k)
    assert np.allclose(sk.decrypt(PackedVector.sum([sch.encrypt(pk, x) for x in hi])), 2.0 * k)


@pytest.mark.parametrize("shape", [(0,), (0, 3), (1,), (), (2, 1, 3), (200,)])
def test_shapes(sk, pk, shape) -> None:
    sch = PackingScheme(bits=16, parties=2, alpha=1.0)
    x = _gauss(math.prod(shape), 5).reshape(shape) if math.prod(shape) else np.zeros(shape)
    pv = sch.encrypt(pk, x)
    assert pv.shape == shape and pv.size == math.prod(shape)
    assert pv.num_ciphertexts == -(-pv.size // pv.slots)
    dec = sk.decrypt(pv + sch.encrypt(pk, x))
    assert dec.shape == shape
    assert np.abs(dec - 2 * np.clip(x, -1, 1)).max(initial=0) < sch.error_bound() + SLACK


def test_stochastic_rounding_is_unbiased(pk) -> None:
    sch = PackingScheme(bits=4, parties=1, alpha=1.0)
    x = np.full(20000, 0.3 * sch.step + 2 * sch.step)
    q = sch.quantize(x)
    assert set(np.unique(q)) == {2, 3}
    assert abs(q.mean() - 2.3) < 0.03
    assert np.array_equal(
        PackingScheme(bits=4, parties=1, alpha=1.0, rounding="nearest").quantize(x),
        np.full(20000, 2),
    )


def test_weighting(sk, pk) -> None:
    sch = PackingScheme(bits=12, parties=6, alpha=1.0, rounding="nearest")
    a, b = _gauss(30, 1), _gauss(30, 2)
    pa, pb = sch.encrypt(pk, a), sch.encrypt(pk, b)
    total = pa * 3 + 2 * pb
    assert total.weight == 5
    assert np.array_equal(total.decrypt_quantized(sk), 3 * sch.quantize(a) + 2 * sch.quantize(b))
    truth = 3 * np.clip(a, -1, 1) + 2 * np.clip(b, -1, 1)
    assert np.abs(sk.decrypt(total) - truth).max() <= sch.error_bound(5) + SLACK
    assert sk.decrypt(pa * 0).tolist() == [0.0] * 30
    with pytest.raises(EncodingOverflowError, match="headroom"):
        pa * 7
    with pytest.raises(EncodingOverflowError):
        total + pa * 2
    with pytest.raises(InvalidArgumentError):
        pa * -1
    with pytest.raises(InvalidTypeError):
        pa * 1.5


def test_overflow_is_detected(sk, pk) -> None:
    sch = PackingScheme(bits=8, parties=2, alpha=1.0, rounding="nearest")
    x = np.full(10, 1.0)
    p = sch.encrypt(pk, x)
    with pytest.raises(EncodingOverflowError):
        PackedVector.sum([p, p, p])
    # Forged sums of 4 parties declared as 2 (weight field tampered): the slot checks notice.
    for value in (-1.0, -0.5):
        q = sch.encrypt(pk, np.full(10, value))
        four = (q + q)._c
        four = PackedVector._make(pk, sch, q.shape, four, 1, fresh=False) + q
        four = PackedVector._make(pk, sch, q.shape, four._c, 1, fresh=False) + q
        forged = PackedVector._make(pk, sch, q.shape, four._c, 2, fresh=False)
        with pytest.raises(EncodingOverflowError):
            sk.decrypt(forged)
    # A plain (unpacked) ciphertext under the same key is not a valid packed vector.
    junk = PackedVector._make(pk, sch, (10,), pk.encrypt([pk.max_int]).limbs, 1, fresh=True)
    with pytest.raises(EncodingOverflowError):
        sk.decrypt(junk)


def test_bad_inputs(sk, pk, other_sk) -> None:
    sch = PackingScheme(bits=8, parties=2, alpha=1.0)
    for bad in ([np.nan], [np.inf, 0.0], [-np.inf]):
        with pytest.raises(EncodingError):
            sch.encrypt(pk, np.array(bad))
    with pytest.raises(EncodingError):
        sch.encrypt(pk, ["a"])
    with pytest.raises(EncodingError):
        sch.encrypt(pk, [[1.0], [1.0, 2.0]])
    with pytest.raises(InvalidTypeError):
        sch.encrypt(b"key", [1.0])  # type: ignore[arg-type]
    p1 = sch.encrypt(pk, np.zeros(4))
    with pytest.raises(EncodingError):
        p1 + sch.encrypt(pk, np.zeros(5))
    with pytest.raises(EncodingError):
        p1 + PackingScheme(bits=8, parties=2, alpha=2.0).encrypt(pk, np.zeros(4))
    with pytest.raises(KeyMismatchError):
        p1 + sch.encrypt(other_sk.public_key(), np.zeros(4))
    with pytest.raises(KeyMismatchError):
        other_sk.decrypt(p1)
    with pytest.raises(TypeError):
        pickle.dumps(p1)
    with pytest.raises(InvalidArgumentError):
        PackedVector.sum([])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"bits": 0},
        {"bits": 49},
        {"parties": 0},
        {"alpha": 0.0},
        {"alpha": float("nan")},
        {"alpha": -1.0},
        {"rounding": "up"},
        {"parties": 8, "padding_bits": 3},
        {"bits": 3, "parties": 16},
        {"bits": 48, "parties": 1 << 16},
    ],
)
def test_scheme_validation(kwargs) -> None:
    with pytest.raises(InvalidArgumentError):
        PackingScheme(**kwargs)


def test_scheme_geometry(pk) -> None:
    sch = PackingScheme(bits=16, parties=8, alpha=1.0)
    assert sch.padding_bits == 4 and sch.slot_bits == 21 and sch.levels == (2**16 - 1) // 8
    assert sch.slots_per_ciphertext(pk) == (pk.key_size - 1) // 21
    assert PackingScheme(bits=16, parties=1).padding_bits == 1
    assert PackingScheme(bits=16, parties=9).padding_bits == 5
    with pytest.raises(InvalidTypeError):
        PackingScheme(bits=16.0)  # type: ignore[arg-type]


def test_serialization(sk, pk, other_sk) -> None:
    sch = PackingScheme(bits=16, parties=4, alpha=0.5)
    x = _gauss(300, 9).reshape(30, 10) * 0.3
    a = sch.encrypt(pk, x)
    b = PackedVector.from_bytes(a.to_bytes(), pk)
    assert b.shape == a.shape and b.scheme == sch and b.weight == 1
    assert np.array_equal(sk.decrypt(b), sk.decrypt(a))
    s = a + b
    back = PackedVector.from_bytes(s.to_bytes(), pk)
    assert back.weight == 2 and not np.array_equal(back._c, s._c)  # re-randomized
    assert np.array_equal(sk.decrypt(back), sk.decrypt(s))
    raw = PackedVector.from_bytes(s.to_bytes(unsafe_skip_rerandomize=True), pk)
    assert np.array_equal(raw._c, s._c)
    data = a.to_bytes()
    with pytest.raises(KeyMismatchError):
        PackedVector.from_bytes(data, other_sk.public_key())
    for bad in (data[:-1], data + b"\x00", data[:40]):
        with pytest.raises(SerializationError):
            PackedVector.from_bytes(bad, pk)
    hdr = 32  # envelope header
    tampered = bytearray(data)
    tampered[hdr] = 200  # bits out of range
    with pytest.raises(SerializationError):
        PackedVector.from_bytes(bytes(tampered), pk)
    tampered = bytearray(data)
    tampered[hdr + 18] = 9  # unknown rounding code
    with pytest.raises(SerializationError):
        PackedVector.from_bytes(bytes(tampered), pk)
    tampered = bytearray(data)
    tampered[hdr + 19] ^= 1  # slot bits
    with pytest.raises(SerializationError):
        PackedVector.from_bytes(bytes(tampered), pk)
    tampered = bytearray(data)
    tampered[hdr + 24 + 3] = 99  # weight above parties
    with pytest.raises(SerializationError):
        PackedVector.from_bytes(bytes(tampered), pk)
    tampered = bytearray(data)
    tampered[-pk.ciphertext_bytes :] = b"\xff" * pk.ciphertext_bytes  # ciphertext >= n**2
    with pytest.raises(InvalidCiphertext):
        PackedVector.from_bytes(bytes(tampered), pk)


def test_estimate_alpha() -> None:
    x = _gauss(20000, 3, scale=1.0)
    g8 = paillier.estimate_alpha(sigma=1.0, bits=8, parties=1)
    assert 4.0 < g8 < 4.5  # ACIQ: about 4.2 sigma for 8-bit Gaussian quantization
    g16 = paillier.estimate_alpha(x, bits=16, parties=8)
    assert g8 < g16 < 7
    assert paillier.estimate_alpha(x, method="max") == pytest.approx(np.abs(x).max())
    assert paillier.estimate_alpha(x, method="percentile", percentile=50) < 1.0
    assert paillier.estimate_alpha(np.zeros(3)) == 1.0
    with pytest.raises(EncodingError):
        paillier.estimate_alpha([])
    with pytest.raises(EncodingError):
        paillier.estimate_alpha([np.nan])
    with pytest.raises(InvalidArgumentError):
        paillier.estimate_alpha(x, method="median")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        paillier.estimate_alpha()


def test_private_key_holders_encrypt_by_crt(sk, pk) -> None:
    sch = PackingScheme(bits=16, parties=3, alpha=1.0, rounding="nearest")
    xs = [_gauss(50, 40 + i) for i in range(3)]
    parts = [
        sch.encrypt(sk, xs[0]),
        sch.encrypt(pk, xs[1]),
        sch.encrypt(sk, xs[2], randomness="full"),
    ]
    total = PackedVector.sum(parts)
    assert np.array_equal(total.decrypt_quantized(sk), sum(sch.quantize(x) for x in xs))
    with pytest.raises(InvalidArgumentError):
        sch.encrypt(sk, xs[0], pool=paillier.RandomizerPool(pk))
    pool = paillier.RandomizerPool(pk, 1)
    assert np.array_equal(
        sch.encrypt(pk, xs[0], pool=pool).decrypt_quantized(sk), sch.quantize(xs[0])
    )
    assert pool.remaining == 0


@settings(
    max_examples=6 if PURE else 20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    k=st.integers(min_value=1, max_value=16),
    bits=st.integers(min_value=5, max_value=30),
    n=st.integers(min_value=0, max_value=120),
    alpha=st.floats(min_value=1e-3, max_value=1e3),
    data=st.data(),
)
def test_packing_round_trip_property(sk, pk, k, bits, n, alpha, data) -> None:
    """Any k parties, any r: the decoded sum equals the sum of the quantized values exactly."""
    sch = PackingScheme(bits=bits, parties=k, alpha=alpha, rounding="nearest")
    parties = data.draw(st.integers(min_value=1, max_value=k))
    vals = st.floats(min_value=-3 * alpha, max_value=3 * alpha, allow_nan=False)
    xs = [np.array(data.draw(st.lists(vals, min_size=n, max_size=n))) for _ in range(parties)]
    total = PackedVector.sum([sch.encrypt(pk, x) for x in xs])
    exact = sum(sch.quantize(x) for x in xs)
    assert np.array_equal(total.decrypt_quantized(sk), exact)
    truth = sum(np.clip(x, -alpha, alpha) for x in xs)
    bound = sch.error_bound(parties) + 1e-9 * alpha * parties
    assert np.abs(sk.decrypt(total) - truth).max(initial=0) <= bound
