"""End-to-end PSI: output equals the set intersection for every protocol and reveal mode."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError, ProtocolError
from fedcrypto.psi import (
    PROTOCOL_VERSION,
    PsiSettings,
    create_party,
    decode_message,
    run_pair,
    supported_groups,
)

from .conftest import PURE, SIZE

SUITES = [("ecdh", "curve25519"), ("ecdh", "p256"), ("dh", "ffdhe2048"), ("rsa", "rsa2048")]
if not PURE:
    SUITES += [("dh", "modp2048")]


def _modes(protocol: str) -> list[str]:
    return ["listener", "connector", "both"] + (["count"] if protocol != "rsa" else [])


def _check(settings_: PsiSettings, a: list[bytes], b: list[bytes], **kw: object) -> None:
    ra, rb = run_pair(settings_, a, b, **kw)
    inter = set(a) & set(b)
    want_a = np.array(sorted(i for i, x in enumerate(a) if x in inter), dtype=np.int64)
    want_b = np.array(sorted(i for i, x in enumerate(b) if x in inter), dtype=np.int64)
    reveal = settings_.reveal
    for res, want, role in ((ra, want_a, "listener"), (rb, want_b, "connector")):
        if reveal == "count":
            assert res.indices is None and res.count == len(inter)
        elif reveal in (role, "both"):
            assert res.indices is not None
            assert res.indices.dtype == np.int64
            np.testing.assert_array_equal(res.indices, want)
            assert res.count == len(inter)
        else:
            assert res.indices is None and res.count is None


@pytest.mark.parametrize("protocol, group", SUITES)
def test_all_reveal_modes(protocol: str, group: str, rsa_key: object) -> None:
    a = [f"user-{i}".encode() for i in range(SIZE)]
    b = [f"user-{i}".encode() for i in range(SIZE // 2, SIZE + SIZE // 3)]
    for reveal in _modes(protocol):
        kw = {"rsa_key": rsa_key} if protocol == "rsa" else {}
        s = PsiSettings(protocol=protocol, group=group, reveal=reveal, batch_size=7, workers=1)
        _check(s, a, b, **kw)


_sets = st.lists(st.integers(0, 3 * SIZE // 2), unique=True, max_size=SIZE)


@settings(
    max_examples=8 if not PURE else 3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    a=_sets,
    b=_sets,
    bs=st.integers(1, 9),
    reveal=st.sampled_from(["listener", "connector", "both", "count"]),
)
def test_property_ecdh_equals_set_intersection(
    a: list[int], b: list[int], bs: int, reveal: str
) -> None:
    s = PsiSettings(protocol="ecdh", reveal=reveal, batch_size=bs, workers=1)
    _check(s, [b"%d" % x for x in a], [b"%d" % x for x in b])


@settings(
    max_examples=4 if not PURE else 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    a=_sets,
    b=_sets,
    bs=st.integers(1, 9),
    reveal=st.sampled_from(["listener", "connector", "both", "count"]),
)
def test_property_dh_and_p256(a: list[int], b: list[int], bs: int, reveal: str) -> None:
    for protocol, group in (("dh", "ffdhe2048"), ("ecdh", "p256")):
        s = PsiSettings(protocol=protocol, group=group, reveal=reveal, batch_size=bs, workers=1)
        _check(s, [b"%d" % x for x in a], [b"%d" % x for x in b])


@settings(
    max_examples=4 if not PURE else 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    a=_sets,
    b=_sets,
    bs=st.integers(1, 9),
    reveal=st.sampled_from(["listener", "connector", "both"]),
)
def test_property_rsa(rsa_key: object, a: list[int], b: list[int], bs: int, reveal: str) -> None:
    s = PsiSettings(protocol="rsa", reveal=reveal, batch_size=bs, workers=1)
    _check(s, [b"%d" % x for x in a], [b"%d" % x for x in b], rsa_key=rsa_key)


def test_empty_sets_and_disjoint() -> None:
    s = PsiSettings(reveal="both", batch_size=4, workers=1)
    _check(s, [], [])
    _check(s, [b"x"], [])
    _check(s, [b"x", b"y"], [b"z"])


def test_workers_do_not_change_results() -> None:
    from fedcrypto.scale import process_executor

    a = [b"id%d" % i for i in range(4200)]
    b = [b"id%d" % i for i in range(1000, 5100)]
    s = PsiSettings(reveal="both", batch_size=4096)
    with process_executor(2) as ex:
        _check(s, a, b, executor=ex)


def test_out_of_core_join_end_to_end(tmp_path: os.PathLike[str]) -> None:
    n = 4000 if not PURE else 2500
    a = [b"id%d" % i for i in range(n)]
    b = [b"id%d" % i for i in range(n // 2, 2 * n)]
    s = PsiSettings(reveal="both", batch_size=512, workers=1, memory_budget=1 << 20)
    _check(s, a, b, workdir=str(tmp_path))
    assert os.listdir(tmp_path) == []  # spill directories removed


def test_settings_validation() -> None:
    assert PsiSettings().resolved_group() == "curve25519"
    assert PsiSettings(protocol="dh").resolved_group() == "ffdhe2048"
    assert PsiSettings(protocol="dh", group="modp_2048").resolved_group() == "modp2048"
    assert PsiSettings(protocol="rsa").resolved_group() == "rsa2048"
    assert supported_groups("ecdh") == ("curve25519", "p256")
    d = PsiSettings(protocol="dh", reveal="count").as_dict()
    assert d["group"] == "ffdhe2048" and d["reveal"] == "count" and d["batch_size"] == 65536
    for bad in (
        PsiSettings(protocol="nope"),
        PsiSettings(group="p384"),
        PsiSettings(reveal="me"),
        PsiSettings(protocol="rsa", reveal="count"),
        PsiSettings(batch_size=0),
        PsiSettings(memory_budget=10),
        PsiSettings(workers=0),
    ):
        with pytest.raises(InvalidArgumentError):
            bad.validate()
    with pytest.raises(InvalidTypeError):
        PsiSettings(batch_size="8").validate()  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        supported_groups("paillier")


def test_create_party_rejects_bad_arguments() -> None:
    s = PsiSettings(workers=1)
    sid = os.urandom(32)
    with pytest.raises(InvalidArgumentError):
        create_party(s, role="server", items=[], peer_size=0, session_id=sid)
    with pytest.raises(InvalidArgumentError):
        create_party(s, role="listener", items=[], peer_size=0, session_id=b"short")
    with pytest.raises(InvalidArgumentError):
        create_party(s, role="listener", items=[], peer_size=-1, session_id=sid)
    with pytest.raises(InvalidTypeError):
        create_party(s, role="listener", items=["str"], peer_size=0, session_id=sid)
    with pytest.raises(InvalidTypeError):
        create_party(s, role="listener", items=b"abc", peer_size=0, session_id=sid)


def test_party_lifecycle_errors() -> None:
    s = PsiSettings(workers=1)
    sid = os.urandom(32)
    p = create_party(s, role="listener", items=[b"a"], peer_size=1, session_id=sid)
    q = create_party(s, role="connector", items=[b"a"], peer_size=1, session_id=sid)
    with pytest.raises(ProtocolError):
        p.result()
    msgs = q.start()
    with pytest.raises(ProtocolError):
        p.handle(msgs[0])  # before start()
    p.start()
    with pytest.raises(ProtocolError):
        p.start()
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(p)
    assert "secret" not in repr(p) and "listener" in repr(p)
    # decode round trip of a real message
    m = decode_message(msgs[0].to_bytes(), s, sid)
    assert type(m) is type(msgs[0]) and m.data == msgs[0].data
    p.close()
    q.close()


def test_domain_separation_tags_are_valid_dsts() -> None:
    from fedcrypto.psi._settings import session_tag

    for protocol, groups in (
        ("ecdh", ("curve25519", "p256")),
        ("dh", ("ffdhe4096",)),
        ("rsa", ("rsa3072",)),
    ):
        for group in groups:
            s = PsiSettings(protocol=protocol, group=group, reveal="connector")
            dst = session_tag(s, os.urandom(32), "full-domain-hash")
            assert 1 <= len(dst) <= 255
            assert dst.startswith(b"fedcrypto-psi-v%d:" % PROTOCOL_VERSION + protocol.encode())
            assert session_tag(s, bytes(32), "tag") != session_tag(s, b"\x01" * 32, "tag")
