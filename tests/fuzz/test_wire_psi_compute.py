"""Wire fuzz for the issue-13 PSI messages (object types 0x0220..0x0234): intersection-sum,
payload transfer and unbalanced PSI.

Invariant, for every input: the mode's decoder returns a message or raises
``SerializationError`` / ``RemoteProtocolError``; a message that decodes, handed to a started
party (or the unbalanced server / client / cache receiver), is processed or rejected with a
``RemoteProtocolError`` — never anything else, within a bounded time and a traced memory peak
bounded by the input's length.  Inputs: arbitrary bytes, arbitrary payloads in well-formed
envelopes of every new type, structured mutations of every message of real runs.  Seeded
(``FEDCRYPTO_FUZZ_SEED``), a few seconds in all.
"""

from __future__ import annotations

import os
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fedcrypto import paillier, psi
from fedcrypto.exceptions import RemoteProtocolError, SerializationError
from fedcrypto.psi._messages import message_param
from fedcrypto.serialization import ObjectType, pack

SEED = int(os.environ.get("FEDCRYPTO_FUZZ_SEED", "20261203"))
FUZZ = settings(
    max_examples=int(os.environ.get("FEDCRYPTO_FUZZ_EXAMPLES", "60")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_SECONDS = 5.0
DECODE_OK = (SerializationError, RemoteProtocolError)
SID = bytes(range(32))
#: The issue-13 types (sum, payload, unbalanced); 0x028x (multi-party): test_wire_mpsi.py.
NEW_TYPES = [t for t in ObjectType if 0x0220 <= t < 0x0280]
SUM = psi.PsiSettings(compute="sum", reveal="both", batch_size=4, workers=1)
PAY = psi.PsiSettings(reveal="both", batch_size=4, workers=1)
A = [b"a", b"b", b"c", b"d", b"e"]
B = [b"b", b"c", b"x"]


def bounded(fn: Callable[[], Any], length: int) -> Any:
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        return fn()
    except DECODE_OK as exc:
        return exc
    finally:
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert elapsed < MAX_SECONDS, f"{elapsed:.1f} s for {length} bytes"
        assert peak <= 16 * length + (4 << 20), f"peak {peak} B for {length} bytes"


@pytest.fixture(scope="module")
def sk() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(512, unsafe_allow_small_keys=True)


def _sum_party(role: str, sk: paillier.PaillierPrivateKey) -> psi.SumParty:
    holder = role == "listener"
    return psi.create_sum_party(
        SUM,
        role=role,
        items=A if holder else B,
        peer_size=len(B) if holder else len(A),
        session_id=SID,
        values=list(range(len(A))) if holder else None,
        private_key=sk if holder else None,
        unsafe_allow_small_keys=True,
    )


def _pay_party(role: str) -> psi.PayloadParty:
    sender = role == "connector"
    return psi.create_payload_party(
        PAY,
        role=role,
        items=B if sender else A,
        peer_size=len(A) if sender else len(B),
        session_id=SID,
        payloads=[b"p" * 3] * len(B) if sender else None,
    )


def _feed(mode: str, role: str, data: bytes, sk: paillier.PaillierPrivateKey) -> None:
    if mode == "sum":
        msg = bounded(lambda: psi.decode_sum_message(data, SUM, SID), len(data))
        party: Any = _sum_party(role, sk)
    elif mode == "payload":
        msg = bounded(lambda: psi.decode_payload_message(data, PAY, SID), len(data))
        party = _pay_party(role)
    else:
        msg = bounded(lambda: psi.decode_unbalanced_message(data), len(data))
        if isinstance(msg, Exception):
            return
        key, epoch = bytes(range(1, 33)), bytes(16)
        cache = psi.TagCache(epoch, psi.build_cache(A, key, epoch))
        for target in (psi.OprfServer(key, epoch), psi.OprfClient(B, cache), psi.CacheReceiver()):
            t0 = time.perf_counter()
            try:
                if isinstance(target, psi.OprfServer):
                    if isinstance(msg, psi.OprfRequest):
                        target.answer(msg)
                elif isinstance(target, psi.OprfClient):
                    target.start()
                    target.handle(msg)
                else:
                    target.handle(msg)
            except (RemoteProtocolError, psi.StaleCacheError):
                pass  # a flipped status bit reads as a stale cache: a typed, documented error
            assert time.perf_counter() - t0 < MAX_SECONDS
        return
    if isinstance(msg, Exception):
        return
    try:
        party.start()
        t0 = time.perf_counter()
        try:
            party.handle(msg)
        except RemoteProtocolError:
            pass
        assert time.perf_counter() - t0 < MAX_SECONDS
    finally:
        party.close()


def _param(mode: str) -> bytes:
    if mode == "sum":
        return message_param(SUM, SID)
    if mode == "payload":
        return message_param(PAY, SID)
    return psi.UNBALANCED_PARAM


@seed(SEED)
@FUZZ
@given(data=st.binary(max_size=700), mode=st.sampled_from(["sum", "payload", "unbalanced"]))
def test_arbitrary_bytes(data: bytes, mode: str) -> None:
    if mode == "sum":
        bounded(lambda: psi.decode_sum_message(data, SUM, SID), len(data))
    elif mode == "payload":
        bounded(lambda: psi.decode_payload_message(data, PAY, SID), len(data))
    else:
        bounded(lambda: psi.decode_unbalanced_message(data), len(data))


@seed(SEED)
@FUZZ
@given(
    mode=st.sampled_from(["sum", "payload", "unbalanced"]),
    otype=st.sampled_from(NEW_TYPES),
    payload=st.binary(max_size=600),
    role=st.sampled_from(["listener", "connector"]),
)
def test_arbitrary_payloads(
    sk: paillier.PaillierPrivateKey, mode: str, otype: ObjectType, payload: bytes, role: str
) -> None:
    _feed(mode, role, pack(otype, payload, param=_param(mode)), sk)


def _transcript(mode: str, sk: paillier.PaillierPrivateKey) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    if mode == "unbalanced":
        key, epoch = bytes(range(1, 33)), bytes(16)
        cache = psi.TagCache(epoch, psi.build_cache(A, key, epoch))
        server = psi.OprfServer(key, epoch)
        client = psi.OprfClient(B, cache)
        out += [("client", m.to_bytes()) for m in psi.cache_messages(cache)]
        for req in client.start():
            out.append(("server", req.to_bytes()))
            out.append(("client", server.answer(req).to_bytes()))
        return out
    make = _sum_party if mode == "sum" else (lambda r, _k: _pay_party(r))
    decode = (
        (lambda d: psi.decode_sum_message(d, SUM, SID))
        if mode == "sum"
        else (lambda d: psi.decode_payload_message(d, PAY, SID))
    )
    parties = {r: make(r, sk) for r in ("listener", "connector")}
    other = {"listener": "connector", "connector": "listener"}
    queues: dict[str, list[bytes]] = {"listener": [], "connector": []}
    for r in parties:
        for m in parties[r].start():
            queues[other[r]].append(m.to_bytes())
            out.append((other[r], m.to_bytes()))
    while any(queues.values()):
        for r in parties:
            if queues[r] and not parties[r].done:
                for m in parties[r].handle(decode(queues[r].pop(0))):
                    queues[other[r]].append(m.to_bytes())
                    out.append((other[r], m.to_bytes()))
            elif queues[r]:
                queues[r].pop(0)
    for p in parties.values():
        p.close()
    return out


def test_structured_mutations_of_real_runs(sk: paillier.PaillierPrivateKey) -> None:
    rng = random.Random(SEED)
    seen = set()
    for mode in ("sum", "payload", "unbalanced"):
        for role, data in _transcript(mode, sk):
            seen.add(int.from_bytes(data[6:8], "big"))
            n = len(data)
            variants = [data[: rng.randrange(n)] for _ in range(3)]
            for _ in range(4):
                i = rng.randrange(n)
                variants.append(
                    data[:i] + bytes([data[i] ^ (1 << rng.randrange(8))]) + data[i + 1 :]
                )
            variants.append(data + b"\x00")
            for off in (32, 36, 40, 44, 48):
                if off + 4 <= n:
                    variants.append(data[:off] + b"\xff\xff\xff\xff" + data[off + 4 :])
            target = role if role in ("listener", "connector") else role
            for v in variants:
                _feed(mode, target if mode != "unbalanced" else "listener", v, sk)
    assert {int(t) for t in NEW_TYPES} - seen <= {
        int(ObjectType.PSI_CACHE_REQUEST),
        int(ObjectType.PSI_SUM_OPENING),
    }
