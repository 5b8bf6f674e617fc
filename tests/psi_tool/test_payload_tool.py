"""``--payload-column`` / ``--compute payload``: two processes over TLS, joined output, a payload
that fails authentication ends with exit 1 and no output, mismatched modes are named."""

from __future__ import annotations

import csv
import json

import pytest

from fedcrypto import psi
from fedcrypto.cli.psi_tool._handshake import run_handshake
from fedcrypto.cli.psi_tool._input import InputData
from fedcrypto.cli.psi_tool._net import Connection, FrameKind, connect_tcp
from fedcrypto.cli.psi_tool._payload_tool import decode_payload, encode_payload
from fedcrypto.cli.psi_tool._session import build_hello
from fedcrypto.exceptions import RemoteProtocolError
from fedcrypto.psi import PayloadBatch

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

SENDER = [(f"u{i}", str(20 + i % 50), f"Town, {i}") for i in range(60)]
RECEIVER = [(f"u{i}", str(i % 2)) for i in range(40, 100)]
MATCHED = [i for i in range(40, 60)]


def _write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


def _csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.reader(fh))


@pytest.mark.parametrize("fmt", ["rows", "ids"])
def test_payload_two_processes_tls(tmp_path, run_pair, fmt):
    s = _write(tmp_path / "s.csv", ["id", "age", "city"], SENDER)
    r = _write(tmp_path / "r.csv", ["id", "label"], RECEIVER)
    la, lc = run_pair(
        tmp_path,
        [
            "--input",
            s,
            "--payload-column",
            "age",
            "--payload-column",
            "city",
            "--reveal",
            "peer",
            "--output",
            str(tmp_path / "os.csv"),
            "--report",
            str(tmp_path / "rs.json"),
            "--quiet",
        ],
        [
            "--input",
            r,
            "--compute",
            "payload",
            "--reveal",
            "me",
            "--output-format",
            fmt,
            "--output",
            str(tmp_path / "or.csv"),
            "--report",
            str(tmp_path / "rr.json"),
            "--quiet",
        ],
    )
    assert la.rc == 0 and lc.rc == 0, (la.err, lc.err)
    out = _csv(tmp_path / "or.csv")
    if fmt == "rows":
        assert out[0] == ["id", "label", "age", "city"]
        assert out[1:] == [[f"u{i}", str(i % 2), str(20 + i % 50), f"Town, {i}"] for i in MATCHED]
    else:
        assert out[0] == ["id", "age", "city"]
        assert out[1:] == [[f"u{i}", str(20 + i % 50), f"Town, {i}"] for i in MATCHED]
    assert not (tmp_path / "os.csv").exists()  # the sender does not learn the intersection
    rs = json.loads((tmp_path / "rs.json").read_text())
    rr = json.loads((tmp_path / "rr.json").read_text())
    assert rs["payload_sender"] and not rs["learned_intersection"]
    assert rr["payload_columns"] == ["age", "city"] and rr["intersection_size"] == 20
    assert rr["tls"]["version"] == "TLSv1.3"


def test_reveal_both_sender_writes_its_matches(tmp_path, run_pair):
    s = _write(tmp_path / "s.csv", ["id", "age", "city"], SENDER)
    r = _write(tmp_path / "r.csv", ["id", "label"], RECEIVER)
    la, lc = run_pair(
        tmp_path,
        ["--input", r, "--compute", "payload", "--output", str(tmp_path / "or.csv"), "--quiet"],
        ["--input", s, "--payload-column", "1", "--output", str(tmp_path / "os.txt"), "--quiet"],
        tls=False,
    )
    assert la.rc == 0 and lc.rc == 0, (la.err, lc.err)
    assert (tmp_path / "os.txt").read_text().split() == [f"u{i}" for i in MATCHED]
    assert _csv(tmp_path / "or.csv")[1] == ["u40", "60"]


def test_receiver_without_compute_payload_is_named(tmp_path, run_pair):
    s = _write(tmp_path / "s.csv", ["id", "age", "city"], SENDER)
    r = _write(tmp_path / "r.csv", ["id", "label"], RECEIVER)
    la, lc = run_pair(
        tmp_path,
        ["--input", s, "--payload-column", "age", "--output", str(tmp_path / "a")],
        ["--input", r, "--output", str(tmp_path / "b")],
        tls=False,
    )
    assert la.rc == 1 and lc.rc == 1
    assert "--compute" in la.err and "--compute" in lc.err


def test_payload_failing_authentication_exits_1_without_output(tmp_path, listeners):
    r = _write(tmp_path / "r.csv", ["id", "label"], RECEIVER)
    lst = listeners(
        tmp_path,
        "--insecure-no-tls",
        "--input",
        r,
        "--compute",
        "payload",
        "--output",
        str(tmp_path / "or.csv"),
    )
    settings = psi.PsiSettings(reveal="both")
    conn = Connection(
        connect_tcp("127.0.0.1", lst.port, timeout=20), max_frame=1 << 26, idle_timeout=30
    )
    ids = [row[0] for row in SENDER]
    data = InputData(keys=[i.encode() for i in ids], header=None, delimiter=",", key_columns=1)
    from fedcrypto.cli.psi_tool._input import InputSpec

    hs_settings = dict(settings.as_dict())
    hs_settings["compute"] = "payload"
    hello = build_hello(
        "connector", hs_settings, InputSpec(path="x.csv"), data, {"payload_columns": ["age"]}
    )
    hs = run_handshake(conn, hello, max_peer_size=None)
    party = psi.create_payload_party(
        settings,
        role="connector",
        items=data.keys,
        peer_size=hs.peer_size,
        session_id=hs.session_id,
        payloads=[encode_payload([row[1]]) for row in SENDER],
    )

    def send(msgs):
        for m in msgs:
            raw = m.to_bytes()
            if isinstance(m, PayloadBatch):
                cts = tuple(c[:-1] + bytes([c[-1] ^ 1]) for c in m.ciphertexts)
                raw = PayloadBatch(
                    param=m.param, index=m.index, total=m.total, tags=m.tags, ciphertexts=cts
                ).to_bytes()
            conn.send(FrameKind.MESSAGE, raw)

    try:
        send(party.start())
        while not party.done:
            kind, body = conn.recv()
            if kind != FrameKind.MESSAGE:
                break
            send(party.handle(psi.decode_payload_message(body, settings, hs.session_id)))
    except Exception:  # noqa: BLE001 - the listener aborts the run
        pass
    finally:
        party.close()
        conn.close(flush_timeout=2)
    p = lst.wait()
    p.assert_clean_failure(1, "failed authentication")
    assert not (tmp_path / "or.csv").exists()


def test_payload_codec():
    assert decode_payload(encode_payload(["a", "", "é,\n"]), 3) == ["a", "", "é,\n"]
    for bad in (b"", b"\x00\x02", encode_payload(["a"]) + b"x", b"\x00\x01\x00\x00\x00\x05ab"):
        with pytest.raises(RemoteProtocolError):
            decode_payload(bad, 2 if bad == b"\x00\x02" else 1)
