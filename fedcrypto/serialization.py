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

Parsing never allocates more than the input justifies: :func:`unpack` checks the
announced payload length against ``max_payload`` and the bytes actually present
before copying the payload once; every :class:`Reader` read is bounds-checked
against the bytes left before anything is allocated, and :meth:`Reader.limbs`
produces at most ``width * 8`` bytes per input row, with ``width`` capped by the row
size.  Malformed bytes raise :class:`~fedcrypto.exceptions.SerializationError`,
never a built-in error.
"""

from __future__ import annotations

import enum
import hashlib
import operator
import struct
from dataclasses import dataclass

from ._backend import LimbArray, be_bytes_to_limbs, limbs_for_bits, limbs_to_be_bytes
from ._immutable import Immutable
from .exceptions import InvalidArgumentError, InvalidTypeError, SerializationError

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
    # 0x022x: PSI intersection-sum (fedcrypto.psi._sum_messages)
    PSI_SUM_KEY = 0x0220
    PSI_SUM_VALUE_BATCH = 0x0221
    PSI_SUM_RESULT = 0x0222
    PSI_SUM_OPENING = 0x0223
    # 0x0228: PSI payload transfer (fedcrypto.psi._payload_messages)
    PSI_PAYLOAD_EVALUATED = 0x0228
    PSI_PAYLOAD_BATCH = 0x0229
    PSI_PAYLOAD_POSITIONS = 0x022A
    # 0x023x: unbalanced PSI (fedcrypto.psi._unbalanced)
    PSI_OPRF_REQUEST = 0x0230
    PSI_OPRF_RESPONSE = 0x0231
    PSI_CACHE_HEADER = 0x0232
    PSI_CACHE_CHUNK = 0x0233
    PSI_CACHE_REQUEST = 0x0234
    # multi-party PSI (docs/psi-multiparty.md)
    PSI_MP_KEY_SHARE = 0x0281
    PSI_MP_RING_BATCH = 0x0282
    PSI_MP_OKVS_BATCH = 0x0283
    SHAMIR_SHARE = 0x0301
    ADDITIVE_SHARE = 0x0302
    BEAVER_TRIPLE_SHARE = 0x0303
    BEAVER_OPENING = 0x0304
    TRUNCATION_PAIR_SHARE = 0x0305
    SECAGG_ADVERTISE_KEYS = 0x0401
    SECAGG_KEY_LIST = 0x0402
    SECAGG_SHARE_KEYS = 0x0403  # version 1 (no seed commitment): no longer read
    SECAGG_SHARE_DELIVERY = 0x0404
    SECAGG_MASKED_INPUT = 0x0405
    SECAGG_CONSISTENCY_REQUEST = 0x0406
    SECAGG_CONSISTENCY_CHECK = 0x0407
    SECAGG_UNMASK_REQUEST = 0x0408
    SECAGG_UNMASK_RESPONSE = 0x0409
    SECAGG_CONFIG = 0x040A
    SECAGG_CLIENT_STATE = 0x040B
    SECAGG_SHARE_KEYS_V2 = 0x040C


def param_id(*parts: bytes) -> bytes:
    """A 16-byte parameter id: truncated SHA-256 over length-prefixed ``parts``."""
    h = hashlib.sha256(b"fedcrypto/param-id/v1")
    for p in parts:
        h.update(len(p).to_bytes(8, "big"))
        h.update(p)
    return h.digest()[:PARAM_ID_BYTES]


@dataclass(frozen=True)
class Envelope(Immutable):
    """A parsed envelope: its type, format version, parameter id and payload bytes."""

    object_type: ObjectType
    version: int
    param_id: bytes
    payload: bytes


def _buffer(data: object, what: str) -> bytes:
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise InvalidTypeError(f"{what} must be bytes, got {type(data).__name__}")


def pack(
    object_type: ObjectType, payload: bytes, *, param: bytes = b"\x00" * PARAM_ID_BYTES
) -> bytes:
    """Wrap ``payload`` in an envelope of type ``object_type`` and parameter id ``param``.

    :raises InvalidTypeError: ``object_type`` not an :class:`ObjectType`, ``payload`` or
        ``param`` not bytes-like.
    :raises InvalidArgumentError: ``param`` not exactly 16 bytes.
    """
    if not isinstance(object_type, ObjectType):
        raise InvalidTypeError("object_type must be an ObjectType")
    body = _buffer(payload, "payload")
    pid = _buffer(param, "parameter id")
    if len(pid) != PARAM_ID_BYTES:
        raise InvalidArgumentError(f"parameter id must be {PARAM_ID_BYTES} bytes")
    return _HEADER.pack(MAGIC, FORMAT_VERSION, int(object_type), pid, len(body)) + body


def unpack(
    data: bytes | bytearray | memoryview,
    expected_type: ObjectType,
    *,
    expected_param: bytes | None = None,
    max_payload: int = DEFAULT_MAX_PAYLOAD,
) -> Envelope:
    """Parse and check an envelope; raise SerializationError on anything unexpected.

    The header is checked (magic, version, type, parameter id, announced length against
    ``max_payload`` and against the bytes present) before the payload is copied.

    :param expected_param: the parameter id the object must carry, or None for any.
    :param max_payload: largest payload accepted, in bytes (default 4 GiB).
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise SerializationError(f"expected bytes, got {type(data).__name__}")
    view = memoryview(data)
    if not view.c_contiguous or view.ndim != 1 or view.itemsize != 1:
        view = memoryview(view.tobytes())  # odd views only: a copy the size of the input
    if view.nbytes < _HEADER.size:
        raise SerializationError("truncated envelope header")
    magic, version, obj_type, pid, length = _HEADER.unpack_from(view)
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
    if view.nbytes != _HEADER.size + length:
        raise SerializationError(
            f"payload length mismatch: header says {length} bytes, got {view.nbytes - _HEADER.size}"
        )
    return Envelope(ObjectType(obj_type), version, pid, bytes(view[_HEADER.size :]))


