"""One round of fedcrypto secure aggregation driven over a Flower ``Grid`` (server side).

The sans-I/O :class:`fedcrypto.secagg.SecAggServer` does the protocol; this module only
sends its messages, collects the replies, and decides per node: a reply that is missing,
an error, malformed, of the wrong stage, from Flower's SecAgg+, or that the protocol
object refuses, drops that node (with the reason recorded); too few nodes left makes the
protocol object raise :class:`~fedcrypto.exceptions.ProtocolError`, which ends the round.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flwr.app import ConfigRecord, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.serverapp import Grid

from ..._random import random_bytes
from ..._sanitize import peer_text
from ...exceptions import (
    FedCryptoError,
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ...secagg import (
    AdvertiseKeys,
    ConsistencyCheck,
    MaskedInput,
    SecAggConfig,
    SecAggServer,
    ShareKeys,
    UnmaskResponse,
)
from ._protocol import (
    CONFIG_KEY,
    NONCE_BYTES,
    PROTOCOL,
    SessionParams,
    commitment,
    decode_aggregate,
    get_config,
    get_payload,
    pack_ids,
    put_payload,
    session_id,
)

__all__ = ["SecAggSettings", "RoundReport", "ServerRound"]

_log = logging.getLogger("flwr.fedcrypto")  # shown by Flower's console handler


@dataclass(frozen=True)
class SecAggSettings:
    """The workflow's knobs, with Flower's ``SecAggPlusWorkflow`` meanings.

    Attributes:
        num_shares: share holders per client *including itself* (int > 2), or a fraction
            of the sampled nodes (float); ``>= n`` means every pair (Bonawitz).
        reconstruction_threshold: shares needed to rebuild a secret (int), or a fraction
            of ``num_shares`` (float).  Must be a strict majority of the holders.
        max_weight: largest weight (examples) of one client.
        clipping_range: parameters are clipped to ``[-clipping_range, clipping_range]``.
        quantization_range: quantization levels across ``[-clip, clip]``.
        modulus_range: masking modulus, a power of two in ``[4, 2^64]``.
        timeout: seconds to wait for each stage's replies (``None``: wait for all).
        active: the signed variant (Ed25519, consistency round).
        unsafe_allow_low_threshold: accept a threshold below a strict majority (>= 2).
    """

    num_shares: int | float
    reconstruction_threshold: int | float
    max_weight: float = 1000.0
    clipping_range: float = 8.0
    quantization_range: int = 4194304
    modulus_range: int = 4294967296
    timeout: float | None = None
    active: bool = False
    unsafe_allow_low_threshold: bool = False

    def __post_init__(self) -> None:
        def number(v: object) -> bool:
            return isinstance(v, (int, float)) and not isinstance(v, bool)

        if not number(self.num_shares) or not number(self.reconstruction_threshold):
            raise InvalidTypeError("num_shares and reconstruction_threshold must be int or float")
        if isinstance(self.num_shares, int) and self.num_shares != 1 and self.num_shares <= 2:
            raise InvalidArgumentError("num_shares as an integer must be greater than 2")
        if isinstance(self.num_shares, float) and not self.num_shares > 0:
            raise InvalidArgumentError("num_shares as a float must be greater than 0")
        t = self.reconstruction_threshold
        if isinstance(t, float) and not 0 < t <= 1:
            raise InvalidArgumentError("reconstruction_threshold as a float must be in (0, 1]")
        if isinstance(t, int) and t != 1 and t < 2:
            raise InvalidArgumentError("reconstruction_threshold must be at least 2")
        if isinstance(t, int) and isinstance(self.num_shares, int) and self.num_shares != 1:
            if t > self.num_shares:
                raise InvalidArgumentError("reconstruction_threshold must not exceed num_shares")
        if not number(self.max_weight) or not (
            math.isfinite(self.max_weight) and self.max_weight > 0
        ):
            raise InvalidArgumentError("max_weight must be a positive number")
        if not number(self.clipping_range) or not (
            math.isfinite(self.clipping_range) and self.clipping_range > 0
        ):
            raise InvalidArgumentError("clipping_range must be a positive number")
        if not isinstance(self.quantization_range, int) or self.quantization_range < 2:
            raise InvalidArgumentError("quantization_range must be an integer >= 2")
        m = self.modulus_range
        if not isinstance(m, int) or m < 4 or m > 1 << 64 or m & (m - 1):
            raise InvalidArgumentError("modulus_range must be a power of 2 in [4, 2^64]")
        if m <= self.quantization_range:
            raise InvalidArgumentError("modulus_range must be greater than quantization_range")
        if self.timeout is not None and not (number(self.timeout) and self.timeout > 0):
            raise InvalidArgumentError("timeout must be a positive number or None")

    @property
    def modulus_bits(self) -> int:
        """``log2(modulus_range)``."""
        return self.modulus_range.bit_length() - 1

    @property
    def scale(self) -> float:
        """Quantization steps per unit: ``(quantization_range - 1) / (2 clip)``."""
        return (self.quantization_range - 1) / (2.0 * self.clipping_range)

    def resolve(self, n: int) -> tuple[int, int]:
        """``(degree, threshold)`` for ``n`` sampled nodes (degree 0 = every pair).

        Same reading as Flower: a float ``num_shares`` is a fraction of ``n`` (rounded,
        made odd, at least 3 else ``n``); an even count gets one more share; a float
        threshold is a fraction of the share count (at least 2).
        """
        shares_f = 1.0 if self.num_shares == 1 else self.num_shares
        if isinstance(shares_f, float):
            shares = round(shares_f * n)
            if shares < n and shares % 2 == 0:
                shares += 1
            if shares <= 2:
                shares = n
        else:
            shares = shares_f
        if shares < n and shares % 2 == 0:
            shares += 1
        shares = min(shares, n)
        t_f = 1.0 if self.reconstruction_threshold == 1 else self.reconstruction_threshold
        threshold = max(round(t_f * shares), 2) if isinstance(t_f, float) else t_f
        degree = shares - 1
        return (0 if degree >= n - 1 else degree), threshold


@dataclass
class RoundReport:
    """What happened in one secure-aggregation round (for logs, tests and monitoring).

    Attributes:
        server_round: the Flower round.
        sampled: the node ids the round started with.
        included: the node ids whose updates are in the aggregate.
        dropped: node id -> why it was dropped (sanitized text).
        total_weight: the aggregated weight (sum of the included clients' examples).
        error: the error that ended the round early (the aggregate is then not used).
    """

    server_round: int
    sampled: tuple[int, ...] = ()
    included: tuple[int, ...] = ()
    dropped: dict[int, str] = field(default_factory=dict)
    total_weight: int | None = None
    error: FedCryptoError | None = None


class ServerRound:
    """Drives one round; each stage method raises ProtocolError when the round must end.

    Args:
        settings: the workflow settings.
        grid: Flower's Grid.
        node_ids: the sampled nodes.
        vector_length: 1 + number of model parameters.
        server_round: the Flower round (group id of every message).
        reply_format: ``"legacy"`` or ``"message"`` (see :class:`SessionParams`).
        weight_key: the weight's MetricRecord key (``"message"`` format).
        executor: where the protocol server regenerates masks when it unmasks (any
            ``concurrent.futures.Executor``; ``None``: inline).
    """

    def __init__(
        self,
        settings: SecAggSettings,
        grid: Grid,
        node_ids: Iterable[int],
        *,
        vector_length: int,
        server_round: int,
        reply_format: str,
        weight_key: str = "num-examples",
        executor: Executor | None = None,
    ) -> None:
        nodes = tuple(sorted(int(n) for n in node_ids))
        if len(nodes) < 2:
            raise LocalProtocolError("secure aggregation needs at least 2 sampled nodes")
        degree, threshold = settings.resolve(len(nodes))
        self.settings = settings
        self.grid = grid
        self.executor = executor
        self.group_id = str(server_round)
        self.params = SessionParams(
            node_ids=nodes,
            threshold=threshold,
            degree=degree,
            modulus_bits=settings.modulus_bits,
            vector_length=vector_length,
            active=settings.active,
            clip=float(settings.clipping_range),
            scale=settings.scale,
            max_weight=float(settings.max_weight),
            reply_format=reply_format,
            weight_key=weight_key,
            unsafe_allow_low_threshold=settings.unsafe_allow_low_threshold,
        )
        self.params.quantizer(len(nodes))  # refuse a configuration whose sum could wrap
        self.report = RoundReport(server_round=server_round, sampled=nodes)
        self.active: set[int] = set(nodes)
        self.cid = {nid: i for i, nid in enumerate(nodes)}
        self._nonce = random_bytes(NONCE_BYTES)
        self._client_nonces: dict[int, bytes] = {}
        self._verifying: dict[int, bytes] = {}
        self.server: SecAggServer | None = None
        self.config: SecAggConfig | None = None
        self.masked: list[npt.NDArray[np.uint64]] = []

    # -- plumbing -------------------------------------------------------------------
    def drop(self, nid: int, reason: str) -> None:
        """Exclude a node from the rest of the round, keeping the first reason."""
        self.active.discard(nid)
        if nid not in self.report.dropped:
            self.report.dropped[nid] = peer_text(reason)
            _log.info("secure aggregation: dropping node %s: %s", nid, self.report.dropped[nid])

    def message(
        self,
        nid: int,
        stage: str,
        content: RecordDict | None = None,
        fields: dict[str, Any] | None = None,
    ) -> Message:
        """A train message to ``nid`` carrying our record (and ``content``'s records)."""
        rd = RecordDict(dict(content.items())) if content is not None else RecordDict()
        rd[CONFIG_KEY] = ConfigRecord({"protocol": PROTOCOL, "stage": stage, **(fields or {})})
        return Message(
            content=rd, dst_node_id=nid, message_type=MessageType.TRAIN, group_id=self.group_id
        )

    def collect(
        self, stage: str, replies: Iterable[Message], asked: set[int]
    ) -> dict[int, RecordDict]:
        """The valid replies of ``stage`` by node; everything else drops its node."""
        got: dict[int, RecordDict] = {}
        seen: set[int] = set()
        for reply in replies:
            nid = int(reply.metadata.src_node_id)
            if nid not in asked:
                _log.warning("secure aggregation: ignoring a reply from unexpected node %s", nid)
                continue
            if nid in seen:
                got.pop(nid, None)
                self.drop(nid, "replied twice to one request")
                continue
            seen.add(nid)
            if reply.has_error():
                reason = str(reply.error.reason)
                if "secaggplus" in reason:
                    reason += " (the node runs Flower's secaggplus_mod: use fedcrypto's secagg_mod)"
                self.drop(nid, f"error reply: {reason}")
                continue
            try:
                rec = get_config(reply.content, who=f"node {nid}")
                if rec.get("stage") != stage:
                    raise RemoteProtocolError(
                        f"answered stage {peer_text(rec.get('stage'), 40)!r} to a {stage!r} request"
                    )
            except FedCryptoError as exc:
                self.drop(nid, str(exc))
                continue
            got[nid] = reply.content
        for nid in sorted(asked - seen):
            self.drop(nid, f"no reply to {stage!r} (timeout or offline)")
        return got

    def exchange(self, stage: str, messages: list[Message]) -> dict[int, RecordDict]:
        """Send one stage's messages and collect the valid replies."""
        asked = {int(m.metadata.dst_node_id) for m in messages}
        replies = self.grid.send_and_receive(messages, timeout=self.settings.timeout)
        return self.collect(stage, replies, asked)

    def _feed(self, nid: int, content: RecordDict, parse: type, receive: object) -> Any:
        """Parse a node's payload, check the claimed sender is that node, hand it over."""
        assert self.config is not None
        try:
            msg = parse.from_bytes(get_payload(content), session_id=self.config.session_id)  # type: ignore[attr-defined]
            if msg.sender != self.cid[nid]:
                raise RemoteProtocolError(f"node {nid} sent a message in another client's name")
            receive(msg)  # type: ignore[operator]
        except (FedCryptoError, ValueError, TypeError) as exc:  # never let a peer crash us
            self.drop(nid, f"{type(exc).__name__}: {exc}")
            return None
        return msg

    # -- stage 0: setup ----------------------------------------------------------------
    def setup_messages(self) -> list[Message]:
        """The setup message for every sampled node (parameters + nonce commitment)."""
        fields = {**self.params.to_record(), "commitment": commitment(self._nonce)}
        return [self.message(nid, "setup", fields=fields) for nid in self.params.node_ids]

    def receive_setup(self, replies: Iterable[Message]) -> None:
        """Record the nonces of the nodes that answered and fix the session.

        Raises:
            ProtocolError: fewer than ``threshold`` nodes answered.
            InvalidArgumentError: the parameters do not fit the nodes that answered.
        """
        got = self.collect("setup", replies, set(self.params.node_ids))
        for nid, content in got.items():
            rec = content.config_records[CONFIG_KEY]
            nonce = rec.get("nonce")
            vk = rec.get("verifying-key")
            if not isinstance(nonce, bytes) or len(nonce) != NONCE_BYTES:
                self.drop(nid, "setup reply without a valid nonce")
                continue
            if self.params.active:
                try:
                    if not isinstance(vk, bytes):
                        raise ValueError
                    Ed25519PublicKey.from_public_bytes(vk)
                except ValueError:
                    self.drop(nid, "setup reply without a valid Ed25519 verifying key")
                    continue
                self._verifying[nid] = vk
            self._client_nonces[nid] = nonce
        nodes = sorted(nid for nid in self._client_nonces if nid in self.active)
        if len(nodes) < self.params.threshold:
            raise LocalProtocolError(
                f"only {len(nodes)} nodes answered the setup; threshold is {self.params.threshold}"
            )
        sid = session_id(
            self.params,
            self._nonce,
            [(self.cid[nid], nid, self._client_nonces[nid]) for nid in nodes],
        )
        keys = None
        if self.params.active:
            keys = {
                self.cid[nid]: Ed25519PublicKey.from_public_bytes(self._verifying[nid])
                for nid in nodes
            }
        self.config = SecAggConfig.create(
            [self.cid[nid] for nid in nodes],
            threshold=self.params.threshold,
            vector_length=self.params.vector_length,
            modulus_bits=self.params.modulus_bits,
            active=self.params.active,
            verifying_keys=keys,
            degree=self.params.degree or None,
            session_id=sid,
            unsafe_allow_low_threshold=self.params.unsafe_allow_low_threshold,
        )
        self.server = SecAggServer(self.config, executor=self.executor)

    # -- stage 1: advertise keys ---------------------------------------------------------
    def advertise(self) -> None:
        """Reveal the server nonce; collect AdvertiseKeys; close round 0 of the protocol."""
        assert self.server is not None and self.config is not None
        nodes = sorted(self.active)
        fields: dict[str, Any] = {
            "server-nonce": self._nonce,
            "registered": pack_ids([self.cid[n] for n in nodes], 4),
            "nonces": b"".join(self._client_nonces[n] for n in nodes),
        }
        if self.params.active:
            fields["verifying-keys"] = b"".join(self._verifying[n] for n in nodes)
        got = self.exchange(
            "advertise", [self.message(n, "advertise", fields=fields) for n in nodes]
        )
        for nid, content in got.items():
            self._feed(nid, content, AdvertiseKeys, self.server.receive_advertise_keys)
        self._key_list = self.server.key_list().to_bytes()

    # -- stage 2: share keys --------------------------------------------------------------
    def share_keys(self) -> None:
        """Broadcast the key list; collect the encrypted shares."""
        assert self.server is not None
        msgs = []
        for nid in sorted(self.active):
            m = self.message(nid, "share-keys")
            put_payload(m.content, self._key_list)
            msgs.append(m)
        got = self.exchange("share-keys", msgs)
        for nid, content in got.items():
            self._feed(nid, content, ShareKeys, self.server.receive_share_keys)
        self._deliveries = self.server.share_deliveries()

    # -- stage 3: masked input ------------------------------------------------------------
    def masked_input(self, contents: dict[int, RecordDict]) -> None:
        """Deliver the shares with the training instructions; collect the masked inputs."""
        assert self.server is not None
        by_cid = {self.cid[n]: n for n in self.active}
        msgs = []
        for cid, delivery in sorted(self._deliveries.items()):
            nid = by_cid.get(cid)
            if nid is None:
                continue
            m = self.message(nid, "masked-input", contents[nid])
            put_payload(m.content, delivery.to_bytes())
            msgs.append(m)
        self._deliveries = {}
        got = self.exchange("masked-input", msgs)
        for nid, content in got.items():
            msg = self._feed(nid, content, MaskedInput, self.server.receive_masked_input)
            if isinstance(msg, MaskedInput):
                self.masked.append(msg.vector)

    # -- stage 4 (active): consistency -------------------------------------------------------
    def consistency(self) -> None:
        """Active mode: ask the survivors to sign U3."""
        assert self.server is not None
        payload = self.server.consistency_request().to_bytes()
        msgs = []
        for nid in sorted(self.active):
            m = self.message(nid, "consistency")
            put_payload(m.content, payload)
            msgs.append(m)
        got = self.exchange("consistency", msgs)
        for nid, content in got.items():
            self._feed(nid, content, ConsistencyCheck, self.server.receive_consistency_check)

    # -- stage 5: unmask ----------------------------------------------------------------------
    def unmask(self) -> tuple[int, npt.NDArray[np.float64]]:
        """Collect the shares, remove the masks; return ``(total weight, weighted mean)``.

        Raises:
            ProtocolError: too few shares or survivors, or an out-of-range weight sum.
        """
        assert self.server is not None and self.config is not None
        if self.params.active:
            self.consistency()
        request = self.server.unmask_request()
        payload = request.to_bytes()
        msgs = []
        for nid in sorted(self.active):
            m = self.message(nid, "unmask")
            put_payload(m.content, payload)
            msgs.append(m)
        got = self.exchange("unmask", msgs)
        for nid, content in got.items():
            self._feed(nid, content, UnmaskResponse, self.server.receive_unmask_response)
        result = self.server.aggregate()
        by_cid = {c: n for n, c in self.cid.items()}
        included = tuple(sorted(by_cid[c] for c in result.included))
        total, mean = decode_aggregate(self.params, result.aggregate, len(included))
        self.report.included = included
        self.report.total_weight = total
        return total, mean

    def masked_sum(self) -> npt.NDArray[np.uint64]:
        """The sum of the masked inputs received (what the server sees before unmasking)."""
        out = np.zeros(self.params.vector_length, dtype=np.uint64)
        for v in self.masked:
            out += v
        if self.params.modulus_bits < 64:
            out &= np.uint64((1 << self.params.modulus_bits) - 1)
        return out


def split_like(
    flat: npt.NDArray[np.float64], templates: list[npt.NDArray[np.generic]]
) -> list[npt.NDArray[np.generic]]:
    """Cut a flat vector into arrays of the templates' shapes and dtypes."""
    out = []
    pos = 0
    for t in templates:
        size = int(np.prod(t.shape, dtype=np.int64))
        out.append(flat[pos : pos + size].reshape(t.shape).astype(t.dtype, copy=False))
        pos += size
    if pos != flat.size:
        raise LocalProtocolError("the aggregate does not match the model's size")
    return out
