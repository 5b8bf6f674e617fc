"""Unbalanced PSI: cache + OPRF queries against the plaintext intersection, stale epochs,
answers out of order or beyond what was asked, malformed caches, leakage."""

from __future__ import annotations

import random

import numpy as np
import pytest

from fedcrypto import psi
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import CacheChunk, CacheHeader, OprfRequest, OprfResponse, TagCache


def _ids(prefix, idx):
    return [f"{prefix}{i}".encode() for i in idx]


def test_queries_match_plaintext_intersection():
    rng = random.Random(4)
    server = _ids("s", range(3000))
    clients = [
        _ids("s", rng.sample(range(6000), 200)),
        [],
        _ids("s", range(3000)),  # complete overlap
        _ids("x", range(50)),  # none
    ]
    results = psi.run_unbalanced(server, clients)
    sset = set(server)
    for items, got in zip(clients, results, strict=True):
        assert list(got) == [i for i, x in enumerate(items) if x in sset]


def _setup(n=200):
    key, epoch = psi.new_server_key()
    server_items = _ids("s", range(n))
    cache = TagCache(epoch, psi.build_cache(server_items, key, epoch))
    return key, epoch, cache, psi.OprfServer(key, epoch)


def test_cache_is_compact_and_reusable_across_clients():
    key, epoch, cache, server = _setup(500)
    assert cache.tags.nbytes == 8 * 500 and cache.tags.dtype == np.uint64
    assert len(cache.to_bytes()) == 16 + 8 + 8 * 500
    assert TagCache.from_bytes(cache.to_bytes()).epoch == epoch
    for items in (_ids("s", range(10)), _ids("s", range(490, 510))):
        c = psi.OprfClient(items, cache, batch=7)
        for req in c.start():
            c.handle(server.answer(req))
        assert len(c.result()) == sum(1 for x in items if int(x[1:]) < 500)


def test_stale_epoch_asks_to_download_again():
    key, epoch, cache, _ = _setup()
    new_key, new_epoch = psi.new_server_key()
    rotated = psi.OprfServer(new_key, new_epoch)
    c = psi.OprfClient(_ids("s", range(5)), cache)
    (req,) = c.start()
    resp = rotated.answer(req)
    assert resp.stale and resp.data == b""
    with pytest.raises(psi.StaleCacheError, match="download the cache again"):
        c.handle(psi.decode_unbalanced_message(resp.to_bytes()))


def test_more_answers_than_asked_or_out_of_order():
    _, _, cache, server = _setup()
    c = psi.OprfClient(_ids("s", range(20)), cache, batch=5)
    reqs = c.start()
    answers = [server.answer(r) for r in reqs]
    with pytest.raises(RemoteProtocolError, match="out of order"):
        c.handle(answers[1])
    c = psi.OprfClient(_ids("s", range(20)), cache, batch=5)
    reqs = c.start()
    for r in reqs:
        c.handle(server.answer(r))
    with pytest.raises(RemoteProtocolError, match="more answers"):
        c.handle(server.answer(reqs[0]))
    c = psi.OprfClient(_ids("s", range(20)), cache, batch=5)
    reqs = c.start()
    short = server.answer(reqs[0])
    bad = OprfResponse(
        param=short.param, epoch=short.epoch, index=0, total=short.total, data=short.data[32:]
    )
    with pytest.raises(RemoteProtocolError, match="were asked"):
        c.handle(bad)


def test_invalid_points_are_refused_by_the_server():
    _, epoch, _, server = _setup()
    twist = (2).to_bytes(32, "little")
    req = OprfRequest(param=psi.UNBALANCED_PARAM, epoch=epoch, index=0, total=1, data=twist)
    with pytest.raises(InvalidGroupElementError):
        server.answer(req)


def test_cache_download_checks():
    _, epoch, cache, _ = _setup(10)
    msgs = psi.cache_messages(cache)
    rec = psi.CacheReceiver(max_ids=5)
    with pytest.raises(RemoteProtocolError, match="more than this side accepts"):
        rec.handle(msgs[0])
    rec = psi.CacheReceiver()
    with pytest.raises(RemoteProtocolError, match="unexpected"):
        rec.handle(msgs[1])
    rec = psi.CacheReceiver()
    rec.handle(msgs[0])
    unsorted = CacheChunk(param=psi.UNBALANCED_PARAM, index=0, total=1, data=msgs[1].data[::-1])
    with pytest.raises(RemoteProtocolError, match="malformed"):
        rec.handle(unsorted)
    # a header announcing a huge cache is refused when parsed
    from fedcrypto.serialization import ObjectType, Writer, pack

    body = Writer().raw(epoch).u8(8).u64(1 << 40).u32(1 << 20).getvalue()
    with pytest.raises(SerializationError, match="too many"):
        psi.decode_unbalanced_message(
            pack(ObjectType.PSI_CACHE_HEADER, body, param=psi.UNBALANCED_PARAM)
        )
    body = Writer().raw(epoch).u32(0).u32(1).u32(1 << 17).getvalue()
    with pytest.raises(SerializationError):
        psi.decode_unbalanced_message(
            pack(ObjectType.PSI_OPRF_REQUEST, body, param=psi.UNBALANCED_PARAM)
        )
    with pytest.raises(InvalidArgumentError):
        TagCache.from_bytes(cache.to_bytes()[:-1])
    assert isinstance(psi.decode_unbalanced_message(msgs[0].to_bytes()), CacheHeader)


def test_false_positive_bound_documented_value():
    assert psi.false_positive_bound(1000, 10_000_000) < 6e-10


def test_leakage_server_sees_only_blinded_values_and_counts():
    """Two queries of the same IDs send unrelated blinded values (fresh blinding), and none
    equals the server's own F(x) or the hash of an ID; the cache holds only 8-byte tags."""
    key, epoch, cache, server = _setup(50)
    items = _ids("s", range(10))
    sent = []
    for _ in range(2):
        c = psi.OprfClient(items, cache)
        (req,) = c.start()
        sent.append(req.data)
    assert sent[0] != sent[1]
    from fedcrypto.psi import _oprf
    from fedcrypto.psi._unbalanced import UNBALANCED_DST

    direct = _oprf.evaluate_own(items, "curve25519", key, UNBALANCED_DST)
    for blob in sent:
        chunks = {blob[i : i + 32] for i in range(0, len(blob), 32)}
        assert not chunks & {direct[i : i + 32] for i in range(0, len(direct), 32)}
