"""Tests of the versioned envelope and the fixed-width field writer/reader."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fedcrypto._backend._limbs import ints_to_limbs, limbs_to_ints
from fedcrypto.exceptions import SerializationError
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
