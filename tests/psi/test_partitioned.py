"""Partitioned PSI: padded buckets, keyed assignment, bucket frames, overflow, resume hooks."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from typing import Any

import numpy as np
import pytest

from fedcrypto.exceptions import (
    BucketOverflowError,
    InvalidArgumentError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import (
    BucketMessage,
    PartitionedParty,
    PsiSettings,
    create_party,
    decode_message,
    padded_bucket_size,
    run_pair,
)
from fedcrypto.psi._buckets import assign_buckets, bucket_key

SID = bytes(range(32))


def _ids(lo: int, hi: int) -> list[bytes]:
    return [b"id-%d" % i for i in range(lo, hi)]


def test_padded_size_bound() -> None:
    assert padded_bucket_size(1000, 1) == 1000
    for n, b in ((0, 4), (10, 64), (1000, 4), (10**6, 16), (10**8, 1000)):
        m = padded_bucket_size(n, b)
        assert n / b <= m <= max(n, 0) or n == 0
        # Bernstein: P[one bucket > m] <= exp(-(m - mu)^2 / (2 (mu + (m - mu)/3)))
        mu, t = n / b, m - n / b
        if n and m < n:
            assert b * math.exp(-(t * t) / (2 * (mu + t / 3))) <= 2.0**-40 * 1.0001
    assert padded_bucket_size(10**6, 16) < 1.04 * 10**6 / 16  # small overhead at scale


def test_assignment_keyed_by_session() -> None:
    s = PsiSettings(buckets=8)
    items = _ids(0, 2000)
    a1 = assign_buckets(items, bucket_key(s, SID), 8)
    a2 = assign_buckets(items, bucket_key(s, SID), 8)
    a3 = assign_buckets(items, bucket_key(s, bytes(32)), 8)
    np.testing.assert_array_equal(a1, a2)
    assert (a1 != a3).mean() > 0.8  # a new session re-keys every item
    assert a1.max() < 8 and np.bincount(a1).min() > 150


@pytest.mark.parametrize(
    ("protocol", "reveal"),
    [
        ("ecdh", "both"),
        ("ecdh", "connector"),
        ("ecdh", "count"),
        ("dh", "listener"),
        ("rsa", "both"),
    ],
)
def test_partitioned_equals_plain(protocol: str, reveal: str) -> None:
    a, b = _ids(0, 300), _ids(150, 420)
    plain = run_pair(PsiSettings(protocol=protocol, reveal=reveal, batch_size=64), a, b)
    parted = run_pair(PsiSettings(protocol=protocol, reveal=reveal, batch_size=64, buckets=5), a, b)
    for p, q in zip(plain, parted, strict=True):
        assert p.count == q.count
        if p.indices is None:
            assert q.indices is None
        else:
            assert q.indices is not None
            np.testing.assert_array_equal(p.indices, q.indices)


def _drive(pa: Any, pb: Any, settings: PsiSettings, tap: Any = None) -> None:
    queues: dict[str, deque[bytes]] = {"a": deque(), "b": deque()}
    parties = {"a": pa, "b": pb}
    for me, other in (("a", "b"), ("b", "a")):
        for m in parties[me].start():
            if tap:
                tap(me, m)
            queues[other].append(m.to_bytes())
    while not (pa.done and pb.done):
        for me, other in (("a", "b"), ("b", "a")):
            if queues[me] and not parties[me].done:
                msg = decode_message(queues[me].popleft(), settings, SID)
                for m in parties[me].handle(msg):
                    if tap:
                        tap(me, m)
                    queues[other].append(m.to_bytes())


def _pair(settings: PsiSettings, a: list[bytes], b: list[bytes], **kw: Any) -> tuple[Any, Any]:
    pa = create_party(settings, role="listener", items=a, peer_size=len(b), session_id=SID, **kw)
    pb = create_party(settings, role="connector", items=b, peer_size=len(a), session_id=SID, **kw)
    return pa, pb


@pytest.mark.parametrize("reveal", ["both", "listener", "count"])
def test_every_bucket_same_size_on_the_wire(reveal: str) -> None:
    s = PsiSettings(reveal=reveal, batch_size=32, buckets=4)
    a, b = _ids(0, 400), _ids(390, 430)  # skewed sizes, tiny intersection
    sent: dict[tuple[str, int], list[int]] = defaultdict(list)

    def tap(who: str, m: Any) -> None:
        assert isinstance(m, BucketMessage)
        sent[(who, m.bucket)].append(len(m.to_bytes()))

    pa, pb = _pair(s, a, b)
    assert isinstance(pa, PartitionedParty)
    _drive(pa, pb, s, tap)
    for who in ("a", "b"):
        shapes = {tuple(sent[(who, k)]) for k in range(4)}
        assert len(shapes) == 1, (who, shapes)  # same frames, same sizes, every bucket
    assert pa.buckets_done == pa.buckets_total == 4


def test_overflow_is_typed_and_says_rerun(monkeypatch: pytest.MonkeyPatch) -> None:
    import fedcrypto.psi._partitioned as part

    monkeypatch.setattr(part, "padded_bucket_size", lambda n, b: n // b - 3)
    with pytest.raises(BucketOverflowError, match="re-run"):
        create_party(
            PsiSettings(buckets=4),
            role="listener",
            items=_ids(0, 100),
            peer_size=100,
            session_id=SID,
        )


def test_bucket_frames_are_checked() -> None:
    s = PsiSettings(batch_size=16, buckets=8)
    pa, pb = _pair(s, _ids(0, 40), _ids(20, 60))
    first = pb.start()
    pa.start()
    assert {m.bucket for m in first} == {0, 1}  # two buckets open at a time
    raw = first[0].to_bytes()
    # a frame of bucket 0 relabelled as bucket 1: bound to bucket 0's session, rejected
    relabelled = raw[:8] + (1).to_bytes(4, "big") + raw[12:]
    with pytest.raises(SerializationError):
        decode_message(relabelled, s, SID)
    with pytest.raises(SerializationError, match="out of range"):
        decode_message(raw[:8] + (8).to_bytes(4, "big") + raw[12:], s, SID)
    with pytest.raises(SerializationError, match="bucket frame"):
        decode_message(first[0].inner.to_bytes(), s, SID)
    # a bucket far ahead of the window is refused before any work
    far = BucketMessage(param=first[0].param, bucket=7, inner=first[0].inner)
    with pytest.raises(RemoteProtocolError, match="too far ahead"):
        pa.handle(far)


def test_finished_buckets_are_not_rerun_and_results_match() -> None:
    s = PsiSettings(batch_size=16, buckets=4)
    a, b = _ids(0, 120), _ids(60, 200)
    done_a: dict[int, Any] = {}
    done_b: dict[int, Any] = {}
    pa = create_party(
        s,
        role="listener",
        items=a,
        peer_size=len(b),
        session_id=SID,
        on_bucket_done=done_a.__setitem__,
    )
    pb = create_party(
        s,
        role="connector",
        items=b,
        peer_size=len(a),
        session_id=SID,
        on_bucket_done=done_b.__setitem__,
    )
    _drive(pa, pb, s)
    full_a, full_b = pa.result(), pb.result()
    assert sorted(done_a) == [0, 1, 2, 3]
    keep = {k: done_a[k] for k in (0, 2)}
    keep_b = {k: done_b[k] for k in (0, 2)}
    seen: set[int] = set()
    ra = create_party(s, role="listener", items=a, peer_size=len(b), session_id=SID, finished=keep)
    rb = create_party(
        s, role="connector", items=b, peer_size=len(a), session_id=SID, finished=keep_b
    )
    _drive(ra, rb, s, lambda who, m: seen.add(m.bucket))
    assert seen == {1, 3}
    assert full_a.indices is not None and ra.result().indices is not None
    np.testing.assert_array_equal(ra.result().indices, full_a.indices)
    assert rb.result().count == full_b.count == 60
    with pytest.raises(InvalidArgumentError):
        create_party(
            s, role="listener", items=a, peer_size=len(b), session_id=SID, finished={9: full_a}
        )


def test_buckets_setting_validated_and_compared() -> None:
    with pytest.raises(InvalidArgumentError):
        PsiSettings(buckets=0).validate()
    with pytest.raises(InvalidArgumentError):
        PsiSettings(buckets=1 << 17).validate()
    assert PsiSettings(buckets=3).as_dict()["buckets"] == 3


@pytest.mark.parametrize(
    ("protocol", "reveal"), [("ecdh", "both"), ("ecdh", "count"), ("dh", "both")]
)
def test_seeded_bucket_repeats_exactly_the_same_messages(protocol: str, reveal: str) -> None:
    """A resumed bucket never shows the peer different randomness: same seed, same bytes."""
    s = PsiSettings(protocol=protocol, reveal=reveal, batch_size=16, buckets=3)
    a, b = _ids(0, 50), _ids(25, 90)
    seed = bytes(range(100, 132))

    def transcript(seed_a: bytes) -> list[bytes]:
        out: list[bytes] = []
        pa = create_party(
            s,
            role="listener",
            items=a,
            peer_size=len(b),
            session_id=SID,
            randomness_seed=seed_a,
        )
        pb = create_party(
            s,
            role="connector",
            items=b,
            peer_size=len(a),
            session_id=SID,
            randomness_seed=bytes(32),
        )
        _drive(pa, pb, s, lambda who, m: out.append(m.to_bytes()) if who == "a" else None)
        assert pa.result().count == 25
        return out

    first, again = transcript(seed), transcript(seed)
    assert first == again
    assert transcript(bytes(range(32))) != first
    with pytest.raises(InvalidArgumentError, match="ecdh and dh"):
        create_party(
            PsiSettings(protocol="rsa", buckets=2),
            role="listener",
            items=a,
            peer_size=1,
            session_id=SID,
            randomness_seed=seed,
        )
