"""``fedcrypto psi listen|connect --parties 3``: three processes over loopback TLS, and the
faults of issue 14 (a member that disconnects, sends elements off the curve, repeated
elements or more than it announced; settings that differ; one identity used twice)."""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fedcrypto.cli._psi import build_psi_parser
from fedcrypto.cli.psi_tool import _multiparty as mp
from fedcrypto.cli.psi_tool import _run
from fedcrypto.cli.psi_tool._net import Deadline, FrameKind, connect_tcp
from fedcrypto.cli.psi_tool._progress import Progress
from fedcrypto.cli.psi_tool._tls import client_context, format_fingerprint, tls_handshake
from fedcrypto.psi import MpMessage, MpRingBatch, MultipartyParty

from .conftest import ENV, PROC_TIMEOUT, Listener, Proc, tool_cmd

COMMON = [f"c{i:03d}" for i in range(40)]
SETS = {
    "alice": COMMON + ["ab1", "ab2", "ac1", "a-only"],
    "bob": COMMON + ["ab1", "ab2", "bc1", "b-only"],
    "mallory": COMMON + ["ac1", "bc1", "m-only"],
}


def _tls(identities: dict[str, Any], me: str) -> list[str]:
    if me == "alice":
        return [
            "--tls-cert", identities["alice"].cert, "--tls-key", identities["alice"].key,
            "--tls-member-cert", identities["bob"].cert,
            "--tls-member-cert", identities["mallory"].cert,
        ]  # fmt: skip
    return [
        "--tls-cert", identities[me].cert, "--tls-key", identities[me].key,
        "--tls-peer-cert", identities["alice"].cert,
    ]  # fmt: skip


def _files(tmp: Path) -> dict[str, str]:
    out = {}
    for name, ids in SETS.items():
        p = tmp / f"{name}.csv"
        p.write_text("\n".join(ids) + "\n")
        out[name] = str(p)
    return out


