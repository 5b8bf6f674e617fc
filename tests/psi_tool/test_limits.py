"""Caps on what a peer controls, in-process: frame sizes per kind, the minimum progress rate,
the handshake deadline (frames and TLS), HELLO size and nesting, and the listener's
accept loop and rate-limited rejection log."""

from __future__ import annotations

import json
import socket
import struct
import threading
import time

import pytest

from fedcrypto.cli.psi_tool._certs import make_certs
from fedcrypto.cli.psi_tool._handshake import (
    HELLO_MAGIC,
    MAX_HELLO_DEPTH,
    Hello,
    check_nesting,
    compare_hellos,
)
from fedcrypto.cli.psi_tool._listen import RejectionLog, accept_peer
from fedcrypto.cli.psi_tool._net import (
    MAX_HELLO_BYTES,
    Connection,
    Deadline,
    FrameDecoder,
    FrameKind,
)
from fedcrypto.cli.psi_tool._tls import load_tls_config, server_context, tls_handshake
from fedcrypto.exceptions import PeerError, RemoteProtocolError

from .conftest import assert_terminal_safe

HDR = struct.Struct(">2sBI")


def _hdr(kind: int, length: int) -> bytes:
    return HDR.pack(b"FP", kind, length)


# -- frames ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        (FrameKind.HELLO, MAX_HELLO_BYTES),
        (FrameKind.READY, 64),
        (FrameKind.DONE, 0),
        (FrameKind.ABORT, 4096),
        (FrameKind.MESSAGE, 1 << 20),
    ],
)
def test_each_frame_kind_has_its_own_limit_checked_on_the_header(kind, limit):
    dec = FrameDecoder(1 << 20)
    assert dec.feed(_hdr(kind, limit) + b"x" * limit) == [(kind, b"x" * limit)]
    with pytest.raises(PeerError, match=f"above the limit of {limit}"):
        FrameDecoder(1 << 20).feed(_hdr(kind, limit + 1))  # no body needed


def test_decoder_reassembles_frames_split_anywhere():
    frames = [(FrameKind.HELLO, b"h" * 10), (FrameKind.MESSAGE, b"m" * 1000), (FrameKind.DONE, b"")]
    wire = b"".join(_hdr(k, len(b)) + b for k, b in frames)
    for step in (1, 3, 7, 64, len(wire)):
        dec = FrameDecoder(1 << 20)
        got = []
        for i in range(0, len(wire), step):
            got += dec.feed(wire[i : i + step])
            if dec.buffered:
                assert dec.frame_size is None or dec.frame_size > dec.buffered
        assert got == frames and dec.buffered == 0


def test_decoder_rejects_garbage_and_unknown_kinds():
    with pytest.raises(PeerError, match="garbage"):
        FrameDecoder(100).feed(b"GET / HTTP/1.1\r\n")
    with pytest.raises(PeerError, match="garbage"):
        FrameDecoder(100).feed(_hdr(9, 0))


def _slow_writer(sock: socket.socket, data: bytes, every: float, stop: threading.Event) -> None:
    try:
        for i in range(len(data)):
            if stop.is_set():
                return
            sock.sendall(data[i : i + 1])
            time.sleep(every)
    except OSError:
        pass


def test_a_trickled_frame_is_cut_off_by_the_minimum_rate():
    a, b = socket.socketpair()
    conn = Connection(a, max_frame=1 << 20, idle_timeout=60, min_rate=1000, frame_grace=0.5)
    stop = threading.Event()
    t = threading.Thread(
        target=_slow_writer, args=(b, _hdr(FrameKind.MESSAGE, 100) + b"x" * 100, 0.1, stop)
    )
    t.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(PeerError, match="sending too slowly"):
            conn.recv()
        assert time.monotonic() - t0 < 5  # grace 0.5 s + 107 B / 1000 B/s, checked each second
    finally:
        stop.set()
        t.join(5)
        b.close()
        conn.close(flush_timeout=0.1)


def test_a_frame_arriving_at_the_minimum_rate_is_fine():
    a, b = socket.socketpair()
    conn = Connection(a, max_frame=1 << 20, idle_timeout=60, min_rate=20, frame_grace=0.5)
    stop = threading.Event()
    body = b"y" * 20
    t = threading.Thread(
        target=_slow_writer, args=(b, _hdr(FrameKind.MESSAGE, 20) + body, 0.02, stop)
    )
    t.start()
    try:
        assert conn.recv() == (FrameKind.MESSAGE, body)
    finally:
        stop.set()
        t.join(5)
        b.close()
        conn.close(flush_timeout=0.1)


def test_recv_deadline():
    a, b = socket.socketpair()
    conn = Connection(a, max_frame=1 << 20, idle_timeout=60)
    try:
        t0 = time.monotonic()
        with pytest.raises(
            PeerError, match=r"did not complete within 0.3 s \(--handshake-timeout\)"
        ):
            conn.recv(Deadline(0.3, "the handshake", "--handshake-timeout"))
        assert time.monotonic() - t0 < 3
    finally:
        b.close()
        conn.close(flush_timeout=0.1)


# -- the TLS handshake has a deadline too --------------------------------------------------------
@pytest.fixture(scope="module")
def ca_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("limits-certs")
    make_certs(str(d))
    return str(d)


