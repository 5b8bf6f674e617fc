"""Typed multi-party PSI messages and their wire format (version 1).

Every message is a fedcrypto envelope (``serialization.pack``) whose object type names the
kind (0x0281..0x0283) and whose parameter id binds it to the session, the suite and the
party count: ``param_id(b"fedcrypto/mpsi", session_id, suite_id)`` with ``suite_id`` =
``fedcrypto-mpsi-v1:<protocol>:<group>:<reveal>:<receiver>:<parties>``.

Every payload starts with ``u16 sender || u16 dest`` (party indices, ``sender != dest``, both
below the party count), so a relay can route a message without understanding it.  Then
(all integers big-endian):

``MpKeyShare`` (0x0281)
    ``32 bytes``: the sender's ephemeral X25519 public key for the pairwise zero-sharing seeds.
``MpRingBatch`` (0x0282)
    ``u16 origin || u16 hop || u32 index || u32 total || u32 count || u16 elem_size ||
    count * elem_size bytes``: batch ``index`` of ``total`` of the set owned by ``origin``
    after ``hop`` parties (owner included) masked it.
``MpOkvsBatch`` (0x0283)
    ``u32 nonce || u32 cells || u32 index || u32 total || u32 count || count * 16 bytes``:
    a slice of the sender's oblivious key-value table of ``cells`` 16-byte cells built with
    hash ``nonce``.

:func:`decode_mp_message` is the one door for peer bytes (sizes and indices checked against
the settings and caps before the payload is copied).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from ..hazmat.groups import DH_GROUPS
from ..serialization import ObjectType, Reader, Writer, pack, param_id, unpack
from ._mp_settings import MAX_PARTIES, MAX_SET_SIZE, MultipartySettings
from ._settings import check_session_id

__all__ = [
    "MpMessage",
    "MpKeyShare",
    "MpRingBatch",
    "MpOkvsBatch",
    "OKVS_CELL_BYTES",
    "decode_mp_message",
    "mp_message_param",
    "mp_element_size",
]

OKVS_CELL_BYTES = 16
_U16 = 1 << 16
_U32 = 1 << 32
#: Most cells a table may have: 1.25 * MAX_SET_SIZE plus slack (see ``_mp_okvs``).
MAX_OKVS_CELLS = (MAX_SET_SIZE * 5) // 4 + 1024


def mp_message_param(settings: MultipartySettings, parties: int, session_id: bytes) -> bytes:
    """The 16-byte parameter id binding messages to one session, suite and party count."""
    return param_id(b"fedcrypto/mpsi", check_session_id(session_id), settings.suite_id(parties))


def mp_element_size(settings: MultipartySettings) -> int:
    """Bytes of one group element under ``settings``."""
    if settings.protocol == "dh":
        return DH_GROUPS[settings.resolved_group()].element_bytes
    return 32


def _uint(name: str, value: object, bound: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{name} must be an int")
    if not 0 <= value < bound:
        raise InvalidArgumentError(f"{name} must be in [0, {bound})")


@dataclass(frozen=True, eq=False)
class MpMessage(Immutable):
    """Base of multi-party PSI messages: ``param`` binding, ``sender`` and ``dest`` indices."""

    param: bytes
    sender: int
    dest: int

    OBJECT_TYPE: ClassVar[ObjectType]

    def __post_init__(self) -> None:
        if not isinstance(self.param, bytes) or len(self.param) != 16:
            raise InvalidArgumentError("param must be 16 bytes (see mp_message_param)")
        _uint("sender", self.sender, MAX_PARTIES)
        _uint("dest", self.dest, MAX_PARTIES)
        if self.sender == self.dest:
            raise InvalidArgumentError("a message cannot be addressed to its sender")

    def to_bytes(self) -> bytes:
        """The message as a fedcrypto envelope."""
        w = Writer().u16(self.sender).u16(self.dest)
        return pack(self.OBJECT_TYPE, w.getvalue() + self._body(), param=self.param)

    def _body(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(sender={self.sender}, dest={self.dest})"


@dataclass(frozen=True, eq=False, repr=False)
class MpKeyShare(MpMessage):
    """The sender's ephemeral X25519 public key (pairwise seeds for zero-sharing)."""

    public_key: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_MP_KEY_SHARE

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.public_key, bytes) or len(self.public_key) != 32:
            raise InvalidArgumentError("public_key must be 32 bytes")

    def _body(self) -> bytes:
        return self.public_key


