"""The driver: input -> network -> handshake -> PSI party loop -> output, with one-line errors.

Exit codes: 0 success, 1 protocol / crypto / peer error, 2 usage or input error.  Every error
is printed as one line ``fedcrypto psi: error: ...`` (``FEDCRYPTO_DEBUG=1`` adds the
traceback); when a peer is connected it receives an ABORT frame with the reason, so the other
side ends too.  Output and report files are only renamed into place after success.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import ssl
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...exceptions import (
    FedCryptoError,
    InputFormatError,
    InvalidArgumentError,
    PeerError,
    ProtocolError,
    SerializationError,
)
from ._handshake import HELLO_VERSION, Hello, reveal_to_canonical, run_handshake
from ._input import InputData, InputSpec, load_input, parse_delimiter, parse_normalize
from ._net import (
    Connection,
    FrameKind,
    PeerAborted,
    client_context,
    connect,
    listen_and_accept,
    parse_peer,
    server_context,
)
from ._output import check_output_path, write_intersection, write_report
from ._progress import Progress, format_bytes

__all__ = [
    "run_listen",
    "run_connect",
    "run_local",
    "drive",
    "EXIT_OK",
    "EXIT_PROTOCOL",
    "EXIT_USAGE",
]

EXIT_OK, EXIT_PROTOCOL, EXIT_USAGE = 0, 1, 2
PREFIX = "fedcrypto psi"


class _Failure(Exception):
    """Carries an exit code and a one-line message to the top of the driver."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _psi() -> Any:
    try:
        from ... import psi
    except ImportError as exc:  # pragma: no cover - only while the package is incomplete
        raise _Failure(EXIT_PROTOCOL, f"the PSI protocols are unavailable ({exc})") from None
    if not hasattr(psi, "create_party"):  # pragma: no cover
        raise _Failure(EXIT_PROTOCOL, "the PSI protocols are unavailable in this build")
    return psi


def _input_spec(args: argparse.Namespace, path: str) -> InputSpec:
    return InputSpec(
        path=path,
        id_columns=tuple(args.id_column or ()),
        delimiter=parse_delimiter(args.delimiter),
        header=args.header,
        normalize=parse_normalize(args.normalize),
        duplicates=args.duplicates,
        keep_rows=args.output_format == "rows",
    )


def _settings(args: argparse.Namespace, role: str) -> Any:
    psi = _psi()
    kwargs: dict[str, Any] = {
        "protocol": args.protocol,
        "group": args.group,
        "reveal": reveal_to_canonical(args.reveal, role),
        "batch_size": args.batch_size,
        "workers": args.workers,
    }
    if args.memory_budget is not None:
        kwargs["memory_budget"] = args.memory_budget << 20
    try:
        settings = psi.PsiSettings(**kwargs)
        settings.validate()
    except (InvalidArgumentError, TypeError, ValueError) as exc:
        raise _Failure(EXIT_USAGE, str(exc)) from None
    return settings


def _input_settings(spec: InputSpec, data: InputData) -> dict[str, Any]:
    return {
        "normalize": list(spec.normalize) or ["none"],
        "key_columns": data.key_columns,
        "duplicates": spec.duplicates,
    }


def _describe_input(label: str, spec: InputSpec, data: InputData) -> str:
    name = "<stdin>" if spec.path == "-" else spec.path
    parts = [f"{data.rows_read} rows", f"{len(data.keys)} unique IDs"]
    if data.duplicates:
        parts.append(f"{data.duplicates} duplicates removed")
    if data.empty_keys:
        parts.append(f"{data.empty_keys} empty IDs skipped")
    if data.blank_lines:
        parts.append(f"{data.blank_lines} blank lines skipped")
    header = "none"
    if data.header is not None:
        header = "detected" if data.header_detected else "yes"
    parts.append(f"header: {header}")
    return f"{label}{name}: " + ", ".join(parts)


