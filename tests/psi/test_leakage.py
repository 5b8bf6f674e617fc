"""What each party receives: a party that must not learn the intersection gets nothing
it could compute it from (ECDH/DH: only first-stage values and empty replies)."""

from __future__ import annotations

import os
from collections import defaultdict

import numpy as np
import pytest

from fedcrypto.psi import (
    BlindedBatch,
    MaskedBatch,
    MatchPositions,
    PsiSettings,
    RsaPublicKey,
    ShuffledTags,
    SignedBatch,
    SignerTags,
    TagReply,
    create_party,
    decode_message,
)


def _drive(settings: PsiSettings, a: list[bytes], b: list[bytes], **kw: object):  # type: ignore[no-untyped-def]
    """Run a PSI; return the messages each role received, by type."""
    sid = os.urandom(32)
    parties = {
        "listener": create_party(
            settings, role="listener", items=a, peer_size=len(b), session_id=sid, **kw
        ),
        "connector": create_party(
            settings, role="connector", items=b, peer_size=len(a), session_id=sid, **kw
        ),
    }
    other = {"listener": "connector", "connector": "listener"}
    inbox: dict[str, list[bytes]] = {"listener": [], "connector": []}
    seen: dict[str, dict[type, list[object]]] = {r: defaultdict(list) for r in parties}
    for role, p in parties.items():
        inbox[other[role]] += [m.to_bytes() for m in p.start()]
    while not all(p.done for p in parties.values()):
        for role, p in parties.items():
            while inbox[role] and not p.done:
                msg = decode_message(inbox[role].pop(0), settings, sid)
                seen[role][type(msg)].append(msg)
                inbox[other[role]] += [m.to_bytes() for m in p.handle(msg)]
    return seen, parties["listener"].result(), parties["connector"].result()


A = [b"id%d" % i for i in range(60)]
B = [b"id%d" % i for i in range(30, 100)]


@pytest.mark.parametrize("protocol", ["ecdh", "dh"])
def test_non_learner_gets_only_empty_replies(protocol: str) -> None:
    s = PsiSettings(protocol=protocol, reveal="listener", batch_size=16, workers=1)
    seen, ra, rb = _drive(s, A, B)
    assert ra.count == 30 and rb.indices is None and rb.count is None
    assert set(seen["connector"]) == {MaskedBatch, TagReply}
    assert all(m.count == 0 for m in seen["connector"][TagReply])  # type: ignore[attr-defined]
    assert sum(m.count for m in seen["listener"][TagReply]) == len(A)  # type: ignore[attr-defined]


def test_count_mode_replies_are_empty_and_tags_come_separately() -> None:
    s = PsiSettings(reveal="count", batch_size=16, workers=1)
    seen, ra, rb = _drive(s, A, B)
    assert (ra.indices, rb.indices) == (None, None) and ra.count == rb.count == 30
    for role in ("listener", "connector"):
        assert all(m.count == 0 for m in seen[role][TagReply])  # type: ignore[attr-defined]
    # each party's own tags come back only as one separate, complete, peer-shuffled stream
    shuffled = b"".join(m.data for m in seen["listener"][ShuffledTags])  # type: ignore[attr-defined]
    assert len(shuffled) == 16 * len(A)
    tags = np.frombuffer(shuffled, dtype="V16")
    assert np.unique(tags).size == len(A)


def test_masked_values_are_shuffled_and_session_bound() -> None:
    s = PsiSettings(reveal="both", batch_size=64, workers=1)
    seen1, _, _ = _drive(s, A, B)
    seen2, _, _ = _drive(s, A, B)
    first1 = seen1["connector"][MaskedBatch][0].data  # type: ignore[attr-defined]
    first2 = seen2["connector"][MaskedBatch][0].data  # type: ignore[attr-defined]
    # fresh keys per session: nothing repeats across sessions
    v1 = {first1[i : i + 32] for i in range(0, len(first1), 32)}
    v2 = {first2[i : i + 32] for i in range(0, len(first2), 32)}
    assert not v1 & v2


def test_rsa_signer_sees_only_blinded_values(rsa_key: object) -> None:
    s = PsiSettings(protocol="rsa", reveal="listener", batch_size=16, workers=1)
    seen, ra, rb = _drive(s, A, B, rsa_key=rsa_key)
    assert ra.count == 30 and rb.indices is None
    assert set(seen["connector"]) == {BlindedBatch}  # the signer (connector)
    assert set(seen["listener"]) == {RsaPublicKey, SignedBatch, SignerTags}
    s2 = PsiSettings(protocol="rsa", reveal="both", batch_size=16, workers=1)
    seen2, ra2, rb2 = _drive(s2, A, B, rsa_key=rsa_key)
    assert set(seen2["connector"]) == {BlindedBatch, MatchPositions}
    np.testing.assert_array_equal(rb2.indices, np.arange(30))
