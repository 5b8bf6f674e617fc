"""Typed, serializable round messages of the Bonawitz / SecAgg+ protocol.

Every message travels in the library envelope (``fedcrypto.serialization``) with the
object type of its round and the session's parameter id, and its payload starts with
the full 32-byte session id.  Client-to-server messages end with a length-prefixed
Ed25519 signature (empty in the honest-but-curious variant) over
``transcript(<message kind>, session id, <payload without the signature>)``.
All integers are big-endian; client ids are u32.  Layouts are in docs/secagg.md.

Parsing checks the envelope (type, version, session parameter id, exact length),
every count and length, and that no bytes are left over; any violation raises
:class:`~fedcrypto.exceptions.SerializationError`.  Semantic checks (is the sender
registered, did it already send, does the signature verify) belong to the state
machines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from ..exceptions import SerializationError
from ..serialization import MAGIC, ObjectType, Reader, Writer, pack, param_id, unpack
from ._crypto import COMMITMENT_BYTES, KEY_BYTES, transcript

__all__ = [
    "AdvertiseKeys",
    "KeyList",
    "ShareKeys",
    "ShareDelivery",
    "MaskedInput",
    "ConsistencyRequest",
    "ConsistencyCheck",
    "UnmaskRequest",
    "UnmaskResponse",
    "Message",
    "session_param",
]

_SESSION_BYTES = 32
_MAX_SIGNATURE = 64
_MAX_CIPHERTEXT = 1 << 16
_MAX_SHARE = 1 << 16

M = TypeVar("M", bound="Message")


def session_param(session_id: bytes) -> bytes:
    """The envelope parameter id of a session's messages."""
    return param_id(b"secagg", session_id)


def _write_ids(w: Writer, ids: tuple[int, ...]) -> None:
    w.u32(len(ids))
    w.raw(np.asarray(ids, dtype=">u4").tobytes())


def _read_ids(r: Reader) -> tuple[int, ...]:
    n = r.u32()
    if n * 4 > r.remaining():
        raise SerializationError("truncated id list")
    return tuple(int(i) for i in np.frombuffer(r.raw(4 * n), dtype=">u4"))


def _write_pairs(w: Writer, pairs: tuple[tuple[int, bytes], ...]) -> None:
    """``u32 count || u32 item length || count x (u32 id || item)``; all items equal length."""
    size = len(pairs[0][1]) if pairs else 0
    if any(len(item) != size for _, item in pairs):
        raise SerializationError("all items of a list must have the same length")
    w.u32(len(pairs)).u32(size)
    w.raw(b"".join([i.to_bytes(4, "big") + item for i, item in pairs]))


def _read_pairs(r: Reader, max_len: int) -> tuple[tuple[int, bytes], ...]:
    n, size = r.u32(), r.u32()
    if size > max_len:
        raise SerializationError(f"list items of {size} bytes exceed the limit of {max_len}")
    rec = 4 + size
    if n * rec > r.remaining():
        raise SerializationError("truncated list")
    raw = r.raw(n * rec)
    return tuple(
        (int.from_bytes(raw[o : o + 4], "big"), raw[o + 4 : o + rec])
        for o in range(0, n * rec, rec)
    )


