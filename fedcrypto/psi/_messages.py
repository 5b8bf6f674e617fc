"""Typed PSI protocol messages and their wire format.

Every message is a fedcrypto envelope (``serialization.pack``) whose object type names the
message kind (0x0201..0x0208) and whose parameter id binds it to the session and suite:
``param_id(b"fedcrypto/psi", session_id, suite_id)`` where ``suite_id`` is
``fedcrypto-psi-v1:<protocol>:<group>:<reveal>``.  A message from another session, another
protocol or group, or another protocol version is rejected before its payload is parsed.

Batch payload (all integers big-endian)::

    u32 index       batch number within its stream (0, 1, 2, ...)
    u32 total       number of batches in the stream (TagReply: the index it answers)
    u32 count       number of elements in this batch (<= batch_size)
    u16 elem_size   bytes per element (fixed by the suite, checked)
    count * elem_size bytes

RSA public key payload: ``u16 len(e) || e || u16 len(n) || n`` (big-endian, minimal: no
leading zero byte; ``e`` has 1 to 4 bytes, ``n`` exactly the suite's modulus size).

:func:`decode_message` is the one door for peer bytes: malformed data raises
:class:`~fedcrypto.exceptions.SerializationError`, a well-formed message that the agreed
protocol never sends raises :class:`~fedcrypto.exceptions.RemoteProtocolError`.  Messages
are immutable values (:class:`~fedcrypto._immutable.Immutable` dataclasses) whose
constructor checks field types and ranges, so ``to_bytes`` always produces a valid frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    RemoteProtocolError,
    SerializationError,
)
from ..hazmat.groups import DH_GROUPS
from ..serialization import ObjectType, Reader, Writer, pack, param_id, unpack
from ._buckets import bucket_session_id
from ._settings import TAG_BYTES, PsiSettings, check_session_id

__all__ = [
    "PsiMessage",
    "MaskedBatch",
    "TagReply",
    "ShuffledTags",
    "RsaPublicKey",
    "BlindedBatch",
    "SignedBatch",
    "SignerTags",
    "MatchPositions",
    "BucketMessage",
    "BUCKET_MAGIC",
    "decode_message",
    "message_param",
]

_MAX_TOTAL = 1 << 31
_U32 = 1 << 32
_U16 = 1 << 16
#: Largest RSA public exponent accepted (4 bytes; ``check_public_key`` also caps it at 2^32).
_MAX_E_BYTES = 4


def message_param(settings: PsiSettings, session_id: bytes) -> bytes:
    """The 16-byte parameter id binding messages to one session and suite."""
    return param_id(b"fedcrypto/psi", check_session_id(session_id), settings.suite_id())


def element_size(settings: PsiSettings, kind: str) -> int:
    """Fixed element size in bytes of a message kind under ``settings``."""
    group = settings.resolved_group()
    if kind == "tag":
        return TAG_BYTES
    if kind == "position":
        return 8
    if settings.protocol == "ecdh":
        return 32
    if settings.protocol == "dh":
        return DH_GROUPS[group].element_bytes
    return int(group[3:]) // 8  # rsa2048 -> 256


def _check_uint(name: str, value: object, bound: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{name} must be an int")
    if not 0 <= value < bound:
        raise InvalidArgumentError(f"{name} must be in [0, {bound})")


@dataclass(frozen=True, eq=False)
class PsiMessage(Immutable):
    """Base class of PSI messages: immutable, serialized with :meth:`to_bytes`.

    ``param`` is the 16-byte session/suite binding (:func:`message_param`).

    :raises InvalidTypeError: / :raises InvalidArgumentError: from the constructor for fields
        of the wrong type or out of range (a caller bug, never peer data: peer bytes enter
        through :func:`decode_message`).
    """

    param: bytes

    OBJECT_TYPE: ClassVar[ObjectType]

    def __post_init__(self) -> None:
        if not isinstance(self.param, bytes):
            raise InvalidTypeError("param must be bytes")
        if len(self.param) != 16:
            raise InvalidArgumentError("param must be 16 bytes (see message_param)")

    def to_bytes(self) -> bytes:
        """The message as a fedcrypto envelope (type = message kind, parameter id = ``param``)."""
        return pack(self.OBJECT_TYPE, self._payload(), param=self.param)

    def _payload(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class _Batch(PsiMessage):
    """A batch of fixed-size elements (see the module docstring for the layout)."""

    index: int
    total: int
    data: bytes
    elem_size: int

    KIND: ClassVar[str] = "element"

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_uint("index", self.index, _U32)
        _check_uint("total", self.total, _U32)
        _check_uint("elem_size", self.elem_size, _U16)
        if not isinstance(self.data, bytes):
            raise InvalidTypeError("data must be bytes")
        if self.elem_size == 0 or len(self.data) % self.elem_size:
            raise InvalidArgumentError("data must hold a whole number of elem_size-byte elements")
        if len(self.data) // self.elem_size >= _U32:
            raise InvalidArgumentError("too many elements in one batch")

    @property
    def count(self) -> int:
        """Number of elements in this batch."""
        return len(self.data) // self.elem_size

    def elements(self) -> list[bytes]:
        """The elements as a list of ``elem_size``-byte strings."""
        s = self.elem_size
        return [self.data[i : i + s] for i in range(0, len(self.data), s)]

    def _payload(self) -> bytes:
        w = Writer().u32(self.index).u32(self.total).u32(self.count).u16(self.elem_size)
        return w.raw(self.data).getvalue()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(index={self.index}, total={self.total}, count={self.count})"

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> _Batch:
        r = Reader(payload)
        index, total, count, size = r.u32(), r.u32(), r.u32(), r.u16()
        expected = element_size(settings, cls.KIND)
        if size != expected:
            raise SerializationError(
                f"{cls.__name__}: element size {size}, expected {expected} for this suite"
            )
        if count > settings.batch_size:
            raise SerializationError(
                f"{cls.__name__}: {count} elements exceed the batch size {settings.batch_size}"
            )
        if total > _MAX_TOTAL or (cls is not TagReply and index >= max(total, 1)):
            raise SerializationError(f"{cls.__name__}: batch index {index} out of range")
        data = r.raw(count * size)
        r.finish()
        return cls(param=param, index=index, total=total, data=data, elem_size=size)


@dataclass(frozen=True, eq=False, repr=False)
class MaskedBatch(_Batch):
    """ECDH/DH first stage: this party's hashed items raised to its secret key (shuffled)."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_MASKED_BATCH
    KIND: ClassVar[str] = "element"


