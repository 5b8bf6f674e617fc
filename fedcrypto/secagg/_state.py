"""The sealed private state of a :class:`SecAggClient` between two protocol messages.

Host frameworks such as Flower rebuild the client for every message and keep state in a
store they may persist (Flower's ``Context.state``).  A client object cannot be pickled;
this module gives it one explicit, versioned, *sealed* serialization instead.

Envelope: type ``SECAGG_CLIENT_STATE``, parameter id = the session's (so a state of one
session never loads into another).  Payload::

    u8 state version (1) || u32 client id || 12-byte nonce || AES-256-GCM ciphertext

The ciphertext (with its 16-byte tag) seals the fields below under a 32-byte *state key*
that the caller holds; the associated data binds the label ``fedcrypto/secagg/v1/
client-state``, the session id, the client id and the state version.  Without the key
nobody can read the secrets (X25519 private keys, the self-mask seed, the shares held
for peers, the share-encryption keys), and any change to the bytes, or moving them to
another session or client, fails authentication (:class:`SerializationError`).  The seal
does not stop *rollback*: whoever stores the bytes can hand back an older, valid state.

Plaintext fields (big-endian)::

    u8 stage || 32 c_u^SK || 32 s_u^SK || blob b_u (0 or 32 bytes)
    u32 m || m x (u32 id || 32 c_v^PK || 32 s_v^PK)        neighbours' public keys
    u32 n1 || n1 x u32 id                                   U1
    u32 n2 || n2 x u32 id                                   U2
    u8 own || (own) 60-byte share of s_u^SK || 60-byte share of b_u
    u32 r || r x (u32 id || 60 || 60)                       shares held for peers
    u32 g || g x (u32 id || 32-byte AES-GCM key)            share-encryption keys
    u8 has U3 || (has) u32 n3 || n3 x u32 id                U3 signed (active)

Every count is capped by the number of registered clients before anything is allocated,
and every id must be registered in the session.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .._immutable import Immutable
from .._random import random_bytes
from ..exceptions import FedCryptoError, InvalidArgumentError, InvalidTypeError, SerializationError
from ..serialization import ObjectType, Reader, Writer, pack, unpack
from ..sharing import Share
from ._config import SecAggConfig
from ._shares import SHARE_WIRE_BYTES, share_from_wire, share_to_wire

__all__ = ["STATE_KEY_BYTES", "ClientState", "seal_state", "open_state"]

#: Length of the key that seals a client state (AES-256).
STATE_KEY_BYTES = 32
_STATE_VERSION = 1
_NONCE_BYTES = 12
_KEY_BYTES = 32
_LABEL = b"fedcrypto/secagg/v1/client-state"
#: Highest stage code a client can be in (``_FAILED`` in ``_client``).
MAX_STAGE = 6


@dataclass(frozen=True, eq=False)
class ClientState(Immutable):
    """The fields of one client's state (secret material: never logged)."""

    client_id: int
    stage: int
    enc_key: bytes
    mask_key: bytes
    b_seed: bytes
    keys: dict[int, tuple[bytes, bytes]]
    u1: tuple[int, ...]
    u2: frozenset[int]
    own_shares: tuple[Share, Share] | None
    received: dict[int, tuple[Share, Share]]
    gcm_keys: dict[int, bytes]
    survivors: tuple[int, ...] | None

    def __repr__(self) -> str:
        return f"ClientState(client_id={self.client_id}, stage={self.stage})"


def _check_key(key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray)):
        raise InvalidTypeError("the state key must be bytes")
    if len(key) != STATE_KEY_BYTES:
        raise InvalidArgumentError(f"the state key must be {STATE_KEY_BYTES} bytes")
    return bytes(key)


def _ad(config: SecAggConfig, client_id: int) -> bytes:
    return (
        _LABEL
        + config.session_id
        + client_id.to_bytes(4, "big")
        + _STATE_VERSION.to_bytes(1, "big")
    )


def _write_ids(w: Writer, ids: tuple[int, ...] | frozenset[int]) -> None:
    ordered = sorted(ids)
    w.u32(len(ordered))
    for i in ordered:
        w.u32(i)


def seal_state(state: ClientState, config: SecAggConfig, key: bytes) -> bytes:
    """Serialize and seal ``state`` (see the module docstring for the layout)."""
    k = _check_key(key)
    w = Writer().u8(state.stage).raw(state.enc_key).raw(state.mask_key).blob(state.b_seed)
    w.u32(len(state.keys))
    for v in sorted(state.keys):
        enc_pub, mask_pub = state.keys[v]
        w.u32(v).raw(enc_pub).raw(mask_pub)
    _write_ids(w, state.u1)
    _write_ids(w, state.u2)
    if state.own_shares is None:
        w.u8(0)
    else:
        w.u8(1).raw(share_to_wire(state.own_shares[0])).raw(share_to_wire(state.own_shares[1]))
    w.u32(len(state.received))
    for v in sorted(state.received):
        a, b = state.received[v]
        w.u32(v).raw(share_to_wire(a)).raw(share_to_wire(b))
    w.u32(len(state.gcm_keys))
    for v in sorted(state.gcm_keys):
        w.u32(v).raw(state.gcm_keys[v])
    if state.survivors is None:
        w.u8(0)
    else:
        w.u8(1)
        _write_ids(w, state.survivors)
    nonce = random_bytes(_NONCE_BYTES)
    sealed = AESGCM(k).encrypt(nonce, w.getvalue(), _ad(config, state.client_id))
    head = Writer().u8(_STATE_VERSION).u32(state.client_id).raw(nonce).getvalue()
    return pack(ObjectType.SECAGG_CLIENT_STATE, head + sealed, param=config.param)


