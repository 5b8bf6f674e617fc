"""Packed-Paillier federated averaging: ``PaillierFedAvg`` (server) and ``paillier_mod`` (client).

All clients share one Paillier key pair (loaded from a file named in their node config);
the server holds only the public key.  Each round:

1. the server sends the current global model: in clear in round 1 (the initial model),
   afterwards as the encrypted weighted sum of the previous round plus its total weight;
2. ``paillier_mod`` decrypts it (``sum / total weight``) before the user's code runs,
   lets the user train, and replaces the trained arrays with one BatchCrypt-packed
   ciphertext vector (:class:`fedcrypto.paillier.PackedVector`);
3. the server multiplies each client's vector by its integer weight (the number of
   examples, sent in clear) and sums them homomorphically.

Honest limits: the server never sees the model, so it cannot evaluate it centrally,
checkpoint it in clear, or run server-side optimisers (FedAdam, FedProx's proximal
server step, momentum...); weights and training metrics travel in clear.
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from ..._sanitize import peer_text
from ...exceptions import FedCryptoError, InputFormatError, RemoteProtocolError
from ...paillier import PackedVector, PackingScheme, PaillierPrivateKey, PaillierPublicKey
from ...serialization import Reader, Writer

__all__ = ["PaillierFedAvg", "paillier_mod", "decrypt_arrays"]

_log = logging.getLogger("flwr.fedcrypto")  # shown by Flower's console handler
CONFIG_KEY = "fedcrypto.paillier"
PAYLOAD_KEY = "fedcrypto.paillier.payload"
PROTOCOL = "fedcrypto-paillier/1"
_MAX_KEY_FILE = 1 << 20


def _layout_bytes(keys: list[str], arrays: list[npt.NDArray[Any]]) -> bytes:
    w = Writer().u32(len(keys))
    for k, a in zip(keys, arrays, strict=True):
        w.blob(k.encode()).blob(str(a.dtype).encode()).u8(a.ndim)
        for d in a.shape:
            w.u64(d)
    return w.getvalue()


def _layout(data: bytes) -> list[tuple[str, str, tuple[int, ...]]]:
    r = Reader(data)
    n = r.u32()
    if n > 1 << 16:
        raise RemoteProtocolError("too many arrays in the model layout")
    out = []
    for _ in range(n):
        key = r.blob(1024).decode("utf-8", "replace")
        dtype = r.blob(64).decode("ascii", "replace")
        ndim = r.u8()
        if ndim > 32:
            raise RemoteProtocolError("array rank above 32 in the model layout")
        out.append((key, dtype, tuple(r.u64() for _ in range(ndim))))
    r.finish()
    return out


def decrypt_arrays(
    payload: bytes,
    layout: bytes,
    total_weight: int,
    private_key: PaillierPrivateKey,
) -> ArrayRecord:
    """Decrypt an aggregate into the model's ``ArrayRecord`` (for key holders).

    Args:
        payload: the packed-vector bytes of the weighted sum.
        layout: the model layout the server announced.
        total_weight: the sum of the weights.
        private_key: the federation's Paillier private key.

    Raises:
        SerializationError, KeyMismatchError, EncodingOverflowError: a bad ciphertext.
        RemoteProtocolError: a layout that does not match the vector.
    """
    if total_weight < 1:
        raise RemoteProtocolError("the total weight must be positive")
    pv = PackedVector.from_bytes(payload, private_key.public_key())
    flat = pv.decrypt(private_key).reshape(-1) / total_weight
    items = _layout(layout)
    sizes = [int(np.prod(s, dtype=np.int64)) for _, _, s in items]
    if sum(sizes) != flat.size:
        raise RemoteProtocolError("the model layout does not match the encrypted vector")
    out: dict[str, Array] = {}
    pos = 0
    for (key, dtype, shape), size in zip(items, sizes, strict=True):
        try:
            dt = np.dtype(dtype)
        except TypeError:
            raise RemoteProtocolError("unknown dtype in the model layout") from None
        if dt.kind not in "fiu":
            raise RemoteProtocolError("the model layout names a non-numeric dtype")
        out[key] = Array(flat[pos : pos + size].reshape(shape).astype(dt))
        pos += size
    return ArrayRecord(out)


def _payload(content: RecordDict) -> bytes:
    if PAYLOAD_KEY not in content.array_records:
        raise RemoteProtocolError("message has no encrypted model")
    arr = content.array_records[PAYLOAD_KEY]["msg"]
    data = arr.numpy()
    if data.dtype != np.uint8 or data.ndim != 1:
        raise RemoteProtocolError("the encrypted model must be a uint8 vector")
    return data.tobytes()


def _put(content: RecordDict, payload: bytes) -> None:
    content[PAYLOAD_KEY] = ArrayRecord({"msg": Array(np.frombuffer(payload, dtype=np.uint8))})


def _load_private_key(ctxt: Context) -> PaillierPrivateKey:
    path = ctxt.node_config.get("fedcrypto-paillier-key", os.environ.get("FEDCRYPTO_PAILLIER_KEY"))
    if path is None:
        path = ctxt.run_config.get("fedcrypto-paillier-key")
    if path is None:
        raise InputFormatError(
            "paillier_mod needs the federation's Paillier private key: set node config "
            "'fedcrypto-paillier-key' (or the FEDCRYPTO_PAILLIER_KEY environment variable) "
            "to the path of a file written by private_bytes()"
        )
    p = Path(str(path))
    try:
        if p.stat().st_size > _MAX_KEY_FILE:
            raise InputFormatError("the Paillier key file is too large")
        data = p.read_bytes()
    except OSError as exc:
        raise InputFormatError(f"cannot read the Paillier key file: {exc.strerror}") from None
    return PaillierPrivateKey.from_private_bytes(data)


def paillier_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Client mod of :class:`PaillierFedAvg`: decrypt the global model, encrypt the update.

    Train and evaluate messages carrying fedcrypto's Paillier record get their encrypted
    model replaced by the decrypted ``ArrayRecord`` (under the strategy's array key)
    before the user's code runs; a train reply's ``ArrayRecord`` is replaced by one
    packed ciphertext vector.  Other messages pass through.
    """
    kind = msg.metadata.message_type
    if kind not in (MessageType.TRAIN, MessageType.EVALUATE):
        return call_next(msg, ctxt)
    content = msg.content
    if CONFIG_KEY not in content.config_records:
        if kind == MessageType.TRAIN:
            raise RemoteProtocolError(
                "paillier_mod received a train message without fedcrypto's Paillier record: "
                "refusing to send a plain update (is the server using PaillierFedAvg?)"
            )
        return call_next(msg, ctxt)
    rec = content.config_records[CONFIG_KEY]
    if rec.get("protocol") != PROTOCOL:
        raise RemoteProtocolError("unknown fedcrypto Paillier protocol version")
    sk = _load_private_key(ctxt)
    scheme_raw = rec.get("scheme")
    array_key = str(rec.get("array-key"))
    if rec.get("encrypted"):
        total = rec.get("total-weight")
        layout = rec.get("layout")
        if not isinstance(total, int) or not isinstance(layout, bytes):
            raise RemoteProtocolError("malformed encrypted-model record")
        content[array_key] = decrypt_arrays(_payload(content), layout, total, sk)
        del content[PAYLOAD_KEY]
    del content[CONFIG_KEY]
    reply = call_next(msg, ctxt)
    if kind != MessageType.TRAIN or reply.has_error():
        return reply
    if not isinstance(scheme_raw, bytes):
        raise RemoteProtocolError("the train message names no packing scheme")
    scheme = _scheme(scheme_raw)
    out = reply.content
    arrays = list(out.array_records.items())
    if len(arrays) != 1:
        raise RemoteProtocolError("the training reply must hold exactly one ArrayRecord")
    name, record = arrays[0]
    flat = np.concatenate(
        [np.asarray(a, dtype=np.float64).reshape(-1) for a in record.to_numpy_ndarrays()]
    )
    packed = scheme.encrypt(sk, flat)
    del out[name]
    out[CONFIG_KEY] = ConfigRecord({"protocol": PROTOCOL})
    _put(out, packed.to_bytes())
    return reply


