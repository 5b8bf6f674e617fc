"""``secagg_mod``: the client side of fedcrypto secure aggregation as a Flower mod.

Flower rebuilds the ClientApp for every message, so everything a client must remember
between the stages lives in ``Context.state`` under ``"fedcrypto.secagg.state"``: public
values in clear (the accepted parameters, the session config) and the client's secrets
only inside the sealed envelope of :meth:`SecAggClient.private_state_bytes`.

The user's training (``call_next``) runs exactly once per round, at the masked-input
stage; its plain result is quantized and masked here and never leaves the node: the
reply carries nothing but fedcrypto envelopes.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from flwr.app import ConfigRecord, Context, Error, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import parameters_to_ndarrays
from flwr.common.constant import ErrorCode
from flwr.compat.common import recorddict_compat as compat

from ..._random import random_bytes
from ..._sanitize import peer_text
from ...exceptions import (
    FedCryptoError,
    InvalidSignatureError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ...secagg import SecAggClient, SecAggConfig
from ._keys import load_roster, load_signing_key, raw_public, state_key_from_config
from ._protocol import (
    ARRAY_KEY,
    CONFIG_KEY,
    FLOWER_SECAGGPLUS_KEY,
    NONCE_BYTES,
    PROTOCOL,
    STATE_KEY,
    SessionParams,
    check_protocol,
    commitment,
    encode_update,
    get_payload,
    put_payload,
    session_id,
    split_blob,
    unpack_ids,
)

__all__ = ["secagg_mod"]

_log = logging.getLogger("flwr.fedcrypto")  # shown by Flower's console handler
_NEXT = {
    "setup": "advertise",
    "advertise": "share-keys",
    "share-keys": "masked-input",
    "consistency": "unmask",
}


def secagg_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Flower client mod running fedcrypto secure aggregation (drop-in for ``secaggplus_mod``).

    Handles every ``train`` message; other message types pass through untouched.  Each
    secure-aggregation stage is answered from the sealed state in ``ctxt.state``; at the
    masked-input stage the user's training runs once (``call_next``), and its update
    and weight (``num_examples``, or the strategy's weight key) are quantized and masked.

    A train message without fedcrypto's record (e.g. from Flower's SecAggPlusWorkflow or
    a plain strategy) is refused, so the plain update is never sent by mistake.

    Returns:
        The reply (only fedcrypto records), or an error reply that says why this node
        refuses (a refused or malformed request, a stage out of order or replayed); after
        a refusal the node takes no further part in the session.
    """
    if msg.metadata.message_type != MessageType.TRAIN:
        return call_next(msg, ctxt)
    store = _Store(ctxt)
    try:
        content = msg.content
        if CONFIG_KEY not in content.config_records:
            if FLOWER_SECAGGPLUS_KEY in content.config_records:
                raise LocalProtocolError(
                    "this node runs fedcrypto's secagg_mod but the server runs Flower's "
                    "SecAggPlusWorkflow: use fedcrypto's SecAggWorkflow (or SecAggFedAvg)"
                )
            raise LocalProtocolError(
                "secagg_mod received a train message without fedcrypto secure-aggregation "
                "instructions: refusing to send a plain update"
            )
        rec = content.config_records[CONFIG_KEY]
        check_protocol(rec, who="server")
        stage = rec.get("stage")
        if stage == "setup":
            out = _setup(store, msg, rec)
        else:
            out = _continue(store, msg, ctxt, call_next, str(stage)[:40])
    except FedCryptoError as exc:
        store.fail()
        kind = "refused" if isinstance(exc, LocalProtocolError) else "failed"
        reason = f"fedcrypto secagg_mod {kind}: {type(exc).__name__}: {peer_text(str(exc))}"
        _log.warning("node %s: %s", msg.metadata.dst_node_id, reason)
        return Message(
            Error(code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION, reason=reason), reply_to=msg
        )
    store.save()
    return Message(out, reply_to=msg)


