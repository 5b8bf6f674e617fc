"""Messages of payload transfer (PSI with associated data) and their door.

The receiver's blinded IDs travel as :class:`~._messages.MaskedBatch`; acknowledgements are
empty :class:`~._messages.TagReply` messages.  Added (object types 0x0228..0x022a, the PSI
envelope and session binding; integers big-endian):

``EvaluatedBatch`` (sender -> receiver): the OPRF evaluations of the receiver's batch
``index``, in order (the :class:`~._messages.MaskedBatch` layout, 32-byte elements).

``PayloadBatch`` (sender -> receiver)::

    u32 index  u32 total  u32 count
    count * 16 bytes   tags T(F(y)) of the sender's rows (shuffled)
    count * (u32 len || AES-256-GCM ciphertext of the row's payload, 16-byte tag included)

``PayloadPositions`` (receiver -> sender, reveal ``both``): u64 positions in the sender's
shuffled row stream that matched (the :class:`~._messages.MatchPositions` layout).

:func:`decode_payload_message` is the door: counts, lengths and the per-payload cap
(:data:`MAX_PAYLOAD_BYTES`) are checked before anything is allocated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    RemoteProtocolError,
    SerializationError,
)
from ..serialization import ObjectType, Reader, Writer, unpack
from ._messages import MaskedBatch, PsiMessage, TagReply, _Batch, message_param
from ._settings import TAG_BYTES, PsiSettings

__all__ = [
    "EvaluatedBatch",
    "PayloadBatch",
    "PayloadPositions",
    "decode_payload_message",
    "MAX_PAYLOAD_BYTES",
    "GCM_TAG_BYTES",
]

#: Largest plaintext payload of one row (its encoded columns), in bytes.
MAX_PAYLOAD_BYTES = 1 << 16
GCM_TAG_BYTES = 16
_U32 = 1 << 32


@dataclass(frozen=True, eq=False, repr=False)
class EvaluatedBatch(_Batch):
    """The sender's OPRF evaluations of the receiver's blinded batch ``index``, in order."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_PAYLOAD_EVALUATED
    KIND: ClassVar[str] = "element"


@dataclass(frozen=True, eq=False, repr=False)
class PayloadPositions(_Batch):
    """Reveal ``both``: positions (u64) in the sender's row stream that matched."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_PAYLOAD_POSITIONS
    KIND: ClassVar[str] = "position"

    def positions(self) -> npt.NDArray[np.int64]:
        """The positions as int64."""
        return np.frombuffer(self.data, dtype=">u8").astype(np.int64)


@dataclass(frozen=True, eq=False)
class PayloadBatch(PsiMessage):
    """A batch of the sender's rows: match tags and encrypted payloads, in shuffled order."""

    index: int
    total: int
    tags: bytes
    ciphertexts: tuple[bytes, ...]

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_PAYLOAD_BATCH

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("index", "total"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidTypeError(f"{name} must be an int")
            if not 0 <= v < _U32:
                raise InvalidArgumentError(f"{name} out of range")
        if not isinstance(self.tags, bytes) or not isinstance(self.ciphertexts, tuple):
            raise InvalidTypeError("tags must be bytes and ciphertexts a tuple of bytes")
        if len(self.tags) != TAG_BYTES * len(self.ciphertexts):
            raise InvalidArgumentError("one 16-byte tag per ciphertext")
        for c in self.ciphertexts:
            if not isinstance(c, bytes):
                raise InvalidTypeError("ciphertexts must be bytes")
            if not GCM_TAG_BYTES <= len(c) <= MAX_PAYLOAD_BYTES + GCM_TAG_BYTES:
                raise InvalidArgumentError("payload ciphertext size out of range")

    @property
    def count(self) -> int:
        """Rows in this batch."""
        return len(self.ciphertexts)

    def _payload(self) -> bytes:
        w = Writer().u32(self.index).u32(self.total).u32(self.count).raw(self.tags)
        for c in self.ciphertexts:
            w.blob(c)
        return w.getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> PayloadBatch:
        r = Reader(payload)
        index, total, count = r.u32(), r.u32(), r.u32()
        if count > settings.batch_size:
            raise SerializationError(
                f"PayloadBatch: {count} rows exceed the batch size {settings.batch_size}"
            )
        if index >= max(total, 1):
            raise SerializationError(f"PayloadBatch: batch index {index} out of range")
        tags = r.raw(count * TAG_BYTES)
        cts = []
        for _ in range(count):
            c = r.blob(MAX_PAYLOAD_BYTES + GCM_TAG_BYTES)
            if len(c) < GCM_TAG_BYTES:
                raise SerializationError("PayloadBatch: payload shorter than its GCM tag")
            cts.append(c)
        r.finish()
        return cls(param=param, index=index, total=total, tags=tags, ciphertexts=tuple(cts))

    def __repr__(self) -> str:
        return f"PayloadBatch(index={self.index}, total={self.total}, count={self.count})"


_KINDS: dict[int, type[PsiMessage]] = {
    int(c.OBJECT_TYPE): c
    for c in (MaskedBatch, TagReply, EvaluatedBatch, PayloadBatch, PayloadPositions)
}


def decode_payload_message(data: bytes, settings: PsiSettings, session_id: bytes) -> PsiMessage:
    """Parse one message of a payload-transfer run received from the peer.

    :raises SerializationError: malformed, truncated, foreign or oversized data.
    :raises RemoteProtocolError: a message kind this protocol never sends.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError("message data must be bytes")
    data = bytes(data)
    if len(data) < 8:
        raise SerializationError("truncated message")
    kind = int.from_bytes(data[6:8], "big")
    cls = _KINDS.get(kind)
    if cls is None:
        if 0x0200 <= kind < 0x0300:
            raise RemoteProtocolError(
                f"PSI message type 0x{kind:04x} is not part of payload transfer"
            )
        raise SerializationError(f"unknown PSI message type 0x{kind:04x}")
    env = unpack(data, cls.OBJECT_TYPE, expected_param=message_param(settings, session_id))
    try:
        return cls._parse(env.param_id, env.payload, settings)  # type: ignore[attr-defined,no-any-return]
    except (InvalidArgumentError, InvalidTypeError) as exc:
        raise SerializationError(f"{cls.__name__}: {exc}") from None
