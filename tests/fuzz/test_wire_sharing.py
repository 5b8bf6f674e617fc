"""Wire fuzz of every sharing object type (0x03xx): garbage bytes and structured mutations
of valid encodings either parse or raise SerializationError / RemoteProtocolError, never
anything else, in bounded memory (tracemalloc peak linear in the input length) and with
at most one primality test per input.  Seeded (derandomized), a few seconds."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import RemoteProtocolError, SerializationError
from fedcrypto.serialization import ObjectType
from fedcrypto.sharing import (
    RING64,
    SHAMIR_FIELD_PRIME,
    AdditiveShare,
    BeaverDealer,
    BeaverMultiplication,
    FixedPoint,
    Opening,
    PrimeField,
    Share,
    TripleShare,
    TruncationPairShare,
    _domain,
    additive_share,
    shamir_split,
    share_fixed_point,
)

ALLOWED = (SerializationError, RemoteProtocolError)
#: Memory a parse may use: this much per input byte, plus a fixed allowance.
BYTES_PER_INPUT_BYTE = 64
FIXED_ALLOWANCE = 256 * 1024
#: A hang guard only (speed is measured in benchmarks/): far above any honest parse.
SECONDS_PER_INPUT = 20.0

M127 = (1 << 127) - 1  # a big (object-array) field, cheap to test for primality
BIG = PrimeField(M127)
SMALL = PrimeField(SHAMIR_FIELD_PRIME)


def _samples() -> dict[str, tuple[ObjectType, bytes, Callable[[bytes], object]]]:
    dealer = BeaverDealer(3)
    codec = FixedPoint(16)
    xs = share_fixed_point(np.arange(4.0), parties=3)
    triples = dealer.triples(4)
    pairs = dealer.truncation_pairs(4)
    ops = [
        BeaverMultiplication(xs[i], xs[i], triples[i], fixed_point=codec, truncation_pair=pairs[i])
        for i in range(3)
    ]
    beaver = [op.open() for op in ops]
    trunc = ops[0].receive(beaver)
    assert trunc is not None
    big_triple = BeaverDealer(2, domain=BIG).matrix_triples((2, 3), (3, 1))[1]
    return {
        "shamir": (
            ObjectType.SHAMIR_SHARE,
            shamir_split(b"a 32-byte secret for the fuzzer!", threshold=2, shares=3)[1].to_bytes(),
            Share.from_bytes,
        ),
        "additive-ring": (
            ObjectType.ADDITIVE_SHARE,
            additive_share(np.arange(6, dtype=np.uint64).reshape(2, 3), parties=3)[2].to_bytes(),
            AdditiveShare.from_bytes,
        ),
        "additive-small-field": (
            ObjectType.ADDITIVE_SHARE,
            additive_share(np.arange(5, dtype=np.uint64), parties=2, domain=SMALL)[0].to_bytes(),
            AdditiveShare.from_bytes,
        ),
        "additive-big-field": (
            ObjectType.ADDITIVE_SHARE,
            additive_share(np.arange(4, dtype=object), parties=2, domain=BIG)[1].to_bytes(),
            AdditiveShare.from_bytes,
        ),
        "additive-big-field-pinned": (
            ObjectType.ADDITIVE_SHARE,
            additive_share(np.arange(4, dtype=object), parties=2, domain=BIG)[1].to_bytes(),
            lambda b: AdditiveShare.from_bytes(b, domain=BIG),
        ),
        "triple-ring": (
            ObjectType.BEAVER_TRIPLE_SHARE,
            triples[1].to_bytes(),
            TripleShare.from_bytes,
        ),
        "triple-big-field-matrix": (
            ObjectType.BEAVER_TRIPLE_SHARE,
            big_triple.to_bytes(),
            TripleShare.from_bytes,
        ),
        "opening-beaver": (ObjectType.BEAVER_OPENING, beaver[2].to_bytes(), Opening.from_bytes),
        "opening-truncation": (
            ObjectType.BEAVER_OPENING,
            trunc.to_bytes(),
            lambda b: Opening.from_bytes(b, domain=RING64),
        ),
        "truncation-pair": (
            ObjectType.TRUNCATION_PAIR_SHARE,
            pairs[0].to_bytes(),
            TruncationPairShare.from_bytes,
        ),
        # Zero-element shapes: one more dimension made huge must stay a SerializationError.
        "additive-empty": (
            ObjectType.ADDITIVE_SHARE,
            additive_share(np.empty((3, 0), dtype=np.uint64), parties=2)[0].to_bytes(),
            AdditiveShare.from_bytes,
        ),
        "triple-empty": (
            ObjectType.BEAVER_TRIPLE_SHARE,
            BeaverDealer(2).triples((0, 2))[0].to_bytes(),
            TripleShare.from_bytes,
        ),
        "opening-empty": (
            ObjectType.BEAVER_OPENING,
            Opening(
                op_id=bytes(16),
                kind="beaver",
                party=0,
                parties=2,
                domain=RING64,
                arrays=(np.empty((2, 0), np.uint64), np.empty((2, 0), np.uint64)),
            ).to_bytes(),
            Opening.from_bytes,
        ),
        "truncation-pair-empty": (
            ObjectType.TRUNCATION_PAIR_SHARE,
            BeaverDealer(2).truncation_pairs((0,))[1].to_bytes(),
            TruncationPairShare.from_bytes,
        ),
    }


SAMPLES = _samples()


def test_every_sharing_object_type_is_fuzzed() -> None:
    wanted = {t for t in ObjectType if t >> 8 == 0x03}
    assert {t for t, _, _ in SAMPLES.values()} == wanted


@pytest.fixture
def primality(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _domain.is_probable_prime

    def counting(n: int, **kw: object) -> bool:
        calls.append(n)
        return real(n, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(_domain, "is_probable_prime", counting)
    return calls


def _check(parse: Callable[[bytes], object], data: bytes, primality: list[int]) -> None:
    _domain._is_field_prime.cache_clear()  # the worst case: nothing cached
    del primality[:]
    tracemalloc.start()  # traced only around the parse (hypothesis itself is not)
    start = time.perf_counter()
    try:
        parse(data)
    except ALLOWED:
        pass
    finally:
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak <= BYTES_PER_INPUT_BYTE * len(data) + FIXED_ALLOWANCE, (peak, len(data))
    assert elapsed <= SECONDS_PER_INPUT
    assert len(primality) <= 1


_EDGES = [0, 1, 2, 3, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, (1 << 31) - 1, 1 << 31, (1 << 32) - 1]
_EDGES += [1 << 32, (1 << 62), (1 << 63) - 1, 1 << 63, (1 << 64) - 1]


@st.composite
def _mutation(draw: st.DrawFn, valid: bytes) -> bytes:
    data = bytearray(valid)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(
            st.sampled_from(["flip", "byte", "int", "truncate", "extend", "insert", "delete"])
        )
        n = len(data)
        if op in ("flip", "byte", "int", "insert", "delete") and n == 0:
            op = "extend"
        if op == "flip":
            data[draw(st.integers(0, n - 1))] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte":
            data[draw(st.integers(0, n - 1))] = draw(st.integers(0, 255))
        elif op == "int":
            width = draw(st.sampled_from([1, 2, 4, 8]))
            pos = draw(st.integers(0, max(0, n - width)))
            value = draw(st.sampled_from(_EDGES)) % (1 << (8 * width))
            data[pos : pos + width] = value.to_bytes(width, "big")
        elif op == "truncate":
            del data[draw(st.integers(0, n)) :]
        elif op == "extend":
            data += draw(st.binary(max_size=64))
        elif op == "insert":
            pos = draw(st.integers(0, n))
            data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
        else:
            pos = draw(st.integers(0, n - 1))
            del data[pos : pos + draw(st.integers(1, 16))]
    if len(data) >= 32 and draw(st.booleans()):  # keep the envelope length consistent
        data[24:32] = (len(data) - 32).to_bytes(8, "big")
    return bytes(data)


SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("name", list(SAMPLES))
@SETTINGS
@given(data=st.data())
def test_mutations_parse_or_raise_typed(
    name: str, data: st.DataObject, primality: list[int]
) -> None:
    _, valid, parse = SAMPLES[name]
    _check(parse, data.draw(_mutation(valid)), primality)


@pytest.mark.parametrize("name", list(SAMPLES))
@SETTINGS
@given(payload=st.binary(max_size=512))
def test_garbage_behind_a_valid_header(name: str, payload: bytes, primality: list[int]) -> None:
    """Random payloads behind the right magic, version, type, parameter id and length."""
    _, valid, parse = SAMPLES[name]
    _check(parse, valid[:24] + len(payload).to_bytes(8, "big") + payload, primality)


@SETTINGS
@given(raw=st.binary(max_size=256))
def test_arbitrary_bytes(raw: bytes, primality: list[int]) -> None:
    for _, _, parse in SAMPLES.values():
        _check(parse, raw, primality)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_every_byte_of_the_encoding(name: str, primality: list[int]) -> None:
    """Systematic sweep: each byte set to 0x00 and 0xFF in turn, length kept consistent."""
    _, valid, parse = SAMPLES[name]
    assert parse(valid) is not None
    for pos in range(min(len(valid), 400)):
        for value in (0x00, 0xFF):
            data = bytearray(valid)
            data[pos] = value
            if pos >= 32:
                data[24:32] = (len(data) - 32).to_bytes(8, "big")
            _check(parse, bytes(data), primality)


def test_memory_is_linear_in_the_input_for_large_encodings(primality: list[int]) -> None:
    """The allowance above is not what keeps big inputs in bounds: a parse of a large
    valid encoding stays within a few bytes per input byte."""
    big = additive_share(np.arange(20_000, dtype=object) * M127 // 20_000, parties=2, domain=BIG)
    cases = [
        (
            additive_share(np.arange(100_000, dtype=np.uint64), parties=2)[0].to_bytes(),
            AdditiveShare.from_bytes,
        ),
        (big[0].to_bytes(), lambda b: AdditiveShare.from_bytes(b, domain=BIG)),
        (BeaverDealer(2).triples((300, 100))[0].to_bytes(), TripleShare.from_bytes),
    ]
    for data, parse in cases:
        tracemalloc.start()
        parse(data)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= 8 * len(data) + FIXED_ALLOWANCE, (peak, len(data))


_U64_EDGES = [0, 1, (1 << 32) - 1, 1 << 32, 1 << 62, 1 << 63, (1 << 64) - 1]


@pytest.mark.parametrize("name", [n for n in SAMPLES if "shamir" not in n])
def test_every_u64_field_position_with_edge_values(name: str, primality: list[int]) -> None:
    """Structured edge cases for the shape fields: each 8-byte window of the first 96
    payload bytes set to 0, 1, 2^32 - 1, 2^32, 2^62, 2^63, 2^64 - 1 (zero-element shapes
    with one huge dimension included)."""
    _, valid, parse = SAMPLES[name]
    for pos in range(32, min(len(valid) - 8, 32 + 96) + 1):
        for value in _U64_EDGES:
            data = bytearray(valid)
            data[pos : pos + 8] = value.to_bytes(8, "big")
            _check(parse, bytes(data), primality)