def _width(nbytes: object, what: str = "field width") -> int:
    if isinstance(nbytes, bool) or not isinstance(nbytes, int):
        raise InvalidTypeError(f"{what} must be an int, got {type(nbytes).__name__}")
    if nbytes < 0:
        raise InvalidArgumentError(f"{what} must be non-negative")
    return nbytes


class Writer:
    """Builds a payload from fixed-width big-endian fields.

    Values that do not fit their field raise
    :class:`~fedcrypto.exceptions.InvalidArgumentError`; values of the wrong type
    :class:`~fedcrypto.exceptions.InvalidTypeError`.
    """

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
        self._parts.append(_to_bytes(v, _width(nbytes), signed=False))
        return self

    def sint(self, v: int, nbytes: int) -> Writer:
        """A signed int in ``nbytes`` big-endian two's complement bytes."""
        self._parts.append(_to_bytes(v, _width(nbytes), signed=True))
        return self

    def f64(self, v: float) -> Writer:
        """An IEEE 754 double, big-endian."""
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise InvalidTypeError(f"f64 field must be a float, got {type(v).__name__}")
        try:
            self._parts.append(struct.pack(">d", v))
        except OverflowError:
            raise InvalidArgumentError("value does not fit a double") from None
        return self

    def raw(self, b: bytes) -> Writer:
        """Bytes whose length the reader knows."""
        self._parts.append(_buffer(b, "raw field"))
        return self

    def blob(self, b: bytes) -> Writer:
        """Length-prefixed bytes (u32 length)."""
        data = _buffer(b, "blob")
        return self.u32(len(data)).raw(data)

    def big(self, v: int) -> Writer:
        """A non-negative big int, length-prefixed (u32 byte count)."""
        n = _int_value(v)
        if n < 0:
            raise InvalidArgumentError("big field must be non-negative")
        return self.blob(n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big"))

    def limbs(self, arr: LimbArray, nbytes: int) -> Writer:
        """A batch of ints as fixed-width ``nbytes`` big-endian values."""
        self._parts.append(limbs_to_be_bytes(arr, _width(nbytes)))
        return self

    def getvalue(self) -> bytes:
        """The payload built so far."""
        return b"".join(self._parts)


def _int_value(v: object) -> int:
    if isinstance(v, bool) or not hasattr(v, "__index__"):
        raise InvalidTypeError(f"integer field must be an int, got {type(v).__name__}")
    try:
        return int(operator.index(v))
    except TypeError:
        raise InvalidTypeError(f"integer field must be an int, got {type(v).__name__}") from None


def _to_bytes(v: object, nbytes: int, *, signed: bool) -> bytes:
    try:
        return _int_value(v).to_bytes(nbytes, "big", signed=signed)
    except OverflowError:
        raise InvalidArgumentError(f"value does not fit in {nbytes} bytes") from None


class Reader:
    """Parses a payload built by :class:`Writer`; every read is bounds-checked.

    Every failure on the payload's bytes (too short, a field over its limit, trailing
    bytes) raises :class:`~fedcrypto.exceptions.SerializationError`.  No read allocates
    before checking that the bytes it needs are present.
    """

    def __init__(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SerializationError(f"expected bytes, got {type(data).__name__}")
        self._data = memoryview(bytes(data))
        self._pos = 0

    def _take(self, n: int) -> memoryview:
        n = _width(n, "read length")
        if n > len(self._data) - self._pos:
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
        """An unsigned big-endian int of ``nbytes`` bytes."""
        return int.from_bytes(self._take(nbytes), "big")

    def sint(self, nbytes: int) -> int:
        """A two's complement big-endian int of ``nbytes`` bytes."""
        return int.from_bytes(self._take(nbytes), "big", signed=True)

    def f64(self) -> float:
        """An IEEE 754 double (NaN and infinities included: callers check ranges)."""
        return float(struct.unpack(">d", self._take(8))[0])

    def raw(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        return bytes(self._take(n))

    def blob(self, max_len: int = DEFAULT_MAX_PAYLOAD) -> bytes:
        """Length-prefixed bytes (u32 length), at most ``max_len`` of them.

        Like every read, a failed one consumes nothing (the length prefix included).
        """
        start = self._pos
        n = self.u32()
        try:
            if n > max_len:
                raise SerializationError(f"field of {n} bytes exceeds the limit of {max_len}")
            return self.raw(n)
        except SerializationError:
            self._pos = start
            raise

    def big(self, max_bits: int = 1 << 16) -> int:
        """A length-prefixed non-negative int of at most ``max_bits`` bits' worth of bytes."""
        return int.from_bytes(self.blob((_width(max_bits, "max_bits") + 7) // 8), "big")

    def limbs(self, count: int, nbytes: int, width: int | None = None) -> LimbArray:
        """``count`` fixed-width big-endian ints of ``nbytes`` bytes as a limb array.

        ``nbytes >= 1``; ``width`` (limbs per row) defaults to what ``nbytes`` needs and may
        exceed it by at most one limb, so the array is at most ``count * (nbytes + 16)``
        bytes for ``count * nbytes`` bytes read.  A value wider than ``width`` limbs is a
        SerializationError.
        """
        if isinstance(count, bool) or not isinstance(count, int):
            raise InvalidTypeError("count must be an int")
        if count < 0:
            raise SerializationError("negative count")
        size = _width(nbytes, "nbytes")
        if size < 1:
            raise InvalidArgumentError("nbytes must be at least 1")
        need = limbs_for_bits(8 * size)
        if width is not None:
            width = _width(width, "width")
            if not 1 <= width <= need + 1:
                raise InvalidArgumentError(
                    f"width must be between 1 and {need + 1} limbs for {size}-byte values"
                )
        raw = self._take(count * size)
        try:
            return be_bytes_to_limbs(raw, count, size, width)
        except ValueError as exc:
            raise SerializationError(str(exc)) from None

    def remaining(self) -> int:
        """Bytes not read yet."""
        return len(self._data) - self._pos

    def finish(self) -> None:
        """Raise SerializationError if bytes are left over."""
        if self.remaining():
            raise SerializationError(f"{self.remaining()} unexpected trailing bytes")
