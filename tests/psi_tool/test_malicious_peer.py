"""The malicious-peer suite for the tool (issue 8: findings 3, 6, 9, 10, 13).

Every case runs the real tool as a subprocess against hostile connections made here, and
asserts the exit code, one sanitized error line (nothing that could drive a terminal), and
that no output file is left behind when the run fails.  The older fault cases (garbage,
truncated or oversized frames, invalid points, bad signatures, mismatched settings...) are
in ``test_tool_faults.py``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import threading
import time

import pytest

from fedcrypto import psi
from fedcrypto.cli.psi_tool._handshake import HELLO_MAGIC, Hello
from fedcrypto.cli.psi_tool._net import FrameKind
from fedcrypto.cli.psi_tool._tls import format_fingerprint

from .conftest import assert_terminal_safe, fake_connector, pinned, run_tool

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A_IDS = [f"id{i}" for i in range(30)]
B_IDS = [f"id{i}" for i in range(20, 45)]
EXPECTED = sorted(set(A_IDS) & set(B_IDS))
#: Terminal escapes, a forged log line, a bell, a bidi override.
EVIL = "\x1b[2J\x1b]0;owned\x07\r\nfedcrypto psi: error: forged line\u202e\x08"


def _frame(kind: int, body: bytes) -> bytes:
    return b"FP" + bytes([kind]) + len(body).to_bytes(4, "big") + body


def _files(tmp_path, write_ids):
    return write_ids(tmp_path / "a.txt", A_IDS), write_ids(tmp_path / "b.txt", B_IDS)


def _no_outputs(tmp_path, *names):
    for name in names:
        assert not (tmp_path / name).exists(), name
    assert [f for f in os.listdir(tmp_path) if f.endswith(".part")] == []


def _lines(path):
    return sorted(path.read_text().split())


def _until_closed(sock: socket.socket, limit: float = 10.0) -> None:
    """Read until the listener closes the connection (it has rejected the attempt)."""
    sock.settimeout(limit)
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass
    finally:
        sock.close()


def _send_and_wait(port: int, payload: bytes) -> None:
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(payload)
    except OSError:
        pass
    _until_closed(s)


def _hello_bytes(fields: dict) -> bytes:
    return HELLO_MAGIC + json.dumps(fields).encode()


def _connector_hello(**edits) -> dict:
    settings = psi.PsiSettings(batch_size=16)
    hello = Hello.build(
        role="connector",
        tool_version="fake",
        protocol_version=psi.PROTOCOL_VERSION,
        settings=settings.as_dict(),
        input_settings={"normalize": ["strip"], "key_columns": 1, "duplicates": "dedup"},
        set_size=len(B_IDS),
    )
    fields = dict(hello.fields)
    fields.update(edits)
    return fields


def _nested(depth: int) -> bytes:
    return HELLO_MAGIC + b"[" * depth + b"]" * depth


def _listen_plain(listeners, tmp_path, a, *extra):
    return listeners(
        tmp_path,
        "--insecure-no-tls",
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
        "--report",
        str(tmp_path / "ra.json"),
        "--batch-size",
        "16",
        *extra,
    )


def _connect_plain(port, b, tmp_path, *extra):
    return run_tool(
        "connect",
        "--peer",
        f"127.0.0.1:{port}",
        "--insecure-no-tls",
        "--input",
        b,
        "--output",
        str(tmp_path / "ob.txt"),
        "--batch-size",
        "16",
        *extra,
    )


def _tls_client(port: int, cert: str | None = None, key: str | None = None) -> ssl.SSLSocket:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(cert, key)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return ctx.wrap_socket(s)


# -- finding 3: any TCP connection used to end a TLS listener -------------------------------
def test_tls_listener_survives_scans_health_checks_and_clients_without_certificate(
    tmp_path, listeners, certs, write_ids
):
    a, b = _files(tmp_path, write_ids)
    lst = listeners(
        tmp_path,
        *certs["listener"],
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
        "--report",
        str(tmp_path / "ra.json"),
        "--connect-timeout",
        "40",
    )
    socket.create_connection(("127.0.0.1", lst.port)).close()  # port scan
    _send_and_wait(lst.port, b"GET /health HTTP/1.1\r\nHost: psi\r\n\r\n")  # health check
    nocert = _tls_client(lst.port)  # TLS 1.3 client without a certificate
    _until_closed(nocert)
    _send_and_wait(lst.port, EVIL.encode())  # garbage with terminal escapes
    time.sleep(0.5)  # let the listener log the scan too
    conn = run_tool(
        "connect",
        "--peer",
        f"127.0.0.1:{lst.port}",
        *certs["connector"],
        "--input",
        b,
        "--output",
        str(tmp_path / "ob.txt"),
        "--report",
        str(tmp_path / "rb.json"),
    )
    la = lst.wait()
    assert la.rc == 0 and conn.rc == 0, (la.err, conn.err)
    assert _lines(tmp_path / "oa.txt") == _lines(tmp_path / "ob.txt") == EXPECTED
    warnings = la.warnings()
    assert len(warnings) == 4 and all("rejected connection" in w for w in warnings), la.err
    assert any("HTTP" in w for w in warnings) and any("certificate" in w for w in warnings)
    assert_terminal_safe(la.err)
    report = json.loads((tmp_path / "ra.json").read_text())
    assert report["rejected_connections"] == 4


def test_listener_ends_at_connect_timeout_and_counts_rejected_attempts(
    tmp_path, listeners, certs, write_ids
):
    a, _ = _files(tmp_path, write_ids)
    lst = listeners(
        tmp_path,
        *certs["listener"],
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
        "--report",
        str(tmp_path / "ra.json"),
        "--connect-timeout",
        "2",
    )
    _send_and_wait(lst.port, b"GET / HTTP/1.0\r\n\r\n")
    la = lst.wait()
    la.assert_clean_failure(
        1, "no peer completed the handshake within 2 s (--connect-timeout); 1 connection attempt"
    )
    assert len(la.warnings()) == 1
    _no_outputs(tmp_path, "oa.txt", "ra.json")


def test_plaintext_listener_survives_connections_that_fail_the_hello(
    tmp_path, listeners, write_ids
):
    a, b = _files(tmp_path, write_ids)
    lst = _listen_plain(listeners, tmp_path, a, "--connect-timeout", "40")
    _send_and_wait(lst.port, EVIL.encode())  # not frames at all
    _send_and_wait(lst.port, _frame(FrameKind.HELLO, b"junk" + EVIL.encode()))  # not a hello
    version = _connector_hello(hello_version=7, tool_version=EVIL)
    _send_and_wait(lst.port, _frame(FrameKind.HELLO, _hello_bytes(version)))
    _send_and_wait(lst.port, _frame(FrameKind.HELLO, _nested(30_000)))  # finding 9
    conn = _connect_plain(lst.port, b, tmp_path)
    la = lst.wait()
    assert la.rc == 0 and conn.rc == 0, (la.err, conn.err)
    assert _lines(tmp_path / "oa.txt") == EXPECTED
    warnings = la.warnings()
    assert len(warnings) == 4, la.err
    assert "garbage" in warnings[0] and "not a fedcrypto psi hello" in warnings[1]
    assert "handshake version mismatch" in warnings[2] and "\\x1b" in warnings[2]
    assert "nests JSON deeper than the 3 levels" in warnings[3]
    assert_terminal_safe(la.err)
    assert json.loads((tmp_path / "ra.json").read_text())["rejected_connections"] == 4


# -- finding 6: peer-controlled strings reach the terminal, logs and reports ----------------
def test_peer_strings_in_a_mismatching_hello_are_sanitized(tmp_path, listeners, write_ids):
    a, _ = _files(tmp_path, write_ids)
    lst = _listen_plain(listeners, tmp_path, a, "--connect-timeout", "20")
    fields = _connector_hello(tool_version=EVIL, role=EVIL, protocol_version=99)
    fields["settings"] = dict(fields["settings"], **{EVIL: EVIL, "group": EVIL})
    fields["input"] = dict(fields["input"], normalize=[EVIL, "x"])
    s = socket.create_connection(("127.0.0.1", lst.port), timeout=10)
    s.sendall(_frame(FrameKind.HELLO, _hello_bytes(fields)))
    _until_closed(s)
    la = lst.wait()
    la.assert_clean_failure(1, "the peer sent an unacceptable message: settings differ")
    line = la.error_lines()[0]
    for needle in (
        "PSI protocol version",
        "role: the peer says",
        "--group:",
        "--normalize:",
        "setting '\\x1b[2J",
    ):
        assert needle in line, line
    assert sum("fedcrypto psi: error:" in ln for ln in la.err.splitlines()) == 1
    _no_outputs(tmp_path, "oa.txt", "ra.json")


def test_peer_abort_reason_and_tool_version_are_sanitized(tmp_path, listeners, write_ids):
    a, _ = _files(tmp_path, write_ids)
    # a full run with a peer whose tool version carries escapes: the report stays clean
    lst = _listen_plain(listeners, tmp_path, a, "--connect-timeout", "20")

    def edit(hello):
        fields = dict(hello.fields, tool_version=EVIL)
        raw = HELLO_MAGIC + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        return Hello(fields, raw)

    end = fake_connector(lst.port, B_IDS, hello_edit=edit)
    la = lst.wait()
    assert la.rc == 0 and not isinstance(end, Exception), (la.err, end)
    peer_tool = json.loads((tmp_path / "ra.json").read_text())["versions"]["peer_tool"]
    assert_terminal_safe(peer_tool) and "\\x1b" in peer_tool
    # an ABORT frame whose reason carries escapes and newlines
    (tmp_path / "oa.txt").unlink()
    (tmp_path / "ra.json").unlink()
    lst = _listen_plain(listeners, tmp_path, a, "--connect-timeout", "20")
    _send_and_wait(lst.port, _frame(FrameKind.ABORT, EVIL.encode() * 3))
    la = lst.wait()
    la.assert_clean_failure(1, "the peer aborted: \\x1b[2J")
    _no_outputs(tmp_path, "oa.txt", "ra.json")


# -- finding 9: a deeply nested HELLO from an authenticated peer ----------------------------
def test_deeply_nested_hello_from_an_authenticated_peer(tmp_path, listeners, certs, write_ids):
    a, _ = _files(tmp_path, write_ids)
    lst = listeners(
        tmp_path,
        *certs["listener"],
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
    )
    d = certs["dir"][0]
    s = _tls_client(lst.port, f"{d}/client.pem", f"{d}/client.key")
    s.sendall(_frame(FrameKind.HELLO, _nested(30_000)))
    _until_closed(s)
    la = lst.wait()
    la.assert_clean_failure(
        1, "the peer sent an unacceptable message: the peer's hello nests JSON deeper"
    )
    assert "RecursionError" not in la.err and "internal error" not in la.err
    _no_outputs(tmp_path, "oa.txt")


# -- finding 10: a peer trickling bytes held the handshake forever --------------------------
def _trickle(port: int, payload: bytes, stop: threading.Event, every: float = 0.3) -> None:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
    except OSError:
        return
    try:
        for byte in payload:
            if stop.is_set():
                break
            s.sendall(bytes([byte]))
            time.sleep(every)
    except OSError:
        pass
    finally:
        s.close()


def test_trickling_peer_does_not_block_the_real_peer(tmp_path, listeners, write_ids):
    a, b = _files(tmp_path, write_ids)
    # only options the tool always had: the old listener took the trickler as its one peer and
    # waited on it (each byte reset the idle timeout) while the real peer could not get in
    lst = _listen_plain(listeners, tmp_path, a, "--connect-timeout", "40")
    stop = threading.Event()
    hello = _frame(FrameKind.HELLO, _hello_bytes(_connector_hello()))
    t = threading.Thread(target=_trickle, args=(lst.port, hello, stop), daemon=True)
    t.start()
    time.sleep(0.5)
    conn = _connect_plain(lst.port, b, tmp_path)  # connects while the trickler holds on
    stop.set()
    la = lst.wait()
    assert la.rc == 0 and conn.rc == 0, (la.err, conn.err)
    assert _lines(tmp_path / "oa.txt") == EXPECTED
    t.join(5)


@pytest.mark.parametrize("tls", [True, False], ids=["tls-handshake", "plaintext-hello"])
def test_trickling_handshake_hits_the_handshake_deadline(
    tmp_path, listeners, certs, write_ids, tls
):
    a, _ = _files(tmp_path, write_ids)
    mode = certs["listener"] if tls else ["--insecure-no-tls"]
    lst = listeners(
        tmp_path,
        *mode,
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
        "--connect-timeout",
        "1",
        "--handshake-timeout",
        "1.5",
    )
    stop = threading.Event()
    if tls:
        payload = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200)  # ClientHello
    else:
        payload = _frame(FrameKind.HELLO, _hello_bytes(_connector_hello()))
    t = threading.Thread(target=_trickle, args=(lst.port, payload, stop, 0.2), daemon=True)
    t.start()
    la = lst.wait()
    stop.set()
    la.assert_clean_failure(
        1,
        "1 connection attempt rejected (last: the handshake did not complete within 1.5 s "
        "(--handshake-timeout))",
    )
    _no_outputs(tmp_path, "oa.txt")
    t.join(5)


# -- finding 13: certificates pinned instead of a CA; a wrong pin ---------------------------
def test_pinned_identities_run_and_report_both_fingerprints(
    tmp_path, listeners, identities, write_ids
):
    a, b = _files(tmp_path, write_ids)
    lst = listeners(
        tmp_path,
        *pinned(identities, "alice", "bob"),
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
        "--report",
        str(tmp_path / "ra.json"),
        "--connect-timeout",
        "30",
    )
    # mallory (not pinned by alice) is turned away; alice keeps listening for bob
    intruder = run_tool(
        "connect",
        "--peer",
        f"127.0.0.1:{lst.port}",
        *pinned(identities, "mallory", "alice"),
        "--input",
        b,
        "--output",
        str(tmp_path / "om.txt"),
    )
    intruder.assert_clean_failure(1, "the peer does not trust our certificate")
    conn = run_tool(
        "connect",
        "--peer",
        f"127.0.0.1:{lst.port}",
        *pinned(identities, "bob", "alice"),
        "--tls-peer-fingerprint",
        format_fingerprint(identities["alice"].fingerprint),
        "--input",
        b,
        "--output",
        str(tmp_path / "ob.txt"),
        "--report",
        str(tmp_path / "rb.json"),
    )
    la = lst.wait()
    assert la.rc == 0 and conn.rc == 0, (la.err, conn.err)
    assert _lines(tmp_path / "oa.txt") == EXPECTED
    ra = json.loads((tmp_path / "ra.json").read_text())
    rb = json.loads((tmp_path / "rb.json").read_text())
    alice = format_fingerprint(identities["alice"].fingerprint)
    bob = format_fingerprint(identities["bob"].fingerprint)
    assert ra["tls"]["local_certificate_sha256"] == rb["tls"]["peer_certificate_sha256"] == alice
    assert ra["tls"]["peer_certificate_sha256"] == rb["tls"]["local_certificate_sha256"] == bob
    assert ra["tls"]["peer_verification"] == "pinned" and ra["rejected_connections"] == 1
    [warning] = la.warnings()
    assert "not the pinned one" in warning and bob in warning
    _no_outputs(tmp_path, "om.txt")


def test_wrong_pinned_certificate_names_both_fingerprints(
    tmp_path, listeners, identities, write_ids
):
    a, b = _files(tmp_path, write_ids)
    lst = listeners(
        tmp_path,
        *pinned(identities, "alice", "bob"),
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
    )
    # bob pinned mallory's certificate instead of alice's
    conn = run_tool(
        "connect",
        "--peer",
        f"127.0.0.1:{lst.port}",
        *pinned(identities, "bob", "mallory"),
        "--input",
        b,
        "--output",
        str(tmp_path / "ob.txt"),
    )
    alice = format_fingerprint(identities["alice"].fingerprint)
    mallory = format_fingerprint(identities["mallory"].fingerprint)
    conn.assert_clean_failure(
        1,
        f"the listener's certificate is not the pinned one: expected SHA-256 {mallory}, "
        f"got {alice}",
    )
    lst.wait().assert_clean_failure(
        1,
        f"it does not accept this side's certificate: it pinned SHA-256 {mallory}, this "
        f"side presented {alice}",
    )
    _no_outputs(tmp_path, "oa.txt", "ob.txt")


def test_fingerprint_read_out_over_the_phone_must_match_the_file(tmp_path, identities, write_ids):
    a, _ = _files(tmp_path, write_ids)
    wrong = format_fingerprint(identities["mallory"].fingerprint)
    proc = run_tool(
        "listen",
        "--port",
        "0",
        *pinned(identities, "alice", "bob"),
        "--tls-peer-fingerprint",
        wrong,
        "--input",
        a,
        "--output",
        str(tmp_path / "oa.txt"),
    )
    bob = format_fingerprint(identities["bob"].fingerprint)
    proc.assert_clean_failure(2, f"has SHA-256 fingerprint {bob}, not the {wrong} given")
    _no_outputs(tmp_path, "oa.txt")
