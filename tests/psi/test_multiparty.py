"""Multi-party PSI in process: results against the plaintext intersection, bad input,
peer faults (elements off the group, repeats, counts), and the wire caps."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable

import pytest

from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import (
    MpKeyShare,
    MpMessage,
    MpOkvsBatch,
    MpRingBatch,
    MultipartyParty,
    MultipartySettings,
    decode_mp_message,
    run_multiparty,
)
from fedcrypto.psi._mp_messages import mp_message_param

from .conftest import PURE

FAST = MultipartySettings(batch_size=7, workers=1)


def _sets(n: int, common: int, own: int, seed: int, pair: int = 5) -> list[list[bytes]]:
    """n sets sharing ``common`` items; parties 0 and 1 also share ``pair`` more items, and
    every consecutive pair shares a few (so partial intersections are never empty)."""
    base = [b"all-%d-%d" % (seed, i) for i in range(common)]
    out = []
    for p in range(n):
        s = base + [b"own-%d-%d-%d" % (seed, p, i) for i in range(own + p)]
        s += [b"pair01-%d" % i for i in range(pair)] if p < 2 else []
        s += [b"ring-%d-%d" % (p, i) for i in range(3)]
        s += [b"ring-%d-%d" % ((p - 1) % n, i) for i in range(3)]
        out.append(sorted(set(s)))
    return out


def _truth(sets: list[list[bytes]]) -> set[bytes]:
    inter = set(sets[0])
    for s in sets[1:]:
        inter &= set(s)
    return inter


@pytest.mark.parametrize("n", [3, 4, 5])
@pytest.mark.parametrize("common", [0, 9])
def test_matches_plaintext_receiver_and_all(n: int, common: int) -> None:
    sets = _sets(n, common, 6, seed=n)
    truth = _truth(sets)
    assert len(truth) == common
    for reveal, receiver in (("receiver", 0), ("receiver", n - 1), ("all", 0)):
        s = MultipartySettings(reveal=reveal, receiver=receiver, batch_size=7, workers=1)
        res = run_multiparty(s, sets)
        for i, r in enumerate(res):
            if reveal == "all" or i == receiver:
                assert r.indices is not None
                assert {sets[i][j] for j in r.indices} == truth
                assert r.count == common
            else:
                assert r.indices is None and r.count is None


@pytest.mark.parametrize("n", [3, 4])
def test_count_mode_reveals_only_the_size(n: int) -> None:
    sets = _sets(n, 11, 4, seed=7)
    res = run_multiparty(MultipartySettings(reveal="count", batch_size=5, workers=1), sets)
    assert all(r.indices is None and r.count == 11 for r in res)


def test_full_overlap_and_empty_sets() -> None:
    same = [b"id%03d" % i for i in range(23)]
    res = run_multiparty(MultipartySettings(reveal="all", batch_size=8, workers=1), [same] * 4)
    assert all(r.count == 23 and list(r.indices) == list(range(23)) for r in res)  # type: ignore[arg-type]
    res = run_multiparty(FAST, [same, [], same])
    assert res[0].count == 0 and res[0].indices is not None and res[0].indices.size == 0
    res = run_multiparty(FAST, [[], [], []])
    assert res[0].count == 0


@pytest.mark.parametrize("group", ["p256", None])
def test_other_groups(group: str | None) -> None:
    protocol = "ecdh" if group else "dh"
    sets = _sets(3, 4, 2, seed=3) if not PURE or group else _sets(3, 2, 1, seed=3)
    res = run_multiparty(
        MultipartySettings(protocol=protocol, group=group, batch_size=6, workers=1), sets
    )
    assert {sets[0][j] for j in res[0].indices} == _truth(sets)  # type: ignore[union-attr]


def test_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        run_multiparty(FAST, [[b"a"]])
    with pytest.raises(InvalidArgumentError, match="distinct"):
        run_multiparty(FAST, [[b"a", b"a"], [b"a"], [b"a"]])
    with pytest.raises(InvalidArgumentError, match="ecdh and dh"):
        run_multiparty(MultipartySettings(protocol="rsa"), [[b"a"]] * 3)
    with pytest.raises(InvalidArgumentError, match="receiver"):
        run_multiparty(MultipartySettings(receiver=3), [[b"a"]] * 3)
    with pytest.raises(InvalidArgumentError, match="reveal"):
        run_multiparty(MultipartySettings(reveal="both"), [[b"a"]] * 3)
    with pytest.raises(InvalidTypeError):
        run_multiparty(FAST, [[b"a"], ["b"], [b"c"]])  # type: ignore[list-item]
    with pytest.raises(InvalidArgumentError, match="parties"):
        MultipartyParty(FAST, index=0, items=[], sizes=[0] * 65, session_id=bytes(32))
    with pytest.raises(InvalidArgumentError, match="announced"):
        MultipartyParty(FAST, index=0, items=[b"x"], sizes=[2, 1, 1], session_id=bytes(32))


# -- faults injected between parties ---------------------------------------------------
Tamper = Callable[[MpMessage], MpMessage | None]


def _run_tampered(
    sets: list[list[bytes]], tamper: Tamper, settings: MultipartySettings = FAST
) -> None:
    sid = os.urandom(32)
    n = len(sets)
    sizes = [len(s) for s in sets]
    parties = [
        MultipartyParty(settings, index=i, items=s, sizes=sizes, session_id=sid)
        for i, s in enumerate(sets)
    ]
    queues: list[deque[bytes]] = [deque() for _ in range(n)]

    def post(msgs: list[MpMessage]) -> None:
        for m in msgs:
            t = tamper(m)
            if t is not None:
                queues[t.dest].append(t.to_bytes())

    for p in parties:
        post(p.start())
    try:
        while not all(p.done for p in parties):
            moved = False
            for i, p in enumerate(parties):
                if queues[i] and not p.done:
                    post(p.handle(decode_mp_message(queues[i].popleft(), settings, n, sid)))
                    moved = True
            if not moved:
                raise LocalProtocolError("stalled")
    finally:
        for p in parties:
            p.close()


def _ring(m: MpMessage, **changes: object) -> MpRingBatch:
    assert isinstance(m, MpRingBatch)
    f = dict(
        param=m.param,
        sender=m.sender,
        dest=m.dest,
        origin=m.origin,
        hop=m.hop,
        index=m.index,
        total=m.total,
        data=m.data,
        elem_size=m.elem_size,
    )
    f.update(changes)
    return MpRingBatch(**f)  # type: ignore[arg-type]


SETS3 = [[b"a%d" % i for i in range(10)] for _ in range(3)]


def test_duplicate_elements_in_a_forwarded_set_are_refused() -> None:
    def dup(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 1 and m.hop == 1 and m.index == 0:
            return _ring(m, data=m.data[:32] * (len(m.data) // 32))
        return m

    with pytest.raises(
        InvalidGroupElementError, match="party 1.s set, as sent by party 1, holds a repeated"
    ):
        _run_tampered(SETS3, dup)


def test_duplicates_across_batches_are_refused() -> None:
    first: list[bytes] = []

    def dup(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 2 and m.hop == 1:
            if m.index == 0:
                first.append(m.data[:32])
            else:
                return _ring(m, data=first[0] + m.data[32:])
        return m

    with pytest.raises(InvalidGroupElementError, match="repeated"):
        _run_tampered(SETS3, dup)


def test_element_off_the_curve_is_refused() -> None:
    twist = (2).to_bytes(32, "little")  # u = 2 is on the twist of curve25519

    def off(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 0 and m.hop == 2:
            return _ring(m, data=twist + m.data[32:])
        return m

    with pytest.raises(InvalidGroupElementError, match="not on curve25519"):
        _run_tampered(SETS3, off)


def test_more_elements_than_announced_are_refused() -> None:
    def extra(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 1 and m.hop == 1 and m.index == m.total - 1:
            return _ring(m, data=m.data + os.urandom(32))
        return m

    with pytest.raises(RemoteProtocolError, match="announced size 10"):
        _run_tampered(SETS3, extra)


def test_extra_batch_and_wrong_route_are_refused() -> None:
    def skip_hop(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 0 and m.hop == 1:
            return _ring(m, dest=2)
        return m

    with pytest.raises(RemoteProtocolError, match="expects it at hop"):
        _run_tampered(SETS3, skip_hop)

    def repeat_index(m: MpMessage) -> MpMessage:
        if isinstance(m, MpRingBatch) and m.origin == 0 and m.hop == 1 and m.index == 1:
            return _ring(m, index=0)
        return m

    with pytest.raises(RemoteProtocolError, match="out of order"):
        _run_tampered(SETS3, repeat_index)


def test_table_of_the_wrong_size_is_refused() -> None:
    def grow(m: MpMessage) -> MpMessage:
        if isinstance(m, MpOkvsBatch):
            return MpOkvsBatch(
                param=m.param,
                sender=m.sender,
                dest=m.dest,
                nonce=m.nonce,
                cells=m.cells + 3,
                index=m.index,
                total=m.total,
                data=m.data,
            )
        return m

    with pytest.raises(RemoteProtocolError, match="announced size"):
        _run_tampered(SETS3, grow)


def test_dropped_message_stalls_instead_of_answering() -> None:
    def drop(m: MpMessage) -> MpMessage | None:
        return None if isinstance(m, MpRingBatch) and m.origin == 2 and m.hop == 2 else m

    with pytest.raises(LocalProtocolError, match="stalled"):
        _run_tampered(SETS3, drop)


def test_decoder_caps_before_allocation() -> None:
    sid = os.urandom(32)
    s = FAST
    p = mp_message_param(s, 3, sid)
    ok = MpRingBatch(
        param=p,
        sender=0,
        dest=1,
        origin=0,
        hop=1,
        index=0,
        total=1,
        data=bytes(32 * 8),
        elem_size=32,
    )
    with pytest.raises(SerializationError, match="out of range"):
        decode_mp_message(ok.to_bytes(), s, 3, sid)  # 8 elements > batch_size 7
    bad = MpKeyShare(param=p, sender=0, dest=5, public_key=bytes(32))
    with pytest.raises(SerializationError, match="party indices"):
        decode_mp_message(bad.to_bytes(), s, 3, sid)
    with pytest.raises(SerializationError):
        decode_mp_message(ok.to_bytes(), s, 4, sid)  # another party count: another binding
    with pytest.raises(SerializationError):
        decode_mp_message(ok.to_bytes()[:-1], s, 3, sid)
