"""Messages of the intersection-sum protocol (``PsiSettings(compute="sum")``) and their door.

The run reuses the ECDH/DH messages :class:`~._messages.MaskedBatch`,
:class:`~._messages.TagReply` (an empty acknowledgement here) and
:class:`~._messages.ShuffledTags`, and adds four (object types 0x0220..0x0223, same envelope
and session binding as every PSI message; all integers big-endian):

``SumKey`` (value holder -> matcher, first message)::

    u16 columns  u16 value_bits  u16 slot_bits  u16 slots  u64 rows
    u32 len || Paillier public key (PaillierPublicKey.to_bytes)
    u16 labels (0 or columns)  labels * (u8 len || UTF-8 column name, at most 255 bytes)

``ValueBatch`` (value holder -> matcher)::

    u32 index  u32 total  u32 count  u16 elem_size  count * elem_size bytes (masked IDs)
    u32 len || EncryptedVector.to_bytes (count * ciphertexts-per-row ciphertexts, row-major)

``SumResult`` (matcher -> value holder)::

    u8 flags (1: count present, 2: below threshold)  u64 count
    u32 len || EncryptedVector.to_bytes (the summed ciphertexts, or empty)

``SumOpening`` (value holder -> matcher, only when the matcher learns the sums)::

    u16 count  u16 nbytes  count * nbytes bytes (plaintexts)

:func:`decode_sum_message` is the door for the peer's bytes: sizes are capped here, before
anything is allocated; the ciphertexts are validated by the party that knows the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    RemoteProtocolError,
    SerializationError,
)
from ..paillier import MAX_KEY_SIZE
from ..serialization import ObjectType, Reader, Writer, unpack
from ._messages import MaskedBatch, PsiMessage, ShuffledTags, TagReply, element_size, message_param
from ._settings import PsiSettings
from ._sum_layout import MAX_COLUMNS, SumLayout

__all__ = [
    "SumKey",
    "ValueBatch",
    "SumResult",
    "SumOpening",
    "decode_sum_message",
    "MAX_KEY_BYTES",
    "MAX_CIPHERTEXT_BYTES",
]

_U16 = 1 << 16
_U32 = 1 << 32
_U64 = 1 << 64
#: Largest serialized Paillier public key read (n and h_s of MAX_KEY_SIZE bits, + headers).
MAX_KEY_BYTES = 3 * (MAX_KEY_SIZE // 8) + 64
#: Largest ciphertext (mod n^2 of a MAX_KEY_SIZE modulus), in bytes.
MAX_CIPHERTEXT_BYTES = 2 * (MAX_KEY_SIZE // 8)
_ENVELOPE_OVERHEAD = 64
#: Longest column label, in UTF-8 bytes.
MAX_LABEL_BYTES = 255


def _uint(name: str, value: object, bound: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{name} must be an int")
    if not 0 <= value < bound:
        raise InvalidArgumentError(f"{name} must be in [0, {bound})")
    return value


def _bytes(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise InvalidTypeError(f"{name} must be bytes")
    return value


@dataclass(frozen=True, eq=False)
class SumKey(PsiMessage):
    """The value holder's Paillier public key (serialized) and the packing layout."""

    layout: SumLayout
    rows: int
    public_key: bytes
    labels: tuple[str, ...] = ()

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_SUM_KEY

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.layout, SumLayout):
            raise InvalidTypeError("layout must be a SumLayout")
        for name in ("columns", "value_bits", "slot_bits", "slots"):
            _uint(name, getattr(self.layout, name), _U16)
        _uint("rows", self.rows, _U64)
        _bytes("public_key", self.public_key)
        if not isinstance(self.labels, tuple) or not all(isinstance(x, str) for x in self.labels):
            raise InvalidTypeError("labels must be a tuple of str")
        if self.labels and len(self.labels) != self.layout.columns:
            raise InvalidArgumentError("one label per value column, or none")
        if any(len(x.encode("utf-8")) > MAX_LABEL_BYTES for x in self.labels):
            raise InvalidArgumentError(f"a column label is longer than {MAX_LABEL_BYTES} bytes")

    def _payload(self) -> bytes:
        lay = self.layout
        w = Writer().u16(lay.columns).u16(lay.value_bits).u16(lay.slot_bits).u16(lay.slots)
        w.u64(self.rows).blob(self.public_key).u16(len(self.labels))
        for label in self.labels:
            raw = label.encode("utf-8")
            w.u8(len(raw)).raw(raw)
        return w.getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> SumKey:
        r = Reader(payload)
        columns, value_bits, slot_bits, slots = r.u16(), r.u16(), r.u16(), r.u16()
        rows = r.u64()
        key = r.blob(MAX_KEY_BYTES)
        if not 1 <= columns <= MAX_COLUMNS or not 1 <= slots <= columns or not value_bits:
            raise SerializationError("SumKey: layout out of range")
        nlabels = r.u16()
        if nlabels not in (0, columns):
            raise SerializationError("SumKey: one label per value column, or none")
        labels = []
        for _ in range(nlabels):
            raw = r.raw(r.u8())
            try:
                labels.append(raw.decode("utf-8"))
            except UnicodeDecodeError:
                raise SerializationError("SumKey: a column label is not UTF-8") from None
        r.finish()
        layout = SumLayout(columns=columns, value_bits=value_bits, slot_bits=slot_bits, slots=slots)
        return cls(param=param, layout=layout, rows=rows, public_key=key, labels=tuple(labels))

    def __repr__(self) -> str:
        return f"SumKey(layout={self.layout}, rows={self.rows})"