@dataclass(frozen=True, eq=False, repr=False)
class TagReply(_Batch):
    """ECDH/DH reply to the peer's MaskedBatch number ``index``: the double-masked tags in the
    peer's order when the peer learns the intersection, else empty (an acknowledgement)."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_TAG_REPLY
    KIND: ClassVar[str] = "tag"


@dataclass(frozen=True, eq=False, repr=False)
class ShuffledTags(_Batch):
    """ECDH/DH reveal ``count``: the peer's double-masked tags in a fresh random order."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_SHUFFLED_TAGS
    KIND: ClassVar[str] = "tag"


@dataclass(frozen=True, eq=False, repr=False)
class BlindedBatch(_Batch):
    """RSA: the client's blinded full-domain hashes ``H(x) * r^e mod n``."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_RSA_BLINDED_BATCH
    KIND: ClassVar[str] = "element"


@dataclass(frozen=True, eq=False, repr=False)
class SignedBatch(_Batch):
    """RSA: the signer's blind signatures ``(H(x) r^e)^d mod n`` of BlindedBatch ``index``."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_RSA_SIGNED_BATCH
    KIND: ClassVar[str] = "element"


@dataclass(frozen=True, eq=False, repr=False)
class SignerTags(_Batch):
    """RSA: tags ``T(H(y)^d)`` of the signer's own items, in a random order."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_RSA_SIGNER_TAGS
    KIND: ClassVar[str] = "tag"


@dataclass(frozen=True, eq=False, repr=False)
class MatchPositions(_Batch):
    """RSA reveal ``both``: positions (u64) in the signer's tag stream that matched."""

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_MATCH_POSITIONS
    KIND: ClassVar[str] = "position"

    def positions(self) -> npt.NDArray[np.int64]:
        """The positions as int64."""
        return np.frombuffer(self.data, dtype=">u8").astype(np.int64)