class _Store:
    """This node's secure-aggregation record in ``Context.state``."""

    def __init__(self, ctxt: Context) -> None:
        self.ctxt = ctxt
        records = ctxt.state.config_records
        self.fields: dict[str, Any] = dict(records[STATE_KEY]) if STATE_KEY in records else {}

    def save(self) -> None:
        self.ctxt.state.config_records[STATE_KEY] = ConfigRecord(self.fields)

    def fail(self) -> None:
        if self.fields:
            self.fields["stage"] = "failed"
            self.fields.pop("client", None)  # the secrets are useless from now on
            self.save()

    def state_key(self) -> bytes:
        key = state_key_from_config(self.ctxt.node_config)
        if key is not None:
            return key
        stored = self.fields.get("state-key")
        if not isinstance(stored, bytes) or len(stored) != 32:
            raise LocalProtocolError("this node's secure-aggregation state lost its key")
        return stored

    def params(self) -> SessionParams:
        raw = self.fields.get("params")
        if not isinstance(raw, bytes):
            raise LocalProtocolError("no secure-aggregation session is set up on this node")
        return SessionParams.from_bytes(raw)

    def config(self) -> SecAggConfig:
        raw = self.fields.get("config")
        if not isinstance(raw, bytes):
            raise LocalProtocolError("no secure-aggregation session is set up on this node")
        params = self.params()
        return SecAggConfig.from_bytes(
            raw, unsafe_allow_low_threshold=params.unsafe_allow_low_threshold
        )

    def client(self, config: SecAggConfig) -> SecAggClient:
        signing = None
        if config.active:
            signing = load_signing_key(self.ctxt.node_config, self.ctxt.run_config)
        return SecAggClient.from_private_state(
            config, self.fields["client"], key=self.state_key(), signing_key=signing
        )

    def keep(self, client: SecAggClient, stage: str) -> None:
        self.fields["client"] = client.private_state_bytes(key=self.state_key())
        self.fields["stage"] = stage


def _reply(stage: str, **fields: Any) -> RecordDict:
    return RecordDict({CONFIG_KEY: ConfigRecord({"protocol": PROTOCOL, "stage": stage, **fields})})


def _setup(store: _Store, msg: Message, rec: ConfigRecord) -> RecordDict:
    """Stage 0: accept the parameters, contribute a nonce to the session id."""
    params = SessionParams.from_record(rec)
    me = int(msg.metadata.dst_node_id)
    if me not in params.node_ids:
        raise RemoteProtocolError("the setup does not list this node")
    commit = rec.get("commitment")
    if not isinstance(commit, bytes) or len(commit) != 32:
        raise RemoteProtocolError("the setup carries no valid commitment")
    params.quantizer(len(params.node_ids))  # refuse parameters whose sum could wrap
    nonce = random_bytes(NONCE_BYTES)
    fields: dict[str, Any] = {
        "stage": "setup",
        "params": params.to_bytes(),
        "commitment": commit,
        "nonce": nonce,
        "client-id": params.node_ids.index(me),
    }
    if state_key_from_config(store.ctxt.node_config) is None:
        fields["state-key"] = random_bytes(32)
    extra: dict[str, Any] = {"nonce": nonce}
    if params.active:
        key = load_signing_key(store.ctxt.node_config, store.ctxt.run_config)
        extra["verifying-key"] = raw_public(key.public_key())
    store.fields = fields  # a new setup always starts from scratch
    return _reply("setup", **extra)


def _continue(
    store: _Store, msg: Message, ctxt: Context, call_next: ClientAppCallable, stage: str
) -> RecordDict:
    have = store.fields.get("stage")
    if have == "failed":
        raise LocalProtocolError("this node left the session after an earlier error")
    if have is None:
        raise RemoteProtocolError(f"stage {stage!r} arrived before any setup on this node")
    params = store.params()
    if have == "masked-input":
        expected = "consistency" if params.active else "unmask"
    else:
        expected = _NEXT.get(str(have), "setup")
    if stage != expected:
        if stage in ("advertise", "share-keys", "masked-input", "consistency", "unmask"):
            raise RemoteProtocolError(
                f"stage {stage!r} out of order or replayed (this node expects {expected!r})"
            )
        raise RemoteProtocolError(f"unknown secure-aggregation stage {stage!r}")
    rec = msg.content.config_records[CONFIG_KEY]
    if stage == "advertise":
        return _advertise(store, params, rec)
    config = store.config()
    client = store.client(config)
    payload = get_payload(msg.content)
    if stage == "share-keys":
        out = client.share_keys(payload).to_bytes()
    elif stage == "masked-input":
        out = _masked_input(store, params, config, client, payload, msg, ctxt, call_next)
    elif stage == "consistency":
        out = client.consistency_check(payload).to_bytes()
    else:
        out = client.unmask(payload).to_bytes()
    store.keep(client, stage)
    if stage == "unmask":
        store.fields.pop("client", None)  # done: nothing secret is kept
    reply = _reply(stage)
    put_payload(reply, out)
    return reply


