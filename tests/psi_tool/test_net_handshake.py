"""Frames, TLS, timeouts and the versioned handshake, over socket pairs and loopback."""

from __future__ import annotations

import os
import socket
import struct
import threading

import pytest

from fedcrypto.cli.psi_tool._certs import make_certs
from fedcrypto.cli.psi_tool._handshake import Hello, run_handshake, session_id_of
from fedcrypto.cli.psi_tool._listen import accept_peer
from fedcrypto.cli.psi_tool._net import (
    Connection,
    Deadline,
    FrameKind,
    PeerAborted,
    connect_tcp,
    parse_peer,
)
from fedcrypto.cli.psi_tool._tls import (
    client_context,
    load_tls_config,
    server_context,
    tls_handshake,
)
from fedcrypto.exceptions import InvalidArgumentError, PeerError, ProtocolError


def pair(max_frame=1 << 26, idle=10.0):
    a, b = socket.socketpair()
    return (
        Connection(a, max_frame=max_frame, idle_timeout=idle),
        Connection(b, max_frame=max_frame, idle_timeout=idle),
    )


def raw_pair(max_frame=1 << 20, idle=10.0):
    a, b = socket.socketpair()
    return Connection(a, max_frame=max_frame, idle_timeout=idle), b


def close_both(a, b):
    t = threading.Thread(target=a.close)
    t.start()
    b.close()
    t.join(10)


def run_both(fa, fb):
    """Run fa in a thread and fb here; return (result_or_exc_a, result_or_exc_b)."""
    out = {}

    def wrap(key, fn):
        try:
            out[key] = fn()
        except Exception as exc:  # noqa: BLE001
            out[key] = exc

    t = threading.Thread(target=wrap, args=("a", fa))
    t.start()
    wrap("b", fb)
    t.join(30)
    assert not t.is_alive()
    return out["a"], out["b"]


def test_frames_roundtrip_and_counters():
    a, b = pair()
    try:
        a.send(FrameKind.MESSAGE, b"hello")
        a.send(FrameKind.DONE, b"")
        assert b.recv() == (FrameKind.MESSAGE, b"hello")
        assert b.recv() == (FrameKind.DONE, b"")
        assert a.frames_sent == 2 and b.frames_received == 2
    finally:
        close_both(a, b)
    assert b.bytes_received == a.bytes_sent == 7 + 5 + 7


def test_simultaneous_large_sends_do_not_deadlock():
    a, b = pair()
    blob = os.urandom(1 << 20)
    n = 24  # 24 MiB each way, far above socket buffers

    def side(conn):
        for _ in range(n):
            conn.send(FrameKind.MESSAGE, blob)
        got = 0
        for _ in range(n):
            kind, body = conn.recv()
            assert body == blob
            got += 1
        return got

    try:
        ra, rb = run_both(lambda: side(a), lambda: side(b))
        assert ra == rb == n
    finally:
        close_both(a, b)


def test_garbage_is_rejected():
    conn, raw = raw_pair()
    try:
        raw.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(PeerError, match="garbage"):
            conn.recv()
    finally:
        raw.close()
        conn.close()


def test_truncated_frame():
    conn, raw = raw_pair()
    try:
        raw.sendall(struct.pack(">2sBI", b"FP", FrameKind.MESSAGE, 100) + b"x" * 10)
        raw.close()
        with pytest.raises(PeerError, match="truncated"):
            conn.recv()
    finally:
        conn.close()


def test_oversized_frame():
    conn, raw = raw_pair(max_frame=1000)
    try:
        raw.sendall(struct.pack(">2sBI", b"FP", FrameKind.MESSAGE, 1001))
        with pytest.raises(PeerError, match="above the limit of 1000"):
            conn.recv()
    finally:
        raw.close()
        conn.close()


def test_disconnect_and_abort_and_idle():
    conn, raw = raw_pair()
    raw.close()
    with pytest.raises(PeerError, match="closed the connection"):
        conn.recv()
    conn.close()

    a, b = pair()
    t = threading.Thread(target=a.abort, args=("bad\x1b[31m thing\nsecond line",))
    t.start()
    with pytest.raises(PeerAborted) as info:
        b.recv()
    assert "\n" not in str(info.value) and "\x1b" not in str(info.value)
    b.close()
    t.join(10)

    a, b = pair(idle=0.3)
    with pytest.raises(PeerError, match="idle timeout"):
        b.recv()
    close_both(a, b)


def test_parse_peer():
    assert parse_peer("example.org:443") == ("example.org", 443)
    assert parse_peer("[::1]:5000") == ("::1", 5000)
    for bad in ("nohost", "h:0", "h:99999", ":12", "h:x"):
        with pytest.raises(InvalidArgumentError):
            parse_peer(bad)


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = tmp_path_factory.mktemp("certs")
    make_certs(str(d))
    other = tmp_path_factory.mktemp("othercerts")
    make_certs(str(other))
    return str(d), str(other)


