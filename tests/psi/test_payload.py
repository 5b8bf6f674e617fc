"""Payload transfer: matched payloads against plaintext, unmatched payloads undecryptable (the
test tries every key the receiver could derive), tampering, peer faults, leakage."""

from __future__ import annotations

import hashlib
import os
import random

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fedcrypto import psi
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import EvaluatedBatch, PayloadBatch, PayloadPositions
from fedcrypto.psi._messages import MaskedBatch, TagReply
from fedcrypto.psi._settings import session_tag


def _ids(prefix, idx):
    return [f"{prefix}{i}".encode() for i in idx]


@pytest.mark.parametrize("group", ["curve25519", "p256"])
@pytest.mark.parametrize("sender", ["listener", "connector"])
def test_matched_payloads_against_plaintext(group, sender):
    rng = random.Random(hash((group, sender)) & 0xFFFF)
    a = _ids("r", rng.sample(range(300), 100))
    b = _ids("r", rng.sample(range(300), 120))
    send_items, recv_items = (a, b) if sender == "listener" else (b, a)
    payloads = [b"row:" + x + b":" + os.urandom(rng.randrange(0, 40)) for x in send_items]
    receiver = "connector" if sender == "listener" else "listener"
    settings = psi.PsiSettings(group=group, reveal=receiver, batch_size=32)
    kw = {f"{sender}_payloads": payloads}
    ra, rb = psi.run_payload_pair(settings, a, b, **kw)
    recv, send = (rb, ra) if sender == "listener" else (ra, rb)
    by_id = dict(zip(send_items, payloads, strict=True))
    expected = [i for i, x in enumerate(recv_items) if x in by_id]
    assert list(recv.indices) == expected and recv.count == len(expected)
    assert recv.payloads == tuple(by_id[recv_items[i]] for i in expected)
    assert send.indices is None and send.count is None and send.payloads is None


@pytest.mark.parametrize("case", ["none", "all", "empty_receiver", "empty_sender"])
def test_edge_overlaps(case):
    a = _ids("e", range(40))
    b = {"none": _ids("f", range(30)), "all": list(a), "empty_receiver": [], "empty_sender": a}[
        case
    ]
    send = [] if case == "empty_sender" else a
    recv = a if case == "empty_sender" else b
    settings = psi.PsiSettings(reveal="both", batch_size=16)
    rs, rr = psi.run_payload_pair(settings, send, recv, listener_payloads=[x * 2 for x in send])
    expected = sorted(i for i, x in enumerate(recv) if x in set(send))
    assert list(rr.indices) == expected
    assert rr.payloads == tuple(recv[i] * 2 for i in expected)
    assert sorted(send[i] for i in rs.indices) == sorted(recv[i] for i in expected)


def test_reveal_both_sender_learns_its_matched_rows():
    a = _ids("q", range(50))
    b = _ids("q", range(25, 90))
    settings = psi.PsiSettings(reveal="both", batch_size=8)
    ra, rb = psi.run_payload_pair(settings, a, b, connector_payloads=[b"p"] * len(b))
    assert list(rb.indices) == list(range(25))  # b's positions of q25..q49
    assert list(ra.indices) == list(range(25, 50))


def test_settings_checks():
    sid = os.urandom(32)
    with pytest.raises(InvalidArgumentError, match="receiver"):
        psi.create_payload_party(
            psi.PsiSettings(reveal="listener"),
            role="listener",
            items=[b"a"],
            peer_size=1,
            session_id=sid,
            payloads=[b"x"],
        )
    with pytest.raises(InvalidArgumentError, match="ecdh"):
        psi.create_payload_party(
            psi.PsiSettings(protocol="dh"), role="listener", items=[], peer_size=0, session_id=sid
        )
    with pytest.raises(InvalidArgumentError, match="exceeds"):
        psi.create_payload_party(
            psi.PsiSettings(reveal="connector"),
            role="listener",
            items=[b"a"],
            peer_size=1,
            session_id=sid,
            payloads=[b"x" * 70000],
        )