@dataclass(frozen=True, eq=False, repr=False)
class MpRingBatch(MpMessage):
    """A batch of the set owned by ``origin``, masked by ``hop`` parties so far."""

    origin: int
    hop: int
    index: int
    total: int
    data: bytes
    elem_size: int

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_MP_RING_BATCH

    def __post_init__(self) -> None:
        super().__post_init__()
        _uint("origin", self.origin, MAX_PARTIES)
        _uint("hop", self.hop, MAX_PARTIES + 1)
        _uint("index", self.index, _U32)
        _uint("total", self.total, _U32)
        _uint("elem_size", self.elem_size, _U16)
        if not isinstance(self.data, bytes):
            raise InvalidTypeError("data must be bytes")
        if self.elem_size == 0 or len(self.data) % self.elem_size:
            raise InvalidArgumentError("data must hold whole elements")

    @property
    def count(self) -> int:
        """Elements in this batch."""
        return len(self.data) // self.elem_size

    def _body(self) -> bytes:
        w = Writer().u16(self.origin).u16(self.hop).u32(self.index).u32(self.total)
        return w.u32(self.count).u16(self.elem_size).raw(self.data).getvalue()

    def __repr__(self) -> str:
        return (
            f"MpRingBatch(sender={self.sender}, dest={self.dest}, origin={self.origin}, "
            f"hop={self.hop}, index={self.index}, total={self.total}, count={self.count})"
        )


@dataclass(frozen=True, eq=False, repr=False)
class MpOkvsBatch(MpMessage):
    """A slice (``index`` of ``total``) of the sender's table of ``cells`` cells."""

    nonce: int
    cells: int
    index: int
    total: int
    data: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_MP_OKVS_BATCH

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("nonce", "cells", "index", "total"):
            _uint(name, getattr(self, name), _U32)
        if not isinstance(self.data, bytes) or len(self.data) % OKVS_CELL_BYTES:
            raise InvalidArgumentError("data must hold whole 16-byte cells")

    @property
    def count(self) -> int:
        """Cells in this batch."""
        return len(self.data) // OKVS_CELL_BYTES

    def _body(self) -> bytes:
        w = Writer().u32(self.nonce).u32(self.cells).u32(self.index).u32(self.total)
        return w.u32(self.count).raw(self.data).getvalue()

    def __repr__(self) -> str:
        return (
            f"MpOkvsBatch(sender={self.sender}, dest={self.dest}, cells={self.cells}, "
            f"index={self.index}, total={self.total}, count={self.count})"
        )


_KINDS: dict[int, type[MpMessage]] = {
    int(c.OBJECT_TYPE): c for c in (MpKeyShare, MpRingBatch, MpOkvsBatch)
}


def decode_mp_message(
    data: bytes, settings: MultipartySettings, parties: int, session_id: bytes
) -> MpMessage:
    """Parse one multi-party PSI message from a peer (or relayed by the leader).

    Checks the envelope (type, session/suite/party-count binding, exact length), party
    indices, element size, batch-size bound and table-size cap.  Group membership, order
    and counts against announced sizes are checked by the party that uses the message.

    :raises SerializationError: malformed, truncated, foreign or oversized data.
    :raises InvalidTypeError: ``data`` is not bytes (a caller bug).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError("message data must be bytes")
    data = bytes(data)
    if len(data) < 8:
        raise SerializationError("truncated message")
    cls = _KINDS.get(int.from_bytes(data[6:8], "big"))
    if cls is None:
        raise SerializationError("not a multi-party PSI message")
    env = unpack(
        data, cls.OBJECT_TYPE, expected_param=mp_message_param(settings, parties, session_id)
    )
    r = Reader(env.payload)
    sender, dest = r.u16(), r.u16()
    if sender >= parties or dest >= parties or sender == dest:
        raise SerializationError(f"bad party indices {sender} -> {dest} for {parties} parties")
    p = env.param_id
    if cls is MpKeyShare:
        key = r.raw(32)
        r.finish()
        return MpKeyShare(param=p, sender=sender, dest=dest, public_key=key)
    if cls is MpRingBatch:
        origin, hop, index, total, count, size = (
            r.u16(),
            r.u16(),
            r.u32(),
            r.u32(),
            r.u32(),
            r.u16(),
        )
        if origin >= parties or not 1 <= hop <= parties:
            raise SerializationError(f"ring batch with origin {origin}, hop {hop} out of range")
        if size != mp_element_size(settings):
            raise SerializationError(f"element size {size} does not match the suite")
        if count > settings.batch_size or index >= total or total > MAX_SET_SIZE:
            raise SerializationError("ring batch index, total or count out of range")
        body = r.raw(count * size)
        r.finish()
        return MpRingBatch(
            param=p,
            sender=sender,
            dest=dest,
            origin=origin,
            hop=hop,
            index=index,
            total=total,
            data=body,
            elem_size=size,
        )
    nonce, cells, index, total, count = r.u32(), r.u32(), r.u32(), r.u32(), r.u32()
    if cells > MAX_OKVS_CELLS or count > settings.batch_size or index >= total:
        raise SerializationError("table batch index, size or count out of range")
    body = r.raw(count * OKVS_CELL_BYTES)
    r.finish()
    return MpOkvsBatch(
        param=p,
        sender=sender,
        dest=dest,
        nonce=nonce,
        cells=cells,
        index=index,
        total=total,
        data=body,
    )