class _Member:
    def __init__(self, args: list[str]) -> None:
        self.proc = subprocess.Popen(
            tool_cmd("connect", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
        )

    def wait(self) -> Proc:
        try:
            out, err = self.proc.communicate(timeout=PROC_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"member hung: {err.decode()}") from None
        return Proc(self.proc.returncode, out.decode(), err.decode())


def _leader(tmp: Path, identities: dict[str, Any], *extra: str) -> Listener:
    f = _files(tmp)
    return Listener(
        tmp,
        ["--parties", "3", "--input", f["alice"], "--output", str(tmp / "out-alice.csv"),
         "--report", str(tmp / "rep-alice.json"), *_tls(identities, "alice"), *extra],
    )  # fmt: skip


def _member_args(tmp: Path, identities: dict[str, Any], name: str, port: int) -> list[str]:
    return [
        "--parties", "3", "--peer", f"127.0.0.1:{port}", "--connect-timeout", "20",
        "--input", str(tmp / f"{name}.csv"), "--output", str(tmp / f"out-{name}.csv"),
        "--report", str(tmp / f"rep-{name}.json"), *_tls(identities, name),
    ]  # fmt: skip


def _truth() -> set[str]:
    return set(SETS["alice"]) & set(SETS["bob"]) & set(SETS["mallory"])


def test_three_tool_processes_over_tls(tmp_path: Path, identities: dict[str, Any]) -> None:
    lead = _leader(tmp_path, identities)
    assert lead.port > 0
    members = [
        _Member(_member_args(tmp_path, identities, n, lead.port)) for n in ("bob", "mallory")
    ]
    procs = [lead.wait()] + [m.wait() for m in members]
    for p in procs:
        assert p.rc == 0, p.err
    for name in SETS:
        got = set((tmp_path / f"out-{name}.csv").read_text().split())
        assert got == _truth()
        rep = json.loads((tmp_path / f"rep-{name}.json").read_text())
        assert rep["parties"] == 3 and rep["intersection_size"] == len(_truth())
        assert rep["stage_seconds"].keys() >= {"masking own", "masking peers'", "tables"}
    rep = json.loads((tmp_path / "rep-alice.json").read_text())
    assert sorted(m["index"] for m in rep["members"]) == [1, 2]
    assert all(m["certificate_sha256"] for m in rep["members"])
    assert "finished its part" in procs[0].err
    rep_bob = json.loads((tmp_path / "rep-bob.json").read_text())
    assert [e["index"] for e in rep_bob["roster"]] == [0, 1, 2]
    assert rep["members"][0]["certificate_sha256"] in {
        e["certificate_sha256"] for e in rep_bob["roster"]
    }


def test_leader_only_reveal(tmp_path: Path, identities: dict[str, Any]) -> None:
    lead = _leader(tmp_path, identities, "--reveal", "me")
    members = [
        _Member(_member_args(tmp_path, identities, n, lead.port) + ["--reveal", "peer"])
        for n in ("bob", "mallory")
    ]
    procs = [lead.wait()] + [m.wait() for m in members]
    assert [p.rc for p in procs] == [0, 0, 0], [p.err for p in procs]
    assert set((tmp_path / "out-alice.csv").read_text().split()) == _truth()
    assert not (tmp_path / "out-bob.csv").exists()
    assert "does not learn" in procs[1].err


def test_mismatch_is_named_with_the_party(tmp_path: Path, identities: dict[str, Any]) -> None:
    lead = _leader(tmp_path, identities)
    bob = _Member(_member_args(tmp_path, identities, "bob", lead.port))
    mal = _Member(_member_args(tmp_path, identities, "mallory", lead.port) + ["--group", "p256"])
    procs = [lead.wait(), bob.wait(), mal.wait()]
    for p in procs:
        p.assert_clean_failure(1, "settings differ")
    mallory = format_fingerprint(identities["mallory"].fingerprint)[:23]
    for p in procs[:2]:  # the leader and bob both name mallory's seat and the setting
        line = p.error_lines()[0]
        assert mallory in line and "group" in line and "p256" in line, line
        assert format_fingerprint(identities["bob"].fingerprint)[:23] not in line
    assert not any((tmp_path / f"out-{n}.csv").exists() for n in SETS)


# -- a misbehaving member, in this process ------------------------------------------------
def _fake_member(
    tmp: Path,
    identities: dict[str, Any],
    port: int,
    tamper: Callable[[MpMessage], MpMessage | None],
    box: dict[str, Any],
) -> None:
    parser = argparse.ArgumentParser()
    build_psi_parser(parser)
    args = parser.parse_args(
        ["connect", *_member_args(tmp, identities, "mallory", port), "--quiet"]
    )
    progress = Progress(quiet=True)
    tls, _ = mp._tls(args, server=False)
    assert tls is not None
    settings = mp._mp_settings(args, False)
    _, spec, data = _run._prepare(mp._pair_view(args), "connector", progress)
    ours = mp._hello(args, settings, "connector", len(data.keys), spec, data)
    sock = connect_tcp("127.0.0.1", port, timeout=20)
    sock = tls_handshake(
        sock, client_context(tls), server=False, server_hostname=None, deadline=Deadline(20)
    )
    conn = _run._connection(args, sock)
    try:
        conn.send(FrameKind.HELLO, ours.raw)
        conn.recv()
        _, body = conn.recv()
        me, sid, sizes, _ = mp._parse_roster(body, ours, args)
        box["index"] = me
        conn.send(FrameKind.READY, mp._ready(sid))
        conn.recv()
        party = MultipartyParty(settings, index=me, items=data.keys, sizes=sizes, session_id=sid)
        for msg in party.start():
            out = tamper(msg)
            if out is None:
                conn.close(flush_timeout=1.0, drain=0.1)  # vanish mid-run
                return
            conn.send(FrameKind.MESSAGE, out.to_bytes())
        while True:  # keep the link open (discarding what arrives) until the leader aborts
            conn.recv()
    except Exception as exc:  # noqa: BLE001 - the outcome is checked by the test
        box["error"] = str(exc)
    finally:
        conn.close(flush_timeout=1.0, drain=0.1)
        party_close = locals().get("party")
        if party_close is not None:
            party_close.close()


def _ring(m: MpRingBatch, data: bytes) -> MpRingBatch:
    return MpRingBatch(
        param=m.param, sender=m.sender, dest=m.dest, origin=m.origin, hop=m.hop, index=m.index,
        total=m.total, data=data, elem_size=m.elem_size,
    )  # fmt: skip


def _off_curve(m: MpMessage) -> MpMessage:
    if isinstance(m, MpRingBatch):
        return _ring(m, (2).to_bytes(32, "little") + m.data[32:])
    return m


def _repeat(m: MpMessage) -> MpMessage:
    if isinstance(m, MpRingBatch):
        return _ring(m, m.data[:32] * (len(m.data) // 32))
    return m


def _extra(m: MpMessage) -> MpMessage:
    if isinstance(m, MpRingBatch):
        return _ring(m, m.data + m.data[:32])
    return m


def _vanish(m: MpMessage) -> MpMessage | None:
    return None if isinstance(m, MpRingBatch) else m


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        (_off_curve, "not on curve25519"),
        (_repeat, "repeated element"),
        (_extra, "announced size"),
        (_vanish, "is gone"),
    ],
    ids=["off-curve", "duplicates", "more-than-announced", "disconnect"],
)
def test_member_faults_end_every_party(
    tmp_path: Path, identities: dict[str, Any], tamper: Any, needle: str
) -> None:
    lead = _leader(tmp_path, identities)
    bob = _Member(_member_args(tmp_path, identities, "bob", lead.port))
    box: dict[str, Any] = {}
    t = threading.Thread(target=_fake_member, args=(tmp_path, identities, lead.port, tamper, box))
    t.start()
    procs = [lead.wait(), bob.wait()]
    t.join(PROC_TIMEOUT)
    who = f"party {box['index']}"
    for p in procs:
        p.assert_clean_failure(1, needle)
        assert who in p.error_lines()[0], p.err
    assert not (tmp_path / "out-alice.csv").exists()
    assert not (tmp_path / "out-bob.csv").exists()
    assert not (tmp_path / "rep-bob.json").exists()


def test_one_identity_cannot_take_two_seats(tmp_path: Path, identities: dict[str, Any]) -> None:
    lead = _leader(tmp_path, identities, "--connect-timeout", "6")
    args = _member_args(tmp_path, identities, "bob", lead.port)
    first = _Member(args)
    second = _Member(
        [a if a != str(tmp_path / "out-bob.csv") else str(tmp_path / "o2") for a in args]
    )
    procs = [lead.wait(), first.wait(), second.wait()]
    assert procs[0].rc == 1
    assert "already used by a member" in procs[0].err
    assert any("one identity, one party" in p.err for p in procs[1:])
    assert not (tmp_path / "out-alice.csv").exists()