def _pump(settings, a, b, *, a_payloads=None, b_payloads=None, tamper=None):
    sid = os.urandom(32)
    parties = {
        "listener": psi.create_payload_party(
            settings,
            role="listener",
            items=a,
            peer_size=len(b),
            session_id=sid,
            payloads=a_payloads,
        ),
        "connector": psi.create_payload_party(
            settings,
            role="connector",
            items=b,
            peer_size=len(a),
            session_id=sid,
            payloads=b_payloads,
        ),
    }
    queues = {"listener": [], "connector": []}
    received = {"listener": [], "connector": []}

    def post(sender, msgs):
        other = "connector" if sender == "listener" else "listener"
        for m in msgs:
            queues[other].append(m.to_bytes() if tamper is None else tamper(sender, m))

    for role in parties:
        post(role, parties[role].start())
    while not all(p.done for p in parties.values()):
        moved = False
        for role in parties:
            if queues[role] and not parties[role].done:
                msg = psi.decode_payload_message(queues[role].pop(0), settings, sid)
                received[role].append(msg)
                post(role, parties[role].handle(msg))
                moved = True
        assert moved, "stalled"
    return parties, received, sid


def test_unmatched_payloads_are_not_decryptable_by_the_receiver():
    """The receiver tries every 32-byte value it holds or can compute — its unblinded PRF
    values, the evaluated and blinded elements, and the raw bytes of every message — as HKDF
    input for every unmatched row: all fail authentication, while matched rows decrypt."""
    a = _ids("m", range(30))  # receiver (listener)
    b = _ids("m", range(20, 40))  # sender
    settings = psi.PsiSettings(reveal="listener", batch_size=8)
    parties, received, sid = _pump(settings, a, b, b_payloads=[b"secret-" + x for x in b])
    recv = parties["listener"]
    res = recv.result()
    assert res.count == 10
    candidates = {bytes(recv._prf[i : i + 32]) for i in range(0, len(recv._prf), 32)}
    for m in received["listener"]:
        if isinstance(m, EvaluatedBatch):
            candidates.update(m.elements())
    for m in received["connector"]:
        if isinstance(m, MaskedBatch):
            candidates.update(m.elements())
    salt = hashlib.sha256(session_tag(settings, sid, "payload-key")).digest()
    info = b"fedcrypto-psi-payload-v1:" + settings.suite_id()

    def key(ikm):
        return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm))

    keys = [key(c) for c in candidates]
    batches = [m for m in received["listener"] if isinstance(m, PayloadBatch)]
    matched_tags = set(recv._tag_index)
    opened = unmatched = 0
    for batch in batches:
        for r in range(batch.count):
            tag = batch.tags[16 * r : 16 * (r + 1)]
            ok = []
            for k in keys:
                try:
                    ok.append(k.decrypt(bytes(12), batch.ciphertexts[r], tag + batch.param))
                except InvalidTag:
                    pass
            if tag in matched_tags:
                assert len(ok) == 1 and ok[0].startswith(b"secret-m")
                opened += 1
            else:
                assert ok == []
                unmatched += 1
    assert opened == 10 and unmatched == 10


