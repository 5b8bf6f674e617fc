"""Wire fuzz for the envelope layer: ``serialization.unpack`` and ``Reader``.

Invariant, for arbitrary and for structurally mutated bytes: the parser either returns a
correct result or raises ``SerializationError`` — never another exception — and every
input is handled in bounded time and in memory bounded by its length (``tracemalloc``
peak, numpy buffers included).  Seeded (``@seed``) and bounded (``max_examples``; raise
it with ``FEDCRYPTO_FUZZ_EXAMPLES`` for a longer local run).
"""

from __future__ import annotations

import os
import struct
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import SerializationError
from fedcrypto.serialization import (
    DEFAULT_MAX_PAYLOAD,
    PARAM_ID_BYTES,
    Envelope,
    ObjectType,
    Reader,
    pack,
    param_id,
    unpack,
)

EXAMPLES = int(os.environ.get("FEDCRYPTO_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Generous: a hang, not a slow machine, is what this catches.
MAX_SECONDS = 5.0
#: Memory allowed per input: a constant for interpreter noise plus a multiple of its length
#: (unpack copies the payload once; Reader.limbs may widen 1-byte rows to two 8-byte limbs
#: and numpy needs a few temporaries on the way).
SLACK = 256 * 1024
PER_BYTE = 64

TYPES = list(ObjectType)
PID = param_id(b"fuzz")


def _bounded(fn: Callable[[], Any], nbytes: int) -> Any:
    """Run ``fn``; only SerializationError may escape; bounded time and memory."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    t0 = time.perf_counter()
    try:
        return fn()
    except SerializationError as exc:
        return exc
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s for {nbytes} input bytes"
        assert peak <= SLACK + PER_BYTE * nbytes, f"peak {peak} bytes for {nbytes} input bytes"


# -- unpack: arbitrary bytes ------------------------------------------------------------------
@seed(0xFC_0001)
@FUZZ
@given(
    data=st.binary(max_size=4096),
    expected=st.sampled_from(TYPES),
    kind=st.sampled_from([bytes, bytearray, memoryview]),
)
def test_unpack_garbage(data: bytes, expected: ObjectType, kind: type) -> None:
    out = _bounded(lambda: unpack(kind(data), expected), len(data))
    if isinstance(out, Envelope):
        assert out.object_type is expected
        assert pack(out.object_type, out.payload, param=out.param_id) == data


def _envelopes() -> st.SearchStrategy[tuple[ObjectType, bytes, bytes]]:
    return st.tuples(
        st.sampled_from(TYPES),
        st.binary(max_size=2048),
        st.one_of(st.just(PID), st.binary(min_size=PARAM_ID_BYTES, max_size=PARAM_ID_BYTES)),
    )


_LENGTHS = [0, 1, 31, 32, 33, 2**31, 2**32 - 1, 2**32, 2**63, 2**64 - 1]


@st.composite
def _mutated(draw: st.DrawFn) -> tuple[bytes, ObjectType, bytes]:
    """A valid envelope, then one to three structural mutations."""
    obj_type, payload, pid = draw(_envelopes())
    blob = bytearray(pack(obj_type, payload, param=pid))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(
            st.sampled_from(["flip", "truncate", "extend", "length", "version", "type", "magic"])
        )
        if op == "flip" and blob:
            i = draw(st.integers(0, len(blob) - 1))
            blob[i] ^= draw(st.integers(1, 255))
        elif op == "truncate":
            del blob[draw(st.integers(0, len(blob))) :]
        elif op == "extend":
            blob += draw(st.binary(min_size=1, max_size=64))
        elif op == "length" and len(blob) >= 32:
            n = draw(
                st.one_of(
                    st.sampled_from(_LENGTHS),
                    st.sampled_from([max(0, len(blob) - 33), len(blob) - 32, len(blob) - 31]),
                    st.integers(0, 2**64 - 1),
                )
            )
            blob[24:32] = struct.pack(">Q", n)
        elif op == "version" and len(blob) >= 6:
            blob[4:6] = struct.pack(">H", draw(st.sampled_from([0, 2, 0x7FFF, 0xFFFF])))
        elif op == "type" and len(blob) >= 8:
            code = draw(st.one_of(st.sampled_from([int(t) for t in TYPES]), st.integers(0, 0xFFFF)))
            blob[6:8] = struct.pack(">H", code)
        elif op == "magic" and len(blob) >= 4:
            blob[0:4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(blob), obj_type, pid


@seed(0xFC_0002)
@FUZZ
@given(
    case=_mutated(),
    pin=st.booleans(),
    max_payload=st.sampled_from([DEFAULT_MAX_PAYLOAD, 0, 100, 2**64]),
)
def test_unpack_structured_mutations(
    case: tuple[bytes, ObjectType, bytes], pin: bool, max_payload: int
) -> None:
    data, obj_type, pid = case
    out = _bounded(
        lambda: unpack(
            data, obj_type, expected_param=pid if pin else None, max_payload=max_payload
        ),
        len(data),
    )
    if isinstance(out, Envelope):
        # whatever survived parses back to exactly the bytes given, and meets every check
        assert pack(out.object_type, out.payload, param=out.param_id) == data
        assert out.object_type is obj_type and len(out.payload) <= max_payload
        assert not pin or out.param_id == pid


def test_announced_lengths_never_drive_allocation() -> None:
    """A 40-byte envelope announcing 2^64 - 1 payload bytes is refused before any copy."""
    for n in _LENGTHS:
        blob = pack(ObjectType.SHAMIR_SHARE, b"12345678")
        bad = blob[:24] + struct.pack(">Q", n) + blob[32:]
        out = _bounded(lambda b=bad: unpack(b, ObjectType.SHAMIR_SHARE), len(bad))
        assert isinstance(out, SerializationError) or n == 8


# -- Reader: a random program of reads over arbitrary payload bytes --------------------------
_WIRE_COUNTS = st.one_of(
    st.integers(0, 64), st.sampled_from([2**16, 2**31, 2**32 - 1, 2**63, 2**64 - 1])
)


@st.composite
def _read_op(draw: st.DrawFn) -> tuple[str, tuple[Any, ...]]:
    name = draw(
        st.sampled_from(
            [
                "u8",
                "u16",
                "u32",
                "u64",
                "uint",
                "sint",
                "f64",
                "raw",
                "blob",
                "big",
                "limbs",
                "remaining",
                "finish",
            ]
        )
    )
    if name in ("uint", "sint"):
        return name, (draw(st.integers(0, 80)),)
    if name == "raw":
        return name, (draw(_WIRE_COUNTS),)
    if name == "blob":
        return name, (draw(st.sampled_from([0, 1, 16, 4096, DEFAULT_MAX_PAYLOAD])),)
    if name == "big":
        return name, (draw(st.sampled_from([1, 64, 2048, 1 << 16])),)
    if name == "limbs":
        nbytes = draw(st.integers(1, 80))
        need = max(1, -(-nbytes // 8))
        width = draw(st.one_of(st.none(), st.integers(1, need + 1)))
        return name, (draw(_WIRE_COUNTS), nbytes, width)
    return name, ()


@seed(0xFC_0003)
@FUZZ
@given(data=st.binary(max_size=2048), program=st.lists(_read_op(), max_size=12))
def test_reader_programs(data: bytes, program: list[tuple[str, tuple[Any, ...]]]) -> None:
    reader = _bounded(lambda: Reader(data), len(data))
    assert isinstance(reader, Reader)
    for name, args in program:
        before = reader.remaining()
        out = _bounded(lambda n=name, a=args: getattr(reader, n)(*a), len(data))
        if isinstance(out, SerializationError):
            if name != "finish":
                assert reader.remaining() == before  # a failed read consumes nothing
            continue
        if name == "limbs":
            count, nbytes, _ = args
            assert isinstance(out, np.ndarray) and out.shape[0] == count
            assert before - reader.remaining() == count * nbytes
        elif name in ("u8", "u16", "u32", "u64", "uint"):
            assert out >= 0
        elif name == "raw":
            assert len(out) == args[0]


@seed(0xFC_0004)
@FUZZ
@given(payload=st.binary(max_size=2048), obj_type=st.sampled_from(TYPES))
def test_reader_inside_an_envelope(payload: bytes, obj_type: ObjectType) -> None:
    """The usual door: unpack, then read a length-prefixed blob and fixed-width rows."""
    blob = pack(obj_type, payload, param=PID)

    def parse() -> tuple[bytes, np.ndarray]:
        env = unpack(blob, obj_type, expected_param=PID)
        r = Reader(env.payload)
        head = r.blob(max_len=256)
        count = r.u32()
        rows = r.limbs(count, 32)
        r.finish()
        return head, rows

    _bounded(parse, len(blob))