@dataclass(frozen=True, eq=False)
class ValueBatch(PsiMessage):
    """A batch of the value holder's rows: masked IDs and their encrypted (packed) values."""

    index: int
    total: int
    elements: bytes
    elem_size: int
    ciphertexts: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_SUM_VALUE_BATCH

    def __post_init__(self) -> None:
        super().__post_init__()
        _uint("index", self.index, _U32)
        _uint("total", self.total, _U32)
        _uint("elem_size", self.elem_size, _U16)
        _bytes("elements", self.elements)
        _bytes("ciphertexts", self.ciphertexts)
        if self.elem_size == 0 or len(self.elements) % self.elem_size:
            raise InvalidArgumentError("elements must hold whole elem_size-byte elements")

    @property
    def count(self) -> int:
        """Rows in this batch."""
        return len(self.elements) // self.elem_size

    def element_list(self) -> list[bytes]:
        """The masked IDs as a list of ``elem_size``-byte strings."""
        s = self.elem_size
        return [self.elements[i : i + s] for i in range(0, len(self.elements), s)]

    def _payload(self) -> bytes:
        w = Writer().u32(self.index).u32(self.total).u32(self.count).u16(self.elem_size)
        return w.raw(self.elements).blob(self.ciphertexts).getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> ValueBatch:
        r = Reader(payload)
        index, total, count, size = r.u32(), r.u32(), r.u32(), r.u16()
        expected = element_size(settings, "element")
        if size != expected:
            raise SerializationError(f"ValueBatch: element size {size}, expected {expected}")
        if count > settings.batch_size:
            raise SerializationError(
                f"ValueBatch: {count} rows exceed the batch size {settings.batch_size}"
            )
        if index >= max(total, 1):
            raise SerializationError(f"ValueBatch: batch index {index} out of range")
        elements = r.raw(count * size)
        cap = count * MAX_COLUMNS * MAX_CIPHERTEXT_BYTES + _ENVELOPE_OVERHEAD
        cts = r.blob(cap)
        r.finish()
        return cls(
            param=param,
            index=index,
            total=total,
            elements=elements,
            elem_size=size,
            ciphertexts=cts,
        )

    def __repr__(self) -> str:
        return f"ValueBatch(index={self.index}, total={self.total}, count={self.count})"


