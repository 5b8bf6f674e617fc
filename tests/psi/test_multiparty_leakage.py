"""What each party of a multi-party PSI receives, against what docs/psi-multiparty.md says.

A party "can test" a partial intersection if something it received equals (or, after it
applies any of its own keys, equals) a value it can compute from a guessed identifier, or a
value from another party's set.  The design says: ring values all carry their owner's
one-time blinding key, so neither ever happens; the tables only open the full intersection.
Each check is paired with one showing the same comparison *would* succeed on values that
the design keeps private (so the test can fail)."""

from __future__ import annotations

import itertools
import os
from collections import defaultdict

import numpy as np

from fedcrypto.psi import (
    MpMessage,
    MpOkvsBatch,
    MpRingBatch,
    MultipartyParty,
    MultipartySettings,
    decode_mp_message,
)
from fedcrypto.psi import _mp_okvs as okvs
from fedcrypto.psi._mp_group import mask_own, mask_peer


def _split(data: bytes) -> list[bytes]:
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def _run(settings: MultipartySettings, sets: list[list[bytes]]):  # type: ignore[no-untyped-def]
    """Drive the parties and record every message each one receives."""
    sid = os.urandom(32)
    n = len(sets)
    sizes = [len(s) for s in sets]
    parties = [
        MultipartyParty(settings, index=i, items=s, sizes=sizes, session_id=sid)
        for i, s in enumerate(sets)
    ]
    inbox: list[list[MpMessage]] = [[] for _ in range(n)]
    queue: list[bytes] = []
    for p in parties:
        queue += [m.to_bytes() for m in p.start()]
    while queue:
        m = decode_mp_message(queue.pop(0), settings, n, sid)
        inbox[m.dest].append(m)
        queue += [x.to_bytes() for x in parties[m.dest].handle(m)]
    assert all(p.done for p in parties)
    return parties, inbox


SETS = [
    [b"all-1", b"all-2", b"p01-a", b"p01-b", b"p02-a", b"only0"],
    [b"all-1", b"all-2", b"p01-a", b"p01-b", b"p12-a", b"only1"],
    [b"all-1", b"all-2", b"p02-a", b"p12-a", b"only2"],
    [b"all-1", b"all-2", b"p01-a", b"p02-a", b"p12-a", b"only3"],
]


def test_ring_values_cannot_be_compared_by_anyone() -> None:
    settings = MultipartySettings(reveal="all", batch_size=4, workers=1)
    parties, inbox = _run(settings, SETS)
    universe = sorted({x for s in SETS for x in s})
    g = "curve25519"
    labels = {p.index: set(_split(b"".join(p._labels))) for p in parties}
    # the labels (fully masked values) of two parties DO meet on their pairwise
    # intersection: exactly what no party may ever see for another party's set
    assert len(labels[0] & labels[1]) == len(set(SETS[0]) & set(SETS[1])) == 4
    for p in parties:
        keys = p._keys
        by_origin: dict[int, set[bytes]] = defaultdict(set)
        for m in inbox[p.index]:
            if isinstance(m, MpRingBatch) and m.origin != p.index:
                els = _split(m.data)
                by_origin[m.origin] |= set(els)
                by_origin[m.origin] |= set(_split(mask_peer(els, "ecdh", g, keys.mask)))
        assert set(by_origin) == {o for o in range(len(SETS)) if o != p.index}
        # what this party can compute for any guessed identifier
        guesses: set[bytes] = set()
        for key in (keys.mask, keys.blind, keys.home):
            guesses |= set(_split(mask_own(universe, "ecdh", g, key, p._dst)))
        own_label_set = labels[p.index]
        for o, vals in by_origin.items():
            assert not vals & guesses, f"party {p.index} can test guesses against party {o}"
            assert not vals & own_label_set
            for o2, vals2 in by_origin.items():
                if o2 != o:
                    assert not vals & vals2, f"party {p.index} can compare sets {o} and {o2}"
            for q, lab in labels.items():
                assert not vals & lab, f"party {p.index} saw labels of party {q}"
        # positive control: this party's own labels can be recomputed from its guesses
        # only with every key; its single-key guesses meet nothing of its own labels
        assert not own_label_set & guesses


def test_tables_open_only_the_full_intersection() -> None:
    settings = MultipartySettings(reveal="all", batch_size=4, workers=1)
    parties, inbox = _run(settings, SETS)
    n = len(SETS)
    full = set.intersection(*(set(s) for s in SETS))
    for p in parties:
        tables: dict[int, list[bytes]] = defaultdict(list)
        nonce: dict[int, int] = {}
        for m in inbox[p.index]:
            if isinstance(m, MpOkvsBatch):
                tables[m.sender].append(m.data)
                nonce[m.sender] = m.nonce
        assert set(tables) == {j for j in range(n) if j != p.index}
        items = [p._items[int(j)] for j in p._perm]  # label order = the owner's shuffle
        label_list = p._own_labels()
        decoded = {}
        for j, parts in tables.items():
            t = np.frombuffer(b"".join(parts), dtype="<u8").reshape(-1, 2)
            pos = okvs.positions(
                label_list, okvs.table_cells(len(SETS[j])), p._okvs_key(j, nonce[j])
            )
            # what the party can strip off: its own pairwise PRF with party j
            decoded[j] = okvs.decode(t, pos) ^ okvs.prf_many(label_list, p._peer_keys[j])
        others = sorted(decoded)
        for k, x in enumerate(items):
            for r in range(1, len(others) + 1):
                for subset in itertools.combinations(others, r):
                    acc = np.zeros(2, dtype=np.uint64)
                    for j in subset:
                        acc ^= decoded[j][k]
                    opens = not acc.any()
                    if len(subset) == len(others):
                        assert opens == (x in full)  # the full combination opens
                    else:
                        assert not opens, f"party {p.index} tests {x!r} against {subset}"


def test_non_learners_receive_no_tables_and_shuffled_sets() -> None:
    settings = MultipartySettings(reveal="receiver", receiver=2, batch_size=4, workers=1)
    parties, inbox = _run(settings, SETS[:3])
    for p in parties:
        kinds = {type(m).__name__ for m in inbox[p.index]}
        if p.index == 2:
            assert "MpOkvsBatch" in kinds
        else:
            assert "MpOkvsBatch" not in kinds
            assert p.result().indices is None and p.result().count is None
    assert parties[2]._shuffles(0) and parties[2]._shuffles(1) and not parties[0]._shuffles(2)
