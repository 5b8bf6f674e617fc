"""Intersection-sum with cardinality (compute="sum"): results against plaintext sums, every
reveal mode with either side holding the values, packing, threshold, peer faults, leakage."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest

from fedcrypto import paillier, psi
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import SumOpening, SumResult, ValueBatch

KEY_BITS = 1024  # small keys keep the suite fast (unsafe_allow_small_keys on both sides)


@pytest.fixture(scope="module")
def sk() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(KEY_BITS, unsafe_allow_small_keys=True)


def _ids(prefix: str, idx) -> list[bytes]:
    return [f"{prefix}{i}".encode() for i in idx]


def _run(settings, a_items, b_items, *, sk, a_values=None, b_values=None, **kw):
    return psi.run_sum_pair(
        settings,
        a_items,
        b_items,
        listener_values=a_values,
        connector_values=b_values,
        private_key=sk,
        unsafe_allow_small_keys=True,
        **kw,
    )


def _expected(holder_items, values, other_items):
    other = set(other_items)
    rows = [i for i, x in enumerate(holder_items) if x in other]
    arr = np.asarray(values, dtype=object).reshape(len(holder_items), -1)
    return len(rows), tuple(int(sum(arr[r, j] for r in rows)) for j in range(arr.shape[1]))


# -- against plaintext ---------------------------------------------------------------------
@pytest.mark.parametrize("holder", ["listener", "connector"])
@pytest.mark.parametrize("reveal", ["listener", "connector", "both"])
def test_sum_matches_plaintext_every_reveal_and_holder(sk, holder, reveal):
    rng = random.Random(hash((holder, reveal)) & 0xFFFF)
    a = _ids("u", rng.sample(range(400), 120))
    b = _ids("u", rng.sample(range(400), 90))
    hold_items = a if holder == "listener" else b
    vals = [[rng.randrange(-(10**6), 10**6), rng.randrange(0, 50)] for _ in hold_items]
    settings = psi.PsiSettings(compute="sum", reveal=reveal, batch_size=32, workers=1)
    kw = {"a_values": vals} if holder == "listener" else {"b_values": vals}
    ra, rb = _run(settings, a, b, sk=sk, **kw)
    count, sums = _expected(hold_items, vals, b if holder == "listener" else a)
    for role, res in (("listener", ra), ("connector", rb)):
        assert res.indices is None  # nobody learns which IDs matched
        learns = reveal in (role, "both")
        matcher = role != holder
        assert res.value_holder == (role == holder)
        if learns:
            assert res.count == count and res.sums == sums and not res.below_threshold
        else:
            assert res.sums is None
            # the matcher always learns |∩|; a value holder that does not learn gets nothing
            assert res.count == (count if matcher else None)


@pytest.mark.parametrize("overlap", ["none", "complete", "empty_matcher"])
def test_sum_edge_sets(sk, overlap):
    a = _ids("x", range(50))
    b = {"none": _ids("y", range(40)), "complete": list(a), "empty_matcher": []}[overlap]
    vals = list(range(-25, 25))
    settings = psi.PsiSettings(compute="sum", reveal="both", batch_size=16, workers=1)
    ra, rb = _run(settings, a, b, sk=sk, a_values=vals)
    count, sums = _expected(a, vals, b)
    assert (ra.count, ra.sums) == (rb.count, rb.sums) == (count, sums)
    if overlap == "complete":
        assert ra.sums == (sum(vals),) and ra.count == 50


def test_sum_value_holder_with_no_rows(sk):
    settings = psi.PsiSettings(compute="sum", reveal="both", workers=1)
    ra, rb = _run(settings, [], _ids("x", range(5)), sk=sk, a_values=[])
    assert ra.count == rb.count == 0 and ra.sums == rb.sums == (0,)


def test_sum_property_random_sets_negatives_columns_threshold(sk):
    rng = random.Random(1313)
    for trial in range(6):
        n_a, n_b = rng.randrange(1, 60), rng.randrange(1, 60)
        universe = rng.randrange(10, 120)
        a = _ids("k", rng.sample(range(universe), min(n_a, universe)))
        b = _ids("k", rng.sample(range(universe), min(n_b, universe)))
        cols = rng.randrange(1, 5)
        bits = rng.choice([8, 16, 40])
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        vals = [[rng.choice([lo, hi, 0, rng.randint(lo, hi)]) for _ in range(cols)] for _ in b]
        count, sums = _expected(b, vals, a)
        threshold = rng.choice([0, count, count + 1])
        settings = psi.PsiSettings(
            compute="sum", reveal="both", threshold=threshold, batch_size=8, workers=1
        )
        ra, rb = _run(settings, a, b, sk=sk, b_values=vals, value_bits=bits)
        for res in (ra, rb):
            assert res.count == count, trial
            if count >= threshold:
                assert res.sums == sums and not res.below_threshold
            else:
                assert res.sums is None and res.below_threshold


def test_packing_many_columns_spans_several_ciphertexts(sk):
    cols = 70  # 48-bit values + 7 bits of rows: 13 slots per 1024-bit plaintext -> 6 per row
    a = _ids("p", range(60))
    b = _ids("p", range(30, 100))
    rng = np.random.default_rng(7)
    vals = rng.integers(-(2**47), 2**47 - 1, size=(len(a), cols), dtype=np.int64)
    lay = psi.plan_sum_layout(cols, psi.DEFAULT_VALUE_BITS, len(a), KEY_BITS)
    assert lay.ciphertexts > 1 and lay.slots > 1
    settings = psi.PsiSettings(compute="sum", reveal="connector", workers=1)
    ra, rb = _run(settings, a, b, sk=sk, a_values=vals, column_names=[f"c{i}" for i in range(70)])
    assert rb.sums == tuple(int(x) for x in vals[30:].sum(axis=0)) and rb.count == 30
    assert rb.labels[:2] == ("c0", "c1")


def test_wide_values_beyond_int64(sk):
    a = _ids("w", range(10))
    vals = [[(-1) ** i * (2**90 + i)] for i in range(10)]
    settings = psi.PsiSettings(compute="sum", reveal="both", workers=1)
    ra, _ = _run(settings, a, a[:4], sk=sk, a_values=vals, value_bits=100)
    assert ra.sums == (sum(v[0] for v in vals[:4]),)


def test_dh_protocol_and_p256(sk):
    a = _ids("d", range(30))
    b = _ids("d", range(20, 45))
    vals = list(range(30))
    for protocol, group in (("dh", "ffdhe2048"), ("ecdh", "p256")):
        settings = psi.PsiSettings(protocol=protocol, group=group, compute="sum", workers=1)
        ra, rb = _run(settings, a, b, sk=sk, a_values=vals)
        assert ra.sums == rb.sums == (sum(range(20, 30)),)


def test_fresh_paillier_key_when_none_given():
    settings = psi.PsiSettings(compute="sum", workers=1)
    ra, _ = psi.run_sum_pair(
        settings,
        [b"a", b"b"],
        [b"b"],
        listener_values=[5, 7],
        key_size=1024,
        unsafe_allow_small_keys=True,
    )
    assert ra.sums == (7,)


# -- settings and local errors -------------------------------------------------------------
def test_settings_compute_and_threshold_validation():
    assert psi.PsiSettings(compute="count").reveal == "count"
    assert psi.PsiSettings(reveal="count").compute == "intersection"  # replace() stays free
    # count is the same run whichever spelling: same hello and suite
    assert psi.PsiSettings(compute="count").as_dict() == psi.PsiSettings(reveal="count").as_dict()
    assert "compute" not in psi.PsiSettings().as_dict()  # old hellos unchanged
    s = psi.PsiSettings(compute="sum", threshold=3)
    assert s.as_dict()["compute"] == "sum" and s.as_dict()["threshold"] == 3
    assert s.suite_id() != psi.PsiSettings().suite_id()
    bad = [
        {"compute": "median"},
        {"compute": "count", "reveal": "listener"},
        {"compute": "sum", "reveal": "count"},
        {"compute": "sum", "protocol": "rsa"},
        {"threshold": 2},
        {"compute": "sum", "threshold": -1},
        {"compute": "sum", "threshold": 1 << 41},
    ]
    for kw in bad:
        with pytest.raises(InvalidArgumentError):
            psi.PsiSettings(**kw).validate()
    with pytest.raises(InvalidTypeError):
        psi.PsiSettings(compute="sum", threshold=1.5).validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError, match="create_sum_party"):
        psi.create_party(s, role="listener", items=[], peer_size=0, session_id=os.urandom(32))


def test_values_are_checked_naming_row_and_column(sk):
    s = psi.PsiSettings(compute="sum")
    sid = os.urandom(32)

    def make(values, **kw):
        return psi.create_sum_party(
            s,
            role="listener",
            items=[b"a", b"b", b"c"],
            peer_size=3,
            session_id=sid,
            values=values,
            private_key=sk,
            unsafe_allow_small_keys=True,
            **kw,
        )

    with pytest.raises(InvalidArgumentError, match="row 1, column 0"):
        make([1, 2**47, 3])
    with pytest.raises(InvalidArgumentError, match="row 2, column 1"):
        make([[0, 0], [1, 1], [2, 300]], value_bits=8)
    with pytest.raises(InvalidTypeError, match="row 1, column 0"):
        make([1, 2.5, 3])
    with pytest.raises(InvalidTypeError):
        make(np.array([1.0, 2.0, 3.0]))
    with pytest.raises(InvalidArgumentError, match="rows"):
        make([1, 2])
    with pytest.raises(InvalidArgumentError, match="do not fit"):
        make([1, 2, 3], value_bits=1000)  # 1000 bits do not fit a 1024-bit plaintext


# -- peer faults ---------------------------------------------------------------------------
def _pump(settings, a_items, b_items, *, sk, a_values=None, b_values=None, tamper=None):
    """Drive two parties; ``tamper(sender_role, msg) -> bytes`` may change any message."""
    sid = os.urandom(32)
    parties = {}
    for role, items, peer, values in (
        ("listener", a_items, b_items, a_values),
        ("connector", b_items, a_items, b_values),
    ):
        parties[role] = psi.create_sum_party(
            settings,
            role=role,
            items=items,
            peer_size=len(peer),
            session_id=sid,
            values=values,
            private_key=sk if values is not None else None,
            unsafe_allow_small_keys=True,
        )
    queues = {"listener": [], "connector": []}
    received = {"listener": [], "connector": []}

    def post(sender, msgs):
        other = "connector" if sender == "listener" else "listener"
        for m in msgs:
            data = m.to_bytes() if tamper is None else tamper(sender, m)
            queues[other].append(data)

    for role in ("listener", "connector"):
        post(role, parties[role].start())
    while not all(p.done for p in parties.values()):
        moved = False
        for role in ("listener", "connector"):
            if queues[role] and not parties[role].done:
                msg = psi.decode_sum_message(queues[role].pop(0), settings, sid)
                received[role].append(msg)
                post(role, parties[role].handle(msg))
                moved = True
        assert moved, "stalled"
    return parties, received


def _replace_result_cts(sk, data_fn):
    def tamper(sender, m):
        if isinstance(m, SumResult) and m.ciphertexts:
            return SumResult(
                param=m.param,
                has_count=m.has_count,
                below_threshold=m.below_threshold,
                count=m.count,
                ciphertexts=data_fn(m),
            ).to_bytes()
        return m.to_bytes()

    return tamper


def _raw_vector(pk, ints):
    from fedcrypto.serialization import ObjectType, Writer, pack

    nb = pk.ciphertext_bytes
    w = Writer().u8(0).u16(0).u64(len(ints))
    for c in ints:
        w.uint(c, nb)
    return pack(ObjectType.PAILLIER_ENCRYPTED_VECTOR, w.getvalue(), param=pk.fingerprint)


@pytest.mark.parametrize(
    ("what", "match"),
    [
        ("out_of_range", "invalid sum ciphertext"),
        ("not_unit", "invalid sum ciphertext"),
        ("zero", "invalid sum ciphertext"),
        ("too_many", "sum ciphertexts"),
        ("huge_sum", "out of range|exceeds|outside"),
        ("garbage", "invalid sum ciphertext|malformed"),
    ],
)
def test_bad_sum_ciphertext_from_the_matcher(sk, what, match):
    pk = sk.public_key()
    a = _ids("z", range(20))

    def data(m):
        if what == "out_of_range":
            return _raw_vector(pk, [pk.nsquare + 5])
        if what == "not_unit":
            return _raw_vector(pk, [pk.n])
        if what == "zero":
            return _raw_vector(pk, [0])
        if what == "too_many":
            return pk.encrypt([1, 2]).to_bytes()
        if what == "huge_sum":
            return pk.encrypt([pk.max_int - 5]).to_bytes()
        return b"\x00" * 40

    settings = psi.PsiSettings(compute="sum", reveal="listener", workers=1)
    with pytest.raises(RemoteProtocolError, match=match):
        _pump(
            settings,
            a,
            a[:5],
            sk=sk,
            a_values=list(range(20)),
            tamper=_replace_result_cts(sk, data),
        )


def test_lying_count_and_flags(sk):
    a = _ids("z", range(20))
    settings = psi.PsiSettings(compute="sum", reveal="listener", threshold=3, workers=1)

    def edit(**changes):
        def tamper(sender, m):
            if isinstance(m, SumResult):
                fields = {
                    "param": m.param,
                    "has_count": m.has_count,
                    "below_threshold": m.below_threshold,
                    "count": m.count,
                    "ciphertexts": m.ciphertexts,
                }
                fields.update(changes)
                return SumResult(**fields).to_bytes()
            return m.to_bytes()

        return tamper

    for changes, match in (
        ({"count": 99}, "more than the smaller set"),
        ({"below_threshold": True}, "threshold flag"),
        ({"has_count": False}, "reveal mode"),
        ({"count": 1}, "threshold flag"),
    ):
        with pytest.raises(RemoteProtocolError, match=match):
            _pump(settings, a, a[:5], sk=sk, a_values=list(range(20)), tamper=edit(**changes))


def test_value_batch_faults_reach_the_matcher(sk):
    a = _ids("v", range(20))
    settings = psi.PsiSettings(compute="sum", reveal="both", batch_size=8, workers=1)
    pk = sk.public_key()

    def wrong_count(sender, m):
        if isinstance(m, ValueBatch) and m.index == 0:
            return ValueBatch(
                param=m.param,
                index=m.index,
                total=m.total,
                elements=m.elements[: -m.elem_size],
                elem_size=m.elem_size,
                ciphertexts=m.ciphertexts,
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(RemoteProtocolError, match="rows, expected"):
        _pump(settings, a, a, sk=sk, a_values=list(range(20)), tamper=wrong_count)

    def bad_ct(sender, m):
        if isinstance(m, ValueBatch) and m.index == 1:
            return ValueBatch(
                param=m.param,
                index=m.index,
                total=m.total,
                elements=m.elements,
                elem_size=m.elem_size,
                ciphertexts=_raw_vector(pk, [pk.n * 2] * m.count),
            ).to_bytes()
        return m.to_bytes()

    with pytest.raises(RemoteProtocolError, match="invalid value ciphertexts"):
        _pump(settings, a, a, sk=sk, a_values=list(range(20)), tamper=bad_ct)


def test_both_or_neither_side_holding_values(sk):
    a = _ids("n", range(5))
    s = psi.PsiSettings(compute="sum", workers=1)
    with pytest.raises(RemoteProtocolError, match="both sides hold values"):
        _pump(s, a, a, sk=sk, a_values=[1] * 5, b_values=[2] * 5)
    with pytest.raises(RemoteProtocolError, match="neither side holds values"):
        _pump(s, a, a, sk=sk)


def test_oversized_frames_are_refused_before_allocation():
    s = psi.PsiSettings(compute="sum", batch_size=4)
    sid = os.urandom(32)
    from fedcrypto.psi._messages import message_param
    from fedcrypto.serialization import ObjectType, Writer, pack

    param = message_param(s, sid)
    too_many = Writer().u32(0).u32(1).u32(5).u16(32).raw(b"\x00" * 160).u32(0).getvalue()
    with pytest.raises(SerializationError, match="batch size"):
        psi.decode_sum_message(pack(ObjectType.PSI_SUM_VALUE_BATCH, too_many, param=param), s, sid)
    huge_blob = Writer().u8(1).u64(0).u32(1 << 31).getvalue()
    with pytest.raises(SerializationError):
        psi.decode_sum_message(pack(ObjectType.PSI_SUM_RESULT, huge_blob, param=param), s, sid)
    opening = Writer().u16(5000).u16(8).getvalue()
    with pytest.raises(SerializationError, match="too many"):
        psi.decode_sum_message(pack(ObjectType.PSI_SUM_OPENING, opening, param=param), s, sid)
    # a message of the plain intersection protocol is not part of this one
    sig = Writer().u32(0).u32(1).u32(0).u16(16).getvalue()
    with pytest.raises(RemoteProtocolError, match="not part of"):
        psi.decode_sum_message(pack(ObjectType.PSI_RSA_SIGNER_TAGS, sig, param=param), s, sid)


def test_misuse_is_local(sk):
    s = psi.PsiSettings(compute="sum")
    p = psi.create_sum_party(
        s, role="listener", items=[b"a"], peer_size=1, session_id=os.urandom(32)
    )
    with pytest.raises(LocalProtocolError):
        p.result()
    p.start()
    with pytest.raises(LocalProtocolError):
        p.start()


# -- leakage -------------------------------------------------------------------------------
def test_what_each_side_receives(sk):
    """The value holder receives pseudo-random masked IDs, acknowledgements and one result; when
    it does not learn the sums the result decrypts to a masked value, and the count is absent.
    The matcher receives masked IDs, shuffled tags and ciphertexts, never a plaintext value."""
    a = _ids("L", range(40))
    b = _ids("L", range(10, 60))
    vals = [1000 + i for i in range(50)]
    settings = psi.PsiSettings(compute="sum", reveal="listener", batch_size=16, workers=1)
    parties, received = _pump(settings, a, b, sk=sk, b_values=vals)
    holder_in = received["connector"]
    kinds = {type(m).__name__ for m in holder_in}
    assert kinds == {"MaskedBatch", "TagReply", "SumResult"}
    (res,) = [m for m in holder_in if isinstance(m, SumResult)]
    assert not res.has_count and res.count == 0 and not res.below_threshold
    masked = paillier.EncryptedVector.from_bytes(res.ciphertexts, sk.public_key())
    plain = int(sk.decrypt(masked)[0])
    true_sum = sum(1000 + i for i in range(30)) + 30 * (1 << 47)  # the offset encoding
    assert plain != true_sum and plain > 1 << 64  # hidden behind the statistical mask
    assert parties["connector"].result().count is None
    assert parties["connector"].result().sums is None
    # the listener (matcher) received only group elements, tags and ciphertexts
    matcher_in = received["listener"]
    blob = b"".join(m.to_bytes() for m in matcher_in)
    for v in vals:
        assert (v + (1 << 47)).to_bytes(8, "big") not in blob
    assert {type(m).__name__ for m in matcher_in} == {
        "SumKey",
        "TagReply",
        "ShuffledTags",
        "ValueBatch",
        "SumOpening",
    }
    # the shuffled tags are the matcher's tags in an order unrelated to its items
    shuffled = [m for m in matcher_in if type(m).__name__ == "ShuffledTags"]
    assert sum(m.count for m in shuffled) == len(a)
    assert parties["listener"].result().sums == (sum(1000 + i for i in range(30)),)


def test_below_threshold_is_hidden_from_a_value_holder_that_does_not_learn(sk):
    a = _ids("T", range(10))
    settings = psi.PsiSettings(compute="sum", reveal="listener", threshold=50, workers=1)
    parties, received = _pump(settings, a, a, sk=sk, b_values=list(range(10)))
    (res,) = [m for m in received["connector"] if isinstance(m, SumResult)]
    assert not res.below_threshold and res.ciphertexts  # looks like any other run
    assert parties["listener"].result().below_threshold
    assert parties["listener"].result().sums is None
    openings = [m for m in received["listener"] if isinstance(m, SumOpening)]
    assert len(openings) == 1
