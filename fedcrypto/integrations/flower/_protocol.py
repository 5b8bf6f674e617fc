"""What fedcrypto's secure aggregation puts in Flower messages (both sides agree on it here).

Records:

* ``ConfigRecord`` ``"fedcrypto.secagg"``: the protocol tag, the stage, and small fields.
* ``ArrayRecord`` ``"fedcrypto.secagg.payload"``: one uint8 array ``"msg"`` holding a fedcrypto
  envelope (a :mod:`fedcrypto.secagg` round message).

Flower's own SecAgg+ uses ``"secaggplus_configs"``; a message carrying that key and not
ours is recognised and refused with an error that says so.

Session id (both sides contribute): at setup the server sends the session parameters and
a commitment ``SHA-256(label || server nonce)``; every client answers with a fresh 32-byte
nonce; the server then reveals its nonce with the list of clients that answered, and each
side computes ::

    session id = SHA-256("fedcrypto/flower/secagg/v1/session" || params || server nonce
                         || for each registered client: u32 id || u64 node id || nonce)

so neither the server nor any client alone chooses it.  The SecAgg+ neighbour graph is a
function of the session id (``fedcrypto.secagg.neighbor_map``), hence of all these nonces.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from ...exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    RemoteProtocolError,
)
from ...secagg import Quantizer
from ...serialization import Reader, Writer

__all__ = [
    "PROTOCOL",
    "CONFIG_KEY",
    "ARRAY_KEY",
    "STATE_KEY",
    "FLOWER_SECAGGPLUS_KEY",
    "STAGES",
    "SessionParams",
    "commitment",
    "session_id",
    "pack_ids",
    "unpack_ids",
    "split_blob",
    "put_payload",
    "get_payload",
    "get_config",
    "check_protocol",
    "encode_update",
    "decode_aggregate",
]

PROTOCOL = "fedcrypto-secagg/2"  # 2: ShareKeys carries the seed commitment
CONFIG_KEY = "fedcrypto.secagg"
ARRAY_KEY = "fedcrypto.secagg.payload"
STATE_KEY = "fedcrypto.secagg.state"
FLOWER_SECAGGPLUS_KEY = "secaggplus_configs"
#: Stages in protocol order ("consistency" only in active mode).
STAGES = ("setup", "advertise", "share-keys", "masked-input", "consistency", "unmask")
#: Largest number of nodes in one session (caps every list a client parses).
MAX_NODES = 1 << 16
#: Largest payload accepted in the ArrayRecord (1 GiB).
MAX_PAYLOAD = 1 << 30
NONCE_BYTES = 32
_LABEL = b"fedcrypto/flower/secagg/v1/"


@dataclass(frozen=True)
class SessionParams:
    """The parameters the server announces at setup (every field is checked by clients).

    Attributes:
        node_ids: the sampled Flower node ids, sorted; client id = position in this list.
        threshold: Shamir threshold ``t``.
        degree: SecAgg+ degree ``k`` (even), 0 for the complete graph.
        modulus_bits: masking modulus ``2^modulus_bits``.
        vector_length: 1 (weight) + number of model parameters.
        active: the signed variant (consistency round).
        clip: clipping range of each parameter.
        scale: quantization steps per unit.
        max_weight: largest weight (number of examples) of one client.
        reply_format: ``"legacy"`` (FitRes from a NumPyClient) or ``"message"``
            (one ArrayRecord + one MetricRecord).
        weight_key: the MetricRecord key of the weight (``"message"`` format).
        unsafe_allow_low_threshold: the server allows a threshold below a strict majority.
    """

    node_ids: tuple[int, ...]
    threshold: int
    degree: int
    modulus_bits: int
    vector_length: int
    active: bool
    clip: float
    scale: float
    max_weight: float
    reply_format: str
    weight_key: str
    unsafe_allow_low_threshold: bool = False

    def to_record(self) -> dict[str, Any]:
        """The ConfigRecord fields of the setup message."""
        return {
            "node-ids": pack_ids(self.node_ids, 8),
            "threshold": self.threshold,
            "degree": self.degree,
            "modulus-bits": self.modulus_bits,
            "vector-length": self.vector_length,
            "active": self.active,
            "clip": float(self.clip),
            "scale": float(self.scale),
            "max-weight": float(self.max_weight),
            "reply-format": self.reply_format,
            "weight-key": self.weight_key,
            "unsafe-low-threshold": self.unsafe_allow_low_threshold,
        }

    @classmethod
    def from_record(cls, rec: ConfigRecord) -> SessionParams:
        """Parse and range-check the setup fields sent by the server.

        Raises:
            RemoteProtocolError: a missing field, a wrong type, or a value out of range.
        """
        try:
            node_ids = unpack_ids(_typed(rec, "node-ids", bytes), 8)
            out = cls(
                node_ids=node_ids,
                threshold=_typed(rec, "threshold", int),
                degree=_typed(rec, "degree", int),
                modulus_bits=_typed(rec, "modulus-bits", int),
                vector_length=_typed(rec, "vector-length", int),
                active=_typed(rec, "active", bool),
                clip=_typed(rec, "clip", float),
                scale=_typed(rec, "scale", float),
                max_weight=_typed(rec, "max-weight", float),
                reply_format=_typed(rec, "reply-format", str),
                weight_key=_typed(rec, "weight-key", str),
                unsafe_allow_low_threshold=_typed(rec, "unsafe-low-threshold", bool),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise RemoteProtocolError(f"malformed setup parameters: {exc}") from None
        out.validate()
        return out

    def validate(self) -> None:
        """Range checks shared by both sides.

        Raises:
            RemoteProtocolError: a value out of range.
        """
        n = len(self.node_ids)
        if not 2 <= n <= MAX_NODES or list(self.node_ids) != sorted(set(self.node_ids)):
            raise RemoteProtocolError(f"node id list must hold 2..{MAX_NODES} sorted distinct ids")
        if any(not 0 <= i < 1 << 64 for i in self.node_ids):
            raise RemoteProtocolError("node ids must be unsigned 64-bit integers")
        if not 2 <= self.threshold <= n or not 0 <= self.degree < n or self.degree % 2:
            raise RemoteProtocolError("threshold or degree out of range")
        if not 2 <= self.modulus_bits <= 64 or not 2 <= self.vector_length <= 1 << 31:
            raise RemoteProtocolError("modulus or vector length out of range")
        for v in (self.clip, self.scale, self.max_weight):
            if not (math.isfinite(v) and v > 0):
                raise RemoteProtocolError("clip, scale and max weight must be positive")
        if self.reply_format not in ("legacy", "message") or len(self.weight_key) > 256:
            raise RemoteProtocolError("unknown reply format")

    def to_bytes(self) -> bytes:
        """Canonical bytes of the parameters (bound into the session id)."""
        w = Writer().u32(len(self.node_ids))
        for nid in self.node_ids:
            w.u64(nid)
        w.u32(self.threshold).u32(self.degree).u8(self.modulus_bits).u32(self.vector_length)
        w.u8(int(self.active)).f64(self.clip).f64(self.scale).f64(self.max_weight)
        w.blob(self.reply_format.encode()).blob(self.weight_key.encode())
        w.u8(int(self.unsafe_allow_low_threshold))
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> SessionParams:
        """Inverse of :meth:`to_bytes` (for state the client kept itself)."""
        r = Reader(data)
        n = r.u32()
        if n > MAX_NODES:
            raise RemoteProtocolError("too many nodes")
        ids = tuple(r.u64() for _ in range(n))
        out = cls(
            node_ids=ids,
            threshold=r.u32(),
            degree=r.u32(),
            modulus_bits=r.u8(),
            vector_length=r.u32(),
            active=bool(r.u8()),
            clip=r.f64(),
            scale=r.f64(),
            max_weight=r.f64(),
            reply_format=r.blob(16).decode(),
            weight_key=r.blob(256).decode(),
            unsafe_allow_low_threshold=bool(r.u8()),
        )
        r.finish()
        return out

    def quantizer(self, num_clients: int) -> Quantizer:
        """The parameter quantizer for ``num_clients`` summands (headroom-checked).

        Raises:
            EncodingOverflowError: the sum of ``num_clients`` updates (or weights) could
                wrap modulo ``2^modulus_bits``.
        """
        if num_clients * math.ceil(self.max_weight) >= 1 << (self.modulus_bits - 1):
            raise EncodingOverflowError(
                f"the sum of {num_clients} weights up to {self.max_weight} could wrap modulo "
                f"2^{self.modulus_bits}: lower max_weight or raise modulus_range"
            )
        return Quantizer.create(
            clip=self.clip,
            scale=self.scale,
            modulus_bits=self.modulus_bits,
            num_clients=num_clients,
        )


def _typed(rec: ConfigRecord, key: str, kind: type) -> Any:
    value = rec[key]
    if kind is float and type(value) is int:
        value = float(value)
    if type(value) is not kind:
        raise TypeError(f"field {key!r} must be {kind.__name__}")
    return value


def pack_ids(ids: tuple[int, ...] | list[int], width: int) -> bytes:
    """Unsigned ids as one big-endian blob (Flower's ConfigRecord ints are signed 64-bit)."""
    return b"".join(int(i).to_bytes(width, "big") for i in ids)


def unpack_ids(blob: bytes, width: int) -> tuple[int, ...]:
    """Inverse of :func:`pack_ids`.

    Raises:
        RemoteProtocolError: a length that is not a multiple of ``width`` or above the cap.
    """
    if len(blob) % width or len(blob) > width * MAX_NODES:
        raise RemoteProtocolError("malformed id list")
    return tuple(int.from_bytes(blob[i : i + width], "big") for i in range(0, len(blob), width))


def split_blob(blob: object, item: int, count: int, what: str) -> list[bytes]:
    """``count`` fixed-size items from one blob.

    Raises:
        RemoteProtocolError: not bytes or the wrong length.
    """
    if not isinstance(blob, bytes) or len(blob) != item * count:
        raise RemoteProtocolError(f"malformed {what}")
    return [blob[i : i + item] for i in range(0, len(blob), item)]


def commitment(server_nonce: bytes) -> bytes:
    """The server's commitment to its nonce."""
    return hashlib.sha256(_LABEL + b"commit" + server_nonce).digest()


def session_id(
    params: SessionParams, server_nonce: bytes, contributions: list[tuple[int, int, bytes]]
) -> bytes:
    """The 32-byte session id from the parameters, the server nonce and every registered
    client's ``(client id, node id, nonce)`` (in client-id order)."""
    h = hashlib.sha256(_LABEL + b"session")
    p = params.to_bytes()
    h.update(len(p).to_bytes(8, "big") + p + server_nonce)
    for cid, nid, nonce in contributions:
        h.update(cid.to_bytes(4, "big") + nid.to_bytes(8, "big") + nonce)
    return h.digest()


def put_payload(content: RecordDict, payload: bytes) -> None:
    """Store an envelope as a uint8 array in our ArrayRecord."""
    content[ARRAY_KEY] = ArrayRecord({"msg": Array(np.frombuffer(payload, dtype=np.uint8))})


def get_payload(content: RecordDict) -> bytes:
    """The envelope in our ArrayRecord.

    Raises:
        RemoteProtocolError: missing, not a 1-D uint8 array, or above ``MAX_PAYLOAD``.
    """
    if ARRAY_KEY not in content.array_records:
        raise RemoteProtocolError("message has no fedcrypto payload")
    rec = content.array_records[ARRAY_KEY]
    if list(rec.keys()) != ["msg"]:
        raise RemoteProtocolError("fedcrypto payload record must hold exactly one array")
    arr = rec["msg"]
    if arr.dtype != "uint8" or len(arr.shape) != 1:
        raise RemoteProtocolError("fedcrypto payload must be a 1-D uint8 array")
    if arr.shape[0] > MAX_PAYLOAD:
        raise RemoteProtocolError("fedcrypto payload exceeds its size limit")
    try:
        data = arr.numpy()
    except Exception:  # noqa: BLE001 - Flower's deserializer raises anything on bad bytes
        raise RemoteProtocolError("fedcrypto payload array is not decodable") from None
    if data.dtype != np.uint8 or data.ndim != 1:
        raise RemoteProtocolError("fedcrypto payload must be a 1-D uint8 array")
    return data.tobytes()


def get_config(content: RecordDict, *, who: str) -> ConfigRecord:
    """Our ConfigRecord, or a clear error naming a mix with Flower's SecAgg+.

    Raises:
        RemoteProtocolError: the record is missing (and why, when recognisable), or its
            protocol tag is not ours.
    """
    configs = content.config_records
    if CONFIG_KEY not in configs:
        if FLOWER_SECAGGPLUS_KEY in configs:
            raise RemoteProtocolError(
                f"the {who} speaks Flower's SecAgg+ (secaggplus_mod / SecAggPlusWorkflow), "
                "not fedcrypto's: use fedcrypto.integrations.flower.secagg_mod with "
                "SecAggWorkflow (or SecAggFedAvg) on both sides"
            )
        raise RemoteProtocolError(f"the {who} sent no fedcrypto secure-aggregation record")
    rec = configs[CONFIG_KEY]
    check_protocol(rec, who=who)
    return rec


def check_protocol(rec: ConfigRecord, *, who: str) -> None:
    """Refuse another protocol version."""
    if rec.get("protocol") != PROTOCOL:
        raise RemoteProtocolError(
            f"the {who} uses protocol {str(rec.get('protocol'))[:40]!r}, expected {PROTOCOL!r}"
        )


def encode_update(
    params: SessionParams,
    arrays: list[npt.NDArray[Any]],
    weight: float,
    num_clients: int,
) -> npt.NDArray[np.uint64]:
    """The vector a client masks: ``[w, Q(w / max_weight * clip(x))]`` in ``Z_{2^k}``.

    ``w`` is the example count (a whole number in ``[0, max_weight]``), sent exactly;
    ``x`` is the flattened update, clipped to ``[-clip, clip]``, scaled by
    ``w / max_weight`` and quantized with stochastic rounding (:class:`Quantizer`).

    Raises:
        EncodingError: non-finite values, a weight that is not a whole number in
            ``[0, max_weight]``, or a length that differs from the session's.
    """
    if isinstance(weight, bool) or not isinstance(weight, (int, float, np.integer, np.floating)):
        raise EncodingError("the weight (number of examples) must be a number")
    w = float(weight)
    if not (math.isfinite(w) and w.is_integer() and 0 <= w <= params.max_weight):
        raise EncodingError(
            f"the weight must be a whole number in [0, max_weight={params.max_weight}]"
        )
    try:
        flat = [np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays]
    except (TypeError, ValueError):
        raise EncodingError("the update must be numeric arrays") from None
    x = np.concatenate(flat) if flat else np.zeros(0)
    if x.size + 1 != params.vector_length:
        raise EncodingError(
            f"the update has {x.size} values, the session expects {params.vector_length - 1}"
        )
    if not np.all(np.isfinite(x)):
        raise EncodingError("the update holds NaN or infinite values")
    q = params.quantizer(num_clients)
    ratio = w / params.max_weight
    out = np.empty(params.vector_length, dtype=np.uint64)
    out[0] = int(w)
    out[1:] = q.quantize(np.clip(x, -params.clip, params.clip) * ratio)
    return out


def decode_aggregate(
    params: SessionParams, aggregate: npt.NDArray[np.uint64], num_clients: int
) -> tuple[int, npt.NDArray[np.float64]]:
    """``(total weight W, weighted mean)`` from the unmasked sum.

    ``mean = dequantize(sum) * max_weight / W``.  Error bound against the exact weighted
    mean of the clipped updates: ``num_clients * max_weight / (scale * W)`` per entry.

    Raises:
        RemoteProtocolError: ``W`` is zero or larger than ``num_clients * max_weight``
            (some client sent an out-of-range weight).
    """
    total = int(aggregate[0])
    if total == 0 or total > num_clients * params.max_weight:
        raise RemoteProtocolError(
            f"aggregated weight {total} is zero or out of range for {num_clients} clients"
        )
    q = params.quantizer(num_clients)
    mean = q.dequantize(aggregate[1:]) * (params.max_weight / total)
    return total, mean


def check_range(value: int, low: int, high: int, what: str) -> int:
    """``value`` if ``low <= value <= high`` else InvalidArgumentError."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidArgumentError(f"{what} must be an integer in [{low}, {high}]")
    return value
