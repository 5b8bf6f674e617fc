"""Shamir t-of-n sharing of byte strings: round trips, bad inputs, wire format, field maths."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from fedcrypto.serialization import ObjectType, Reader, Writer, pack, unpack
from fedcrypto.sharing import (
    SHAMIR_FIELD_PRIME,
    Share,
    shamir_combine,
    shamir_combine_many,
    shamir_split,
    shamir_split_many,
)
from fedcrypto.sharing._field import P31, lagrange_at, lagrange_at_zero, matmul

P = SHAMIR_FIELD_PRIME


@st.composite
def split_case(draw: st.DrawFn) -> tuple[bytes, int, int, list[int]]:
    n = draw(st.integers(1, 40))
    t = draw(st.integers(1, n))
    secret = draw(st.binary(max_size=70))
    k = draw(st.integers(t, n))
    subset = draw(st.permutations(range(n)))[:k]
    return secret, t, n, subset


@given(split_case())
@settings(max_examples=60, deadline=None)
def test_any_t_of_n_reconstruct(case: tuple[bytes, int, int, list[int]]) -> None:
    secret, t, n, subset = case
    shares = shamir_split(secret, threshold=t, shares=n)
    assert [s.index for s in shares] == list(range(1, n + 1))
    assert all(s.threshold == t and s.share_count == n for s in shares)
    assert len({s.split_id for s in shares}) == 1
    assert shamir_combine([shares[i] for i in subset]) == secret


@given(split_case())
@settings(max_examples=30, deadline=None)
def test_fewer_than_t_is_an_error(case: tuple[bytes, int, int, list[int]]) -> None:
    secret, t, n, subset = case
    shares = shamir_split(secret, threshold=t, shares=n)
    if t == 1:
        return
    with pytest.raises(InvalidArgumentError, match="threshold"):
        shamir_combine([shares[i] for i in subset][: t - 1])


def test_32_byte_key_100_shares_threshold_51() -> None:
    key = os.urandom(32)
    shares = shamir_split(key, threshold=51, shares=100)
    assert shamir_combine(shares[49:]) == key
    assert shamir_combine(shares[::-1][:51]) == key
    assert shamir_combine(shares) == key
    with pytest.raises(InvalidArgumentError):
        shamir_combine(shares[:50])


def test_split_many_and_combine_many() -> None:
    secrets = [os.urandom(32) for _ in range(20)] + [b"", b"x", os.urandom(100)]
    sets = shamir_split_many(secrets, threshold=7, shares=12)
    assert len(sets) == len(secrets)
    assert len({s[0].split_id for s in sets}) == len(secrets)  # fresh id per secret
    survivors = [0, 2, 3, 5, 7, 8, 10, 11]
    same = [[ss[i] for i in survivors] for ss in sets]
    assert shamir_combine_many(same) == secrets
    # different index sets for different secrets
    mixed = [ss[k % 6 : k % 6 + 7] for k, ss in enumerate(sets)]
    assert shamir_combine_many(mixed) == secrets
    assert shamir_split_many([], threshold=2, shares=3) == []
    assert shamir_combine_many([]) == []


def test_threshold_one_and_n_equals_t() -> None:
    s = os.urandom(10)
    one = shamir_split(s, threshold=1, shares=3)
    for sh in one:
        assert shamir_combine([sh]) == s
    full = shamir_split(s, threshold=5, shares=5)
    assert shamir_combine(full) == s


def test_large_split_uses_horner_path() -> None:
    # n * t above the matmul limit takes Horner's rule; both must agree in behaviour.
    secret = os.urandom(9)
    shares = shamir_split(secret, threshold=2100, shares=2100)
    assert shamir_combine(shares) == secret


def test_shares_of_random_secret_are_not_the_secret() -> None:
    secret = b"\x00" * 30
    shares = shamir_split(secret, threshold=3, shares=5)
    assert all(s.data != b"\x00" * 40 for s in shares)
    # Two splits of the same secret give independent shares.
    again = shamir_split(secret, threshold=3, shares=5)
    assert shares[0].data != again[0].data


@pytest.mark.parametrize(
    ("t", "n", "exc"),
    [
        (0, 5, InvalidArgumentError),
        (6, 5, InvalidArgumentError),
        (1, 0, InvalidArgumentError),
        (2, 65536, InvalidArgumentError),
        (-1, 5, InvalidArgumentError),
        (True, 5, InvalidTypeError),
        (2, 5.0, InvalidTypeError),
        ("2", 5, InvalidTypeError),
    ],
)
def test_bad_parameters(t: object, n: object, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        shamir_split(b"secret", threshold=t, shares=n)  # type: ignore[arg-type]


def test_bad_secret_type() -> None:
    with pytest.raises(InvalidTypeError):
        shamir_split("text", threshold=2, shares=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        shamir_split_many([b"ok", 5], threshold=2, shares=3)  # type: ignore[list-item]
    assert shamir_combine(shamir_split(bytearray(b"ab"), threshold=2, shares=3)) == b"ab"


def test_duplicate_index() -> None:
    shares = shamir_split(b"secret", threshold=3, shares=5)
    with pytest.raises(InvalidArgumentError, match="duplicate"):
        shamir_combine([shares[0], shares[1], shares[1], shares[2]])


def test_mixed_splits_refused() -> None:
    a = shamir_split(b"secret-a", threshold=2, shares=3)
    b = shamir_split(b"secret-a", threshold=2, shares=3)  # same secret, other split
    c = shamir_split(b"secret-aa", threshold=2, shares=3)
    d = shamir_split(b"secret-a", threshold=2, shares=4)
    for other in (b, c, d):
        with pytest.raises(KeyMismatchError):
            shamir_combine([a[0], other[1]])
    with pytest.raises(KeyMismatchError):
        shamir_combine_many([a, [a[0], b[1]]])


def test_bad_combine_arguments() -> None:
    shares = shamir_split(b"secret", threshold=2, shares=3)
    with pytest.raises(InvalidArgumentError):
        shamir_combine([])
    with pytest.raises(InvalidTypeError):
        shamir_combine([shares[0], b"junk"])  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        shamir_combine(b"junk")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        shamir_combine_many(shares)  # type: ignore[arg-type]


def test_corrupted_share_detected() -> None:
    secret = os.urandom(32)
    shares = shamir_split(secret, threshold=3, shares=5)
    # A share replaced by random field elements (a random corruption) is caught except
    # with probability about 2**-7 per 3-byte chunk, here 2**-77.  (Not a MAC: a
    # malicious holder can still shift the secret; see the module docs.)
    from fedcrypto._random import VectorRNG

    vals = VectorRNG().below(P, 11)
    bad = Share(2, 3, 5, shares[1].split_id, 32, vals.astype(">u4").tobytes())
    with pytest.raises(InvalidArgumentError, match="integrity"):
        shamir_combine([shares[0], bad, shares[2]])


def test_verify_detects_inconsistent_extra_shares() -> None:
    secret = os.urandom(32)
    shares = shamir_split(secret, threshold=3, shares=6)
    assert shamir_combine(shares, verify=True) == secret
    assert shamir_combine(shares[:3], verify=True) == secret  # nothing extra to check
    # A small shift of one extra share passes the integrity check but not verification.
    vals = np.frombuffer(shares[4].data, dtype=">u4").astype(np.int64)
    vals[3] = (vals[3] + 1) % P
    shifted = Share(5, 3, 6, shares[4].split_id, 32, vals.astype(">u4").tobytes())
    tampered = [*shares[:4], shifted, shares[5]]
    assert shamir_combine(tampered) == secret  # the extra share is not used
    with pytest.raises(InvalidArgumentError, match="inconsistent"):
        shamir_combine(tampered, verify=True)
    # batch form: the bad set is named; the good sets with the same indices still combine
    sets = shamir_split_many([os.urandom(32) for _ in range(4)], threshold=3, shares=6)
    good = [list(s) for s in sets]
    assert shamir_combine_many(good, verify=True) == [shamir_combine(s) for s in sets]
    vals = np.frombuffer(sets[2][5].data, dtype=">u4").astype(np.int64)
    vals[10] = (vals[10] + 7) % P
    good[2][5] = Share(6, 3, 6, sets[2][5].split_id, 32, vals.astype(">u4").tobytes())
    with pytest.raises(InvalidArgumentError, match="share set 2"):
        shamir_combine_many(good, verify=True)


@given(split_case())
@settings(max_examples=30, deadline=None)
def test_verify_accepts_every_honest_subset(case: tuple[bytes, int, int, list[int]]) -> None:
    secret, t, n, subset = case
    shares = shamir_split(secret, threshold=t, shares=n)
    assert shamir_combine([shares[i] for i in subset], verify=True) == secret


def test_share_constructor_validates() -> None:
    good = shamir_split(b"abcdef", threshold=2, shares=3)[0]
    sid, data = good.split_id, good.data
    assert Share(1, 2, 3, sid, 6, data) == good
    with pytest.raises(InvalidArgumentError):
        Share(0, 2, 3, sid, 6, data)
    with pytest.raises(InvalidArgumentError):
        Share(4, 2, 3, sid, 6, data)
    with pytest.raises(InvalidArgumentError):
        Share(1, 2, 3, sid[:8], 6, data)
    with pytest.raises(InvalidArgumentError):
        Share(1, 2, 3, sid, 7, data)
    with pytest.raises(InvalidArgumentError):
        Share(1, 2, 3, sid, 6, b"\xff" * 8)  # values >= p
    with pytest.raises(InvalidTypeError):
        Share(1, 2, 3, sid, 6, bytearray(data))  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        Share(True, 2, 3, sid, 6, data)
    with pytest.raises(InvalidTypeError):
        Share(1, 2.0, 3, sid, 6, data)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Share(1, 4, 3, sid, 6, data)
    with pytest.raises(InvalidArgumentError):
        Share(1, 2, 3, "x" * 16, 6, data)  # type: ignore[arg-type]

    class MyInt(int):
        pass

    assert Share(MyInt(1), 2, 3, sid, 6, data) == good
    assert type(Share(MyInt(1), 2, 3, sid, 6, data).index) is int


def test_share_is_immutable_private_and_unpicklable() -> None:
    secret = b"top secret value"
    share = shamir_split(secret, threshold=2, shares=3)[0]
    with pytest.raises(AttributeError):
        share.index = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        pickle.dumps(share)
    text = repr(share)
    assert share.data.hex() not in text
    assert "index=1" in text
    assert hash(share) == hash(Share.from_bytes(share.to_bytes()))


def test_serialization_round_trip_and_envelope() -> None:
    shares = shamir_split(os.urandom(32), threshold=3, shares=4)
    blobs = [s.to_bytes() for s in shares]
    env = unpack(blobs[0], ObjectType.SHAMIR_SHARE)
    assert env.param_id == shares[0].split_id
    back = [Share.from_bytes(b, expected_split_id=shares[0].split_id) for b in blobs]
    assert back == shares
    assert shamir_combine(back[1:]) == shamir_combine(shares[:3])
    other = shamir_split(b"x", threshold=1, shares=1)[0]
    with pytest.raises(SerializationError):
        Share.from_bytes(blobs[0], expected_split_id=other.split_id)


def _forge(fields: tuple[int, int, int, int, int], data: bytes, sid: bytes = b"\x01" * 16) -> bytes:
    field, index, t, n, length = fields
    payload = Writer().u8(field).u32(index).u32(t).u32(n).u32(length).raw(data).getvalue()
    return pack(ObjectType.SHAMIR_SHARE, payload, param=sid)


@pytest.mark.parametrize(
    ("fields", "data"),
    [
        ((2, 1, 2, 3, 3), b"\x00\x00\x00\x01"),  # unknown field code
        ((1, 0, 2, 3, 3), b"\x00\x00\x00\x01"),  # index 0
        ((1, 4, 2, 3, 3), b"\x00\x00\x00\x01"),  # index > n
        ((1, 1, 4, 3, 3), b"\x00\x00\x00\x01"),  # threshold > n
        ((1, 1, 0, 3, 3), b"\x00\x00\x00\x01"),  # threshold 0
        ((1, 1, 2, 3, 4), b"\x00\x00\x00\x01"),  # length needs 2 elements
        ((1, 1, 2, 3, 3), b"\x00\x00\x00"),  # truncated element
        ((1, 1, 2, 3, 3), b"\x7f\xff\xff\xff"),  # value == p
        ((1, 1, 2, 70000, 3), b"\x00\x00\x00\x01"),  # too many shares
    ],
)
def test_malformed_share_bytes(fields: tuple[int, int, int, int, int], data: bytes) -> None:
    with pytest.raises(SerializationError):
        Share.from_bytes(_forge(fields, data))


def test_wrong_envelope_type_and_truncation() -> None:
    blob = shamir_split(b"abc", threshold=2, shares=2)[0].to_bytes()
    with pytest.raises(SerializationError):
        Share.from_bytes(blob[:-1])
    with pytest.raises(SerializationError):
        Share.from_bytes(blob + b"\x00")
    env = unpack(blob, ObjectType.SHAMIR_SHARE)
    with pytest.raises(SerializationError):
        Share.from_bytes(pack(ObjectType.ADDITIVE_SHARE, env.payload, param=env.param_id))
    assert Reader(env.payload).u8() == 1
    good = _forge((1, 1, 2, 3, 3), b"\x00\x00\x00\x05")
    assert Share.from_bytes(good).index == 1


# ---------------------------------------------------------------- field level


def test_matmul_exact_against_python_ints() -> None:
    from fedcrypto._random import VectorRNG

    rng = VectorRNG()
    a = rng.below(P31, 37 * 23).reshape(37, 23)
    b = rng.below(P31, 23 * 11).reshape(23, 11)
    ref = [
        [sum(int(a[i, k]) * int(b[k, j]) for k in range(23)) % P31 for j in range(11)]
        for i in range(37)
    ]
    assert matmul(a, b).tolist() == ref
    edge = np.full((4, 300), P31 - 1, dtype=np.uint64)
    assert (matmul(edge, edge.T) == (300 * (P31 - 1) ** 2) % P31).all()


@given(st.lists(st.integers(1, P31 - 1), min_size=1, max_size=30, unique=True))
@settings(max_examples=50, deadline=None)
def test_lagrange_coefficients(xs: list[int]) -> None:
    lam = lagrange_at_zero(np.array(xs, dtype=np.uint64)).tolist()
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                num = num * xj % P31
                den = den * (xj - xi) % P31
        assert lam[i] == num * pow(den, -1, P31) % P31


def test_t_minus_1_shares_are_uniform() -> None:
    """With t = 2, one share of a fixed secret is uniform in GF(p): check the top bits."""
    count = 20000
    secrets = [b"\x00\x00\x00"] * count
    sets = shamir_split_many(secrets, threshold=2, shares=3)
    vals = np.frombuffer(b"".join(s[0].data for s in sets), dtype=">u4").astype(np.int64)
    # 8 equal buckets by the top 3 bits of the 31-bit value: chi-square with 7 d.o.f.
    buckets = np.bincount(vals >> 28, minlength=8)
    expected = count / 8
    chi2 = float(((buckets - expected) ** 2 / expected).sum())
    assert chi2 < 30.0  # p-value ~ 1e-4
    # and the same share of a very different secret has the same distribution
    sets2 = shamir_split_many([b"\xff\xff\xff"] * count, threshold=2, shares=3)
    vals2 = np.frombuffer(b"".join(s[0].data for s in sets2), dtype=">u4").astype(np.int64)
    buckets2 = np.bincount(vals2 >> 28, minlength=8)
    chi2b = float(((buckets2 - expected) ** 2 / expected).sum())
    assert chi2b < 30.0


@given(
    st.lists(st.integers(1, 1000), min_size=1, max_size=12, unique=True),
    st.lists(st.integers(1001, P31 - 1), min_size=1, max_size=5, unique=True),
)
@settings(max_examples=40, deadline=None)
def test_lagrange_at_points(xs: list[int], zs: list[int]) -> None:
    L = lagrange_at(np.array(xs, dtype=np.uint64), np.array(zs, dtype=np.uint64)).tolist()
    for e, z in enumerate(zs):
        for i, xi in enumerate(xs):
            num, den = 1, 1
            for j, xj in enumerate(xs):
                if j != i:
                    num = num * (z - xj) % P31
                    den = den * (xi - xj) % P31
            assert L[e][i] == num * pow(den, -1, P31) % P31