@dataclass
class DriveStats:
    """Timing of the party loop."""

    started: float = field(default_factory=time.monotonic)
    finished: float = 0.0


def drive(conn: Connection, party: Any, decode: Callable[[bytes], Any]) -> Any:
    """Run ``party`` to completion over ``conn``; returns its PsiResult.

    Sends the messages ``start``/``handle`` return, feeds every MESSAGE frame to ``handle``,
    then exchanges DONE frames.  Raises ProtocolError on an unexpected frame, and whatever
    the party or ``decode`` raise on bad messages.
    """
    for msg in party.start():
        conn.send(FrameKind.MESSAGE, msg.to_bytes())
    while not party.done:
        kind, body = conn.recv()
        if kind == FrameKind.DONE:
            raise ProtocolError(
                "the peer says it has finished, but this side expected more messages"
            )
        if kind != FrameKind.MESSAGE:
            raise ProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame during the PSI")
        for msg in party.handle(decode(body)):
            conn.send(FrameKind.MESSAGE, msg.to_bytes())
    result = party.result()
    conn.send(FrameKind.DONE, b"")
    kind, _ = conn.recv()
    if kind != FrameKind.DONE:
        raise ProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame after this side finished")
    return result


def _versions(psi: Any, peer_tool: str | None) -> dict[str, Any]:
    from ... import __version__, backend_info

    return {
        "fedcrypto": __version__,
        "psi_protocol": psi.PROTOCOL_VERSION,
        "handshake": HELLO_VERSION,
        "peer_tool": peer_tool,
        "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION,
        "backend": backend_info().get("name"),
    }


def _error_line(message: str) -> None:
    sys.stderr.write(f"{PREFIX}: error: {message}\n")
    sys.stderr.flush()


def _sigterm_as_interrupt() -> Any:
    """Turn SIGTERM into KeyboardInterrupt so a terminated run cleans up (temporary files,
    ABORT to the peer) like Ctrl-C; returns the previous handler (None off the main thread)."""

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        return None


