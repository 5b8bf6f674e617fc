"""State machines driven by hand: forbidden share requests, replays, malformed and
cross-session messages, signatures, ordering."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidSignatureError,
    InvalidTypeError,
    ProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.secagg import (
    AdvertiseKeys,
    ConsistencyRequest,
    KeyList,
    MaskedInput,
    SecAggClient,
    SecAggConfig,
    SecAggServer,
    ShareDelivery,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)

N, T, L = 5, 3, 8


class Run:
    """A session driven round by round; ``x`` holds the inputs."""

    def __init__(self, *, active: bool = False, degree: int | None = None, n: int = N, t: int = T):
        self.keys = {i: Ed25519PrivateKey.generate() for i in range(n)}
        self.cfg = SecAggConfig.create(
            range(n),
            threshold=t,
            vector_length=L,
            active=active,
            degree=degree,
            verifying_keys={i: k.public_key() for i, k in self.keys.items()} if active else None,
        )
        self.server = SecAggServer(self.cfg)
        self.clients = {
            i: SecAggClient(self.cfg, i, signing_key=self.keys[i] if active else None)
            for i in range(n)
        }
        self.x = np.arange(n * L, dtype=np.uint64).reshape(n, L)
        self.ids = list(range(n))

    def advertise(self, ids=None) -> KeyList:
        self.adverts = {i: self.clients[i].advertise_keys() for i in (ids or self.ids)}
        for m in self.adverts.values():
            self.server.receive_advertise_keys(m.to_bytes())
        self.key_list = self.server.key_list()
        return self.key_list

    def share(self, ids=None) -> dict[int, ShareDelivery]:
        self.share_msgs = {
            i: self.clients[i].share_keys(self.key_list.to_bytes()) for i in (ids or self.ids)
        }
        for m in self.share_msgs.values():
            self.server.receive_share_keys(m.to_bytes())
        self.deliveries = self.server.share_deliveries()
        return self.deliveries

    def mask(self, ids=None) -> None:
        self.masked = {
            i: self.clients[i].masked_input(self.deliveries[i].to_bytes(), self.x[i])
            for i in (ids or self.ids)
        }
        for m in self.masked.values():
            self.server.receive_masked_input(m.to_bytes())

    def consistency(self, ids=None) -> None:
        self.creq = self.server.consistency_request()
        self.checks = {
            i: self.clients[i].consistency_check(self.creq.to_bytes()) for i in (ids or self.ids)
        }
        for m in self.checks.values():
            self.server.receive_consistency_check(m.to_bytes())

    def unmask(self, ids=None):
        self.ureq = self.server.unmask_request()
        self.responses = {
            i: self.clients[i].unmask(self.ureq.to_bytes()) for i in (ids or self.ids)
        }
        for m in self.responses.values():
            self.server.receive_unmask_response(m.to_bytes())
        return self.server.aggregate()


def test_manual_round_passive_with_dropout() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])  # client 4 drops after ShareKeys
    res = r.unmask([0, 1, 3])
    assert res.included == (0, 1, 2, 3)
    np.testing.assert_array_equal(res.aggregate, r.x[:4].sum(axis=0))
    assert r.ureq.dropped == (4,) and r.ureq.survivors == (0, 1, 2, 3)
    # The server never obtained both kinds of share for the same owner.
    for resp in r.responses.values():
        owners_b = {o for o, _ in resp.mask_shares}
        owners_k = {o for o, _ in resp.key_shares}
        assert owners_b == {0, 1, 2, 3} and owners_k == {4}


def test_request_for_both_shares_of_a_client_is_refused() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    honest = r.server.unmask_request()
    evil = dataclasses.replace(honest, dropped=(3, 4))  # 3 is also a survivor
    with pytest.raises(ProtocolError, match="both"):
        r.clients[0].unmask(evil)


def test_second_unmask_request_is_refused() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    req = r.server.unmask_request()
    r.clients[1].unmask(req)
    # A second request with 2 moved to the dropped side would reveal 2's mask key too.
    evil = dataclasses.replace(req, survivors=(0, 1, 3), dropped=(2, 4))
    with pytest.raises(ProtocolError, match="already answered"):
        r.clients[1].unmask(evil)
    with pytest.raises(ProtocolError):
        r.clients[1].unmask(req)  # plain replay too


def test_active_client_refuses_survivor_list_other_than_signed() -> None:
    r = Run(active=True)
    r.advertise()
    r.share()
    r.mask()
    r.consistency()
    req = r.server.unmask_request()
    evil = dataclasses.replace(req, survivors=(0, 1, 2, 3), dropped=(4,))
    with pytest.raises(ProtocolError, match="signed"):
        r.clients[0].unmask(evil)
    # A forged consistency signature is caught.
    forged = dataclasses.replace(req, signatures=((0, bytes(64)),) + req.signatures[1:])
    with pytest.raises(InvalidSignatureError):
        r.clients[1].unmask(forged)
    # Too few signatures.
    few = dataclasses.replace(req, signatures=req.signatures[:2])
    with pytest.raises(ProtocolError, match="signatures"):
        r.clients[2].unmask(few)


def test_active_full_round_and_signature_checks() -> None:
    r = Run(active=True)
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    r.consistency([0, 1, 3])
    res = r.unmask([0, 1, 3])
    np.testing.assert_array_equal(res.aggregate, r.x[:4].sum(axis=0))


def test_active_server_rejects_unsigned_or_forged_messages() -> None:
    r = Run(active=True)
    m = r.clients[0].advertise_keys()
    with pytest.raises(InvalidSignatureError):
        r.server.receive_advertise_keys(dataclasses.replace(m, signature=b""))
    with pytest.raises(InvalidSignatureError):
        r.server.receive_advertise_keys(dataclasses.replace(m, mask_public=bytes(31) + b"\x09"))
    r.server.receive_advertise_keys(m)


def test_active_client_leaves_out_a_tampered_key_list_entry() -> None:
    r = Run(active=True)
    kl = r.advertise()
    e = kl.entries[1]
    bad = dataclasses.replace(
        kl,
        entries=(kl.entries[0], dataclasses.replace(e, enc_public=kl.entries[2].enc_public))
        + kl.entries[2:],
    )
    # Entry 1's signature no longer verifies: client 1 is left out of client 0's U1 (and
    # client 2, whose key it copied, stays in).
    sk = r.clients[0].share_keys(bad)
    assert sorted(v for v, _ in sk.ciphertexts) == [2, 3, 4]
    # The client's own entry altered is the server's fault: refused.
    r2 = Run(active=True)
    kl2 = r2.advertise()
    own = dataclasses.replace(kl2.entries[0], mask_public=kl2.entries[1].mask_public)
    with pytest.raises(RemoteProtocolError, match="own keys"):
        r2.clients[0].share_keys(dataclasses.replace(kl2, entries=(own,) + kl2.entries[1:]))


def test_client_rejects_key_list_without_its_keys_or_with_repeats() -> None:
    r = Run()
    kl = r.advertise()
    with pytest.raises(ProtocolError, match="own keys"):
        r.clients[0].share_keys(dataclasses.replace(kl, entries=kl.entries[1:]))
    r2 = Run()
    kl2 = r2.advertise()
    dup = dataclasses.replace(kl2.entries[1], enc_public=kl2.entries[2].enc_public)
    # A key used by two entries: neither can be trusted, both are left out.
    sk = r2.clients[0].share_keys(
        dataclasses.replace(kl2, entries=(kl2.entries[0], dup) + kl2.entries[2:])
    )
    assert sorted(v for v, _ in sk.ciphertexts) == [3, 4]
    r3 = Run()
    kl3 = r3.advertise()
    with pytest.raises(ProtocolError, match="threshold"):
        r3.clients[0].share_keys(dataclasses.replace(kl3, entries=kl3.entries[:2]))


def test_server_rejects_replays_and_unknown_senders() -> None:
    r = Run()
    m = r.clients[0].advertise_keys()
    r.server.receive_advertise_keys(m)
    with pytest.raises(ProtocolError, match="repeated"):
        r.server.receive_advertise_keys(m.to_bytes())
    with pytest.raises(ProtocolError, match="previous round"):
        r.server.receive_advertise_keys(dataclasses.replace(m, sender=77))
    for i in range(1, N):
        r.server.receive_advertise_keys(r.clients[i].advertise_keys())
    kl = r.server.key_list()
    with pytest.raises(ProtocolError, match="late"):
        r.server.receive_advertise_keys(m)  # round closed
    with pytest.raises(ProtocolError):
        r.server.key_list()  # cannot close twice
    s0 = r.clients[0].share_keys(kl)
    r.server.receive_share_keys(s0)
    with pytest.raises(ProtocolError, match="repeated"):
        r.server.receive_share_keys(s0.to_bytes())


def test_server_rejects_share_keys_not_addressed_to_all_holders() -> None:
    r = Run()
    kl = r.advertise()
    s0 = r.clients[0].share_keys(kl)
    with pytest.raises(ProtocolError, match="holders"):
        r.server.receive_share_keys(dataclasses.replace(s0, ciphertexts=s0.ciphertexts[1:]))


def test_messages_from_another_session_are_rejected() -> None:
    a, b = Run(), Run()
    kla = a.advertise()
    ma = a.adverts[0]
    with pytest.raises(ProtocolError):
        b.server.receive_advertise_keys(ma.to_bytes())
    with pytest.raises(ProtocolError, match="another session"):
        b.server.receive_advertise_keys(ma)
    b.advertise()
    with pytest.raises(SerializationError):
        b.clients[0].share_keys(kla.to_bytes())
    with pytest.raises(ProtocolError):
        b.clients[1].share_keys(kla)


def test_tampered_share_ciphertext_is_rejected() -> None:
    r = Run()
    r.advertise()
    d = r.share()
    sender, ct = d[0].ciphertexts[0]
    flipped = ct[:-1] + bytes([ct[-1] ^ 1])
    bad = dataclasses.replace(d[0], ciphertexts=((sender, flipped),) + d[0].ciphertexts[1:])
    # The client does not fail: it masks as usual but holds no share of the sender's
    # secrets, so its unmasking response leaves that sender out.
    r.masked = {0: r.clients[0].masked_input(bad, r.x[0])}
    assert sender not in r.clients[0]._received
    r.server.receive_masked_input(r.masked[0])
    for i in range(1, N):
        r.server.receive_masked_input(r.clients[i].masked_input(d[i], r.x[i]))
    req = r.server.unmask_request()
    resp0 = r.clients[0].unmask(req)
    assert sender not in {o for o, _ in resp0.mask_shares}
    r.server.receive_unmask_response(resp0)
    for i in range(1, N):
        r.server.receive_unmask_response(r.clients[i].unmask(req))
    np.testing.assert_array_equal(r.server.aggregate().aggregate, r.x.sum(axis=0))
    # A ciphertext addressed to client 1 replayed to client 2 fails (AD binds the receiver):
    # client 2 skips it the same way.
    r2 = Run()
    r2.advertise()
    d2 = r2.share()
    to1 = dict(d2[1].ciphertexts)[3]
    moved = dataclasses.replace(
        d2[2], ciphertexts=tuple((s, to1 if s == 3 else c) for s, c in d2[2].ciphertexts)
    )
    r2.clients[2].masked_input(moved, r2.x[2])
    assert 3 not in r2.clients[2]._received and 1 in r2.clients[2]._received


def test_client_rounds_out_of_order_and_after_failure() -> None:
    r = Run()
    with pytest.raises(ProtocolError, match="out of order"):
        r.clients[0].unmask(UnmaskRequest(r.cfg.session_id, (0, 1, 2), ()))
    r.advertise()
    with pytest.raises(ProtocolError, match="already answered"):
        r.clients[0].advertise_keys()
    d = r.share()
    bad = dataclasses.replace(d[0], receiver=1)
    with pytest.raises(ProtocolError):
        r.clients[0].masked_input(bad, r.x[0])
    with pytest.raises(ProtocolError, match="aborted"):
        r.clients[0].masked_input(d[0], r.x[0])


def test_client_validates_input_vector() -> None:
    r = Run()
    r.advertise()
    d = r.share()
    with pytest.raises(InvalidArgumentError):
        r.clients[0].masked_input(d[0], np.zeros(L + 1, dtype=np.uint64))
    with pytest.raises(InvalidTypeError):
        r.clients[0].masked_input(d[0], np.zeros(L))
    with pytest.raises(InvalidArgumentError):
        r.clients[0].masked_input(d[0], np.full(L, 1 << 32, dtype=np.uint64))
    with pytest.raises(InvalidArgumentError):
        r.clients[0].masked_input(d[0], np.full(L, -1, dtype=np.int64))


def test_server_rejects_wrong_length_or_modulus() -> None:
    r = Run()
    r.advertise()
    d = r.share()
    m = r.clients[0].masked_input(d[0], r.x[0])
    with pytest.raises(ProtocolError, match="modulus or length"):
        r.server.receive_masked_input(dataclasses.replace(m, vector=m.vector[:-1]))
    with pytest.raises(ProtocolError, match="modulus or length"):
        r.server.receive_masked_input(
            dataclasses.replace(m, modulus_bits=16, vector=m.vector & np.uint64(0xFFFF))
        )


def test_unrequested_shares_are_rejected_by_server() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    req = r.server.unmask_request()
    resp = r.clients[0].unmask(req)
    evil = dataclasses.replace(resp, key_shares=resp.key_shares + ((1, resp.mask_shares[1][1]),))
    with pytest.raises(ProtocolError, match="not requested"):
        r.server.receive_unmask_response(evil)


def test_corrupted_share_makes_reconstruction_fail_loudly() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    req = r.server.unmask_request()
    for i in (0, 1, 2):
        resp = r.clients[i].unmask(req)
        if i == 0:
            owner, raw = resp.key_shares[0]
            raw = raw[:16] + bytes(4) + raw[20:]
            resp = dataclasses.replace(resp, key_shares=((owner, raw),))
        r.server.receive_unmask_response(resp)
    with pytest.raises(ProtocolError):
        r.server.aggregate()


def test_consistency_round_only_in_active_mode() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask()
    with pytest.raises(ProtocolError):
        r.server.consistency_request()
    r2 = Run(active=True)
    r2.advertise()
    r2.share()
    r2.mask()
    creq = r2.server.consistency_request()
    with pytest.raises(ProtocolError, match="omits"):
        r2.clients[0].consistency_check(ConsistencyRequest(r2.cfg.session_id, (1, 2, 3)))
    with pytest.raises(ProtocolError):
        r2.clients[1].consistency_check(ConsistencyRequest(r2.cfg.session_id, (1, 0)))
    chk = r2.clients[2].consistency_check(creq)
    r2.server.receive_consistency_check(chk)
    with pytest.raises(ProtocolError, match="repeated"):
        r2.server.receive_consistency_check(chk)
    # A signature over another survivor list does not verify at the server.
    chk3 = r2.clients[3].consistency_check(creq)
    with pytest.raises(InvalidSignatureError):
        r2.server.receive_consistency_check(dataclasses.replace(chk3, signature=chk.signature))


def test_wire_round_trips() -> None:
    r = Run(active=True)
    kl = r.advertise()
    assert KeyList.from_bytes(kl.to_bytes(), session_id=r.cfg.session_id) == kl
    a = r.adverts[0]
    assert AdvertiseKeys.from_bytes(a.to_bytes()) == a
    d = r.share()
    s = r.share_msgs[1]
    assert ShareKeys.from_bytes(s.to_bytes()) == s
    assert ShareDelivery.from_bytes(d[1].to_bytes()) == d[1]
    r.mask()
    m = r.masked[2]
    m2 = MaskedInput.from_bytes(m.to_bytes())
    np.testing.assert_array_equal(m2.vector, m.vector)
    assert m2.signature == m.signature and m2.sender == 2
    r.consistency()
    r.unmask()
    u = r.responses[3]
    assert UnmaskResponse.from_bytes(u.to_bytes()) == u
    assert UnmaskRequest.from_bytes(r.ureq.to_bytes()) == r.ureq


@pytest.mark.parametrize("k", [1, 12, 24, 40, 64])
def test_masked_input_wire_for_every_width(k: int) -> None:
    vec = np.array([0, 1, (1 << k) - 1, 1 << (k - 1)], dtype=np.uint64)
    m = MaskedInput(bytes(32), 9, k, vec)
    data = m.to_bytes()
    back = MaskedInput.from_bytes(data)
    np.testing.assert_array_equal(back.vector, vec)
    assert len(data) == 32 + 32 + 4 + 1 + 4 + 4 * ((k + 7) // 8) + 4


def test_malformed_bytes_are_rejected() -> None:
    r = Run()
    kl = r.advertise()
    data = kl.to_bytes()
    for bad in (data[:-1], data + b"\x00", b"junk", data[:40]):
        with pytest.raises(SerializationError):
            KeyList.from_bytes(bad)
    with pytest.raises(SerializationError):
        AdvertiseKeys.from_bytes(data)  # wrong object type
    m = MaskedInput(bytes(32), 1, 8, np.array([1, 2], dtype=np.uint64))
    raw = bytearray(m.to_bytes())
    raw[32 + 32 + 4] = 0  # modulus_bits = 0
    with pytest.raises(SerializationError):
        MaskedInput.from_bytes(bytes(raw))
    # Server turns malformed bytes into ProtocolError.
    with pytest.raises(ProtocolError, match="malformed"):
        r.server.receive_share_keys(b"FCRY" + bytes(40))


def test_private_objects_refuse_pickling_and_hide_secrets() -> None:
    r = Run()
    with pytest.raises(TypeError):
        pickle.dumps(r.clients[0])
    with pytest.raises(TypeError):
        pickle.dumps(r.server)
    text = repr(r.clients[0]) + repr(r.cfg) + repr(r.server)
    assert r.cfg.session_id.hex() not in text


def test_client_needs_matching_signing_key_in_active_mode() -> None:
    r = Run(active=True)
    with pytest.raises(InvalidArgumentError):
        SecAggClient(r.cfg, 0)
    with pytest.raises(InvalidArgumentError):
        SecAggClient(r.cfg, 0, signing_key=r.keys[1])
    with pytest.raises(InvalidArgumentError):
        SecAggClient(r.cfg, 99)


def test_low_order_public_key_in_key_list_is_left_out() -> None:
    r = Run()
    kl = r.advertise()
    bad = dataclasses.replace(kl.entries[1], enc_public=bytes(32))
    sk = r.clients[0].share_keys(
        dataclasses.replace(kl, entries=(kl.entries[0], bad) + kl.entries[2:])
    )
    assert sorted(v for v, _ in sk.ciphertexts) == [2, 3, 4]


def test_server_takes_an_executor_not_a_worker_count() -> None:
    cfg = Run().cfg
    with pytest.raises(InvalidTypeError):
        SecAggServer(cfg, executor=2)  # type: ignore[arg-type]
    r = Run()
    r.advertise()
    r.share()
    r.mask()
    req = r.server.unmask_request()
    for i in range(N):
        r.server.receive_unmask_response(r.clients[i].unmask(req))
    with pytest.raises(TypeError):
        r.server.aggregate(workers=2)  # type: ignore[call-arg]  # the server forks no more


def test_verify_shares_detects_a_corrupted_extra_share() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask([0, 1, 2, 3])
    req = r.server.unmask_request()
    for i in (0, 1, 2, 3):
        resp = r.clients[i].unmask(req)
        if i == 3:  # the 4th share is beyond t = 3: only verification looks at it
            owner, raw = resp.mask_shares[0]
            raw = raw[:16] + bytes(4) + raw[20:]
            resp = dataclasses.replace(resp, mask_shares=((owner, raw),) + resp.mask_shares[1:])
        r.server.receive_unmask_response(resp)
    # Verification finds the bad share, sets client 3's response aside, and still recovers
    # every secret from the others.
    res = r.server.aggregate(verify_shares=True)
    np.testing.assert_array_equal(res.aggregate, r.x[:4].sum(axis=0))
    assert res.discarded_responses == ()  # one bad share: set aside alone


def test_message_reprs_hide_shares_and_range_checked_vectors() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask()
    req = r.server.unmask_request()
    resp = r.clients[0].unmask(req)
    text = repr(resp)
    assert all(
        raw.hex()[:16] not in text and repr(raw)[:20] not in text for _, raw in resp.mask_shares
    )
    with pytest.raises(SerializationError):
        MaskedInput(r.cfg.session_id, 0, 8, np.array([256], dtype=np.uint64)).to_bytes()


def test_share_outside_the_field_is_rejected_by_server() -> None:
    r = Run()
    r.advertise()
    r.share()
    r.mask()
    req = r.server.unmask_request()
    for i in range(N):
        resp = r.clients[i].unmask(req)
        if i == 0:
            owner, raw = resp.mask_shares[0]
            raw = raw[:16] + b"\xff\xff\xff\xff" + raw[20:]
            resp = dataclasses.replace(resp, mask_shares=((owner, raw),) + resp.mask_shares[1:])
            with pytest.raises(RemoteProtocolError, match="client 0"):
                r.server.receive_unmask_response(resp)  # refused at the door
            continue
        r.server.receive_unmask_response(resp)
    np.testing.assert_array_equal(r.server.aggregate().aggregate, r.x.sum(axis=0))
