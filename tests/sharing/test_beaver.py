"""Beaver-triple multiplication: products, truncation error bounds, protocol misuse, messages."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._random import VectorRNG
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    ProtocolError,
    SerializationError,
)
from fedcrypto.sharing import (
    RING64,
    BeaverDealer,
    BeaverMultiplication,
    BeaverParty,
    FixedPoint,
    Opening,
    PrimeField,
    TripleShare,
    TruncationPairShare,
    additive_reconstruct,
    additive_share,
    reconstruct_fixed_point,
    run_multiplication,
    secure_multiply,
    share_fixed_point,
    truncate_local,
)

P31 = (1 << 31) - 1
SMALL = os.environ.get("FEDCRYPTO_BACKEND") == "pure"
N = 500 if SMALL else 20000


def _exact_truncated_product(codec: FixedPoint, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """floor(enc(x) * enc(y) / 2**f) computed with Python ints, as signed ints."""
    ex = codec.encode(x).view(np.int64).tolist()
    ey = codec.encode(y).view(np.int64).tolist()
    return np.array([(a * b) >> codec.frac_bits for a, b in zip(ex, ey, strict=True)], dtype=object)


def _signed(values: np.ndarray) -> np.ndarray:
    return np.array(values.view(np.int64).tolist(), dtype=object)


@pytest.mark.parametrize(("parties", "dealer_trunc"), [(2, False), (2, True), (3, True), (5, True)])
def test_fixed_point_product_within_one_ulp(parties: int, dealer_trunc: bool) -> None:
    rng = VectorRNG()
    codec = FixedPoint(16)
    # Dealer truncation: any |x * y| < 2**30 is exact; here |x * y| < 2**14.  Local
    # truncation: |x * y| < 2**4, so |z| < 2**36 and the failure probability is
    # 2**(36 + 1 - 64) = 2**-27 per element (about 1e-4 for the whole test).
    width = 200.0 if dealer_trunc else 8.0
    x = (rng.uniform(N) - 0.5) * width
    y = (rng.uniform(N) - 0.5) * width
    x[:4] = [0.0, -1.0, 2.0**-16, -(2.0**-16)]
    y[:4] = [5.0, -1.0, -(2.0**-16), -3.0]
    xs = share_fixed_point(x, parties=parties)
    ys = share_fixed_point(y, parties=parties)
    dealer = BeaverDealer(parties)
    triples = dealer.triples(N)
    pairs = dealer.truncation_pairs(N, frac_bits=16) if dealer_trunc else None
    z = run_multiplication(xs, ys, triples, fixed_point=codec, truncation_pairs=pairs)
    got = _signed(additive_reconstruct(z))
    diff = got - _exact_truncated_product(codec, x, y)
    # floor(z / 2**f) or one more: error at most 1 ulp of the truncated product.
    assert set(diff.tolist()) <= {0, 1}
    assert np.abs(reconstruct_fixed_point(z) - x * y).max() < width * 2.0**-16


def test_dealer_truncation_exact_at_the_range_limit() -> None:
    """Dealer truncation is exact (<= 1 ulp) for every |z| < 2**62, even products near it."""
    codec = FixedPoint(16)
    big = 2.0 ** (62 - 32) * 0.999  # |x * y| just below 2**(62 - 2f)
    x = np.array([1.0, -1.0, 1.0, -1.0] * 50) * np.sqrt(big)
    y = np.array([1.0, 1.0, -1.0, -1.0] * 50) * np.sqrt(big)
    for parties in (2, 3):
        z = run_multiplication(
            share_fixed_point(x, parties=parties),
            share_fixed_point(y, parties=parties),
            BeaverDealer(parties).triples(x.size),
            fixed_point=codec,
            truncation_pairs=BeaverDealer(parties).truncation_pairs(x.size, frac_bits=16),
        )
        diff = _signed(additive_reconstruct(z)) - _exact_truncated_product(codec, x, y)
        assert set(diff.tolist()) <= {0, 1}


@given(
    st.lists(st.floats(-1.0, 1.0, allow_nan=False), min_size=1, max_size=8),
    st.integers(2, 4),
    st.integers(1, 24),
    st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_property_product_error_bound(
    unit: list[float], parties: int, f: int, dealer_trunc: bool
) -> None:
    # Scale so that |x * y| * 2**(2f) < 2**l with l = 40 for local truncation (failure
    # probability 2**-23 per element) and l = 61 for the dealer method (always exact).
    dealer_trunc = dealer_trunc or parties > 2
    l_bits = 61 if dealer_trunc else 40
    scale = 2.0 ** ((l_bits - 2 * f) / 2)
    codec = FixedPoint(f)
    x = np.array(unit) * scale
    y = x[::-1].copy()
    dealer = BeaverDealer(parties)
    z = run_multiplication(
        share_fixed_point(x, parties=parties, codec=codec),
        share_fixed_point(y, parties=parties, codec=codec),
        dealer.triples(x.size),
        fixed_point=codec,
        truncation_pairs=dealer.truncation_pairs(x.size, frac_bits=f) if dealer_trunc else None,
        serialize=True,
    )
    diff = _signed(additive_reconstruct(z)) - _exact_truncated_product(codec, x, y)
    assert set(diff.tolist()) <= {0, 1}


@pytest.mark.parametrize("parties", [2, 3])
def test_matrix_product(parties: int) -> None:
    rng = VectorRNG()
    codec = FixedPoint(16)
    x = (rng.uniform(6 * 4).reshape(6, 4) - 0.5) * 10
    y = (rng.uniform(4 * 3).reshape(4, 3) - 0.5) * 10
    z = secure_multiply(x, y, parties=parties, matrix=True)
    # each entry: sum of 4 products of encodings, truncated once: error <= 4 * 10 * 2**-16 + 1 ulp
    assert z.shape == (6, 3)
    assert np.abs(z - x @ y).max() < 64 * 2.0**-16
    ex = np.array(codec.encode(x).view(np.int64).tolist(), dtype=object)
    ey = np.array(codec.encode(y).view(np.int64).tolist(), dtype=object)
    exact = (ex @ ey) // 2**16
    xs = share_fixed_point(x, parties=parties)
    ys = share_fixed_point(y, parties=parties)
    dealer = BeaverDealer(parties)
    zs = run_multiplication(
        xs,
        ys,
        dealer.matrix_triples((6, 4), (4, 3)),
        fixed_point=codec,
        truncation_pairs=dealer.truncation_pairs((6, 3)) if parties > 2 else None,
    )
    diff = _signed(additive_reconstruct(zs)) - exact
    assert set(diff.ravel().tolist()) <= {0, 1}


@pytest.mark.parametrize(
    "dom", [RING64, PrimeField(P31), PrimeField(4294967291), PrimeField((1 << 127) - 1)], ids=repr
)
def test_integer_products_in_every_domain(dom: object) -> None:
    m = dom.modulus  # type: ignore[attr-defined]
    a = [3, -5, 2**40 + 1, 0, 123456789]
    b = [7, -11, 2**20, 99, -987654321]
    xa = dom.from_ints(np.array(a, dtype=object))  # type: ignore[attr-defined]
    xb = dom.from_ints(np.array(b, dtype=object))  # type: ignore[attr-defined]
    for parties in (2, 3):
        xs = additive_share(xa, parties=parties, domain=dom)  # type: ignore[arg-type]
        ys = additive_share(xb, parties=parties, domain=dom)  # type: ignore[arg-type]
        dealer = BeaverDealer(parties, domain=dom)  # type: ignore[arg-type]
        z = run_multiplication(xs, ys, dealer.triples(5), serialize=True)
        assert [int(v) for v in additive_reconstruct(z).tolist()] == [
            (u * v) % m for u, v in zip(a, b, strict=True)
        ]
    # matrix triples in the field
    A = dom.from_ints(np.arange(6, dtype=np.int64).reshape(2, 3) - 2)  # type: ignore[attr-defined]
    B = dom.from_ints(np.arange(12, dtype=np.int64).reshape(3, 4) * 3)  # type: ignore[attr-defined]
    xs = additive_share(A, parties=3, domain=dom)  # type: ignore[arg-type]
    ys = additive_share(B, parties=3, domain=dom)  # type: ignore[arg-type]
    z = run_multiplication(xs, ys, BeaverDealer(3, domain=dom).matrix_triples((2, 3), (3, 4)))  # type: ignore[arg-type]
    ref = (np.arange(6).reshape(2, 3) - 2) @ (np.arange(12).reshape(3, 4) * 3)
    assert [int(v) for v in additive_reconstruct(z).ravel().tolist()] == [
        int(v) % m for v in ref.ravel()
    ]


def test_local_truncation_function() -> None:
    codec = FixedPoint(16)
    x = np.array([1.5, -2.25, 0.0, -1e6])
    z2f = codec.encode(x).view(np.int64) * (1 << 16)  # 2f fractional bits
    shares = additive_share(z2f, parties=2)
    t = [truncate_local(s, 16) for s in shares]
    assert np.abs(reconstruct_fixed_point(t) - x).max() <= 2.0**-16
    with pytest.raises(InvalidArgumentError):
        truncate_local(additive_share(z2f, parties=3)[0], 16)
    with pytest.raises(InvalidArgumentError):
        truncate_local(shares[0], 63)


def _setup(parties: int = 2, n: int = 4) -> tuple[list, list, list]:  # type: ignore[type-arg]
    xs = share_fixed_point(np.arange(n, dtype=float), parties=parties)
    ys = share_fixed_point(np.ones(n), parties=parties)
    return xs, ys, BeaverDealer(parties).triples(n)


def test_protocol_misuse() -> None:
    codec = FixedPoint(16)
    xs, ys, ts = _setup()
    ops = [BeaverMultiplication(xs[i], ys[i], ts[i], fixed_point=codec) for i in range(2)]
    with pytest.raises(ProtocolError):
        ops[0].receive([])  # before open
    with pytest.raises(ProtocolError):
        _ = ops[0].result
    msgs = [op.open() for op in ops]
    with pytest.raises(ProtocolError):
        ops[0].open()
    with pytest.raises(ProtocolError, match="missing"):
        ops[0].receive(msgs[:1])
    with pytest.raises(ProtocolError, match="two openings"):
        ops[0].receive([msgs[0], msgs[0], msgs[1]])
    other = BeaverDealer(2).triples(4)
    foreign = BeaverMultiplication(xs[1], ys[1], other[1], fixed_point=codec).open()
    with pytest.raises(ProtocolError, match="different multiplication"):
        ops[0].receive([msgs[0], foreign])
    # a peer's opening with the wrong shape
    bad = Opening(
        op_id=ts[0].triple_id,
        kind="beaver",
        party=1,
        parties=2,
        domain=RING64,
        arrays=(np.zeros(3, dtype=np.uint64), np.zeros(3, dtype=np.uint64)),
    )
    with pytest.raises(ProtocolError, match="wrong shape"):
        ops[0].receive([msgs[0], bad])
    # our own opening altered in transit
    altered = Opening(
        op_id=ts[0].triple_id,
        kind="beaver",
        party=0,
        parties=2,
        domain=RING64,
        arrays=(msgs[0].arrays[0] + np.uint64(1), msgs[0].arrays[1]),
    )
    with pytest.raises(ProtocolError, match="altered"):
        ops[0].receive([altered, msgs[1]])
    with pytest.raises(InvalidTypeError):
        ops[0].receive([msgs[0], "x"])  # type: ignore[list-item]
    assert ops[0].receive(msgs) is None and ops[1].receive(msgs) is None
    with pytest.raises(ProtocolError):
        ops[0].receive(msgs)  # after done
    out = reconstruct_fixed_point([op.result for op in ops])
    assert np.array_equal(out, np.arange(4, dtype=float))


def test_truncation_round_misuse() -> None:
    codec = FixedPoint(16)
    xs, ys, ts = _setup(3)
    pairs = BeaverDealer(3).truncation_pairs(4)
    ops = [
        BeaverMultiplication(xs[i], ys[i], ts[i], fixed_point=codec, truncation_pair=pairs[i])
        for i in range(3)
    ]
    msgs = [op.open() for op in ops]
    second = [op.receive(msgs) for op in ops]
    assert all(isinstance(m, Opening) and m.kind == "truncation" for m in second)
    with pytest.raises(ProtocolError, match="expected truncation"):
        ops[0].receive(msgs)
    with pytest.raises(ProtocolError):
        ops[0].receive(second[:2])  # type: ignore[arg-type]
    for op in ops:
        assert op.receive(second) is None  # type: ignore[arg-type]
    assert np.array_equal(
        reconstruct_fixed_point([op.result for op in ops]), np.arange(4, dtype=float)
    )


def test_bad_construction() -> None:
    codec = FixedPoint(16)
    xs, ys, ts = _setup(3)
    with pytest.raises(InvalidArgumentError, match="truncation pair"):
        BeaverMultiplication(xs[0], ys[0], ts[0], fixed_point=codec)  # 3 parties, no pair
    with pytest.raises(KeyMismatchError):
        BeaverMultiplication(xs[0], ys[0], ts[1])
    with pytest.raises(InvalidArgumentError):
        BeaverMultiplication(xs[0], ys[0], BeaverDealer(3).triples(5)[0])
    with pytest.raises(InvalidTypeError):
        BeaverMultiplication(xs[0], ys[0], "triple")  # type: ignore[arg-type]
    pairs = BeaverDealer(3).truncation_pairs(4, frac_bits=8)
    with pytest.raises(InvalidArgumentError, match="fractional"):
        BeaverMultiplication(xs[0], ys[0], ts[0], fixed_point=codec, truncation_pair=pairs[0])
    with pytest.raises(InvalidArgumentError):
        BeaverMultiplication(xs[0], ys[0], ts[0], truncation_pair=pairs[0])
    f_dealer = BeaverDealer(3, domain=PrimeField(P31))
    with pytest.raises(InvalidArgumentError):
        f_dealer.truncation_pairs(4)
    fx = additive_share(np.arange(4, dtype=np.uint64), parties=3, domain=PrimeField(P31))
    with pytest.raises(KeyMismatchError):
        BeaverMultiplication(fx[0], fx[0], ts[0])
    with pytest.raises(InvalidArgumentError):
        BeaverMultiplication(
            fx[0], fx[0], f_dealer.triples(4)[0], fixed_point=FixedPoint(16, domain=PrimeField(P31))
        )
    with pytest.raises(InvalidArgumentError):
        BeaverDealer(2).matrix_triples((2, 3), (4, 5))
    with pytest.raises(InvalidTypeError):
        BeaverDealer(2).triples((2, -1))
    with pytest.raises(InvalidArgumentError):
        BeaverDealer(1)


def test_beaver_party_refuses_triple_reuse() -> None:
    xs, ys, ts = _setup()
    party = BeaverParty(0, 2)
    party.multiply(xs[0], ys[0], ts[0])
    with pytest.raises(ProtocolError, match="reuse"):
        party.multiply(xs[0], ys[0], ts[0])
    with pytest.raises(KeyMismatchError):
        party.multiply(xs[1], ys[1], ts[1])


def test_messages_serialize_and_validate() -> None:
    codec = FixedPoint(16)
    xs, ys, ts = _setup(3)
    pairs = BeaverDealer(3).truncation_pairs(4)
    for t in ts:
        back = TripleShare.from_bytes(t.to_bytes())
        assert back.triple_id == t.triple_id and back.party == t.party
        assert np.array_equal(back.c, t.c) and back.kind == "elementwise"
    for p in pairs:
        back_p = TruncationPairShare.from_bytes(p.to_bytes())
        assert np.array_equal(back_p.r_trunc, p.r_trunc) and back_p.frac_bits == 16
    ops = [
        BeaverMultiplication(xs[i], ys[i], ts[i], fixed_point=codec, truncation_pair=pairs[i])
        for i in range(3)
    ]
    msgs = [op.open() for op in ops]
    blobs = [m.to_bytes() for m in msgs]
    parsed = [Opening.from_bytes(b, expected_op_id=ts[0].triple_id) for b in blobs]
    with pytest.raises(SerializationError):
        Opening.from_bytes(blobs[0], expected_op_id=pairs[0].pair_id)
    with pytest.raises(SerializationError):
        Opening.from_bytes(blobs[0][:-8])
    with pytest.raises(SerializationError):
        TripleShare.from_bytes(blobs[0])
    with pytest.raises(SerializationError):
        TruncationPairShare.from_bytes(ts[0].to_bytes())
    second = [op.receive(parsed) for op in ops]
    second = [Opening.from_bytes(m.to_bytes()) for m in second]  # type: ignore[union-attr]
    for op in ops:
        op.receive(second)
    assert np.array_equal(
        reconstruct_fixed_point([op.result for op in ops]), np.arange(4, dtype=float)
    )
    mt = BeaverDealer(2).matrix_triples((2, 3), (3, 2))
    back_m = TripleShare.from_bytes(mt[1].to_bytes())
    assert back_m.kind == "matrix" and back_m.b.shape == (3, 2)


def test_secret_objects_do_not_leak() -> None:
    _, _, ts = _setup()
    pairs = BeaverDealer(2).truncation_pairs(4)
    for obj in (ts[0], pairs[0]):
        with pytest.raises(TypeError):
            pickle.dumps(obj)
        with pytest.raises(AttributeError):
            obj.party = 1  # type: ignore[misc]
    assert str(int(ts[0].a[0])) not in repr(ts[0])
    with pytest.raises(ValueError):
        ts[0].a[0] = 1


def test_secure_multiply_runner() -> None:
    x = np.array([1.5, -2.0, 3.25, 0.0])
    y = np.array([2.0, 4.5, -1.0, 7.0])
    for parties in (2, 3, 4):
        assert np.abs(secure_multiply(x, y, parties=parties) - x * y).max() <= 2.0**-16
    with pytest.raises(InvalidArgumentError):
        secure_multiply(x, y[:3])
    with pytest.raises(InvalidArgumentError):
        secure_multiply(x, y, matrix=True)


@pytest.mark.parametrize("parties", [2, 3, 5])
def test_dealer_truncation_after_public_multiplication(parties: int) -> None:
    from fedcrypto.sharing import DealerTruncation

    codec = FixedPoint(16)
    rng = VectorRNG()
    x = (rng.uniform(N) - 0.5) * 1e4
    c = -3.141592653589793
    xs = share_fixed_point(x, parties=parties)
    scaled = [s.mul_public(codec.encode(c)) for s in xs]  # 2f fractional bits
    pairs = BeaverDealer(parties).truncation_pairs(N, frac_bits=16)
    ops = [DealerTruncation(scaled[i], pairs[i]) for i in range(parties)]
    msgs = [Opening.from_bytes(op.open().to_bytes()) for op in ops]
    for op in ops:
        op.receive(msgs)
    got = _signed(additive_reconstruct([op.result for op in ops]))
    exact = _exact_truncated_product(codec, x, np.full(N, c))
    assert set((got - exact).tolist()) <= {0, 1}
    # misuse
    with pytest.raises(ProtocolError):
        ops[0].open()
    with pytest.raises(ProtocolError):
        ops[0].receive(msgs)
    fresh = DealerTruncation(scaled[0], pairs[0])
    with pytest.raises(ProtocolError):
        _ = fresh.result
    with pytest.raises(ProtocolError):
        fresh.receive(msgs)
    fresh.open()
    with pytest.raises(ProtocolError, match="missing"):
        fresh.receive(msgs[1:])
    with pytest.raises(KeyMismatchError):
        DealerTruncation(scaled[0], pairs[1])
    with pytest.raises(InvalidArgumentError):
        DealerTruncation(scaled[0], BeaverDealer(parties).truncation_pairs(3)[0])
    with pytest.raises(InvalidTypeError):
        DealerTruncation(
            additive_share(np.arange(3, dtype=np.uint64), parties=2, domain=PrimeField(P31))[0],
            pairs[0],
        )