def _guarded(
    body: Callable[[list[Connection], list[Callable[[], None]]], int], progress: Progress
) -> int:
    """Run ``body`` turning every failure into one stderr line, an exit code, and an ABORT
    frame for a connected peer."""
    holder: list[Connection] = []
    closers: list[Callable[[], None]] = []
    previous = _sigterm_as_interrupt()
    debug = os.environ.get("FEDCRYPTO_DEBUG") == "1"

    def abort(reason: str) -> None:
        if holder:
            holder[0].abort(reason)

    try:
        return body(holder, closers)
    except _Failure as exc:
        progress.finish()
        abort(f"it stopped: {exc}")
        _error_line(str(exc))
        return exc.code
    except PeerAborted as exc:
        progress.finish()
        if holder:
            holder[0].close(flush_timeout=1.0)
        _error_line(str(exc))
        return EXIT_PROTOCOL
    except (InputFormatError, InvalidArgumentError) as exc:
        progress.finish()
        if holder:  # raised by the protocol layer on peer data: a protocol failure
            abort(f"it rejected our data: {exc}")
            _error_line(str(exc))
            return EXIT_PROTOCOL
        _error_line(str(exc))
        return EXIT_USAGE
    except SerializationError as exc:
        progress.finish()
        abort(f"it could not parse our message: {exc}")
        _error_line(f"malformed message from the peer: {exc}")
        return EXIT_PROTOCOL
    except FedCryptoError as exc:
        progress.finish()
        abort(
            f"it gave up: {exc}" if isinstance(exc, PeerError) else f"it rejected our data: {exc}"
        )
        _error_line(str(exc))
        return EXIT_PROTOCOL
    except KeyboardInterrupt:
        progress.finish()
        abort("it was interrupted")
        _error_line("interrupted")
        return 130
    except OSError as exc:
        progress.finish()
        abort("it failed with a local I/O error")
        _error_line(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
        if debug:
            traceback.print_exc()
        return EXIT_PROTOCOL
    except Exception as exc:  # noqa: BLE001 - last resort: one line, no traceback by default
        progress.finish()
        abort("it failed with an internal error")
        _error_line(
            f"internal error: {type(exc).__name__}: {exc} (set FEDCRYPTO_DEBUG=1 for details)"
        )
        if debug:
            traceback.print_exc()
        return EXIT_PROTOCOL
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        for close in closers:
            with contextlib.suppress(Exception):
                close()
        if holder:
            holder[0].close(flush_timeout=1.0)


def _finish(
    args: argparse.Namespace,
    *,
    role: str,
    settings: Any,
    spec: InputSpec,
    data: InputData,
    result: Any,
    peer_size: int,
    progress: Progress,
    elapsed: float,
    extra: dict[str, Any],
) -> int:
    psi = _psi()
    learned = result.indices is not None
    lines = None
    if learned:
        lines = write_intersection(
            args.output, data, np.asarray(result.indices, dtype=np.int64), args.output_format
        )
    count = result.count if result.count is not None else (len(result.indices) if learned else None)
    if not args.quiet:
        what = (
            f"intersection: {count} of {len(data.keys)} IDs (peer: {peer_size})"
            if count is not None
            else f"this side does not learn the intersection (--reveal {args.reveal})"
        )
        where = ""
        if learned:
            where = " -> " + ("stdout" if args.output == "-" else args.output)
        elif args.output:
            where = " (no output written)"
        net = ""
        if "bytes_sent" in extra:
            net = (
                f", sent {format_bytes(extra['bytes_sent'])}, "
                f"received {format_bytes(extra['bytes_received'])}"
            )
        rate = len(data.keys) / elapsed if elapsed > 0 else 0.0
        progress.info(
            f"{what}{where}; {settings.protocol}/{settings.resolved_group()}, "
            f"{elapsed:.2f} s ({rate:,.0f} IDs/s){net}"
        )
    if args.report:
        report = {
            "status": "ok",
            "role": role,
            "protocol": settings.protocol,
            "group": settings.resolved_group(),
            "reveal": settings.reveal,
            "reveal_option": args.reveal,
            "batch_size": settings.batch_size,
            "input": {
                "path": spec.path,
                "rows": data.rows_read,
                "unique_ids": len(data.keys),
                "duplicates": data.duplicates,
                "blank_lines": data.blank_lines,
                "empty_ids": data.empty_keys,
                "header": data.header is not None,
                "key_columns": data.key_columns,
                "normalize": list(spec.normalize) or ["none"],
            },
            "local_size": len(data.keys),
            "peer_size": peer_size,
            "intersection_size": count,
            "learned_intersection": learned,
            "output": (args.output if learned else None),
            "output_format": args.output_format,
            "output_lines": lines,
            "duration_s": round(elapsed, 4),
            "phase_seconds": {k: round(v, 4) for k, v in progress.phase_times.items()},
            "ids_per_second": round(len(data.keys) / elapsed, 1) if elapsed > 0 else None,
            "versions": _versions(psi, extra.pop("peer_tool", None)),
        }
        report.update(extra)
        write_report(args.report, report)
    return EXIT_OK


def _prepare(
    args: argparse.Namespace, role: str, progress: Progress, label: str = ""
) -> tuple[Any, InputSpec, InputData]:
    if args.output == args.report and args.output not in (None, "-"):
        raise _Failure(EXIT_USAGE, "--output and --report must be different files")
    inputs = [args.input] + ([args.file_b] if getattr(args, "file_b", None) else [])
    for out in (args.output, args.report):
        if out in (None, "-") or not os.path.exists(out):
            continue
        for path in inputs:
            if path != "-" and os.path.exists(path) and os.path.samefile(out, path):
                raise _Failure(EXIT_USAGE, f"{out}: refusing to overwrite an input file")
    settings = _settings(args, role)
    spec = _input_spec(args, args.input)
    data = load_input(spec)
    progress.info(_describe_input(label, spec, data))
    check_output_path(args.output)
    if args.report:
        check_output_path(args.report, "--report")
    return settings, spec, data


def _max_frame(args: argparse.Namespace) -> int:
    """--max-frame-size in bytes; by default enough for a batch of the largest elements
    (512-byte DH-4096 values) plus headers, and at least 16 MiB."""
    if args.max_frame_size is not None:
        return int(args.max_frame_size) << 20
    return max(16 << 20, int(args.batch_size) * 520 + (1 << 20))


def _tls(args: argparse.Namespace, server: bool) -> ssl.SSLContext | None:
    if args.insecure_no_tls:
        if any((args.tls_cert, args.tls_key, args.tls_ca)):
            raise _Failure(EXIT_USAGE, "--insecure-no-tls cannot be combined with --tls-* options")
        return None
    missing = [
        o
        for o, v in (
            ("--tls-cert", args.tls_cert),
            ("--tls-key", args.tls_key),
            ("--tls-ca", args.tls_ca),
        )
        if not v
    ]
    if missing:
        raise _Failure(
            EXIT_USAGE,
            f"mutual TLS needs {', '.join(missing)} (create test "
            "certificates with `fedcrypto psi make-certs DIR`), or pass "
            "--insecure-no-tls for plaintext",
        )
    make = server_context if server else client_context
    return make(args.tls_cert, args.tls_key, args.tls_ca)


def _run_network(args: argparse.Namespace, role: str) -> int:
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        from ... import __version__

        psi = _psi()
        ctx = _tls(args, server=(role == "listener"))
        try:
            settings, spec, data = _prepare(args, role, progress)
        except InputFormatError:
            if role == "connector":
                _tell_peer_input_failed(args, ctx)
            raise
        t0 = time.monotonic()
        if role == "listener":

            def announce(host: str, port: int) -> None:
                progress.info(
                    f"listening on {host}:{port} "
                    f"({'mutual TLS 1.3' if ctx else 'PLAINTEXT, no TLS'})"
                )

            sock = listen_and_accept(
                args.host,
                args.port,
                ctx=ctx,
                timeout=args.connect_timeout,
                port_file=args.port_file,
                on_listening=announce,
            )
            peer_name = "{}:{}".format(*sock.getpeername()[:2])
        else:
            host, port = parse_peer(args.peer)
            sock = connect(
                host, port, ctx=ctx, timeout=args.connect_timeout, server_name=args.tls_server_name
            )
            peer_name = f"{host}:{port}"
        conn = Connection(sock, max_frame=_max_frame(args), idle_timeout=args.idle_timeout)
        holder.append(conn)
        progress.info(
            f"connected to {peer_name}"
            + (f" ({conn.tls_info.version}, {conn.tls_info.cipher})" if ctx else " (plaintext)")
        )
        hello = Hello.build(
            role=role,
            tool_version=__version__,
            protocol_version=psi.PROTOCOL_VERSION,
            settings=settings.as_dict(),
            input_settings=_input_settings(spec, data),
            set_size=len(data.keys),
        )
        hs = run_handshake(conn, hello, max_peer_size=args.max_peer_size)
        progress.reset_clock()
        party = psi.create_party(
            settings,
            role=role,
            items=data.keys,
            peer_size=hs.peer_size,
            session_id=hs.session_id,
            workdir=args.workdir,
            progress=progress,
        )
        closers.append(party.close)

        def decode(body_: bytes) -> Any:
            return psi.decode_message(body_, settings, hs.session_id)

        result = drive(conn, party, decode)
        progress.finish()
        conn.close()
        elapsed = time.monotonic() - t0
        extra = {
            "peer": peer_name,
            "bytes_sent": conn.bytes_sent,
            "bytes_received": conn.bytes_received,
            "frames_sent": conn.frames_sent,
            "frames_received": conn.frames_received,
            "tls": (
                {"version": conn.tls_info.version, "cipher": conn.tls_info.cipher} if ctx else None
            ),
            "session_id": hs.session_id.hex(),
            "peer_tool": hs.peer_tool_version,
        }
        return _finish(
            args,
            role=role,
            settings=settings,
            spec=spec,
            data=data,
            result=result,
            peer_size=hs.peer_size,
            progress=progress,
            elapsed=elapsed,
            extra=extra,
        )

    return _guarded(body, progress)


def _tell_peer_input_failed(args: argparse.Namespace, ctx: ssl.SSLContext | None) -> None:
    """Best effort, a few seconds at most: connect and send an ABORT frame so a waiting
    listener ends at once instead of at its connect timeout.  No path or value is sent."""
    try:
        host, port = parse_peer(args.peer)
        sock = connect(
            host,
            port,
            ctx=ctx,
            timeout=min(3.0, args.connect_timeout),
            server_name=args.tls_server_name,
        )
    except FedCryptoError:
        return
    Connection(sock, max_frame=1 << 16, idle_timeout=3.0).abort(
        "it stopped: its input file is unusable"
    )


def run_listen(args: argparse.Namespace) -> int:
    """``fedcrypto psi listen``: wait for one peer and run the PSI as the listener."""
    return _run_network(args, "listener")


def run_connect(args: argparse.Namespace) -> int:
    """``fedcrypto psi connect``: connect to a listening peer and run the PSI as the connector."""
    return _run_network(args, "connector")


def run_local(args: argparse.Namespace) -> int:
    """``fedcrypto psi local A B``: both parties in one process (A is the listener, B the
    connector; ``--reveal`` is from A's point of view; the output is A's)."""
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        psi = _psi()
        args.input = args.file_a
        settings, spec, data = _prepare(args, "listener", progress, label="A ")
        spec_b = _input_spec(args, args.file_b)
        data_b = load_input(spec_b)
        progress.info(_describe_input("B ", spec_b, data_b))
        if data_b.key_columns != data.key_columns:  # pragma: no cover - same options for both
            raise _Failure(EXIT_USAGE, "A and B have different numbers of key columns")
        sid = os.urandom(32)
        t0 = time.monotonic()
        a = psi.create_party(
            settings,
            role="listener",
            items=data.keys,
            peer_size=len(data_b.keys),
            session_id=sid,
            workdir=args.workdir,
            progress=progress,
        )
        b = psi.create_party(
            settings,
            role="connector",
            items=data_b.keys,
            peer_size=len(data.keys),
            session_id=sid,
            workdir=args.workdir,
            progress=Progress(quiet=args.quiet, label="B"),
        )
        closers.extend((a.close, b.close))
        to_b = [m.to_bytes() for m in a.start()]
        to_a = [m.to_bytes() for m in b.start()]
        moved = 0
        while not (a.done and b.done):
            if not to_a and not to_b:
                raise ProtocolError("the two local parties stalled (no messages in flight)")
            batch_b, to_b = to_b, []
            for raw in batch_b:
                moved += len(raw)
                to_a.extend(m.to_bytes() for m in b.handle(psi.decode_message(raw, settings, sid)))
            batch_a, to_a = to_a, []
            for raw in batch_a:
                moved += len(raw)
                to_b.extend(m.to_bytes() for m in a.handle(psi.decode_message(raw, settings, sid)))
        result = a.result()
        progress.finish()
        elapsed = time.monotonic() - t0
        result_b = b.result()
        extra = {
            "mode": "local",
            "bytes_exchanged": moved,
            "peer_intersection_size": result_b.count,
        }
        return _finish(
            args,
            role="listener",
            settings=settings,
            spec=spec,
            data=data,
            result=result,
            peer_size=len(data_b.keys),
            progress=progress,
            elapsed=elapsed,
            extra=extra,
        )

    return _guarded(body, progress)
