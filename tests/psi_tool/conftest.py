"""Fixtures for the PSI tool tests: certificates, tool subprocesses over loopback, and an
in-test fake peer speaking the frame protocol (for faults a real tool never produces)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fedcrypto import psi
from fedcrypto.cli.psi_tool._certs import make_certs, make_identity
from fedcrypto.cli.psi_tool._handshake import Hello, run_handshake
from fedcrypto.cli.psi_tool._net import Connection, FrameKind, connect_tcp

#: Seconds any tool process may run in these tests (no listener is ever left behind).
PROC_TIMEOUT = 60
ENV = dict(os.environ, PYTHONWARNINGS="ignore")


@dataclass
class Proc:
    """A finished tool run."""

    rc: int
    out: str
    err: str

    def error_lines(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith("fedcrypto psi: error:")]

    def assert_clean_failure(self, code: int, needle: str) -> None:
        """Non-zero ``code``, exactly one error line containing ``needle``, no traceback,
        nothing on stderr that could drive a terminal."""
        assert self.rc == code, (self.rc, self.err)
        assert "Traceback" not in self.err, self.err
        lines = self.error_lines()
        assert len(lines) == 1, self.err
        assert needle in lines[0], self.err
        assert_terminal_safe(self.err)

    def warnings(self) -> list[str]:
        return [ln for ln in self.err.splitlines() if ln.startswith("fedcrypto psi: warning:")]


def assert_terminal_safe(text: str) -> None:
    """No control character (ESC, BEL, CR, backspace, bidi overrides...) except newlines."""
    bad = [ch for line in text.split("\n") for ch in line if not ch.isprintable()]
    assert not bad, (bad, text)


def tool_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedcrypto", "psi", *args]


def run_tool(*args: str, stdin: bytes | None = None, timeout: float = PROC_TIMEOUT) -> Proc:
    p = subprocess.run(tool_cmd(*args), input=stdin, capture_output=True, timeout=timeout, env=ENV)
    return Proc(p.returncode, p.stdout.decode(), p.stderr.decode())


class Listener:
    """A ``fedcrypto psi listen`` subprocess on an ephemeral loopback port."""

    def __init__(self, tmp: Path, args: list[str]) -> None:
        self.port_file = tmp / f"port.{time.monotonic_ns()}"
        self.proc = subprocess.Popen(
            tool_cmd(
                "listen",
                "--port",
                "0",
                "--port-file",
                str(self.port_file),
                "--connect-timeout",
                "10",
                *args,
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=ENV,
        )
        self.port = self._wait_port()

    def _wait_port(self) -> int:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.port_file.exists():
                text = self.port_file.read_text().strip()
                if text:
                    return int(text)
            if self.proc.poll() is not None:
                return -1
            time.sleep(0.02)
        self.proc.kill()
        raise AssertionError("listener did not start")

    def wait(self, timeout: float = PROC_TIMEOUT) -> Proc:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"listener hung: {err.decode()}") from None
        return Proc(self.proc.returncode, out.decode(), err.decode())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def listeners() -> Any:
    started: list[Listener] = []

    def start(tmp: Path, *args: str) -> Listener:
        lst = Listener(tmp, list(args))
        started.append(lst)
        return lst

    yield start
    for lst in started:
        lst.kill()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[str]]:
    d = tmp_path_factory.mktemp("psi-certs")
    make_certs(str(d))
    return {
        "listener": [
            "--tls-cert",
            f"{d}/server.pem",
            "--tls-key",
            f"{d}/server.key",
            "--tls-ca",
            f"{d}/ca.pem",
        ],
        "connector": [
            "--tls-cert",
            f"{d}/client.pem",
            "--tls-key",
            f"{d}/client.key",
            "--tls-ca",
            f"{d}/ca.pem",
        ],
        "dir": [str(d)],
    }


@pytest.fixture(scope="session")
def identities(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three organisations' own identities (make-identity): alice, bob and mallory."""
    out: dict[str, Any] = {}
    for name in ("alice", "bob", "mallory"):
        d = tmp_path_factory.mktemp(f"id-{name}")
        ident = make_identity(str(d), names=(f"{name}.example", "localhost", "127.0.0.1"))
        out[name] = ident
    return out