def test_tls_handshake_deadline_bounds_a_trickling_client(ca_dir):
    cfg = load_tls_config(
        cert=f"{ca_dir}/server.pem",
        key=f"{ca_dir}/server.key",
        ca=f"{ca_dir}/ca.pem",
        peer_cert=None,
        peer_fingerprint=None,
        server=True,
    )
    a, b = socket.socketpair()
    stop = threading.Event()
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(100)
    t = threading.Thread(target=_slow_writer, args=(b, hello, 0.1, stop))
    t.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(PeerError, match="did not complete within 0.8 s"):
            tls_handshake(
                a, server_context(cfg), server=True, server_hostname=None, deadline=Deadline(0.8)
            )
        assert time.monotonic() - t0 < 3
    finally:
        stop.set()
        t.join(5)
        b.close()


# -- HELLO: size and nesting before parsing ------------------------------------------------------
def _hello_fields(**edits):
    h = Hello.build(
        role="connector",
        tool_version="t",
        protocol_version=1,
        settings={"protocol": "ecdh"},
        input_settings={"normalize": ["strip"]},
        set_size=3,
    )
    fields = dict(h.fields)
    fields.update(edits)
    return fields


def test_hello_nesting_is_refused_before_the_json_parser_runs():
    for depth in (MAX_HELLO_DEPTH + 1, 1000, 30_000):
        body = b"[" * depth + b"]" * depth
        with pytest.raises(RemoteProtocolError, match="nests JSON deeper"):
            Hello.parse(HELLO_MAGIC + body)
    # objects count too, and so does nesting inside a field the format defines
    deep = _hello_fields(settings={"a": {"b": {"c": 1}}})
    with pytest.raises(RemoteProtocolError, match="nests JSON deeper"):
        Hello.parse(HELLO_MAGIC + json.dumps(deep).encode())


def test_brackets_inside_strings_do_not_count():
    tricky = _hello_fields(tool_version='[[[[{{{{ \\" ]]]] "\\\\', role="connector")
    parsed = Hello.parse(HELLO_MAGIC + json.dumps(tricky).encode())
    assert parsed.fields["tool_version"] == tricky["tool_version"]
    check_nesting(b'["\\\\", ["x"]]')  # an escaped backslash ends before the quote
    with pytest.raises(RemoteProtocolError):
        check_nesting(b'["\\\\", [["x"]]]', max_depth=2)


def test_the_format_itself_fits_the_nesting_limit():
    h = Hello.build(
        role="listener",
        tool_version="t",
        protocol_version=1,
        settings={"protocol": "ecdh", "batch_size": 3},
        input_settings={"normalize": ["strip", "lower"], "key_columns": 2},
        set_size=5,
    )
    assert Hello.parse(h.raw).fields == h.fields


def test_oversize_hello_is_refused():
    big = HELLO_MAGIC + json.dumps(_hello_fields(tool_version="x" * MAX_HELLO_BYTES)).encode()
    with pytest.raises(RemoteProtocolError, match="too large"):
        Hello.parse(big)


def test_hello_is_immutable():
    h = Hello.parse(HELLO_MAGIC + json.dumps(_hello_fields()).encode())
    with pytest.raises(TypeError):
        h.fields["role"] = "listener"  # type: ignore[index]
    with pytest.raises(AttributeError):
        h.raw = b""  # type: ignore[misc]


def test_compare_hellos_sanitizes_every_peer_string():
    evil = "\x1b[31m\r\nforged\x07\u202e"
    ours = Hello.parse(HELLO_MAGIC + json.dumps(_hello_fields(role="listener")).encode())
    theirs_fields = _hello_fields(tool_version=evil, role=evil, protocol_version=2)
    theirs_fields["settings"] = {evil: evil, "protocol": [evil], "reveal": evil}
    theirs_fields["input"] = {"normalize": [evil, 7]}
    theirs = Hello.parse(HELLO_MAGIC + json.dumps(theirs_fields).encode())
    problems = compare_hellos(ours, theirs)
    assert len(problems) >= 5
    for p in problems:
        assert_terminal_safe(p)


# -- the accept loop ------------------------------------------------------------------------------
def test_accept_loop_rejects_until_one_is_admitted():
    port_box = {}
    ready = threading.Event()
    rejected = []

    def admit(sock, deadline, cancel):
        sock.settimeout(deadline.left())
        data = sock.recv(5)
        if data != b"hello":
            sock.close()
            raise PeerError(f"bad greeting {data!r}")
        return sock

    def serve():
        return accept_peer(
            "127.0.0.1",
            0,
            admit=admit,
            discard=lambda s: s.close(),
            connect_timeout=10,
            handshake_timeout=5,
            on_reject=lambda addr, why: rejected.append(why),
            on_listening=lambda h, p: (port_box.setdefault("p", p), ready.set()),
        )

    result = {}
    t = threading.Thread(target=lambda: result.setdefault("v", serve()))
    t.start()
    ready.wait(10)
    port = port_box["p"]
    socket.create_connection(("127.0.0.1", port)).close()
    bad = socket.create_connection(("127.0.0.1", port))
    bad.sendall(b"nope!")
    time.sleep(0.3)
    good = socket.create_connection(("127.0.0.1", port))
    good.sendall(b"hello")
    t.join(10)
    admitted = result["v"]
    assert admitted.rejected == 2 and len(rejected) == 2
    assert any("nope" in r for r in rejected)
    admitted.value.close()
    for s in (bad, good):
        s.close()


def test_rejection_log_is_rate_limited():
    lines: list[str] = []
    log = RejectionLog(lines.append, burst=3, interval=60)
    for i in range(10):
        log(f"10.0.0.{i}:1", "garbage \x1b[2J\n")
    assert len(lines) == 3 and log.count == 10
    log.flush()
    assert lines[-1] == "7 more rejected connection attempts not shown"
    for line in lines:
        assert_terminal_safe(line)