def _scheme(raw: bytes) -> PackingScheme:
    if len(raw) != 15:
        raise RemoteProtocolError("malformed packing scheme")
    bits, parties, alpha, z, rcode = struct.unpack(">BIdBB", raw)
    names = {0: "stochastic", 1: "nearest"}
    if rcode not in names:
        raise RemoteProtocolError("malformed packing scheme")
    try:
        return PackingScheme(bits, parties, alpha, names[rcode], z)  # type: ignore[arg-type]
    except FedCryptoError as exc:
        raise RemoteProtocolError(f"unusable packing scheme: {exc}") from None


class PaillierFedAvg(FedAvg):
    """FedAvg (Message API) where the server only ever holds Paillier ciphertexts.

    Args:
        public_key: the federation's Paillier public key (clients hold the private key).
        bits: magnitude bits per packed slot (precision: ``clip / floor((2^bits - 1) /
            max_total_weight)``).
        max_total_weight: the largest sum of weights in one round (``PackingScheme``'s
            ``parties``); a larger sum ends the round with ``EncodingOverflowError``.
        clipping_range: values are clipped to ``[-clipping_range, clipping_range]``.
        **fedavg_kwargs: passed to ``flwr.serverapp.strategy.FedAvg``.

    The arrays this strategy returns after a round are the *encrypted* weighted sum
    (one uint8 array); ``start()`` hands them on to the next round, where clients
    decrypt them.  The server cannot evaluate or checkpoint the model in clear and
    cannot run server-side optimisers.
    """

    def __init__(
        self,
        public_key: PaillierPublicKey,
        *,
        bits: int = 32,
        max_total_weight: int = 1000,
        clipping_range: float = 8.0,
        **fedavg_kwargs: Any,
    ) -> None:
        super().__init__(**fedavg_kwargs)
        if not isinstance(public_key, PaillierPublicKey):
            raise TypeError("public_key must be a PaillierPublicKey")
        self.public_key = public_key
        self.scheme = PackingScheme(bits=bits, parties=max_total_weight, alpha=clipping_range)
        self._layout: bytes | None = None
        self._total = 0
        self._agg: bytes | None = None
        #: Total weight of each round's aggregate.
        self.total_weights: dict[int, int] = {}

    def _content(self, arrays: ArrayRecord, config: ConfigRecord) -> RecordDict:
        rec: dict[str, Any] = {
            "protocol": PROTOCOL,
            "scheme": self.scheme.to_bytes(),
            "array-key": self.arrayrecord_key,
        }
        if self._agg is not None and list(arrays.keys()) == [PAYLOAD_KEY]:
            assert self._layout is not None
            rec.update({"encrypted": True, "total-weight": self._total, "layout": self._layout})
            content = RecordDict({self.configrecord_key: config, CONFIG_KEY: ConfigRecord(rec)})
            _put(content, self._agg)
            return content
        keys = list(arrays.keys())
        self._layout = _layout_bytes(keys, [np.asarray(a) for a in arrays.to_numpy_ndarrays()])
        rec["encrypted"] = False
        return RecordDict(
            {
                self.arrayrecord_key: arrays,
                self.configrecord_key: config,
                CONFIG_KEY: ConfigRecord(rec),
            }
        )

    def _messages(
        self, template: Iterable[Message], arrays: ArrayRecord, config: ConfigRecord
    ) -> list[Message]:
        out = []
        for m in template:
            out.append(
                Message(
                    content=self._content(arrays, config),
                    dst_node_id=m.metadata.dst_node_id,
                    message_type=m.metadata.message_type,
                )
            )
        return out

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """FedAvg's sampling; the model travels encrypted after round 1."""
        return self._messages(
            super().configure_train(server_round, arrays, config, grid), arrays, config
        )

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """FedAvg's sampling; clients decrypt the model before evaluating."""
        return self._messages(
            super().configure_evaluate(server_round, arrays, config, grid), arrays, config
        )

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Weight each client's packed vector by its example count and sum them."""
        weighted: list[PackedVector] = []
        total = 0
        for reply in replies:
            nid = reply.metadata.src_node_id
            if reply.has_error():
                _log.info("node %s failed: %s", nid, peer_text(reply.error.reason))
                continue
            try:
                c = reply.content
                if (
                    CONFIG_KEY not in c.config_records
                    or c.config_records[CONFIG_KEY].get("protocol") != PROTOCOL
                ):
                    raise RemoteProtocolError("reply without fedcrypto's Paillier record")
                metrics = list(c.metric_records.values())
                if len(metrics) != 1 or self.weighted_by_key not in metrics[0]:
                    raise RemoteProtocolError(f"reply without a {self.weighted_by_key!r} metric")
                w = metrics[0][self.weighted_by_key]
                if isinstance(w, float) and w.is_integer():
                    w = int(w)
                if not isinstance(w, int) or w < 0:
                    raise RemoteProtocolError("the weight must be a non-negative whole number")
                pv = PackedVector.from_bytes(_payload(c), self.public_key)
                if pv.weight != 1 or pv.scheme != self.scheme:
                    raise RemoteProtocolError(
                        "the vector is not one fresh update under this scheme"
                    )
            except (FedCryptoError, KeyError, ValueError, TypeError) as exc:
                _log.warning("dropping node %s: %s", nid, peer_text(str(exc)))
                continue
            if w:
                weighted.append(pv * w)
                total += w
        if not weighted:
            _log.error("PaillierFedAvg: no usable update this round")
            return None, None
        try:
            agg = PackedVector.sum(weighted)
        except FedCryptoError as exc:
            _log.error("PaillierFedAvg: cannot sum this round: %s", exc)
            return None, None
        self._agg = agg.to_bytes()
        self._total = total
        self.total_weights[server_round] = total
        record = ArrayRecord({PAYLOAD_KEY: Array(np.frombuffer(self._agg, dtype=np.uint8))})
        return record, MetricRecord({self.weighted_by_key: total})

    def aggregate_layout(self) -> tuple[bytes | None, bytes | None, int]:
        """``(aggregate bytes, layout bytes, total weight)`` of the last round, for key holders
        (see :func:`decrypt_arrays`)."""
        return self._agg, self._layout, self._total
