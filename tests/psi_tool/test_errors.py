"""Issue 9 item 5: the tool maps error *types* to exit codes and messages — "your input"
(exit 2), "the peer sent ..." (exit 1), "this side failed" (exit 1) — and never guesses from
context.  One case per error class, plus the driver's wrapper end to end over a socket pair
(what the peer is told, what reaches stderr)."""

from __future__ import annotations

import socket
import threading

import pytest

from fedcrypto.cli.psi_tool._errors import classify
from fedcrypto.cli.psi_tool._net import Connection, PeerAborted
from fedcrypto.cli.psi_tool._progress import Progress
from fedcrypto.cli.psi_tool._run import _guarded
from fedcrypto.exceptions import (
    BackendUnavailableError,
    FedCryptoError,
    InputFormatError,
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidSignatureError,
    InvalidTypeError,
    LocalProtocolError,
    PeerError,
    RemoteProtocolError,
    SerializationError,
)

from .conftest import assert_terminal_safe

CASES = [
    (InputFormatError("a.txt: no IDs"), 2, "your input: a.txt: no IDs", "input"),
    (InvalidArgumentError("--batch-size"), 2, "your input: --batch-size", "input"),
    (InvalidTypeError("bad type"), 2, "your input: bad type", "input"),
    (PeerAborted("the peer aborted: why"), 1, "the peer aborted: why", "peer"),
    (PeerError("the peer closed the connection"), 1, "the peer closed the connection", "peer"),
    (SerializationError("truncated"), 1, "the peer sent a malformed message: truncated", "peer"),
    (InvalidGroupElementError("twist"), 1, "the peer sent an invalid group element: twist", "peer"),
    (InvalidSignatureError("bad sig"), 1, "the peer sent an invalid signature: bad sig", "peer"),
    (
        RemoteProtocolError("out of order"),
        1,
        "the peer sent an unacceptable message: out of order",
        "peer",
    ),
    (LocalProtocolError("stalled"), 1, "this side failed: stalled", "local"),
    (BackendUnavailableError("no gmp"), 1, "this side failed: no gmp", "local"),
    (FedCryptoError("worker died"), 1, "this side failed: worker died", "local"),
    (
        OSError(28, "No space left on device", "out.txt"),
        1,
        "this side failed: No space left on device: out.txt",
        "local",
    ),
    (RuntimeError("bug"), 1, "this side failed with an internal error: RuntimeError: bug", "local"),
    (KeyboardInterrupt(), 130, "interrupted", "interrupted"),
]


@pytest.mark.parametrize(
    ("exc", "code", "message", "fault"), CASES, ids=[type(c[0]).__name__ for c in CASES]
)
def test_each_error_class_has_one_exit_code_and_message(exc, code, message, fault):
    out = classify(exc)
    assert (out.code, out.fault) == (code, fault)
    assert out.message.startswith(message)
    if fault == "peer" and not isinstance(exc, PeerAborted):
        assert str(exc) in (out.tell_peer or "")  # the peer learns what it got wrong
    if fault in ("local", "input"):
        assert str(exc) not in (out.tell_peer or "")  # our paths and failures stay here


def _run_guarded(exc, capsys):
    a, b = socket.socketpair()
    b.settimeout(10)

    def body(holder, closers):
        holder.append(Connection(a, max_frame=1 << 20, idle_timeout=10))
        raise exc

    received = bytearray()

    def read() -> None:  # like a peer: read until the other side closes, then close
        try:
            while chunk := b.recv(65536):
                received.extend(chunk)
        except OSError:
            pass
        b.close()

    reader = threading.Thread(target=read)
    reader.start()
    code = _guarded(body, Progress(quiet=True))
    reader.join(10)
    return code, capsys.readouterr().err, bytes(received)


def test_guarded_does_not_guess_from_context(capsys):
    """Bad options or input are exit 2 even once a peer is connected (the old wrapper called
    them a protocol failure when a connection existed); the peer hears a generic reason."""
    code, err, sent = _run_guarded(InvalidArgumentError("/secret/path.csv: bad"), capsys)
    assert code == 2 and err == "fedcrypto psi: error: your input: /secret/path.csv: bad\n"
    assert b"its input or options are unusable" in sent and b"/secret" not in sent


def test_guarded_reports_peer_faults_and_tells_the_peer(capsys):
    evil = "\x1b[2J\x1b]0;owned\x07\r\nfedcrypto psi: error: forged"
    code, err, sent = _run_guarded(InvalidGroupElementError(f"peer sent {evil}"), capsys)
    assert code == 1
    assert err.startswith("fedcrypto psi: error: the peer sent an invalid group element: ")
    assert err.count("\n") == 1
    assert_terminal_safe(err)
    assert b"it rejected our data" in sent and b"\x1b" not in sent and b"\r\n" not in sent


def test_guarded_local_failures_say_this_side_failed(capsys):
    code, err, sent = _run_guarded(LocalProtocolError("the two local parties stalled"), capsys)
    assert code == 1 and "this side failed: the two local parties stalled" in err
    assert b"it failed on its side" in sent


def test_guarded_peer_abort_is_not_answered(capsys):
    code, err, sent = _run_guarded(PeerAborted("the peer aborted: done"), capsys)
    assert code == 1 and "the peer aborted: done" in err
    assert sent == b""  # no ABORT frame back to a peer that aborted


def test_progress_lines_are_terminal_safe():
    import io

    stream = io.StringIO()
    p = Progress(stream=stream)
    p.info("reading /data/\x1b[31mred\x1b[0m.csv\r\nfake line")
    p.warn("rejected connection: \x07\x1b]0;title\x07")
    out = stream.getvalue()
    assert out.count("\n") == 2
    assert_terminal_safe(out)
