"""Key validation (X25519, Ed25519), caps on peer-controlled sizes, and whose fault each
protocol error is (LocalProtocolError: this side's caller; RemoteProtocolError: a peer)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidSignatureError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.secagg import (
    AdvertiseKeys,
    SecAggClient,
    SecAggConfig,
    SecAggServer,
    UnmaskRequest,
    neighbor_map,
)
from fedcrypto.secagg._config import MAX_CLIENTS
from fedcrypto.secagg._crypto import X25519_LOW_ORDER, load_public_key, x25519_key_problem
from fedcrypto.serialization import ObjectType, Writer, pack, param_id

P = (1 << 255) - 19
RAW = (Encoding.Raw, PublicFormat.Raw)


def _u(value: int) -> bytes:
    return value.to_bytes(32, "little")


# ---- X25519 -----------------------------------------------------------------------------


def test_low_order_list_is_what_x25519_refuses() -> None:
    """Every listed u gives an all-zero secret (OpenSSL refuses the exchange); random
    honest keys never are listed and always work."""
    sk = X25519PrivateKey.generate()
    for u in X25519_LOW_ORDER:
        with pytest.raises(ValueError):
            sk.exchange(X25519PublicKey.from_public_bytes(_u(u)))
        with pytest.raises(InvalidGroupElementError, match="small order"):
            load_public_key(_u(u))
    for _ in range(200):
        raw = X25519PrivateKey.generate().public_key().public_bytes(*RAW)
        assert x25519_key_problem(raw) is None
        sk.exchange(load_public_key(raw))
    # Below 2^16 only 0 and 1 are of small order: no other small u is refused.
    for u in range(2, 1 << 10):
        assert x25519_key_problem(_u(u)) is None


@pytest.mark.parametrize(
    "raw",
    [
        _u(P),  # = 0 after reduction
        _u(P + 1),  # = 1
        _u(P + 9),  # a valid point, non-canonically encoded
        ((1 << 255) + 9).to_bytes(32, "little"),  # top bit set
        b"\xff" * 32,
        bytes(31),
        bytes(33),
        b"",
    ],
)
def test_non_canonical_or_wrong_length_keys_are_refused(raw: bytes) -> None:
    assert x25519_key_problem(raw) is not None
    with pytest.raises(InvalidGroupElementError):
        load_public_key(raw)


# ---- Ed25519 (active variant) -------------------------------------------------------------

ED_SMALL_ORDER = [
    _u(1),  # the neutral element
    _u(P - 1),  # order 2
    _u(0),  # order 4
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    (1 | (1 << 255)).to_bytes(32, "little"),  # the neutral element with the sign bit set
]
ED_NON_CANONICAL = [_u(P + 1), _u(P + 3), _u((1 << 255) - 1)]  # y >= p


def _ed_decode(raw: bytes) -> tuple[int, int] | None:
    """RFC 8032 5.1.3 decoding, written out independently of the library."""
    d = -121665 * pow(121666, -1, P) % P
    y = int.from_bytes(raw, "little")
    sign, y = y >> 255, y & ((1 << 255) - 1)
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (d * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if v * x * x % P == (-u) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    elif v * x * x % P != u:
        return None
    if x == 0 and sign:
        return None
    return (P - x if x & 1 != sign else x), y


def _ed_times_8_is_neutral(x: int, y: int) -> bool:
    d = -121665 * pow(121666, -1, P) % P
    px, py = x, y
    for _ in range(3):  # affine doubling on -x^2 + y^2 = 1 + d x^2 y^2
        den = d * px * px * py * py % P
        px, py = (
            2 * px * py * pow(1 + den, -1, P) % P,
            (py * py + px * px) * pow(1 - den, -1, P) % P,
        )
    return px == 0 and py == 1


def test_small_order_list_is_the_whole_8_torsion() -> None:
    from fedcrypto.secagg._crypto import ED25519_SMALL_ORDER

    points = set()
    for raw in ED25519_SMALL_ORDER:
        point = _ed_decode(raw)
        if point is None:  # x = 0 with the sign bit set: refused as non-canonical anyway
            continue
        assert _ed_times_8_is_neutral(*point)
        points.add(point)
    assert len(points) == 8  # the torsion subgroup has exactly 8 points: all are listed
    for _ in range(50):
        raw = Ed25519PrivateKey.generate().public_key().public_bytes(*RAW)
        assert raw not in ED25519_SMALL_ORDER
        assert not _ed_times_8_is_neutral(*_ed_decode(raw))  # type: ignore[misc]


def _active_config(bad: bytes) -> SecAggConfig:
    keys = {i: Ed25519PrivateKey.generate().public_key() for i in range(4)}
    keys[2] = Ed25519PublicKey.from_public_bytes(bad)
    return SecAggConfig.create(
        range(4), threshold=3, vector_length=4, active=True, verifying_keys=keys
    )


@pytest.mark.parametrize("raw", ED_SMALL_ORDER + ED_NON_CANONICAL, ids=lambda b: b.hex()[:8])
def test_small_order_or_non_canonical_verifying_keys_are_refused(raw: bytes) -> None:
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        pytest.skip("the cryptography package refuses this encoding itself")
    with pytest.raises(InvalidArgumentError, match="client 2"):
        _active_config(raw)
    # The same key arriving in a configuration from the server: a SerializationError.
    good = SecAggConfig.create(
        range(4),
        threshold=3,
        vector_length=4,
        active=True,
        verifying_keys={i: Ed25519PrivateKey.generate().public_key() for i in range(4)},
    )
    data = bytearray(good.to_bytes())
    data[-2 * 32 : -32] = raw  # client 2's key (keys are in id order, 4 clients)
    with pytest.raises(SerializationError):
        SecAggConfig.from_bytes(bytes(data))


def test_honest_verifying_keys_pass() -> None:
    keys = {i: Ed25519PrivateKey.generate().public_key() for i in range(50)}
    cfg = SecAggConfig.create(
        range(50), threshold=26, vector_length=1, active=True, verifying_keys=keys
    )
    assert SecAggConfig.from_bytes(cfg.to_bytes()).active


# ---- caps on sizes from a peer ----------------------------------------------------------


def _config_bytes(n: int, body: bytes, *, degree: int = 0, t: int = 2) -> bytes:
    sid = os.urandom(32)
    w = Writer().raw(sid).u8(2 if degree else 0).u8(32).u32(4).u32(t).u32(degree).u32(n).raw(body)
    return pack(ObjectType.SECAGG_CONFIG, w.getvalue(), param=param_id(b"secagg", sid))


def test_config_caps_are_checked_before_allocation() -> None:
    with pytest.raises(SerializationError, match="clients"):
        SecAggConfig.from_bytes(_config_bytes(MAX_CLIENTS + 1, b""))
    with pytest.raises(SerializationError):
        SecAggConfig.from_bytes(_config_bytes(5, bytes(4 * 4)))  # announces 5, holds 4
    ids = b"".join(i.to_bytes(4, "big") for i in range(2000))
    cfg = SecAggConfig.from_bytes(
        _config_bytes(2000, ids, degree=1996, t=1000)
    )  # SecAgg+, k = n - 4
    assert len(cfg.neighbors(7)) == 1996
    assert cfg._graph is not None and len(cfg._graph._order) == 2000  # O(n), not O(n k)


def test_lazy_graph_equals_neighbor_map() -> None:
    sid = os.urandom(32)
    cfg = SecAggConfig.create(range(40), threshold=5, vector_length=1, degree=6, session_id=sid)
    nmap = neighbor_map(range(40), 6, sid)
    assert all(cfg.neighbors(c) == nmap[c] for c in range(40))
    assert all(c in nmap[d] for c in range(40) for d in nmap[c])  # symmetric


# ---- whose fault -------------------------------------------------------------------------


def _session(n: int = 4, t: int = 3) -> tuple[SecAggConfig, SecAggServer, dict[int, SecAggClient]]:
    cfg = SecAggConfig.create(range(n), threshold=t, vector_length=3)
    return cfg, SecAggServer(cfg), {i: SecAggClient(cfg, i) for i in range(n)}


def test_local_protocol_errors_are_this_sides_fault() -> None:
    cfg, server, clients = _session()
    adverts = {i: c.advertise_keys() for i, c in clients.items()}
    with pytest.raises(LocalProtocolError):
        clients[0].advertise_keys()  # called twice
    with pytest.raises(LocalProtocolError):
        server.share_deliveries()  # closing a round that is not open
    server.receive_advertise_keys(adverts[0])
    with pytest.raises(LocalProtocolError, match="threshold"):
        server.key_list()  # too few clients left
    for i in (1, 2):
        server.receive_advertise_keys(adverts[i])
    kl = server.key_list()
    with pytest.raises(LocalProtocolError):
        server.key_list()  # twice
    with pytest.raises(LocalProtocolError):
        server.consistency_request()  # not the active variant
    # A client refuses to go on with fewer than t peers (here: the list lost one entry).
    short = dataclasses.replace(kl, entries=kl.entries[:2])
    with pytest.raises(LocalProtocolError, match="threshold"):
        clients[0].share_keys(short)
    with pytest.raises(LocalProtocolError, match="aborted"):
        clients[0].share_keys(kl)  # after its own abort


def test_remote_protocol_errors_are_the_peers_fault() -> None:
    cfg, server, clients = _session()
    adverts = {i: c.advertise_keys() for i, c in clients.items()}
    with pytest.raises(RemoteProtocolError, match="malformed"):
        server.receive_advertise_keys(b"FCRY" + os.urandom(60))
    with pytest.raises(InvalidGroupElementError):  # a RemoteProtocolError
        server.receive_advertise_keys(dataclasses.replace(adverts[3], mask_public=bytes(32)))
    for a in adverts.values():
        server.receive_advertise_keys(a)
    with pytest.raises(RemoteProtocolError, match="repeated"):
        server.receive_advertise_keys(adverts[0])
    kl = server.key_list()
    with pytest.raises(RemoteProtocolError, match="late"):
        server.receive_advertise_keys(
            AdvertiseKeys(cfg.session_id, 1, os.urandom(32), os.urandom(32))
        )
    first = clients[0].share_keys(kl.to_bytes())
    with pytest.raises(RemoteProtocolError, match="already answered"):
        clients[0].share_keys(kl.to_bytes())  # the server sent the key list twice
    server.receive_share_keys(first)
    for i in (1, 2, 3):
        server.receive_share_keys(clients[i].share_keys(kl))
    deliveries = server.share_deliveries()
    with pytest.raises(RemoteProtocolError, match="another client"):
        clients[1].masked_input(deliveries[2], np.zeros(3, dtype=np.uint64))
    for err in (InvalidGroupElementError, InvalidSignatureError):
        assert issubclass(err, RemoteProtocolError)


def test_a_forbidden_unmask_request_is_the_servers_fault() -> None:
    cfg, server, clients = _session()
    for c in clients.values():
        server.receive_advertise_keys(c.advertise_keys())
    kl = server.key_list()
    for c in clients.values():
        server.receive_share_keys(c.share_keys(kl))
    d = server.share_deliveries()
    for i, c in clients.items():
        server.receive_masked_input(c.masked_input(d[i], np.zeros(3, dtype=np.uint64)))
    with pytest.raises(RemoteProtocolError, match="both"):
        clients[0].unmask(UnmaskRequest(cfg.session_id, (0, 1, 2, 3), (3,)))