@dataclass(frozen=True, eq=False)
class RsaPublicKey(PsiMessage):
    """RSA: the signer's public key ``(n, e)`` for this session."""

    n: int
    e: int

    OBJECT_TYPE: ClassVar[ObjectType] = ObjectType.PSI_RSA_PUBLIC_KEY

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n", "e"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidTypeError(f"{name} must be an int")
        if not 0 < self.e < 1 << (8 * _MAX_E_BYTES):
            raise InvalidArgumentError(f"e must be in (0, 2^{8 * _MAX_E_BYTES})")
        if not 0 < self.n < 1 << (8 * (_U16 - 1)):
            raise InvalidArgumentError("n out of range")

    def _payload(self) -> bytes:
        e = self.e.to_bytes((self.e.bit_length() + 7) // 8, "big")
        n = self.n.to_bytes((self.n.bit_length() + 7) // 8, "big")
        return Writer().u16(len(e)).raw(e).u16(len(n)).raw(n).getvalue()

    @classmethod
    def _parse(cls, param: bytes, payload: bytes, settings: PsiSettings) -> RsaPublicKey:
        r = Reader(payload)
        e_len = r.u16()
        if not 1 <= e_len <= _MAX_E_BYTES:
            raise SerializationError(
                f"RSA public exponent of {e_len} bytes (1 to {_MAX_E_BYTES} allowed)"
            )
        e_raw = r.raw(e_len)
        n_len = r.u16()
        if n_len != element_size(settings, "element"):
            raise SerializationError("RSA modulus has the wrong size for this suite")
        n_raw = r.raw(n_len)
        r.finish()
        if e_raw[0] == 0 or n_raw[0] == 0:
            raise SerializationError("RSA public key integers must be minimally encoded")
        return cls(param=param, n=int.from_bytes(n_raw, "big"), e=int.from_bytes(e_raw, "big"))


_KINDS: dict[int, type[PsiMessage]] = {
    int(c.OBJECT_TYPE): c
    for c in (
        MaskedBatch,
        TagReply,
        ShuffledTags,
        RsaPublicKey,
        BlindedBatch,
        SignedBatch,
        SignerTags,
        MatchPositions,
    )
}
_ALLOWED: dict[str, set[type[PsiMessage]]] = {
    "ecdh": {MaskedBatch, TagReply, ShuffledTags},
    "dh": {MaskedBatch, TagReply, ShuffledTags},
    "rsa": {RsaPublicKey, BlindedBatch, SignedBatch, SignerTags, MatchPositions},
}


def decode_message(data: bytes, settings: PsiSettings, session_id: bytes) -> PsiMessage:
    """Parse one PSI message received from the peer.

    Checks the envelope (magic, version, type, session/suite binding, exact length), that
    the kind belongs to the protocol, element sizes and the batch-size bound.  Group
    membership of the elements is checked later by the party that uses them.

    With ``settings.buckets > 1`` every message is a :class:`BucketMessage` (bucket id
    checked against ``buckets``, inner message decoded with the bucket's derived session).

    :raises SerializationError: malformed, truncated, foreign or oversized data.
    :raises RemoteProtocolError: a message kind that the protocol in ``settings`` never sends.
    :raises InvalidTypeError: ``data`` is not bytes (a caller bug).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InvalidTypeError("message data must be bytes")
    data = bytes(data)
    if settings.buckets > 1:
        return _decode_bucket(data, settings, session_id)
    if len(data) < 8:
        raise SerializationError("truncated message")
    kind = int.from_bytes(data[6:8], "big")
    cls = _KINDS.get(kind)
    if cls is None:
        raise SerializationError(f"unknown PSI message type 0x{kind:04x}")
    env = unpack(data, cls.OBJECT_TYPE, expected_param=message_param(settings, session_id))
    if cls not in _ALLOWED[settings.protocol]:
        raise RemoteProtocolError(
            f"{cls.__name__} is not a message of the {settings.protocol} protocol"
        )
    try:
        return cls._parse(env.param_id, env.payload, settings)  # type: ignore[attr-defined,no-any-return]
    except (
        InvalidArgumentError,
        InvalidTypeError,
    ) as exc:  # pragma: no cover - _parse checks first
        raise SerializationError(f"{cls.__name__}: {exc}") from None


#: First bytes of a bucket frame (partitioned PSI), followed by ``u32 bucket`` and the inner
#: message bound to the bucket's derived session id.
BUCKET_MAGIC = b"FCPSB\x00\x00\x01"


@dataclass(frozen=True, eq=False)
class BucketMessage(PsiMessage):
    """Partitioned PSI: one sub-session message tagged with its bucket.

    Wire format: ``BUCKET_MAGIC || u32 bucket || inner.to_bytes()``; ``param`` is the parent
    session's binding (checked by the partitioned party), the inner message carries the
    bucket's own (see :func:`~._buckets.bucket_session_id`).
    """

    bucket: int
    inner: PsiMessage

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_uint("bucket", self.bucket, _U32)
        if not isinstance(self.inner, PsiMessage) or isinstance(self.inner, BucketMessage):
            raise InvalidTypeError("inner must be a single-session PsiMessage")

    def to_bytes(self) -> bytes:
        """``BUCKET_MAGIC || u32 bucket || inner message``."""
        return BUCKET_MAGIC + self.bucket.to_bytes(4, "big") + self.inner.to_bytes()

    def __repr__(self) -> str:
        return f"BucketMessage(bucket={self.bucket}, inner={self.inner!r})"


def _decode_bucket(data: bytes, settings: PsiSettings, session_id: bytes) -> BucketMessage:
    head = len(BUCKET_MAGIC) + 4
    if len(data) < head or data[: len(BUCKET_MAGIC)] != BUCKET_MAGIC:
        raise SerializationError("expected a bucket frame (partitioned PSI)")
    bucket = int.from_bytes(data[len(BUCKET_MAGIC) : head], "big")
    if bucket >= settings.buckets:
        raise SerializationError(
            f"bucket {bucket} out of range (the run has {settings.buckets} buckets)"
        )
    sub = settings.single_bucket()
    inner = decode_message(
        data[head:], sub, bucket_session_id(session_id, settings.buckets, bucket)
    )
    return BucketMessage(param=message_param(settings, session_id), bucket=bucket, inner=inner)