@dataclass(frozen=True)
class Message(Immutable):
    """Base of all round messages: the session id every message is bound to."""

    TYPE: ClassVar[ObjectType]
    KIND: ClassVar[bytes]
    SIGNED: ClassVar[bool] = False
    #: Object types of earlier wire versions of this message, with what changed.
    RETIRED: ClassVar[dict[int, str]] = {}

    session_id: bytes

    # -- subclass hooks -------------------------------------------------------
    def _write_fields(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        raise NotImplementedError

    # -- encoding -------------------------------------------------------------
    def body(self) -> bytes:
        """The payload without the trailing signature."""
        if len(self.session_id) != _SESSION_BYTES:
            raise SerializationError("session id must be 32 bytes")
        w = Writer().raw(self.session_id)
        self._write_fields(w)
        return w.getvalue()

    def signed_transcript(self) -> bytes:
        """What the sender signs (active variant)."""
        return transcript(self.KIND, self.session_id, self.body())

    def to_bytes(self) -> bytes:
        """Serialize into the envelope."""
        payload = self.body()
        if self.SIGNED:
            payload += Writer().blob(getattr(self, "signature", b"")).getvalue()
        return pack(self.TYPE, payload, param=session_param(self.session_id))

    @classmethod
    def from_bytes(cls: type[M], data: bytes, *, session_id: bytes | None = None) -> M:
        """Parse and check a message; with ``session_id``, refuse other sessions' messages.

        Raises:
            SerializationError: wrong type, version, session, length or layout (an
                earlier, retired wire version of the message is named as such).
        """
        cls._refuse_retired(data)
        env = unpack(
            data, cls.TYPE, expected_param=None if session_id is None else session_param(session_id)
        )
        r = Reader(env.payload)
        sid = r.raw(_SESSION_BYTES)
        if env.param_id != session_param(sid):
            raise SerializationError("envelope parameter id does not match the session id")
        fields = cls._read_fields(r, sid)
        if cls.SIGNED:
            fields["signature"] = r.blob(_MAX_SIGNATURE)
        r.finish()
        return cls(session_id=sid, **fields)

    @classmethod
    def _refuse_retired(cls, data: object) -> None:
        """A clear error for an envelope of a retired wire version of this message."""
        if not cls.RETIRED or not isinstance(data, (bytes, bytearray, memoryview)):
            return
        head = bytes(data[:8])
        if len(head) == 8 and head[:4] == MAGIC:
            code = int.from_bytes(head[6:8], "big")
            if code in cls.RETIRED:
                raise SerializationError(
                    f"{cls.__name__} of a retired wire version (object type 0x{code:04x}: "
                    f"{cls.RETIRED[code]}); this build reads only object type "
                    f"0x{int(cls.TYPE):04x}: upgrade the sender"
                )


@dataclass(frozen=True)
class AdvertiseKeys(Message):
    """Round 0, client -> server: the client's two fresh X25519 public keys.

    ``enc_public`` (c_u^PK) keys the share encryption, ``mask_public`` (s_u^PK) the
    pairwise masks.  Active variant: signed with the client's long-term Ed25519 key.
    """

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_ADVERTISE_KEYS
    KIND: ClassVar[bytes] = b"advertise-keys"
    SIGNED: ClassVar[bool] = True

    sender: int
    enc_public: bytes
    mask_public: bytes
    signature: bytes = b""

    def _write_fields(self, w: Writer) -> None:
        if len(self.enc_public) != KEY_BYTES or len(self.mask_public) != KEY_BYTES:
            raise SerializationError("public keys must be 32 bytes")
        w.u32(self.sender).raw(self.enc_public).raw(self.mask_public)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {"sender": r.u32(), "enc_public": r.raw(KEY_BYTES), "mask_public": r.raw(KEY_BYTES)}


@dataclass(frozen=True)
class KeyList(Message):
    """Round 0, server -> clients: the advertisements of every client in U1 (sorted by id)."""

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_KEY_LIST
    KIND: ClassVar[bytes] = b"key-list"

    entries: tuple[AdvertiseKeys, ...]

    def _write_fields(self, w: Writer) -> None:
        w.u32(len(self.entries))
        for e in self.entries:
            if e.session_id != self.session_id:
                raise SerializationError("key list mixes sessions")
            e._write_fields(w)
            w.blob(e.signature)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        n = r.u32()
        if n * (4 + 2 * KEY_BYTES + 4) > r.remaining():
            raise SerializationError("truncated key list")
        entries = []
        for _ in range(n):
            f = AdvertiseKeys._read_fields(r, sid)
            entries.append(AdvertiseKeys(session_id=sid, signature=r.blob(_MAX_SIGNATURE), **f))
        return {"entries": tuple(entries)}


@dataclass(frozen=True)
class ShareKeys(Message):
    """Round 1, client -> server: the sender's seed commitment and one AES-GCM ciphertext
    of its two shares per holder.

    Wire version 2 (object type ``SECAGG_SHARE_KEYS_V2``): ``seed_commitment`` is
    :func:`~fedcrypto.secagg._crypto.seed_commitment` of the sender's self-mask seed
    ``b_u`` (32 bytes); the server checks every seed it reconstructs against it.
    Version 1 (``SECAGG_SHARE_KEYS``, no commitment) is refused with a
    ``SerializationError`` that says so.
    """

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_SHARE_KEYS_V2
    KIND: ClassVar[bytes] = b"share-keys/v2"
    SIGNED: ClassVar[bool] = True
    RETIRED: ClassVar[dict[int, str]] = {
        int(ObjectType.SECAGG_SHARE_KEYS): "version 1, without the self-mask seed commitment"
    }

    sender: int
    seed_commitment: bytes
    ciphertexts: tuple[tuple[int, bytes], ...] = field(repr=False)  # (receiver, ciphertext)
    signature: bytes = b""

    def _write_fields(self, w: Writer) -> None:
        if len(self.seed_commitment) != COMMITMENT_BYTES:
            raise SerializationError(f"seed commitment must be {COMMITMENT_BYTES} bytes")
        w.u32(self.sender).raw(self.seed_commitment)
        _write_pairs(w, self.ciphertexts)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {
            "sender": r.u32(),
            "seed_commitment": r.raw(COMMITMENT_BYTES),
            "ciphertexts": _read_pairs(r, _MAX_CIPHERTEXT),
        }


@dataclass(frozen=True)
class ShareDelivery(Message):
    """Round 1, server -> one client: the ciphertexts addressed to it, by sender (U2)."""

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_SHARE_DELIVERY
    KIND: ClassVar[bytes] = b"share-delivery"

    receiver: int
    ciphertexts: tuple[tuple[int, bytes], ...] = field(repr=False)  # (sender, ciphertext)

    def _write_fields(self, w: Writer) -> None:
        w.u32(self.receiver)
        _write_pairs(w, self.ciphertexts)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {"receiver": r.u32(), "ciphertexts": _read_pairs(r, _MAX_CIPHERTEXT)}


def _entry_bytes(modulus_bits: int) -> int:
    return (modulus_bits + 7) // 8


@dataclass(frozen=True, eq=False)
class MaskedInput(Message):
    """Round 2, client -> server: ``y_u = x_u + PRG(b_u) + sum_v +-PRG(s_uv) mod 2^k``.

    Each entry is sent big-endian in ``ceil(k / 8)`` bytes.
    """

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_MASKED_INPUT
    KIND: ClassVar[bytes] = b"masked-input"
    SIGNED: ClassVar[bool] = True

    sender: int
    modulus_bits: int
    vector: npt.NDArray[np.uint64] = field(repr=False)
    signature: bytes = b""

    def _write_fields(self, w: Writer) -> None:
        k = self.modulus_bits
        if not 1 <= k <= 64:
            raise SerializationError("modulus_bits must be in 1..64")
        nb = _entry_bytes(k)
        vec = np.ascontiguousarray(self.vector, dtype=np.uint64)
        if k < 64 and vec.size and int(vec.max()) >> k:
            raise SerializationError("masked input entry out of range for the modulus")
        if nb in (1, 2, 4, 8):
            raw = vec.astype(f">u{nb}").tobytes()
        else:
            raw = vec.astype(">u8").view(np.uint8).reshape(-1, 8)[:, 8 - nb :].tobytes()
        w.u32(self.sender).u8(k).u32(vec.size).raw(raw)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        sender, k, n = r.u32(), r.u8(), r.u32()
        if not 1 <= k <= 64:
            raise SerializationError("modulus_bits must be in 1..64")
        nb = _entry_bytes(k)
        if n * nb > r.remaining():
            raise SerializationError("truncated masked input")
        data = r.raw(n * nb)
        if nb in (1, 2, 4, 8):
            vec = np.frombuffer(data, dtype=f">u{nb}").astype(np.uint64)
        else:
            full = np.zeros((n, 8), dtype=np.uint8)
            full[:, 8 - nb :] = np.frombuffer(data, dtype=np.uint8).reshape(n, nb)
            vec = full.view(">u8").reshape(n).astype(np.uint64)
        if k < 64 and n and int(vec.max()) >> k:
            raise SerializationError("masked input entry out of range for the modulus")
        vec.setflags(write=False)
        return {"sender": sender, "modulus_bits": k, "vector": vec}


@dataclass(frozen=True)
class ConsistencyRequest(Message):
    """Round 3 (active), server -> clients: U3, the clients whose masked inputs it holds."""

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_CONSISTENCY_REQUEST
    KIND: ClassVar[bytes] = b"consistency-request"

    survivors: tuple[int, ...]

    def _write_fields(self, w: Writer) -> None:
        _write_ids(w, self.survivors)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {"survivors": _read_ids(r)}


def consistency_transcript(session_id: bytes, signer: int, survivors: tuple[int, ...]) -> bytes:
    """What a client signs in the ConsistencyCheck round: its id and the survivor list U3."""
    w = Writer()
    _write_ids(w, survivors)
    return transcript(b"consistency", session_id, signer.to_bytes(4, "big"), w.getvalue())


@dataclass(frozen=True)
class ConsistencyCheck(Message):
    """Round 3 (active), client -> server: the client's Ed25519 signature over U3."""

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_CONSISTENCY_CHECK
    KIND: ClassVar[bytes] = b"consistency-check"
    SIGNED: ClassVar[bool] = True

    sender: int
    signature: bytes = b""

    def _write_fields(self, w: Writer) -> None:
        w.u32(self.sender)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {"sender": r.u32()}


@dataclass(frozen=True)
class UnmaskRequest(Message):
    """Round 4, server -> clients: which shares it asks for.

    ``survivors`` (U3): owners whose self-mask seed share ``b`` is requested;
    ``dropped`` (U2 minus U3): owners whose mask-key share ``s^SK`` is requested.
    Active variant: ``signatures`` holds the ConsistencyCheck signatures over U3.
    """

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_UNMASK_REQUEST
    KIND: ClassVar[bytes] = b"unmask-request"

    survivors: tuple[int, ...]
    dropped: tuple[int, ...]
    signatures: tuple[tuple[int, bytes], ...] = ()

    def _write_fields(self, w: Writer) -> None:
        _write_ids(w, self.survivors)
        _write_ids(w, self.dropped)
        _write_pairs(w, self.signatures)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {
            "survivors": _read_ids(r),
            "dropped": _read_ids(r),
            "signatures": _read_pairs(r, _MAX_SIGNATURE),
        }


@dataclass(frozen=True)
class UnmaskResponse(Message):
    """Round 4, client -> server: the requested shares it holds, by owner.

    ``mask_shares``: shares of survivors' seeds ``b``; ``key_shares``: shares of
    dropped clients' mask keys ``s^SK``.  Each share is a serialized Shamir share.
    """

    TYPE: ClassVar[ObjectType] = ObjectType.SECAGG_UNMASK_RESPONSE
    KIND: ClassVar[bytes] = b"unmask-response"
    SIGNED: ClassVar[bool] = True

    sender: int
    mask_shares: tuple[tuple[int, bytes], ...] = field(repr=False)  # secret material
    key_shares: tuple[tuple[int, bytes], ...] = field(repr=False)  # secret material
    signature: bytes = b""

    def _write_fields(self, w: Writer) -> None:
        w.u32(self.sender)
        _write_pairs(w, self.mask_shares)
        _write_pairs(w, self.key_shares)

    @classmethod
    def _read_fields(cls, r: Reader, sid: bytes) -> dict[str, Any]:
        return {
            "sender": r.u32(),
            "mask_shares": _read_pairs(r, _MAX_SHARE),
            "key_shares": _read_pairs(r, _MAX_SHARE),
        }
