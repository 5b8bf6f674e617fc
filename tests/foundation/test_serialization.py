"""Tests of the versioned envelope and the fixed-width field writer/reader."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcrypto._backend import ints_to_limbs, limbs_to_ints
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from fedcrypto.serialization import (
    FORMAT_VERSION,
    MAGIC,
    ObjectType,
    Reader,
    Writer,
    pack,
    param_id,
    unpack,
)

T = ObjectType.PAILLIER_PUBLIC_KEY
PID = param_id(b"test")


def test_round_trip_and_layout() -> None:
    blob = pack(T, b"payload", param=PID)
    assert blob[:4] == MAGIC
    assert struct.unpack(">H", blob[4:6])[0] == FORMAT_VERSION
    assert struct.unpack(">H", blob[6:8])[0] == int(T)
    assert blob[8:24] == PID
    assert struct.unpack(">Q", blob[24:32])[0] == 7
    env = unpack(blob, T, expected_param=PID)
    assert env.payload == b"payload" and env.object_type is T and env.param_id == PID


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b"XXXX" + b[4:], "magic"),
        (lambda b: b[:4] + struct.pack(">H", 99) + b[6:], "version"),
        (
            lambda b: b[:6] + struct.pack(">H", int(ObjectType.PAILLIER_PRIVATE_KEY)) + b[8:],
            "expected",
        ),
        (lambda b: b[:6] + struct.pack(">H", 0x7777) + b[8:], "unknown type"),
        (lambda b: b[:-1], "length"),
        (lambda b: b + b"\x00", "length"),
        (lambda b: b[:10], "truncated"),
        (lambda b: b[:8] + param_id(b"other") + b[24:], "parameter id"),
    ],
)
def test_rejects_tampering(mutate: object, message: str) -> None:
    blob = pack(T, b"payload", param=PID)
    with pytest.raises(SerializationError, match=message):
        unpack(mutate(blob), T, expected_param=PID)  # type: ignore[operator]


def test_rejects_non_bytes_and_huge_payload() -> None:
    with pytest.raises(SerializationError):
        unpack("text", T)  # type: ignore[arg-type]
    with pytest.raises(SerializationError, match="exceeds"):
        unpack(pack(T, b"x" * 100), T, max_payload=10)


def test_writer_reader_fields() -> None:
    arr = ints_to_limbs([0, 1, 2**100 + 3], 2)
    data = (
        Writer()
        .u8(1)
        .u16(2)
        .u32(3)
        .u64(4)
        .sint(-5, 4)
        .f64(0.25)
        .blob(b"ab")
        .big(2**200 + 1)
        .limbs(arr, 13)
        .getvalue()
    )
    r = Reader(data)
    assert (r.u8(), r.u16(), r.u32(), r.u64(), r.sint(4), r.f64()) == (1, 2, 3, 4, -5, 0.25)
    assert r.blob() == b"ab" and r.big() == 2**200 + 1
    assert limbs_to_ints(r.limbs(3, 13)) == [0, 1, 2**100 + 3]
    r.finish()


def test_reader_detects_truncation_and_trailing_bytes() -> None:
    with pytest.raises(SerializationError, match="truncated"):
        Reader(b"\x00").u32()
    with pytest.raises(SerializationError, match="truncated"):
        Reader(Writer().u32(1000).getvalue()).blob()
    r = Reader(b"\x00\x01")
    r.u8()
    with pytest.raises(SerializationError, match="trailing"):
        r.finish()
    with pytest.raises(SerializationError):
        Reader(b"\xff" * 20).limbs(1, 20, width=1)  # does not fit in one limb


@given(st.lists(st.integers(min_value=0, max_value=2**256 - 1), max_size=20))
def test_fixed_width_big_endian_round_trip(values: list[int]) -> None:
    arr = ints_to_limbs(values, 4)
    data = Writer().limbs(arr, 32).getvalue()
    assert data == b"".join(v.to_bytes(32, "big") for v in values)
    back = Reader(data).limbs(len(values), 32)
    assert back.dtype == np.uint64 and limbs_to_ints(back) == values


def test_wire_format_doc_lists_every_object_type() -> None:
    """docs/wire-format.md's table of codes is the enum, entry for entry."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "wire-format.md").read_text()
    listed = {
        (int(code, 16), name)
        for code, name in re.findall(r"\| `0x([0-9a-f]{4})` \| `(\w+)` \|", doc)
    }
    assert listed == {(int(t), t.name) for t in ObjectType}


# -- typed errors and caps before allocation (issue 8: the low layers) ---------------------
def test_pack_refuses_bad_arguments_with_typed_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        pack(T, b"x", param=b"short")
    with pytest.raises(InvalidTypeError):
        pack(T, "text")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        pack(0x0101, b"x")  # type: ignore[arg-type]
    assert unpack(pack(T, bytearray(b"ab"), param=memoryview(PID)), T).payload == b"ab"


def test_writer_refuses_bad_values_with_typed_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        Writer().u8(256)
    with pytest.raises(InvalidArgumentError):
        Writer().u32(-1)
    with pytest.raises(InvalidArgumentError):
        Writer().sint(128, 1)
    with pytest.raises(InvalidTypeError):
        Writer().u16(1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        Writer().f64("1")  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        Writer().blob("text")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        Writer().big(-5)
    assert Writer().uint(np.uint64(5), 2).getvalue() == b"\x00\x05"


@pytest.mark.parametrize("obj", [5, 10**12, "text", None, [1, 2]])
def test_reader_takes_bytes_only(obj: object) -> None:
    """``Reader(10**12)`` used to allocate a terabyte of zeros (``bytes(n)``)."""
    with pytest.raises(SerializationError):
        Reader(obj)  # type: ignore[arg-type]


def test_reader_limbs_caps_the_output_before_allocating() -> None:
    """A huge count with zero-byte rows, or rows much wider than the bytes read, used to
    allocate ``count * width * 8`` bytes from a few input bytes."""
    with pytest.raises(InvalidArgumentError):
        Reader(b"").limbs(2**62, 0)
    with pytest.raises(InvalidArgumentError):
        Reader(b"\x01" * 10).limbs(10, 1, width=10**6)
    with pytest.raises(SerializationError):
        Reader(b"\x01" * 10).limbs(2**62, 1)
    arr = Reader(b"\x01" * 10).limbs(10, 1, width=2)  # one spare limb is fine
    assert arr.shape == (10, 2) and limbs_to_ints(arr) == [1] * 10
    with pytest.raises(SerializationError):
        Reader(b"\x01" * 16).limbs(1, 16, width=1)  # a value wider than the rows


def test_reader_read_lengths_are_checked() -> None:
    r = Reader(b"abc")
    with pytest.raises(InvalidArgumentError):
        r.raw(-1)
    with pytest.raises(InvalidTypeError):
        r.raw(1.0)  # type: ignore[arg-type]
    with pytest.raises(SerializationError):
        r.raw(4)
    assert r.raw(3) == b"abc"


def test_unpack_checks_the_header_before_copying() -> None:
    blob = pack(T, b"p" * 100)
    view = memoryview(bytearray(blob))
    assert unpack(view, T).payload == b"p" * 100
    assert unpack(np.frombuffer(blob, np.uint8).data, T).payload == b"p" * 100
    with pytest.raises(SerializationError, match="exceeds the limit"):
        unpack(blob, T, max_payload=99)
    huge = blob[:24] + struct.pack(">Q", 2**64 - 1) + b"p" * 100
    with pytest.raises(SerializationError):
        unpack(huge, T)
