"""The versioned binary envelope every serialized fedcrypto object uses.

Layout (all integers big-endian; documented in ``docs/wire-format.md``)::

    offset  size  field
    0       4     magic  b"FCRY"
    4       2     format version (currently 1)
    6       2     object type (see :class:`ObjectType`)
    8       16    parameter id: identifies the key / group / session the object
                  belongs to (e.g. a key fingerprint); all zero when none
    24      8     payload length L
    32      L     payload (object specific, built with :class:`Writer`)

Nothing is ever pickled.  :func:`unpack` checks magic, version, type, parameter id
(when expected) and exact length, and raises
:class:`~fedcrypto.exceptions.SerializationError` on any mismatch.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from dataclasses import dataclass

from ._backend._limbs import LimbArray, be_bytes_to_limbs, limbs_to_be_bytes
from .exceptions import SerializationError

__all__ = [
    "MAGIC",
    "FORMAT_VERSION",
    "PARAM_ID_BYTES",
    "ObjectType",
    "Envelope",
    "pack",
    "unpack",
    "param_id",
    "Writer",
    "Reader",
]

MAGIC = b"FCRY"
FORMAT_VERSION = 1
PARAM_ID_BYTES = 16
_HEADER = struct.Struct(">4sHH16sQ")
#: Refuse payloads above this size unless the caller raises the limit (4 GiB).
DEFAULT_MAX_PAYLOAD = 1 << 32


class ObjectType(enum.IntEnum):
    """Object type codes.  Ranges: 0x01xx Paillier, 0x02xx PSI, 0x03xx sharing, 0x04xx secagg.

    Codes are part of the wire format: never renumber, only add.
    """

    PAILLIER_PUBLIC_KEY = 0x0101
    PAILLIER_PRIVATE_KEY = 0x0102
    PAILLIER_ENCRYPTED_VECTOR = 0x0103
    PAILLIER_PACKED_VECTOR = 0x0104
    PSI_MASKED_BATCH = 0x0201
    PSI_TAG_REPLY = 0x0202
    PSI_SHUFFLED_TAGS = 0x0203
    PSI_RSA_PUBLIC_KEY = 0x0204
    PSI_RSA_BLINDED_BATCH = 0x0205
    PSI_RSA_SIGNED_BATCH = 0x0206
    PSI_RSA_SIGNER_TAGS = 0x0207
    PSI_MATCH_POSITIONS = 0x0208
    SHAMIR_SHARE = 0x0301
    ADDITIVE_SHARE = 0x0302
    BEAVER_TRIPLE_SHARE = 0x0303
    BEAVER_OPENING = 0x0304
    TRUNCATION_PAIR_SHARE = 0x0305
    SECAGG_ADVERTISE_KEYS = 0x0401
    SECAGG_KEY_LIST = 0x0402
    SECAGG_SHARE_KEYS = 0x0403
    SECAGG_SHARE_DELIVERY = 0x0404
    SECAGG_MASKED_INPUT = 0x0405
    SECAGG_CONSISTENCY_REQUEST = 0x0406
    SECAGG_CONSISTENCY_CHECK = 0x0407
    SECAGG_UNMASK_REQUEST = 0x0408
    SECAGG_UNMASK_RESPONSE = 0x0409
    SECAGG_CONFIG = 0x040A
    SECAGG_CLIENT_STATE = 0x040B


def param_id(*parts: bytes) -> bytes:
    """A 16-byte parameter id: truncated SHA-256 over length-prefixed ``parts``."""
    h = hashlib.sha256(b"fedcrypto/param-id/v1")
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()[:PARAM_ID_BYTES]


@dataclass(frozen=True)
class Envelope:
    """A parsed envelope."""

    object_type: ObjectType
    version: int
    param_id: bytes
    payload: bytes


def pack(
    object_type: ObjectType, payload: bytes, *, param: bytes = b"\x00" * PARAM_ID_BYTES
) -> bytes:
    """Wrap ``payload`` in an envelope of type ``object_type`` and parameter id ``param``."""
    if len(param) != PARAM_ID_BYTES:
        raise ValueError(f"parameter id must be {PARAM_ID_BYTES} bytes")
    return (
        _HEADER.pack(MAGIC, FORMAT_VERSION, int(object_type), bytes(param), len(payload)) + payload
    )


def unpack(
    data: bytes | bytearray | memoryview,
    expected_type: ObjectType,
    *,
    expected_param: bytes | None = None,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> Envelope:
    """Parse and check an envelope; raise SerializationError on anything unexpected."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise SerializationError("truncated envelope header")
    magic, version, obj_type, pid, length = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise SerializationError("not a fedcrypto object (bad magic)")
    if version != FORMAT_VERSION:
        raise SerializationError(
            f"unsupported format version {version} (this build reads {FORMAT_VERSION})"
        )
    if obj_type != int(expected_type):
        try:
            name = ObjectType(obj_type).name
        except ValueError:
            name = f"unknown type 0x{obj_type:04x}"
        raise SerializationError(f"expected {expected_type.name}, got {name}")
    if expected_param is not None and pid != expected_param:
        raise SerializationError("object belongs to different parameters (parameter id mismatch)")
    if length > max_payload:
        raise SerializationError(f"payload of {length} bytes exceeds the limit of {max_payload}")
    if len(data) != _HEADER.size + length:
        raise SerializationError(
            f"payload length mismatch: header says {length} bytes, got {len(data) - _HEADER.size}"
        )
    return Envelope(ObjectType(obj_type), version, pid, data[_HEADER.size :])