def _tls_pair(server_dir, client_dir, connect_timeout=10):
    port_box = {}
    ready = threading.Event()
    rejected = []

    def on_listening(host, port):
        port_box["port"] = port
        ready.set()

    scfg = load_tls_config(
        cert=f"{server_dir}/server.pem",
        key=f"{server_dir}/server.key",
        ca=f"{server_dir}/ca.pem",
        peer_cert=None,
        peer_fingerprint=None,
        server=True,
    )
    ccfg = load_tls_config(
        cert=f"{client_dir}/client.pem",
        key=f"{client_dir}/client.key",
        ca=f"{client_dir}/ca.pem",
        peer_cert=None,
        peer_fingerprint=None,
        server=False,
    )
    sctx, cctx = server_context(scfg), client_context(ccfg)

    def serve():
        admitted = accept_peer(
            "127.0.0.1",
            0,
            admit=lambda sock, dl, cancel: tls_handshake(
                sock, sctx, server=True, server_hostname=None, deadline=dl, cancel=cancel
            ),
            discard=lambda s: s.close(),
            connect_timeout=connect_timeout,
            handshake_timeout=10,
            on_reject=lambda addr, why: rejected.append(why),
            on_listening=on_listening,
        )
        return admitted.value

    def cli():
        ready.wait(10)
        sock = connect_tcp("127.0.0.1", port_box["port"], timeout=10)
        return tls_handshake(
            sock, cctx, server=False, server_hostname="localhost", deadline=Deadline(10)
        )

    a, b = run_both(serve, cli)
    return a, b, rejected


def test_mutual_tls_13_roundtrip(certs):
    good, _ = certs
    s, c, rejected = _tls_pair(good, good)
    assert not isinstance(s, Exception) and not isinstance(c, Exception) and rejected == []
    a = Connection(s, max_frame=1 << 20, idle_timeout=10)
    b = Connection(c, max_frame=1 << 20, idle_timeout=10)
    try:
        assert a.tls_info.version == "TLSv1.3"
        b.send(FrameKind.MESSAGE, b"x" * 100_000)
        assert a.recv() == (FrameKind.MESSAGE, b"x" * 100_000)
    finally:
        close_both(a, b)


def test_tls_rejects_foreign_ca(certs):
    good, other = certs
    s, c, rejected = _tls_pair(good, other, connect_timeout=1.5)  # another CA's certs
    assert isinstance(c, PeerError)  # the client does not trust the server's CA
    assert isinstance(s, PeerError) and "no peer completed the handshake" in str(s)
    assert len(rejected) == 1  # the listener logged the attempt and kept listening
    for x in (s, c):
        if isinstance(x, socket.socket):
            x.close()


def test_port_in_use():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        with pytest.raises(InvalidArgumentError, match="address already in use"):
            accept_peer(
                "127.0.0.1",
                port,
                admit=lambda *a: None,
                discard=lambda v: None,
                connect_timeout=1,
                handshake_timeout=1,
                on_reject=lambda *a: None,
            )
    finally:
        holder.close()


def test_connect_timeout_when_nobody_listens():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(PeerError, match="could not connect"):
        connect_tcp("127.0.0.1", port, timeout=0.5)


def hello(role, *, size=10, protocol_version=1, **settings):
    base = {"protocol": "ecdh", "group": "curve25519", "reveal": "both", "batch_size": 65536}
    base.update(settings)
    return Hello.build(
        role=role,
        tool_version="t",
        protocol_version=protocol_version,
        settings=base,
        input_settings={"normalize": ["strip"], "key_columns": 1, "duplicates": "dedup"},
        set_size=size,
    )


def handshake(ha, hb, max_a=None, max_b=None):
    a, b = pair()

    def side(conn, h, m):
        try:
            return run_handshake(conn, h, max_peer_size=m)
        finally:
            conn.close()

    return run_both(lambda: side(a, ha, max_a), lambda: side(b, hb, max_b))


def test_handshake_agrees_on_session_id():
    ha, hb = hello("listener", size=3), hello("connector", size=5)
    ra, rb = handshake(ha, hb)
    assert ra.session_id == rb.session_id == session_id_of(ha, hb)
    assert ra.peer_size == 5 and rb.peer_size == 3


def test_handshake_mismatch_named_on_both_sides():
    ra, rb = handshake(hello("listener", protocol="dh"), hello("connector"))
    for r in (ra, rb):
        assert isinstance(r, ProtocolError) and "--protocol" in str(r)
    assert "'dh' here, 'ecdh' on the peer" in str(ra)
    assert "'ecdh' here, 'dh' on the peer" in str(rb)


def test_handshake_reveal_mismatch_in_user_terms():
    # both typed --reveal me: listener -> "listener", connector -> "connector"
    ra, rb = handshake(hello("listener", reveal="listener"), hello("connector", reveal="connector"))
    assert isinstance(ra, ProtocolError) and isinstance(rb, ProtocolError)
    assert "--reveal: this side asks for 'me'" in str(ra) and "'peer' here" in str(ra)


def test_handshake_protocol_version_mismatch():
    ra, rb = handshake(
        hello("listener", protocol_version=1), hello("connector", protocol_version=2)
    )
    assert "PSI protocol version" in str(ra) and "PSI protocol version" in str(rb)


def test_handshake_hello_version_mismatch():
    bad = hello("connector")
    fields = dict(bad.fields, hello_version=99)
    import json

    raw = b"FCPSI-HELLO\x00" + json.dumps(fields).encode()
    ra, rb = handshake(hello("listener"), Hello(fields, raw))
    assert isinstance(ra, ProtocolError) and "handshake version mismatch" in str(ra)
    assert isinstance(rb, PeerError)  # the listener aborted: the other side ends too


def test_handshake_max_peer_size():
    ra, rb = handshake(hello("listener", size=10), hello("connector", size=1000), max_a=100)
    assert isinstance(ra, ProtocolError) and "--max-peer-size 100" in str(ra)
    assert isinstance(rb, PeerAborted) and "max-peer-size" in str(rb)


def test_garbage_hello():
    conn, raw = raw_pair()
    try:
        raw.sendall(struct.pack(">2sBI", b"FP", FrameKind.HELLO, 5) + b"junk!")
        raw.shutdown(socket.SHUT_WR)
        with pytest.raises(ProtocolError, match="not a fedcrypto psi hello"):
            run_handshake(conn, hello("listener"), max_peer_size=None)
    finally:
        raw.close()
        conn.close()
