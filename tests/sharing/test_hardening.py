"""Hardening of the sharing package: parse cost of field primes (finding 8.5), shape caps
(finding 8.8), the bulk Share constructor, whose fault each protocol error is, and the one
immutability idiom."""

from __future__ import annotations

import copy
import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._immutable import Immutable
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.serialization import ObjectType, Writer, pack
from fedcrypto.sharing import (
    MAX_DIMENSION,
    MAX_ELEMENTS,
    MAX_NDIM,
    RING64,
    SHAMIR_FIELD_PRIME,
    AdditiveShare,
    BeaverDealer,
    BeaverMultiplication,
    BeaverParty,
    DealerTruncation,
    FixedPoint,
    Opening,
    PrimeField,
    Share,
    TripleShare,
    TruncationPairShare,
    _domain,
    additive_share,
    shamir_split,
    shamir_split_many,
    share_fixed_point,
)

M521 = (1 << 521) - 1  # a Mersenne prime
M3217 = (1 << 3217) - 1  # a Mersenne prime close to the 4096-bit cap


@pytest.fixture
def prime_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the primality tests the sharing package runs (cache emptied first)."""
    calls: list[int] = []
    real = _domain.is_probable_prime

    def counting(n: int, **kw: object) -> bool:
        calls.append(n)
        return real(n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_domain, "is_probable_prime", counting)
    _domain._is_field_prime.cache_clear()
    yield calls
    _domain._is_field_prime.cache_clear()


# ---- finding 8.5: a peer must not buy a primality proof per message ----------------------


def test_pinned_domain_is_compared_not_reproved(prime_calls: list[int]) -> None:
    field = PrimeField(M521)
    assert prime_calls == [M521]
    blobs = [
        s.to_bytes()
        for s in additive_share(np.arange(8, dtype=object) * 3, parties=3, domain=field)
    ]
    prime_calls.clear()
    _domain._is_field_prime.cache_clear()  # even with a cold cache: no test at all
    parsed = [AdditiveShare.from_bytes(b, domain=field) for _ in range(20) for b in blobs]
    assert prime_calls == []
    assert all(p.domain is field for p in parsed)


def test_unpinned_parse_tests_each_distinct_prime_once(prime_calls: list[int]) -> None:
    field = PrimeField(M521)
    blob = additive_share(np.arange(4, dtype=object), parties=2, domain=field)[0].to_bytes()
    for _ in range(50):
        AdditiveShare.from_bytes(blob)
    assert prime_calls == [M521]  # the construction above; 50 parses cost nothing more


def test_parse_cost_per_message_is_at_most_one_primality_test(prime_calls: list[int]) -> None:
    """Structural bound: whatever the bytes, one message runs at most one primality test,
    and messages naming an already-seen prime run none."""
    w = Writer().u8(2).big(M3217).u16(0).u16(2).u8(1).u64(1)
    w.raw((5).to_bytes((M3217.bit_length() + 7) // 8, "big"))
    payload = w.getvalue()
    blob = pack(ObjectType.ADDITIVE_SHARE, payload, param=PrimeField._trusted(_p=M3217).param_id)
    for _ in range(10):
        AdditiveShare.from_bytes(blob)
    assert prime_calls == [M3217]
    assert _domain._is_field_prime.cache_info().maxsize == _domain.FIELD_CACHE_SIZE
    # A pinned parse of another domain is refused before any test.
    prime_calls.clear()
    with pytest.raises(SerializationError):
        AdditiveShare.from_bytes(blob, domain=PrimeField(SHAMIR_FIELD_PRIME))
    assert prime_calls == [SHAMIR_FIELD_PRIME]  # the PrimeField(...) call, not the parse


def test_pinned_openings_and_triples(prime_calls: list[int]) -> None:
    field = PrimeField(M521)
    triples = BeaverDealer(2, domain=field).triples(3)
    prime_calls.clear()
    _domain._is_field_prime.cache_clear()
    parsed = [TripleShare.from_bytes(t.to_bytes(), domain=field) for t in triples]
    with pytest.raises(SerializationError):
        TripleShare.from_bytes(triples[0].to_bytes(), domain=RING64)
    assert prime_calls == []
    assert all(t.domain is field for t in parsed)


# ---- finding 8.8: shapes are capped and checked against the payload ------------------------


def _shape(w: Writer, shape: tuple[int, ...]) -> Writer:
    w.u8(len(shape))
    for d in shape:
        w.u64(d)
    return w


BAD_SHAPES = [
    (1 << 63, 0),
    (1 << 62, 0),
    ((1 << 64) - 1, 0),
    (MAX_DIMENSION + 1, 0),
    (0, MAX_DIMENSION, MAX_DIMENSION),
    (1 << 20, 1 << 20, 1 << 20),  # nonempty and absurd
    (1,) * (MAX_NDIM + 1),
    (3,),  # one element more than the payload holds
]


def _additive(shape: tuple[int, ...]) -> bytes:
    w = Writer().u8(1).u16(0).u16(2)
    return pack(
        ObjectType.ADDITIVE_SHARE, _shape(w, shape).raw(bytes(16)).getvalue(), param=RING64.param_id
    )


def _triple(shape: tuple[int, ...]) -> bytes:
    w = Writer().u8(1).u8(1).u16(0).u16(2)
    for _ in range(3):
        _shape(w, shape)
    return pack(ObjectType.BEAVER_TRIPLE_SHARE, w.raw(bytes(48)).getvalue(), param=bytes(16))


def _opening(shape: tuple[int, ...]) -> bytes:
    w = Writer().u8(1).u8(1).u16(0).u16(2).u8(2)
    _shape(_shape(w, shape), shape)
    return pack(ObjectType.BEAVER_OPENING, w.raw(bytes(32)).getvalue(), param=bytes(16))


def _pair(shape: tuple[int, ...]) -> bytes:
    w = Writer().u16(0).u16(2).u8(16)
    return pack(
        ObjectType.TRUNCATION_PAIR_SHARE,
        _shape(w, shape).raw(bytes(48)).getvalue(),
        param=bytes(16),
    )


@pytest.mark.parametrize("shape", BAD_SHAPES, ids=str)
@pytest.mark.parametrize(
    ("make", "parse"),
    [
        (_additive, AdditiveShare.from_bytes),
        (_triple, TripleShare.from_bytes),
        (_opening, Opening.from_bytes),
        (_pair, TruncationPairShare.from_bytes),
    ],
    ids=["additive", "triple", "opening", "truncation-pair"],
)
def test_bad_shapes_are_serialization_errors(make, parse, shape) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SerializationError):
        parse(make(shape))


@pytest.mark.parametrize(
    ("make", "parse"),
    [(_additive, AdditiveShare.from_bytes), (_pair, TruncationPairShare.from_bytes)],
)
def test_good_small_shapes_still_parse(make, parse) -> None:  # type: ignore[no-untyped-def]
    obj = parse(make((2,)))
    assert obj is not None


def test_zero_element_shapes_round_trip() -> None:
    for shape in [(0,), (0, 5), (5, 0), (MAX_DIMENSION, 0)]:
        s = AdditiveShare(np.empty(shape, dtype=np.uint64), party=0, parties=2)
        assert AdditiveShare.from_bytes(s.to_bytes()).shape == shape


def test_local_shapes_are_capped_before_allocation() -> None:
    with pytest.raises(InvalidArgumentError):
        BeaverDealer(2).triples((1 << 20, 1 << 20))  # 2^40 elements: refused, not allocated
    with pytest.raises(InvalidArgumentError):
        BeaverDealer(2).truncation_pairs((MAX_ELEMENTS + 1,))
    with pytest.raises(InvalidArgumentError):
        BeaverDealer(2).matrix_triples((1 << 17, 1 << 16), (1 << 16, 2))


# ---- Share.many: the public bulk constructor -----------------------------------------------


@given(
    st.integers(1, 40),
    st.integers(0, 50),
    st.integers(1, 6),
)
@settings(max_examples=25, deadline=None, derandomize=True)
def test_share_many_equals_one_by_one(n: int, length: int, extra: int) -> None:
    t = max(1, n // 2)
    shares = shamir_split_many([os.urandom(length) for _ in range(extra)], threshold=t, shares=n)
    flat = [s for row in shares for s in row]
    built = Share.many(
        [s.index for s in flat],
        [s.split_id for s in flat],
        [s.data for s in flat],
        threshold=t,
        share_count=n,
        secret_length=length,
    )
    assert built == flat
    assert [type(b.index) for b in built] == [int] * len(flat)


def test_share_many_refuses_bad_shares_naming_the_first() -> None:
    shares = shamir_split(os.urandom(32), threshold=2, shares=4)
    idx = [s.index for s in shares]
    sid = [s.split_id for s in shares]
    data = [s.data for s in shares]
    kw = {"threshold": 2, "share_count": 4, "secret_length": 32}
    with pytest.raises(InvalidArgumentError, match="share 2"):
        Share.many(idx, sid, data[:2] + [b"\xff" * 44] + data[3:], **kw)
    with pytest.raises(InvalidArgumentError, match="share 1"):
        Share.many([1, 5, 2, 3], sid, data, **kw)
    with pytest.raises(InvalidArgumentError, match="share 3"):
        Share.many(idx, sid, data[:3] + [data[3][:-1]], **kw)
    with pytest.raises(InvalidArgumentError, match="share 0"):
        Share.many(idx, [b"x"] + sid[1:], data, **kw)
    with pytest.raises(InvalidTypeError):
        Share.many(idx, sid, [bytearray(d) for d in data], **kw)  # type: ignore[misc]
    with pytest.raises(InvalidArgumentError):
        Share.many(idx, sid, data, threshold=5, share_count=4, secret_length=32)
    with pytest.raises(InvalidArgumentError):
        Share.many(idx[:3], sid, data, **kw)
    assert Share.many([], [], [], **kw) == []


def test_secagg_uses_no_private_sharing_names() -> None:
    """Issue 9 item 3: secagg reaches sharing only through its public API."""
    import ast
    import pathlib

    import fedcrypto.secagg as secagg

    for path in pathlib.Path(secagg.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and "sharing" in node.module:
                assert "._" not in node.module and not node.module.startswith("_"), path
                assert all(not a.name.startswith("_") for a in node.names), path


# ---- whose fault: Local vs Remote -----------------------------------------------------------


def _mult(*, opened: bool = True) -> tuple[list[BeaverMultiplication], list[Opening]]:
    codec = FixedPoint(16)
    xs = share_fixed_point(np.arange(4.0), parties=2)
    ys = share_fixed_point(np.ones(4), parties=2)
    ts = BeaverDealer(2).triples(4)
    ops = [BeaverMultiplication(xs[i], ys[i], ts[i], fixed_point=codec) for i in range(2)]
    return ops, [op.open() for op in ops] if opened else []


def test_local_protocol_errors_are_the_callers_fault() -> None:
    ops, msgs = _mult()
    with pytest.raises(LocalProtocolError):
        ops[0].open()  # twice
    with pytest.raises(LocalProtocolError):
        _ = ops[0].result  # too early
    fresh, _ = _mult(opened=False)
    with pytest.raises(LocalProtocolError):
        fresh[0].receive(msgs)  # before open
    ops[0].receive(msgs)
    with pytest.raises(LocalProtocolError):
        ops[0].receive(msgs)  # after the result is ready
    xs = share_fixed_point(np.arange(4.0), parties=2)
    ts = BeaverDealer(2).triples(4)
    party = BeaverParty(0, 2)
    party.multiply(xs[0], xs[0], ts[0])
    with pytest.raises(LocalProtocolError, match="reuse"):
        party.multiply(xs[0], xs[0], ts[0])
    pair = BeaverDealer(2).truncation_pairs(4)[0]
    trunc = DealerTruncation(xs[0], pair)
    with pytest.raises(LocalProtocolError):
        trunc.receive([])  # before open
    for err in (LocalProtocolError, RemoteProtocolError):
        assert issubclass(err, ProtocolError)


def test_remote_protocol_errors_are_the_peers_fault() -> None:
    ops, msgs = _mult()
    other_ops, other_msgs = _mult()
    cases = [
        [msgs[0]],  # missing
        [msgs[0], msgs[0], msgs[1]],  # duplicate
        [msgs[0], other_msgs[1]],  # another multiplication
    ]
    for bad in cases:
        with pytest.raises(RemoteProtocolError):
            ops[0].receive(bad)
    altered = Opening(
        op_id=msgs[0].op_id,
        kind="beaver",
        party=0,
        parties=2,
        domain=RING64,
        arrays=(msgs[0].arrays[0] ^ np.uint64(1), msgs[0].arrays[1]),
    )
    with pytest.raises(RemoteProtocolError, match="altered"):
        ops[0].receive([altered, msgs[1]])
    assert ops[0].receive(msgs) is None  # the state machine survived the bad deliveries


# ---- one immutability idiom ------------------------------------------------------------------


def _values() -> list[object]:
    dealer = BeaverDealer(2)
    ops, msgs = _mult()
    return [
        shamir_split(b"k", threshold=1, shares=2)[0],
        additive_share(np.arange(3, dtype=np.uint64), parties=2)[0],
        dealer.triples(2)[0],
        dealer.truncation_pairs(2)[0],
        msgs[0],
        RING64,
        PrimeField(SHAMIR_FIELD_PRIME),
        FixedPoint(8),
        dealer,
    ]


def test_every_value_uses_the_immutable_idiom() -> None:
    for v in _values():
        assert isinstance(v, Immutable), type(v)
        with pytest.raises(AttributeError):
            v.anything = 1  # type: ignore[attr-defined]
        with pytest.raises(TypeError):
            pickle.dumps(v)
        assert copy.copy(v) is v and copy.deepcopy(v) is v
