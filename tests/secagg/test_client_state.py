"""SecAggClient.private_state_bytes / from_private_state: a client rebuilt from its sealed
state between every message (as Flower does) completes the protocol exactly."""

from __future__ import annotations

import os

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedcrypto.exceptions import InvalidArgumentError, ProtocolError, SerializationError
from fedcrypto.secagg import SecAggClient, SecAggConfig, SecAggServer


def _run(active: bool, degree: int | None, drop_mask: set[int], reload: bool) -> None:
    n, length = 7, 50
    signing = {i: Ed25519PrivateKey.generate() for i in range(n)}
    cfg = SecAggConfig.create(
        range(n),
        threshold=4 if degree is None else 3,
        vector_length=length,
        modulus_bits=24,
        active=active,
        verifying_keys={i: k.public_key() for i, k in signing.items()} if active else None,
        degree=degree,
    )
    keys = {i: os.urandom(32) for i in range(n)}
    blobs: dict[int, bytes] = {}

    def client(i: int) -> SecAggClient:
        if not reload:
            return clients[i]
        return SecAggClient.from_private_state(
            cfg, blobs[i], key=keys[i], signing_key=signing[i] if active else None
        )

    def save(i: int, c: SecAggClient) -> None:
        blobs[i] = c.private_state_bytes(key=keys[i])
        clients[i] = c

    clients = {
        i: SecAggClient(cfg, i, signing_key=signing[i] if active else None) for i in range(n)
    }
    for i in range(n):
        save(i, clients[i])
    x = np.arange(n * length, dtype=np.uint64).reshape(n, length) % 1000
    server = SecAggServer(cfg)
    for i in range(n):
        c = client(i)
        server.receive_advertise_keys(c.advertise_keys().to_bytes())
        save(i, c)
    kl = server.key_list().to_bytes()
    for i in range(n):
        c = client(i)
        server.receive_share_keys(c.share_keys(kl).to_bytes())
        save(i, c)
    deliveries = server.share_deliveries()
    alive = [i for i in range(n) if i not in drop_mask]
    for i in alive:
        c = client(i)
        server.receive_masked_input(c.masked_input(deliveries[i].to_bytes(), x[i]).to_bytes())
        save(i, c)
    if active:
        req = server.consistency_request().to_bytes()
        for i in alive:
            c = client(i)
            server.receive_consistency_check(c.consistency_check(req).to_bytes())
            save(i, c)
    um = server.unmask_request().to_bytes()
    for i in alive:
        c = client(i)
        server.receive_unmask_response(c.unmask(um).to_bytes())
        save(i, c)
    res = server.aggregate()
    assert res.included == tuple(alive)
    assert np.array_equal(res.aggregate, x[alive].sum(axis=0) % (1 << 24))
    # A restored client that already answered the unmasking request refuses a second one.
    with pytest.raises(ProtocolError):
        client(alive[0]).unmask(um)


@pytest.mark.parametrize("active", [False, True])
@pytest.mark.parametrize("degree", [None, 4])
def test_reloaded_clients_complete_the_protocol(active: bool, degree: int | None) -> None:
    _run(active, degree, {2, 5}, reload=True)


def _config() -> SecAggConfig:
    return SecAggConfig.create(range(4), threshold=3, vector_length=5)


def test_tampered_state_is_refused_with_a_typed_error() -> None:
    cfg = _config()
    key = os.urandom(32)
    c = SecAggClient(cfg, 1)
    c.advertise_keys()
    blob = c.private_state_bytes(key=key)
    assert SecAggClient.from_private_state(cfg, blob, key=key).client_id == 1
    for pos in (len(blob) - 1, len(blob) - 20, 40, 33):
        bad = bytearray(blob)
        bad[pos] ^= 1
        with pytest.raises(SerializationError):
            SecAggClient.from_private_state(cfg, bytes(bad), key=key)
    with pytest.raises(SerializationError):
        SecAggClient.from_private_state(cfg, blob, key=os.urandom(32))
    with pytest.raises(SerializationError):  # another session
        SecAggClient.from_private_state(_config(), blob, key=key)
    with pytest.raises(SerializationError):
        SecAggClient.from_private_state(cfg, blob[:-1], key=key)
    with pytest.raises(SerializationError):
        SecAggClient.from_private_state(cfg, b"garbage", key=key)
    with pytest.raises(InvalidArgumentError):
        c.private_state_bytes(key=b"short")


def test_state_is_sealed_not_plain() -> None:
    cfg = _config()
    key = os.urandom(32)
    c = SecAggClient(cfg, 0)
    c.advertise_keys()
    blob = c.private_state_bytes(key=key)
    restored = SecAggClient.from_private_state(cfg, blob, key=key)
    assert restored._mask_key.private_bytes_raw() == c._mask_key.private_bytes_raw()
    assert c._mask_key.private_bytes_raw() not in blob
    assert c._enc_key.private_bytes_raw() not in blob
    assert "key" not in repr(restored).lower() or "private" not in repr(restored).lower()


def test_moving_a_state_to_another_client_id_fails() -> None:
    cfg = _config()
    key = os.urandom(32)
    blob = bytearray(SecAggClient(cfg, 0).private_state_bytes(key=key))
    blob[32 + 4] = 2  # the client id field in the payload header (low byte)
    with pytest.raises(SerializationError):
        SecAggClient.from_private_state(cfg, bytes(blob), key=key)
