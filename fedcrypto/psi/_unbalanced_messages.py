"""Messages of unbalanced PSI (a reusable server cache + OPRF queries) and their door.

All use the fedcrypto envelope with the fixed parameter id :data:`UNBALANCED_PARAM` (there is
no per-session transcript: the key epoch, carried in the payloads, binds cache and answers).
Integers big-endian; object types 0x0230..0x0234, version 1:

``CacheRequest`` (client): empty.
``CacheHeader`` (server)::  16-byte epoch  u8 tag_bytes (8)  u64 count  u32 chunks
``CacheChunk`` (server)::   u32 index  u32 total  u32 count  count * 8-byte tags (sorted)
``OprfRequest`` (client)::  16-byte epoch  u32 index  u32 total  u32 count  count * 32 bytes
``OprfResponse`` (server):: u8 status (0 ok, 1 stale epoch)  16-byte epoch  u32 index
                            u32 total  u32 count  count * 32 bytes

:func:`decode_unbalanced_message` checks every count against :data:`MAX_QUERY_BATCH` /
:data:`MAX_CACHE_CHUNK` before reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from ..serialization import ObjectType, Reader, Writer, param_id, unpack
from ._messages import PsiMessage

__all__ = [
    "UNBALANCED_PARAM",
    "EPOCH_BYTES",
    "CACHE_TAG_BYTES",
    "MAX_QUERY_BATCH",
    "MAX_CACHE_CHUNK",
    "MAX_CACHE_IDS",
    "CacheRequest",
    "CacheHeader",
    "CacheChunk",
    "OprfRequest",
    "OprfResponse",
    "decode_unbalanced_message",
]

UNBALANCED_PARAM = param_id(b"fedcrypto/psi-unbalanced", b"v1", b"curve25519")
EPOCH_BYTES = 16
#: Truncated tag per server ID in the cache (see docs/psi-compute.md for the bound).
CACHE_TAG_BYTES = 8
#: Most blinded elements in one OprfRequest.
MAX_QUERY_BATCH = 1 << 16
#: Most tags in one CacheChunk (8 MiB).
MAX_CACHE_CHUNK = 1 << 20
#: Most IDs a cache may announce (2^34 tags = 128 GiB; a client also checks its own budget).
MAX_CACHE_IDS = 1 << 34
_U32 = 1 << 32
_ELEM = 32


def _check(name: str, v: object, bound: int) -> None:
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidTypeError(f"{name} must be an int")
    if not 0 <= v < bound:
        raise InvalidArgumentError(f"{name} out of range")


def _epoch(v: object) -> None:
    if not isinstance(v, bytes) or len(v) != EPOCH_BYTES:
        raise InvalidArgumentError(f"epoch must be {EPOCH_BYTES} bytes")


@dataclass(frozen=True, eq=False)
class CacheRequest(PsiMessage):
    """The client asks for the current cache."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_CACHE_REQUEST

    def _payload(self) -> bytes:
        return b""

    @classmethod
    def _parse(cls, param: bytes, payload: bytes) -> CacheRequest:
        if payload:
            raise SerializationError("CacheRequest carries no payload")
        return cls(param=param)


