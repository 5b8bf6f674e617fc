"""Additive sharing over Z_2^64 and prime fields, fixed-point encoding, wire format."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from fedcrypto.serialization import ObjectType, Writer, pack
from fedcrypto.sharing import (
    RING64,
    AdditiveShare,
    FixedPoint,
    PrimeField,
    additive_reconstruct,
    additive_share,
    reconstruct_fixed_point,
    share_fixed_point,
)

P31 = (1 << 31) - 1
P61 = (1 << 61) - 1
P127 = (1 << 127) - 1
SMALL = os.environ.get("FEDCRYPTO_BACKEND") == "pure"

DOMAINS = [RING64, PrimeField(P31), PrimeField(4294967291), PrimeField(P61), PrimeField(P127)]


def _ints(dom: object, values: list[int]) -> np.ndarray:
    return dom.from_ints(np.array(values, dtype=object))  # type: ignore[attr-defined]


@pytest.mark.parametrize("dom", DOMAINS, ids=repr)
@given(values=st.lists(st.integers(-(2**70), 2**70), min_size=0, max_size=20), n=st.integers(2, 6))
@settings(max_examples=25, deadline=None)
def test_additive_round_trip(dom: object, values: list[int], n: int) -> None:
    x = _ints(dom, values)
    shares = additive_share(x, parties=n, domain=dom)  # type: ignore[arg-type]
    assert [s.party for s in shares] == list(range(n))
    assert all(s.parties == n and s.domain == dom for s in shares)
    assert np.array_equal(additive_reconstruct(shares), x)
    assert np.array_equal(additive_reconstruct(shares[::-1]), x)
    m = dom.modulus  # type: ignore[attr-defined]
    assert [int(v) for v in additive_reconstruct(shares).tolist()] == [v % m for v in values]


@pytest.mark.parametrize("dom", DOMAINS, ids=repr)
def test_local_linear_operations(dom: object) -> None:
    m = dom.modulus  # type: ignore[attr-defined]
    a = [5, -3, 100, 0, 2**40]
    b = [7, 11, -200, 1, 3]
    c = [1, 2, -3, 4, -5]
    xs = additive_share(_ints(dom, a), parties=3, domain=dom)  # type: ignore[arg-type]
    ys = additive_share(_ints(dom, b), parties=3, domain=dom)  # type: ignore[arg-type]

    def rec(shares: list[AdditiveShare]) -> list[int]:
        return [int(v) for v in additive_reconstruct(shares).tolist()]

    assert rec([x + y for x, y in zip(xs, ys, strict=True)]) == [
        (u + v) % m for u, v in zip(a, b, strict=True)
    ]
    assert rec([x - y for x, y in zip(xs, ys, strict=True)]) == [
        (u - v) % m for u, v in zip(a, b, strict=True)
    ]
    assert rec([-x for x in xs]) == [(-u) % m for u in a]
    assert rec([x.add_public(c) for x in xs]) == [(u + v) % m for u, v in zip(a, c, strict=True)]
    assert rec([x.sub_public(c) for x in xs]) == [(u - v) % m for u, v in zip(a, c, strict=True)]
    assert rec([x.mul_public(c) for x in xs]) == [(u * v) % m for u, v in zip(a, c, strict=True)]
    assert rec([x.mul_public(-7) for x in xs]) == [(u * -7) % m for u in a]
    assert rec([x.add_public(9) for x in xs]) == [(u + 9) % m for u in a]


def test_any_n_minus_1_shares_look_uniform() -> None:
    """Shares of the all-zero and the all-ones vector have the same (uniform) distribution."""
    count = 20000
    for secret in (np.zeros(count, dtype=np.uint64), np.full(count, 2**64 - 1, dtype=np.uint64)):
        shares = additive_share(secret, parties=3)
        for s in shares:  # each single share is uniform; check the top 3 bits
            buckets = np.bincount((s.values >> np.uint64(61)).astype(np.int64), minlength=8)
            chi2 = float(((buckets - count / 8) ** 2 / (count / 8)).sum())
            assert chi2 < 30.0


def test_field_shares_are_in_range() -> None:
    dom = PrimeField(P31)
    shares = additive_share(np.arange(1000, dtype=np.uint64), parties=4, domain=dom)
    assert all(int(s.values.max()) < P31 for s in shares)


def test_bad_inputs() -> None:
    with pytest.raises(InvalidArgumentError):
        additive_share(np.zeros(3, dtype=np.uint64), parties=1)
    with pytest.raises(InvalidTypeError):
        additive_share(np.zeros(3, dtype=np.uint64), parties=2.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        additive_share(np.zeros(3), parties=2)  # floats need FixedPoint
    with pytest.raises(InvalidArgumentError):
        additive_share(np.array([P31], dtype=np.uint64), parties=2, domain=PrimeField(P31))
    with pytest.raises(InvalidTypeError):
        additive_share(np.zeros(3, dtype=np.uint64), parties=2, domain="ring")  # type: ignore[arg-type]
    shares = additive_share(np.arange(4, dtype=np.uint64), parties=3)
    with pytest.raises(InvalidArgumentError, match="all are needed"):
        additive_reconstruct(shares[:2])
    with pytest.raises(InvalidArgumentError, match="duplicate"):
        additive_reconstruct([shares[0], shares[0], shares[1]])
    other = additive_share(np.arange(4, dtype=np.uint64), parties=4)
    with pytest.raises(KeyMismatchError):
        additive_reconstruct([shares[0], shares[1], other[2]])
    with pytest.raises(KeyMismatchError):
        _ = shares[0] + shares[1]  # different parties
    fshares = additive_share(np.arange(4, dtype=np.uint64), parties=3, domain=PrimeField(P31))
    with pytest.raises(KeyMismatchError):
        _ = shares[0] + fshares[0]
    longer = additive_share(np.arange(5, dtype=np.uint64), parties=3)
    with pytest.raises(InvalidArgumentError):
        _ = shares[0] + longer[0]
    with pytest.raises(InvalidArgumentError):
        shares[0].add_public([1, 2])
    with pytest.raises(InvalidTypeError):
        _ = shares[0] + 1  # type: ignore[operator]
    with pytest.raises(InvalidTypeError):
        additive_reconstruct([shares[0], "x", shares[2]])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError):
        AdditiveShare(np.zeros(2, dtype=np.uint64), party=3, parties=3)
    with pytest.raises(InvalidTypeError):
        AdditiveShare(np.zeros(2, dtype=np.int64), party=0, parties=3)
    with pytest.raises(ValueError):
        PrimeField(2**31)  # not prime
    with pytest.raises(ValueError):
        PrimeField(2)


def test_share_objects_are_immutable_and_private() -> None:
    s = additive_share(np.array([123456789], dtype=np.uint64), parties=2)[0]
    with pytest.raises(AttributeError):
        s.party = 1  # type: ignore[misc]
    with pytest.raises(ValueError):
        s.values[0] = 1  # read-only array
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert str(int(s.values[0])) not in repr(s)


@pytest.mark.parametrize("dom", DOMAINS, ids=repr)
def test_serialization_round_trip(dom: object) -> None:
    x = _ints(dom, [1, -2, 3, 4, 5, 6]).reshape(2, 3)
    shares = additive_share(x, parties=3, domain=dom)  # type: ignore[arg-type]
    back = [AdditiveShare.from_bytes(s.to_bytes(), domain=dom) for s in shares]  # type: ignore[arg-type]
    assert back == shares
    assert back[0].shape == (2, 3)
    assert np.array_equal(additive_reconstruct(back), x)


def test_malformed_serialized_shares() -> None:
    s = additive_share(np.arange(3, dtype=np.uint64), parties=2)[0]
    blob = s.to_bytes()
    with pytest.raises(SerializationError):
        AdditiveShare.from_bytes(blob[:-1])
    with pytest.raises(SerializationError):
        AdditiveShare.from_bytes(blob, domain=PrimeField(P31))
    # a field share claiming an element >= p
    w = Writer().u8(2).big(P31).u16(0).u16(2).u8(1).u64(1).raw((P31).to_bytes(4, "big"))
    with pytest.raises(SerializationError):
        AdditiveShare.from_bytes(
            pack(ObjectType.ADDITIVE_SHARE, w.getvalue(), param=PrimeField(P31).param_id)
        )
    # a field that is not prime
    w = Writer().u8(2).big(P31 + 2).u16(0).u16(2).u8(1).u64(1).raw(b"\x00\x00\x00\x01")
    with pytest.raises(SerializationError):
        AdditiveShare.from_bytes(pack(ObjectType.ADDITIVE_SHARE, w.getvalue(), param=b"\x00" * 16))
    # bad party numbers, unknown domain kind, shape larger than the data
    for payload in (
        Writer().u8(1).u16(2).u16(2).u8(1).u64(0).getvalue(),
        Writer().u8(9).u16(0).u16(2).u8(1).u64(0).getvalue(),
        Writer().u8(1).u16(0).u16(2).u8(1).u64(10**12).getvalue(),
        Writer().u8(1).u16(0).u16(2).u8(9).getvalue(),
    ):
        with pytest.raises(SerializationError):
            AdditiveShare.from_bytes(
                pack(ObjectType.ADDITIVE_SHARE, payload, param=RING64.param_id)
            )


# ---------------------------------------------------------------- fixed point

FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)


@given(st.lists(FINITE, min_size=1, max_size=30), st.integers(0, 30))
@settings(max_examples=60, deadline=None)
def test_fixed_point_ring_round_trip(values: list[float], f: int) -> None:
    codec = FixedPoint(f)
    x = np.array(values)
    back = codec.decode(codec.encode(x))
    assert np.all(np.abs(back - x) <= 0.5 / 2**f + 1e-9 * np.abs(x))


@given(
    st.lists(st.floats(min_value=-16000, max_value=16000, allow_nan=False), min_size=1, max_size=30)
)
@settings(max_examples=40, deadline=None)
def test_fixed_point_field_round_trip(values: list[float]) -> None:
    for p in (P31, P127):
        codec = FixedPoint(16, domain=PrimeField(p))
        x = np.array(values)
        assert np.all(np.abs(codec.decode(codec.encode(x)) - x) <= 0.5 / 2**16)


def test_fixed_point_negatives_exact() -> None:
    codec = FixedPoint(16)
    x = np.array([-1.0, -0.5, -(2.0**-16), -12345.25, 0.0, 3.75, -(2.0**46)])
    assert np.array_equal(codec.decode(codec.encode(x)), x)
    enc = codec.encode(np.array([-1.0]))
    assert int(enc[0]) == 2**64 - 2**16
    fcodec = FixedPoint(16, domain=PrimeField(P31))
    assert int(fcodec.encode(np.array([-1.0]))[0]) == P31 - 2**16
    assert np.array_equal(fcodec.decode(fcodec.encode(x[:-1])), x[:-1])


def test_fixed_point_large_arrays_blocked_path() -> None:
    """Arrays above one block take the cache-blocked ring encoder: same results, same errors."""
    from fedcrypto._random import VectorRNG

    codec = FixedPoint(16)
    x = ((VectorRNG().uniform(100_002) - 0.5) * 2e6).reshape(7, -1)
    enc = codec.encode(x)
    assert enc.shape == x.shape and enc.dtype == np.uint64
    assert np.array_equal(enc, np.rint(x * 65536).astype(np.int64).view(np.uint64))
    for bad, exc in (
        (np.nan, EncodingError),
        (-np.inf, EncodingError),
        (2.0**47, EncodingOverflowError),
    ):
        y = x.copy()
        y[6, -1] = bad  # in the last, partial block
        with pytest.raises(exc):
            codec.encode(y)


def test_fixed_point_scalars() -> None:
    codec = FixedPoint(16)
    enc = codec.encode(-2.5)
    assert enc.shape == () and int(enc) == 2**64 - 5 * 2**15
    assert float(codec.decode(enc)) == -2.5
    fcodec = FixedPoint(8, domain=PrimeField(P127))
    assert float(fcodec.decode(fcodec.encode(-2.5))) == -2.5


def test_fixed_point_ranges_and_errors() -> None:
    codec = FixedPoint(16)
    assert codec.max_abs == pytest.approx(2.0**47)
    assert codec.resolution == 2.0**-16
    with pytest.raises(EncodingOverflowError):
        codec.encode(np.array([2.0**47]))
    codec.encode(np.array([2.0**47 - 1]))
    with pytest.raises(EncodingError):
        codec.encode(np.array([1.0, np.nan]))
    with pytest.raises(EncodingError):
        codec.encode(np.array([np.inf]))
    with pytest.raises(EncodingError):
        codec.encode(["a", "b"])
    with pytest.raises(EncodingOverflowError):
        codec.encode(np.array([1e300]))
    fcodec = FixedPoint(16, domain=PrimeField(P31))
    assert fcodec.max_abs == pytest.approx((P31 - 1) / 2 / 2**16)
    with pytest.raises(EncodingOverflowError):
        fcodec.encode(np.array([16384.0]))
    with pytest.raises(EncodingOverflowError):
        FixedPoint(16, domain=PrimeField(P127)).encode(np.array([1e300]))
    with pytest.raises(InvalidArgumentError):
        FixedPoint(41)
    with pytest.raises(InvalidArgumentError):
        FixedPoint(20, domain=PrimeField(1000003))
    with pytest.raises(InvalidTypeError):
        FixedPoint(16, domain=5)  # type: ignore[arg-type]


def test_share_fixed_point_end_to_end() -> None:
    n = 1000 if SMALL else 100_000
    from fedcrypto._random import VectorRNG

    x = (VectorRNG().uniform(n) - 0.5) * 2e6
    for parties in (2, 3, 7):
        shares = share_fixed_point(x, parties=parties)
        assert np.abs(reconstruct_fixed_point(shares) - x).max() <= 2.0**-17
    codec = FixedPoint(12, domain=PrimeField(P61))
    shares = share_fixed_point(x[:50], parties=3, codec=codec)
    assert np.abs(reconstruct_fixed_point(shares, codec=codec) - x[:50]).max() <= 2.0**-13
    with pytest.raises(KeyMismatchError):
        reconstruct_fixed_point(shares)  # default codec is the ring