@dataclass(frozen=True, eq=False)
class SumResult(PsiMessage):
    """The matcher's answer: the summed ciphertexts (re-randomized, maybe masked), and the
    intersection size when the value holder learns it."""

    has_count: bool
    below_threshold: bool
    count: int
    ciphertexts: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_SUM_RESULT

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("has_count", "below_threshold"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidTypeError(f"{name} must be a bool")
        _uint("count", self.count, _U64)
        _bytes("ciphertexts", self.ciphertexts)

    def _payload(self) -> bytes:
        flags = int(self.has_count) | (2 * int(self.below_threshold))
        return Writer().u8(flags).u64(self.count).blob(self.ciphertexts).getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> SumResult:
        r = Reader(payload)
        flags, count = r.u8(), r.u64()
        cts = r.blob(MAX_COLUMNS * MAX_CIPHERTEXT_BYTES + _ENVELOPE_OVERHEAD)
        r.finish()
        if flags > 3:
            raise SerializationError("SumResult: unknown flags")
        return cls(
            param=param,
            has_count=bool(flags & 1),
            below_threshold=bool(flags & 2),
            count=count,
            ciphertexts=cts,
        )

    def __repr__(self) -> str:
        return f"SumResult(has_count={self.has_count}, below_threshold={self.below_threshold})"


@dataclass(frozen=True, eq=False)
class SumOpening(PsiMessage):
    """The value holder's decryption of the (masked) sums, for a matcher that learns them."""

    plaintexts: tuple[int, ...]
    nbytes: int

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_SUM_OPENING

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.plaintexts, tuple):
            raise InvalidTypeError("plaintexts must be a tuple of ints")
        if len(self.plaintexts) > MAX_COLUMNS:
            raise InvalidArgumentError("too many plaintexts")
        _uint("nbytes", self.nbytes, MAX_CIPHERTEXT_BYTES + 1)
        for v in self.plaintexts:
            _uint("plaintext", v, 1 << (8 * self.nbytes))

    def _payload(self) -> bytes:
        w = Writer().u16(len(self.plaintexts)).u16(self.nbytes)
        for v in self.plaintexts:
            w.uint(v, self.nbytes)
        return w.getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> SumOpening:
        r = Reader(payload)
        count, nbytes = r.u16(), r.u16()
        if count > MAX_COLUMNS or nbytes > MAX_CIPHERTEXT_BYTES:
            raise SerializationError("SumOpening: too many or too large plaintexts")
        values = tuple(r.uint(nbytes) for _ in range(count))
        r.finish()
        return cls(param=param, plaintexts=values, nbytes=nbytes)

    def __repr__(self) -> str:
        return f"SumOpening(count={len(self.plaintexts)})"


_KINDS: dict[int, type[PsiMessage]] = {
    int(c.OBJECT_TYPE): c
    for c in (MaskedBatch, TagReply, ShuffledTags, SumKey, ValueBatch, SumResult, SumOpening)
}


def decode_sum_message(data: bytes, settings: PsiSettings, session_id: bytes) -> PsiMessage:
    """Parse one message of an intersection-sum run received from the peer.

    :raises SerializationError: malformed, truncated, foreign or oversized data.
    :raises RemoteProtocolError: a message kind the sum protocol never sends.
    :raises InvalidArgumentError: ``settings`` are not for compute ``"sum"`` (a caller bug).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError("message data must be bytes")
    if settings.compute != "sum":
        raise InvalidArgumentError("decode_sum_message needs PsiSettings(compute='sum')")
    data = bytes(data)
    if len(data) < 8:
        raise SerializationError("truncated message")
    kind = int.from_bytes(data[6:8], "big")
    cls = _KINDS.get(kind)
    if cls is None:
        if 0x0200 <= kind < 0x0300:
            raise RemoteProtocolError(
                f"PSI message type 0x{kind:04x} is not part of the intersection-sum protocol"
            )
        raise SerializationError(f"unknown PSI message type 0x{kind:04x}")
    env = unpack(data, cls.OBJECT_TYPE, expected_param=message_param(settings, session_id))
    try:
        return cls._parse(env.param_id, env.payload, settings)  # type: ignore[attr-defined,no-any-return]
    except (InvalidArgumentError, InvalidTypeError) as exc:
        raise SerializationError(f"{cls.__name__}: {exc}") from None