class Writer:
    """Builds a payload from fixed-width big-endian fields."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, v: int) -> Writer:
        return self.uint(v, 1)

    def u16(self, v: int) -> Writer:
        return self.uint(v, 2)

    def u32(self, v: int) -> Writer:
        return self.uint(v, 4)

    def u64(self, v: int) -> Writer:
        return self.uint(v, 8)

    def uint(self, v: int, nbytes: int) -> Writer:
        """A non-negative int in exactly ``nbytes`` big-endian bytes."""
        self._parts.append(int(v).to_bytes(nbytes, "big"))
        return self

    def sint(self, v: int, nbytes: int) -> Writer:
        """A signed int in ``nbytes`` big-endian two's complement bytes."""
        self._parts.append(int(v).to_bytes(nbytes, "big", signed=True))
        return self

    def f64(self, v: float) -> Writer:
        self._parts.append(struct.pack(">d", v))
        return self

    def raw(self, b: bytes) -> Writer:
        """Bytes whose length the reader knows."""
        self._parts.append(bytes(b))
        return self

    def blob(self, b: bytes) -> Writer:
        """Length-prefixed bytes (u32 length)."""
        return self.u32(len(b)).raw(b)

    def big(self, v: int) -> Writer:
        """A non-negative big int, length-prefixed (u32 byte count)."""
        return self.blob(int(v).to_bytes(max(1, (int(v).bit_length() + 7) // 8), "big"))

    def limbs(self, arr: LimbArray, nbytes: int) -> Writer:
        """A batch of ints as fixed-width ``nbytes`` big-endian values."""
        self._parts.append(limbs_to_be_bytes(arr, nbytes))
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Parses a payload built by :class:`Writer`; every read is bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0

    def _take(self, n: int) -> memoryview:
        if n < 0 or self._pos + n > len(self._data):
            raise SerializationError("truncated payload")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def u8(self) -> int:
        return self.uint(1)

    def u16(self) -> int:
        return self.uint(2)

    def u32(self) -> int:
        return self.uint(4)

    def u64(self) -> int:
        return self.uint(8)

    def uint(self, nbytes: int) -> int:
        return int.from_bytes(self._take(nbytes), "big")

    def sint(self, nbytes: int) -> int:
        return int.from_bytes(self._take(nbytes), "big", signed=True)

    def f64(self) -> float:
        return float(struct.unpack(">d", self._take(8))[0])

    def raw(self, n: int) -> bytes:
        return bytes(self._take(n))

    def blob(self, max_len: int = DEFAULT_MAX_PAYLOAD) -> bytes:
        n = self.u32()
        if n > max_len:
            raise SerializationError(f"field of {n} bytes exceeds the limit of {max_len}")
        return self.raw(n)

    def big(self, max_bits: int = 1 << 16) -> int:
        return int.from_bytes(self.blob((max_bits + 7) // 8), "big")

    def limbs(self, count: int, nbytes: int, width: int | None = None) -> LimbArray:
        """``count`` fixed-width big-endian ints as a limb array."""
        if count < 0:
            raise SerializationError("negative count")
        raw = self._take(count * nbytes)
        try:
            return be_bytes_to_limbs(raw, count, nbytes, width)
        except ValueError as exc:
            raise SerializationError(str(exc)) from None

    def remaining(self) -> int:
        return len(self._data) - self._pos

    def finish(self) -> None:
        """Raise SerializationError if bytes are left over."""
        if self.remaining():
            raise SerializationError(f"{self.remaining()} unexpected trailing bytes")