@dataclass(frozen=True, eq=False)
class CacheHeader(PsiMessage):
    """The cache's key epoch, number of tags and number of chunks that follow."""

    epoch: bytes
    count: int
    chunks: int

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_CACHE_HEADER

    def __post_init__(self) -> None:
        super().__post_init__()
        _epoch(self.epoch)
        _check("count", self.count, MAX_CACHE_IDS + 1)
        _check("chunks", self.chunks, _U32)

    def _payload(self) -> bytes:
        w = Writer().raw(self.epoch).u8(CACHE_TAG_BYTES).u64(self.count).u32(self.chunks)
        return w.getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes) -> CacheHeader:
        r = Reader(payload)
        epoch, tag_bytes, count, chunks = r.raw(EPOCH_BYTES), r.u8(), r.u64(), r.u32()
        r.finish()
        if tag_bytes != CACHE_TAG_BYTES:
            raise SerializationError(f"cache tags of {tag_bytes} bytes (expected 8)")
        if count > MAX_CACHE_IDS:
            raise SerializationError("the cache announces too many IDs")
        if chunks != max(1, -(-count // MAX_CACHE_CHUNK)):
            raise SerializationError("the cache announces an impossible number of chunks")
        return cls(param=param, epoch=epoch, count=count, chunks=chunks)


@dataclass(frozen=True, eq=False)
class CacheChunk(PsiMessage):
    """A run of the cache's sorted 8-byte tags."""

    index: int
    total: int
    data: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_CACHE_CHUNK

    def __post_init__(self) -> None:
        super().__post_init__()
        _check("index", self.index, _U32)
        _check("total", self.total, _U32)
        if not isinstance(self.data, bytes) or len(self.data) % CACHE_TAG_BYTES:
            raise InvalidArgumentError("data must hold whole 8-byte tags")
        if len(self.data) // CACHE_TAG_BYTES > MAX_CACHE_CHUNK:
            raise InvalidArgumentError("too many tags in one chunk")

    @property
    def count(self) -> int:
        """Tags in this chunk."""
        return len(self.data) // CACHE_TAG_BYTES

    def _payload(self) -> bytes:
        w = Writer().u32(self.index).u32(self.total).u32(self.count)
        return w.raw(self.data).getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes) -> CacheChunk:
        r = Reader(payload)
        index, total, count = r.u32(), r.u32(), r.u32()
        if count > MAX_CACHE_CHUNK or index >= max(total, 1):
            raise SerializationError("CacheChunk: count or index out of range")
        data = r.raw(count * CACHE_TAG_BYTES)
        r.finish()
        return cls(param=param, index=index, total=total, data=data)


@dataclass(frozen=True, eq=False)
class OprfRequest(PsiMessage):
    """A batch of the client's blinded IDs, for the key epoch of its cache."""

    epoch: bytes
    index: int
    total: int
    data: bytes

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_OPRF_REQUEST

    def __post_init__(self) -> None:
        super().__post_init__()
        _epoch(self.epoch)
        _check("index", self.index, _U32)
        _check("total", self.total, _U32)
        if not isinstance(self.data, bytes) or len(self.data) % _ELEM:
            raise InvalidArgumentError("data must hold whole 32-byte elements")
        if len(self.data) // _ELEM > MAX_QUERY_BATCH:
            raise InvalidArgumentError("too many elements in one request")

    @property
    def count(self) -> int:
        """Blinded elements in this request."""
        return len(self.data) // _ELEM

    def elements(self) -> list[bytes]:
        """The elements as 32-byte strings."""
        return [self.data[i : i + _ELEM] for i in range(0, len(self.data), _ELEM)]

    def _payload(self) -> bytes:
        w = Writer().raw(self.epoch).u32(self.index).u32(self.total).u32(self.count)
        return w.raw(self.data).getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes) -> OprfRequest:
        r = Reader(payload)
        epoch, index, total, count = r.raw(EPOCH_BYTES), r.u32(), r.u32(), r.u32()
        if count > MAX_QUERY_BATCH or index >= max(total, 1):
            raise SerializationError("OprfRequest: count or index out of range")
        data = r.raw(count * _ELEM)
        r.finish()
        return cls(param=param, epoch=epoch, index=index, total=total, data=data)


@dataclass(frozen=True, eq=False)
class OprfResponse(OprfRequest):
    """The server's evaluations of request ``index`` (in order), or ``stale`` when the
    client's epoch is not the server's (then ``data`` is empty)."""

    stale: bool = False

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_OPRF_RESPONSE

    def _payload(self) -> bytes:
        return bytes([int(self.stale)]) + super()._payload()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes) -> OprfResponse:
        if not payload or payload[0] > 1:
            raise SerializationError("OprfResponse: bad status")
        inner = OprfRequest._parse(param, payload[1:])
        return cls(
            param=param,
            epoch=inner.epoch,
            index=inner.index,
            total=inner.total,
            data=inner.data,
            stale=bool(payload[0]),
        )


_KINDS: dict[int, type[PsiMessage]] = {
    int(c.OBJECT_TYPE): c
    for c in (CacheRequest, CacheHeader, CacheChunk, OprfRequest, OprfResponse)
}


def decode_unbalanced_message(data: bytes) -> PsiMessage:
    """Parse one unbalanced-PSI message from the peer.

    :raises SerializationError: malformed, truncated, foreign or oversized data.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError("message data must be bytes")
    data = bytes(data)
    if len(data) < 8:
        raise SerializationError("truncated message")
    kind = int.from_bytes(data[6:8], "big")
    cls = _KINDS.get(kind)
    if cls is None:
        raise SerializationError(f"message type 0x{kind:04x} is not part of unbalanced PSI")
    env = unpack(data, cls.OBJECT_TYPE, expected_param=UNBALANCED_PARAM)
    try:
        return cls._parse(env.param_id, env.payload)  # type: ignore[attr-defined,no-any-return]
    except (InvalidArgumentError, InvalidTypeError) as exc:
        raise SerializationError(f"{cls.__name__}: {exc}") from None