def _advertise(store: _Store, params: SessionParams, rec: ConfigRecord) -> RecordDict:
    """Stage 1: check the server's reveal, derive the session id, advertise keys."""
    server_nonce = rec.get("server-nonce")
    if (
        not isinstance(server_nonce, bytes)
        or commitment(server_nonce) != store.fields["commitment"]
    ):
        raise RemoteProtocolError("the server's nonce does not match its commitment")
    raw_ids = rec.get("registered")
    if not isinstance(raw_ids, bytes):
        raise RemoteProtocolError("malformed list of registered clients")
    registered = list(unpack_ids(raw_ids, 4))
    n = len(params.node_ids)
    if any(not 0 <= c < n for c in registered) or registered != sorted(set(registered)):
        raise RemoteProtocolError("registered clients must be sorted distinct client ids")
    nonces = split_blob(rec.get("nonces"), NONCE_BYTES, len(registered), "client nonces")
    me = int(store.fields["client-id"])
    if me not in registered or nonces[registered.index(me)] != store.fields["nonce"]:
        raise RemoteProtocolError("the server omitted or altered this node's nonce")
    sid = session_id(
        params,
        server_nonce,
        [(c, params.node_ids[c], x) for c, x in zip(registered, nonces, strict=True)],
    )
    verifying = None
    signing = None
    if params.active:
        signing = load_signing_key(store.ctxt.node_config, store.ctxt.run_config)
        verifying = _verifying_keys(store, rec, registered)
        if raw_public(verifying[me]) != raw_public(signing.public_key()):
            raise RemoteProtocolError("the server announced another verifying key for this node")
    config = SecAggConfig.create(
        registered,
        threshold=params.threshold,
        vector_length=params.vector_length,
        modulus_bits=params.modulus_bits,
        active=params.active,
        verifying_keys=verifying,
        degree=params.degree or None,
        session_id=sid,
        unsafe_allow_low_threshold=params.unsafe_allow_low_threshold,
    )
    client = SecAggClient(config, me, signing_key=signing)
    out = client.advertise_keys().to_bytes()
    store.fields["config"] = config.to_bytes()
    store.keep(client, "advertise")
    reply = _reply("advertise")
    put_payload(reply, out)
    return reply


def _verifying_keys(
    store: _Store, rec: ConfigRecord, registered: list[int]
) -> dict[int, Ed25519PublicKey]:
    keys = split_blob(rec.get("verifying-keys"), 32, len(registered), "verifying key list")
    roster = load_roster(store.ctxt.node_config, store.ctxt.run_config)
    out: dict[int, Ed25519PublicKey] = {}
    for c, raw in zip(registered, keys, strict=True):
        if roster is not None and raw not in roster:
            raise InvalidSignatureError(
                f"the verifying key announced for client {c} is not in this node's roster"
            )
        try:
            out[c] = Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            raise RemoteProtocolError("malformed verifying key") from None
    return out


def _masked_input(
    store: _Store,
    params: SessionParams,
    config: SecAggConfig,
    client: SecAggClient,
    delivery: bytes,
    msg: Message,
    ctxt: Context,
    call_next: ClientAppCallable,
) -> bytes:
    """Stage 3: train once, quantize and mask the update."""
    content = msg.content
    del content[CONFIG_KEY]  # the user's handler sees the strategy's records only
    if ARRAY_KEY in content:
        del content[ARRAY_KEY]
    reply = call_next(msg, ctxt)
    if reply.has_error():
        raise LocalProtocolError(f"training failed: {peer_text(reply.error.reason)}")
    arrays, weight = _update_of(reply.content, params)
    vector = encode_update(params, arrays, weight, len(config.client_ids))
    return client.masked_input(delivery, vector).to_bytes()


def _update_of(content: RecordDict, params: SessionParams) -> tuple[list[Any], float]:
    """The trained update and its weight, from the user's reply."""
    if params.reply_format == "legacy":
        try:
            fitres = compat.recorddict_to_fitres(content, keep_input=True)
        except Exception as exc:  # noqa: BLE001 - Flower raises anything on a bad FitRes
            raise LocalProtocolError(
                f"the training reply is not a FitRes: {peer_text(exc)}"
            ) from None
        return list(parameters_to_ndarrays(fitres.parameters)), fitres.num_examples
    arrays = list(content.array_records.values())
    metrics = list(content.metric_records.values())
    if len(arrays) != 1 or len(metrics) != 1:
        raise LocalProtocolError(
            "the training reply must hold exactly one ArrayRecord and one MetricRecord"
        )
    if params.weight_key not in metrics[0]:
        raise LocalProtocolError(f"the training reply has no {params.weight_key!r} metric")
    weight = metrics[0][params.weight_key]
    return [np.asarray(a) for a in arrays[0].to_numpy_ndarrays()], weight  # type: ignore[return-value]