def pinned(identities: dict[str, Any], me: str, peer: str) -> list[str]:
    """TLS options for ``me`` pinning ``peer``'s certificate."""
    return [
        "--tls-cert",
        identities[me].cert,
        "--tls-key",
        identities[me].key,
        "--tls-peer-cert",
        identities[peer].cert,
    ]


@pytest.fixture
def run_pair(listeners: Callable[..., Listener], certs: dict[str, list[str]]) -> Any:
    """``run_pair(tmp, listener_args, connector_args, tls=True) -> (Proc, Proc)``."""

    def run(tmp: Path, largs: list[str], cargs: list[str], tls: bool = True) -> tuple[Proc, Proc]:
        lt = certs["listener"] if tls else ["--insecure-no-tls"]
        ct = certs["connector"] if tls else ["--insecure-no-tls"]
        lst = listeners(tmp, *lt, *largs)
        if lst.port < 0:
            return lst.wait(), Proc(-1, "", "listener failed")
        conn = run_tool(
            "connect", "--peer", f"127.0.0.1:{lst.port}", "--connect-timeout", "20", *ct, *cargs
        )
        return lst.wait(), conn

    return run


@pytest.fixture
def write_ids() -> Callable[..., str]:
    def write(
        path: Path, ids: list[str], header: str | None = None, extra_col: bool = False
    ) -> str:
        lines = []
        if header is not None:
            lines.append(header)
        for i, v in enumerate(ids):
            lines.append(f"{v},row{i}" if extra_col else v)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    return write


class Stop(Exception):
    pass


def fake_connector(  # type: ignore[no-untyped-def]
    port,
    items,
    *,
    protocol="ecdh",
    group=None,
    reveal="both",
    tamper=None,
    hello_edit=None,
    after_handshake=None,
    stop_after=None,
    sock=None,
):
    """Connect to a plaintext listener (or use the connected ``sock``) and run a real connector
    party, passing every outgoing message through ``tamper(msg, data) -> data``.  Returns what
    ended the run (the result or the exception)."""
    settings = psi.PsiSettings(protocol=protocol, group=group, reveal=reveal, batch_size=16)
    if sock is None:
        sock = connect_tcp("127.0.0.1", port, timeout=20)
    conn = Connection(sock, max_frame=1 << 26, idle_timeout=30)
    party = None
    try:
        hello = Hello.build(
            role="connector",
            tool_version="fake",
            protocol_version=psi.PROTOCOL_VERSION,
            settings=settings.as_dict(),
            input_settings={"normalize": ["strip"], "key_columns": 1, "duplicates": "dedup"},
            set_size=len(items),
        )
        if hello_edit is not None:
            hello = hello_edit(hello)
        hs = run_handshake(conn, hello, max_peer_size=None)
        if after_handshake is not None:
            after_handshake(conn)
            return conn.recv()
        party = psi.create_party(
            settings,
            role="connector",
            items=[i.encode() for i in items],
            peer_size=hs.peer_size,
            session_id=hs.session_id,
        )
        sent = [0]

        def send(msgs):
            for m in msgs:
                data = m.to_bytes()
                if tamper is not None:
                    data = tamper(m, data)
                conn.send(FrameKind.MESSAGE, data)
                sent[0] += 1
                if stop_after is not None and sent[0] >= stop_after:
                    raise Stop

        send(party.start())
        while not party.done:
            kind, body = conn.recv()
            send(party.handle(psi.decode_message(body, settings, hs.session_id)))
        conn.send(FrameKind.DONE, b"")
        assert conn.recv()[0] == FrameKind.DONE
        return party.result()
    except Stop:
        return "stopped"
    except Exception as exc:  # noqa: BLE001
        return exc
    finally:
        if party is not None:
            party.close()
        conn.close(flush_timeout=2)