def test_tampered_payload_fails_authentication():
    a = _ids("t", range(10))

    def flip(sender, m):
        if isinstance(m, PayloadBatch):
            cts = list(m.ciphertexts)
            cts[0] = bytes([cts[0][0] ^ 1]) + cts[0][1:]
            return PayloadBatch(
                param=m.param, index=m.index, total=m.total, tags=m.tags, ciphertexts=tuple(cts)
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(RemoteProtocolError, match="failed authentication"):
        _pump(psi.PsiSettings(reveal="connector"), a, a, a_payloads=[b"x"] * 10, tamper=flip)


def test_peer_faults():
    a = _ids("f", range(12))
    settings = psi.PsiSettings(reveal="both", batch_size=4)

    def extra_rows(sender, m):
        if isinstance(m, PayloadBatch) and m.index == 0:
            return PayloadBatch(
                param=m.param,
                index=m.index,
                total=m.total,
                tags=m.tags * 4,
                ciphertexts=m.ciphertexts * 4,
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(SerializationError, match="exceed the batch size"):
        _pump(settings, a, a, b_payloads=[b"p"] * 12, tamper=extra_rows)
    with pytest.raises(RemoteProtocolError, match="more payload rows"):
        _pump(psi.PsiSettings(reveal="both"), a, a, b_payloads=[b"p"] * 12, tamper=extra_rows)

    def short_eval(sender, m):
        if isinstance(m, EvaluatedBatch):
            return EvaluatedBatch(
                param=m.param, index=m.index, total=m.total, data=m.data[32:], elem_size=32
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(RemoteProtocolError, match="expected"):
        _pump(settings, a, a, b_payloads=[b"p"] * 12, tamper=short_eval)

    def bad_point(sender, m):
        if isinstance(m, MaskedBatch):
            twist = (2).to_bytes(32, "little")  # u = 2 is on the twist of curve25519
            return MaskedBatch(
                param=m.param,
                index=m.index,
                total=m.total,
                data=twist + m.data[32:],
                elem_size=32,
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(InvalidGroupElementError):
        _pump(settings, a, a, b_payloads=[b"p"] * 12, tamper=bad_point)

    def bad_positions(sender, m):
        if isinstance(m, PayloadPositions):
            data = (10**6).to_bytes(8, "big") * (len(m.data) // 8)
            return PayloadPositions(
                param=m.param, index=m.index, total=m.total, data=data, elem_size=8
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(RemoteProtocolError, match="out of range"):
        _pump(settings, a, a, b_payloads=[b"p"] * 12, tamper=bad_positions)
    with pytest.raises(RemoteProtocolError, match="both sides send payloads"):
        _pump(settings, a, a, a_payloads=[b"p"] * 12, b_payloads=[b"q"] * 12)
    with pytest.raises(RemoteProtocolError, match="neither side"):
        _pump(settings, a, a)


def test_oversized_payload_frames_are_refused():
    s = psi.PsiSettings(batch_size=4)
    sid = os.urandom(32)
    from fedcrypto.psi._messages import message_param
    from fedcrypto.serialization import ObjectType, Writer, pack

    param = message_param(s, sid)
    body = Writer().u32(0).u32(1).u32(1).raw(b"\x00" * 16).u32(1 << 20).getvalue()
    with pytest.raises(SerializationError):
        psi.decode_payload_message(pack(ObjectType.PSI_PAYLOAD_BATCH, body, param=param), s, sid)
    body = Writer().u32(0).u32(1).u32(9).getvalue()
    with pytest.raises(SerializationError, match="batch size"):
        psi.decode_payload_message(pack(ObjectType.PSI_PAYLOAD_BATCH, body, param=param), s, sid)


def test_what_each_side_receives():
    """The sender receives blinded elements (fresh every run) and empty acknowledgements only;
    the receiver gets evaluations in its own order and tags + ciphertexts."""
    a = _ids("k", range(10))
    settings = psi.PsiSettings(reveal="listener", batch_size=4)
    blinded = []
    for _ in range(2):
        _, received, _ = _pump(settings, a, a, b_payloads=[b"v"] * 10)
        kinds = {type(m) for m in received["connector"]}
        assert kinds == {MaskedBatch, TagReply}
        assert all(m.count == 0 for m in received["connector"] if isinstance(m, TagReply))
        blinded.append(
            b"".join(m.data for m in received["connector"] if isinstance(m, MaskedBatch))
        )
        # the receiver: the sender's announcement (an empty TagReply), evaluations, payloads
        assert {type(m) for m in received["listener"]} == {TagReply, EvaluatedBatch, PayloadBatch}
    assert blinded[0] != blinded[1]  # a fresh blinding scalar per run
