"""``fedcrypto psi serve`` / ``query``: a big server set with concurrent TLS clients, cache reuse,
key rotation with a stale-epoch error, key-file permissions, a server that answers more than
asked."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from fedcrypto import psi
from fedcrypto.cli.psi_tool._net import Connection, FrameKind

from .conftest import ENV, PROC_TIMEOUT, Proc, run_tool, tool_cmd

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG") == "1"
N_SERVER = 100_000 if BIG else 20_000
N_CLIENT = 1_000 if BIG else 300


def _write(path, ids):
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return str(path)


class Server:
    def __init__(self, tmp, *args):
        self.port_file = tmp / f"port.{time.monotonic_ns()}"
        self.proc = subprocess.Popen(
            tool_cmd("serve", "--port-file", str(self.port_file), *args),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if self.port_file.exists() and self.port_file.read_text().strip():
                self.port = int(self.port_file.read_text())
                return
            if self.proc.poll() is not None:
                self.port = -1
                return
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError("server did not start")

    def wait(self):
        out, err = self.proc.communicate(timeout=PROC_TIMEOUT * 2)
        return Proc(self.proc.returncode, out.decode(), err.decode())

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def _query(port, inp, cache, out, *extra):
    return [
        *tool_cmd("query"),
        "--server",
        f"127.0.0.1:{port}",
        "--input",
        inp,
        "--cache",
        str(cache),
        "--output",
        str(out),
        *extra,
    ]


def test_big_server_five_concurrent_tls_clients(tmp_path, certs):
    big = _write(tmp_path / "big.txt", [f"id{i}" for i in range(N_SERVER)])
    clients = []
    for j in range(5):
        ids = [f"id{i}" for i in range(j * 7000, j * 7000 + N_CLIENT)] + [
            f"other{j}-{i}" for i in range(50)
        ]
        clients.append(
            (
                _write(tmp_path / f"c{j}.txt", ids),
                [x for x in ids if x.startswith("id") and int(x[2:]) < N_SERVER],
            )
        )
    srv = Server(
        tmp_path,
        "--input",
        big,
        "--cache",
        str(tmp_path / "srv"),
        "--max-connections",
        "5",
        *certs["listener"],
    )
    try:
        assert srv.port > 0, srv.wait().err
        procs = [
            subprocess.Popen(
                _query(
                    srv.port,
                    inp,
                    tmp_path / f"cache{j}",
                    tmp_path / f"out{j}.txt",
                    "--report",
                    str(tmp_path / f"r{j}.json"),
                    "--quiet",
                    *certs["connector"],
                ),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=ENV,
            )
            for j, (inp, _) in enumerate(clients)
        ]
        for p in procs:
            _, err = p.communicate(timeout=PROC_TIMEOUT * 2)
            assert p.returncode == 0, err.decode()
        res = srv.wait()
        assert res.rc == 0, res.err
    finally:
        srv.kill()
    for j, (_, expected) in enumerate(clients):
        assert (tmp_path / f"out{j}.txt").read_text().split() == expected
        rep = json.loads((tmp_path / f"r{j}.json").read_text())
        assert rep["cache_downloaded"] and rep["server_size"] == N_SERVER
    assert res.err.count("queried") == 5
    assert os.stat(tmp_path / "srv" / "oprf.key").st_mode & 0o077 == 0
    # the cache is at most 8 bytes per ID
    assert os.path.getsize(tmp_path / "cache0" / f"127.0.0.1_{srv.port}.cache") <= 8 * N_SERVER + 64


def test_cache_reuse_rotation_and_stale_epoch(tmp_path):
    big = _write(tmp_path / "big.txt", [f"id{i}" for i in range(2000)])
    small = _write(tmp_path / "small.txt", ["id5", "id7", "nope"])
    d = tmp_path / "srv"
    common = ["--input", big, "--cache", str(d), "--insecure-no-tls"]
    srv = Server(tmp_path, *common, "--max-connections", "2")
    q = _query(srv.port, small, tmp_path / "cl", tmp_path / "o.txt", "--insecure-no-tls")
    r1 = subprocess.run(q, capture_output=True, env=ENV, timeout=PROC_TIMEOUT)
    assert r1.returncode == 0, r1.stderr.decode()
    assert b"downloaded the cache" in r1.stderr
    r2 = subprocess.run(q, capture_output=True, env=ENV, timeout=PROC_TIMEOUT)
    assert r2.returncode == 0 and b"downloaded the cache" not in r2.stderr  # once per epoch
    assert srv.wait().rc == 0
    # the same port again, with a rotated key: the client's cache is stale
    srv = Server(tmp_path, *common, "--rotate", "--max-connections", "2")
    try:
        q = _query(srv.port, small, tmp_path / "cl", tmp_path / "o2.txt", "--insecure-no-tls")
        # the client's cache of the old epoch, under the new port's name
        src = next((tmp_path / "cl").glob("*.cache"))
        (tmp_path / "cl" / f"127.0.0.1_{srv.port}.cache").write_bytes(src.read_bytes())
        p = subprocess.run(q, capture_output=True, env=ENV, timeout=PROC_TIMEOUT)
        proc = Proc(p.returncode, p.stdout.decode(), p.stderr.decode())
        proc.assert_clean_failure(1, "rotated its key")
        assert "--refresh" in proc.err and not (tmp_path / "o2.txt").exists()
        p = subprocess.run(q + ["--refresh"], capture_output=True, env=ENV, timeout=PROC_TIMEOUT)
        assert p.returncode == 0, p.stderr.decode()
        assert (tmp_path / "o2.txt").read_text().split() == ["id5", "id7"]
        res = srv.wait()
        assert "rotated the OPRF key" in res.err
    finally:
        srv.kill()


def test_key_file_readable_by_others_is_refused(tmp_path):
    big = _write(tmp_path / "big.txt", ["a", "b"])
    d = tmp_path / "srv"
    p = run_tool("serve", "--input", big, "--cache", str(d), "--build-only", "--insecure-no-tls")
    assert p.rc == 0, p.err
    os.chmod(d / "oprf.key", 0o644)
    p = run_tool("serve", "--input", big, "--cache", str(d), "--build-only", "--insecure-no-tls")
    p.assert_clean_failure(2, "readable by others")


def _fake_server(lsock, mode, epoch_cache):
    sock, _ = lsock.accept()
    conn = Connection(sock, max_frame=1 << 26, idle_timeout=20)
    server = psi.OprfServer(*epoch_cache[0])
    try:
        while True:
            kind, body = conn.recv()
            if kind != FrameKind.MESSAGE:
                conn.send(FrameKind.DONE, b"")
                break
            msg = psi.decode_unbalanced_message(body)
            if isinstance(msg, psi.CacheRequest):
                for m in psi.cache_messages(epoch_cache[1]):
                    conn.send(FrameKind.MESSAGE, m.to_bytes())
                continue
            ans = server.answer(msg)
            if mode == "reorder":
                ans = psi.OprfResponse(
                    param=ans.param,
                    epoch=ans.epoch,
                    index=(ans.index + 1) % ans.total,
                    total=ans.total,
                    data=ans.data,
                )
            conn.send(FrameKind.MESSAGE, ans.to_bytes())
            if mode == "extra" and ans.index == ans.total - 1:
                conn.send(FrameKind.MESSAGE, ans.to_bytes())
    except Exception:  # noqa: BLE001 - the client hangs up
        pass
    finally:
        conn.close(flush_timeout=1)


@pytest.mark.parametrize("mode", ["extra", "reorder"])
def test_server_answering_more_or_out_of_order_exits_1(tmp_path, mode):
    key, epoch = psi.new_server_key()
    cache = psi.TagCache(epoch, psi.build_cache([b"id1", b"id2"], key, epoch))
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    t = threading.Thread(
        target=_fake_server, args=(lsock, mode, ((key, epoch), cache)), daemon=True
    )
    t.start()
    small = _write(tmp_path / "s.txt", ["id1"] + [f"x{i}" for i in range(5000)])  # 2 requests
    p = subprocess.run(
        _query(port, small, tmp_path / "cl", tmp_path / "o.txt", "--insecure-no-tls"),
        capture_output=True,
        env=ENV,
        timeout=PROC_TIMEOUT,
    )
    t.join(timeout=5)
    lsock.close()
    proc = Proc(p.returncode, p.stdout.decode(), p.stderr.decode())
    proc.assert_clean_failure(1, "more answers" if mode == "extra" else "out of order")
    assert not (tmp_path / "o.txt").exists()