class _Fields:
    """Bounded readers over the opened plaintext."""

    def __init__(self, r: Reader, config: SecAggConfig) -> None:
        self.r = r
        self.cfg = config
        self.cap = len(config.client_ids)

    def count(self, item_bytes: int) -> int:
        n = self.r.u32()
        if n > self.cap or n * item_bytes > self.r.remaining():
            raise SerializationError("client state list longer than the session allows")
        return n

    def client(self) -> int:
        c = self.r.u32()
        if not self.cfg.is_registered(c):
            raise SerializationError("client state names an unregistered client")
        return c

    def ids(self) -> tuple[int, ...]:
        n = self.count(4)
        out = tuple(self.client() for _ in range(n))
        if list(out) != sorted(set(out)):
            raise SerializationError("client state id list is not sorted and distinct")
        return out


def open_state(data: bytes, config: SecAggConfig, key: bytes) -> ClientState:
    """Check, open and parse a state written by :func:`seal_state`.

    Raises:
        SerializationError: malformed bytes, another session, a wrong key, or any change
            to the sealed bytes (authentication fails).
        InvalidArgumentError, InvalidTypeError: a key of the wrong type or length.
    """
    k = _check_key(key)
    env = unpack(data, ObjectType.SECAGG_CLIENT_STATE, expected_param=config.param)
    head = Reader(env.payload)
    version, client_id = head.u8(), head.u32()
    if version != _STATE_VERSION:
        raise SerializationError(f"unsupported client state version {version}")
    if not config.is_registered(client_id):
        raise SerializationError("client state belongs to a client not in this session")
    nonce = head.raw(_NONCE_BYTES)
    body = env.payload[5 + _NONCE_BYTES :]
    try:
        plain = AESGCM(k).decrypt(nonce, body, _ad(config, client_id))
    except InvalidTag:
        raise SerializationError(
            "client state does not authenticate (tampered, wrong key, session or client)"
        ) from None
    f = _Fields(Reader(plain), config)
    r = f.r
    stage = r.u8()
    if stage > MAX_STAGE:
        raise SerializationError("client state has an unknown stage")
    enc_key, mask_key = r.raw(_KEY_BYTES), r.raw(_KEY_BYTES)
    b_seed = r.blob(_KEY_BYTES)
    if len(b_seed) not in (0, _KEY_BYTES):
        raise SerializationError("client state has a malformed self-mask seed")
    keys: dict[int, tuple[bytes, bytes]] = {}
    for _ in range(f.count(4 + 2 * _KEY_BYTES)):
        v = f.client()
        keys[v] = (r.raw(_KEY_BYTES), r.raw(_KEY_BYTES))
    u1 = f.ids()
    u2 = frozenset(f.ids())
    u1_set = set(u1)

    def holders_of(owner: int) -> tuple[int, ...]:
        return config.holders(owner, u1)

    def share_pair(owner: int, raw_a: bytes, raw_b: bytes) -> tuple[Share, Share]:
        holders = holders_of(owner)
        if owner not in u1_set or client_id not in holders:
            raise SerializationError("client state holds a share it cannot hold")
        params = {
            "index": holders.index(client_id) + 1,
            "threshold": config.threshold,
            "share_count": len(holders),
            "who": owner,
        }
        try:
            return share_from_wire(raw_a, **params), share_from_wire(raw_b, **params)
        except FedCryptoError:
            raise SerializationError("client state holds an invalid share") from None

    own: tuple[Share, Share] | None = None
    has_own = r.u8()
    if has_own > 1:
        raise SerializationError("client state has a malformed flag")
    if has_own:
        own = share_pair(client_id, r.raw(SHARE_WIRE_BYTES), r.raw(SHARE_WIRE_BYTES))
    received: dict[int, tuple[Share, Share]] = {}
    for _ in range(f.count(4 + 2 * SHARE_WIRE_BYTES)):
        v = f.client()
        received[v] = share_pair(v, r.raw(SHARE_WIRE_BYTES), r.raw(SHARE_WIRE_BYTES))
    gcm_keys: dict[int, bytes] = {}
    for _ in range(f.count(4 + _KEY_BYTES)):
        v = f.client()
        gcm_keys[v] = r.raw(_KEY_BYTES)
    survivors: tuple[int, ...] | None = None
    has_u3 = r.u8()
    if has_u3 > 1:
        raise SerializationError("client state has a malformed flag")
    if has_u3:
        survivors = f.ids()
    r.finish()
    return ClientState(
        client_id=client_id,
        stage=stage,
        enc_key=enc_key,
        mask_key=mask_key,
        b_seed=b_seed,
        keys=keys,
        u1=u1,
        u2=u2,
        own_shares=own,
        received=received,
        gcm_keys=gcm_keys,
        survivors=survivors,
    )
