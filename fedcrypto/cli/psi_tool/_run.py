"""The driver: input -> network -> handshake -> PSI party loop -> output, with one-line errors.

Exit codes (by error type, see :mod:`._errors`): 0 success; 1 the peer sent something wrong,
the connection failed, or this side failed; 2 this side's input or options; 130 interrupted.
Every error is printed as one line ``fedcrypto psi: error: ...`` (``FEDCRYPTO_DEBUG=1`` adds
the traceback); when a peer is connected it receives an ABORT frame with the reason, so the
other side ends too.  Output and report files are only renamed into place after success.

The listener keeps accepting connections until one peer is admitted (TLS handshake and
certificate check, or in plaintext mode a well-formed first frame) or ``--connect-timeout``
passes; rejected attempts are logged one sanitized line each (rate-limited) and counted in
the report (see :mod:`._listen`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import signal
import socket
import ssl
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import __version__, backend_info, psi
from ...exceptions import (
    InputFormatError,
    InvalidArgumentError,
    LocalProtocolError,
    PeerError,
    RemoteProtocolError,
)
from ._errors import EXIT_OK, classify
from ._handshake import (
    HELLO_VERSION,
    HandshakeResult,
    Hello,
    confirm_handshake,
    exchange_hellos,
    reveal_to_canonical,
    run_handshake,
)
from ._input import InputData, InputSpec, load_input, parse_delimiter, parse_normalize
from ._listen import RejectionLog, accept_peer
from ._net import (
    Connection,
    Deadline,
    FrameKind,
    PeerAborted,
    connect_tcp,
    parse_peer,
)
from ._output import check_output_path, write_intersection, write_report
from ._progress import Progress, format_bytes, terminal_line
from ._resume import Resume, hello_settings
from ._scale import join_provider, open_executor
from ._tls import (
    CertificateRejectedError,
    PinMismatchError,
    TlsConfig,
    check_peer_certificate,
    client_context,
    format_fingerprint,
    load_tls_config,
    server_context,
    tls_handshake,
)

__all__ = ["run_listen", "run_connect", "run_local", "drive"]

PREFIX = "fedcrypto psi"


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


def _settings(args: argparse.Namespace, role: str) -> psi.PsiSettings:
    """The PSI settings from the options (InvalidArgumentError / InvalidTypeError: exit 2)."""
    kwargs: dict[str, Any] = {
        "protocol": args.protocol,
        "group": args.group,
        "reveal": reveal_to_canonical(args.reveal, role),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "buckets": getattr(args, "buckets", 1),
    }
    if args.memory_budget is not None:
        kwargs["memory_budget"] = args.memory_budget << 20
    settings = psi.PsiSettings(**kwargs)
    settings.validate()
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


def drive(
    conn: Connection, party: psi.PsiParty, decode: Callable[[bytes], psi.PsiMessage]
) -> psi.PsiResult:
    """Run ``party`` to completion over ``conn``; returns its PsiResult.

    Sends the messages ``start``/``handle`` return, feeds every MESSAGE frame to ``handle``,
    then exchanges DONE frames.

    :raises RemoteProtocolError: an unexpected frame; and whatever ``decode`` (the door for
        the peer's bytes) or the party raise on bad messages.
    """
    for msg in party.start():
        conn.send(FrameKind.MESSAGE, msg.to_bytes())
    while not party.done:
        kind, body = conn.recv()
        if kind == FrameKind.DONE:
            raise RemoteProtocolError(
                "the peer says it has finished, but this side expected more messages"
            )
        if kind != FrameKind.MESSAGE:
            raise RemoteProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame during the PSI")
        for msg in party.handle(decode(body)):
            conn.send(FrameKind.MESSAGE, msg.to_bytes())
    result = party.result()
    conn.send(FrameKind.DONE, b"")
    kind, _ = conn.recv()
    if kind != FrameKind.DONE:
        raise RemoteProtocolError(
            f"unexpected {FrameKind.NAMES[kind]} frame after this side finished"
        )
    return result


def _versions(peer_tool: str | None) -> dict[str, Any]:
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
    sys.stderr.write(terminal_line(f"{PREFIX}: error: {message}") + "\n")
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
    """Run ``body``; turn any failure into one stderr line, an exit code and (when a peer is
    connected) an ABORT frame, all chosen by the error's type (:func:`._errors.classify`)."""
    holder: list[Connection] = []
    closers: list[Callable[[], None]] = []
    previous = _sigterm_as_interrupt()
    try:
        return body(holder, closers)
    except (Exception, KeyboardInterrupt) as exc:
        outcome = classify(exc)
        progress.finish()
        if holder:
            if outcome.tell_peer is not None:
                holder[0].abort(outcome.tell_peer)
            else:
                holder[0].close(flush_timeout=1.0)
        _error_line(outcome.message)
        if os.environ.get("FEDCRYPTO_DEBUG") == "1":
            traceback.print_exc()
        return outcome.code
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
    settings: psi.PsiSettings,
    spec: InputSpec,
    data: InputData,
    result: psi.PsiResult,
    peer_size: int,
    progress: Progress,
    elapsed: float,
    extra: dict[str, Any],
) -> int:
    learned = result.indices is not None
    lines = None
    if result.indices is not None:
        lines = write_intersection(
            args.output, data, np.asarray(result.indices, dtype=np.int64), args.output_format
        )
    count = result.count
    if count is None and result.indices is not None:
        count = len(result.indices)
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
            "versions": _versions(extra.pop("peer_tool", None)),
        }
        report.update(extra)
        write_report(args.report, report)
    return EXIT_OK


def _prepare(
    args: argparse.Namespace, role: str, progress: Progress, label: str = ""
) -> tuple[psi.PsiSettings, InputSpec, InputData]:
    if args.output == args.report and args.output not in (None, "-"):
        raise InvalidArgumentError("--output and --report must be different files")
    inputs = [args.input] + ([args.file_b] if getattr(args, "file_b", None) else [])
    for out in (args.output, args.report):
        if out in (None, "-") or not os.path.exists(out):
            continue
        for path in inputs:
            if path != "-" and os.path.exists(path) and os.path.samefile(out, path):
                raise InvalidArgumentError(f"{out}: refusing to overwrite an input file")
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


def _tls_config(args: argparse.Namespace, server: bool) -> TlsConfig | None:
    tls_options = (
        args.tls_cert,
        args.tls_key,
        args.tls_ca,
        args.tls_peer_cert,
        args.tls_peer_fingerprint,
    )
    if args.insecure_no_tls:
        if any(tls_options):
            raise InvalidArgumentError("--insecure-no-tls cannot be combined with --tls-* options")
        return None
    return load_tls_config(
        cert=args.tls_cert,
        key=args.tls_key,
        ca=args.tls_ca,
        peer_cert=args.tls_peer_cert,
        peer_fingerprint=args.tls_peer_fingerprint,
        server=server,
    )


def _connection(args: argparse.Namespace, sock: socket.socket) -> Connection:
    return Connection(
        sock,
        max_frame=_max_frame(args),
        idle_timeout=args.idle_timeout,
        min_rate=args.min_rate * 1024.0,
    )


def _handshake_deadline(args: argparse.Namespace) -> Deadline:
    return Deadline(args.handshake_timeout, "the handshake", "--handshake-timeout")


def _listen(
    args: argparse.Namespace,
    tls: TlsConfig | None,
    hello: Hello,
    progress: Progress,
    holder: list[Connection],
) -> tuple[Connection, HandshakeResult, str, int]:
    """Accept peers until one is admitted, then complete the handshake with it."""
    ctx = server_context(tls) if tls is not None else None

    def announce(host: str, port: int) -> None:
        mode = "PLAINTEXT, no TLS"
        if tls is not None:
            mode = "mutual TLS 1.3, " + (
                "peer certificate pinned" if tls.mode == "pinned" else "peer CA " + str(tls.ca)
            )
        progress.info(f"listening on {host}:{port} ({mode})")

    def admit_tls(
        sock: socket.socket, deadline: Deadline, cancel: threading.Event
    ) -> ssl.SSLSocket:
        assert ctx is not None and tls is not None
        try:
            ssock = tls_handshake(
                sock, ctx, server=True, server_hostname=None, deadline=deadline, cancel=cancel
            )
        except CertificateRejectedError as exc:
            if tls.pin is None:
                raise
            raise CertificateRejectedError(
                f"its certificate is not the pinned one (this side expects SHA-256 "
                f"{format_fingerprint(tls.pin)}): {exc}"
            ) from None
        try:
            check_peer_certificate(ssock, tls, peer="the connector")
        except PeerError:
            ssock.close()
            raise
        return ssock

    def admit_plain(
        sock: socket.socket, deadline: Deadline, cancel: threading.Event
    ) -> tuple[Connection, Hello | PeerAborted]:
        conn = _connection(args, sock)
        try:
            return conn, exchange_hellos(conn, hello, deadline=deadline)
        except PeerAborted as exc:  # a peer speaking the protocol that gives up: it ends the run
            return conn, exc
        except BaseException:
            conn.close(flush_timeout=0.5, drain=0.5)  # a rejected attempt: no long goodbye
            raise

    def discard(value: Any) -> None:
        if isinstance(value, tuple):
            value[0].close(flush_timeout=0.5, drain=0.5)
        else:
            value.close()

    log = RejectionLog(progress.warn)
    admitted = accept_peer(
        args.host,
        args.port,
        admit=admit_tls if ctx is not None else admit_plain,
        discard=discard,
        connect_timeout=args.connect_timeout,
        handshake_timeout=args.handshake_timeout,
        on_reject=log,
        port_file=args.port_file,
        on_listening=announce,
    )
    log.flush()
    if ctx is not None:
        conn = _connection(args, admitted.value)
        holder.append(conn)
        hs = run_handshake(
            conn, hello, max_peer_size=args.max_peer_size, deadline=admitted.deadline
        )
    else:
        conn, first = admitted.value
        holder.append(conn)
        if isinstance(first, PeerAborted):
            raise first
        hs = confirm_handshake(
            conn, hello, first, max_peer_size=args.max_peer_size, deadline=admitted.deadline
        )
    return conn, hs, admitted.address, admitted.rejected


def _connect(
    args: argparse.Namespace, tls: TlsConfig | None, *, timeout: float | None = None
) -> tuple[socket.socket, Deadline, str]:
    """Connect (retrying until --connect-timeout), then TLS and the certificate check, all
    within the handshake deadline."""
    host, port = parse_peer(args.peer)
    sock = connect_tcp(host, port, timeout=args.connect_timeout if timeout is None else timeout)
    deadline = _handshake_deadline(args)
    if tls is not None:
        name = (args.tls_server_name or host) if tls.mode == "ca" else None
        ssock = tls_handshake(
            sock, client_context(tls), server=False, server_hostname=name, deadline=deadline
        )
        try:
            check_peer_certificate(ssock, tls, peer="the listener")
        except PinMismatchError as exc:
            # Tell the listener why (both fingerprints are public), nothing else: no HELLO
            # goes to a listener this side does not recognise.
            Connection(ssock, max_frame=1 << 16, idle_timeout=3.0).abort(
                "it does not accept this side's certificate: it pinned SHA-256 "
                f"{format_fingerprint(exc.expected)}, this side presented "
                f"{format_fingerprint(exc.got)}"
            )
            raise
        except PeerError:
            ssock.close()
            raise
        sock = ssock
    return sock, deadline, f"{host}:{port}"


def _tls_report(conn: Connection, tls: TlsConfig | None) -> dict[str, Any] | None:
    if tls is None:
        return None
    peer_fp = conn.tls_info.peer_cert_sha256
    return {
        "version": conn.tls_info.version,
        "cipher": conn.tls_info.cipher,
        "peer_verification": tls.mode,
        "local_certificate_sha256": format_fingerprint(tls.local_fingerprint),
        "peer_certificate_sha256": format_fingerprint(peer_fp) if peer_fp else None,
    }


def _run_network(args: argparse.Namespace, role: str) -> int:
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        tls = _tls_config(args, server=(role == "listener"))
        if tls is not None:
            progress.info(
                f"this side's certificate: SHA-256 {format_fingerprint(tls.local_fingerprint)}"
            )
        try:
            settings, spec, data = _prepare(args, role, progress)
        except InputFormatError:
            if role == "connector":
                _tell_peer_input_failed(args, tls)
            raise
        resume = Resume(args, role, settings, data) if getattr(args, "resume", False) else None
        executor = open_executor(args)
        closers.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
        hello = Hello.build(
            role=role,
            tool_version=__version__,
            protocol_version=psi.PROTOCOL_VERSION,
            settings=hello_settings(settings, resume),
            input_settings=_input_settings(spec, data),
            set_size=len(data.keys),
        )
        t0 = time.monotonic()
        rejected: int | None = None
        if role == "listener":
            conn, hs, peer_name, rejected = _listen(args, tls, hello, progress, holder)
        else:
            sock, deadline, peer_name = _connect(args, tls)
            conn = _connection(args, sock)
            holder.append(conn)
            hs = run_handshake(conn, hello, max_peer_size=args.max_peer_size, deadline=deadline)
        detail = " (plaintext)"
        if tls is not None:
            fp = conn.tls_info.peer_cert_sha256
            detail = (
                f" ({conn.tls_info.version}, {conn.tls_info.cipher}; peer certificate "
                f"{'pinned' if tls.mode == 'pinned' else 'signed by the CA'}, SHA-256 "
                f"{format_fingerprint(fp) if fp else '?'})"
            )
        progress.info(f"connected to {peer_name}{detail}")
        progress.reset_clock()
        sid = hs.session_id
        resume_kwargs: dict[str, Any] = {}
        if resume is not None:
            peer_fp = conn.tls_info.peer_cert_sha256 if tls is not None else None
            sid, resume_kwargs = resume.start(
                conn,
                peer_fingerprint=format_fingerprint(peer_fp) if peer_fp else None,
                peer_size=hs.peer_size,
                fresh_sid=hs.session_id,
            )
            if resume.resumed:
                progress.info(
                    f"resuming: {resume.resumed} of {settings.buckets} buckets already finished"
                )
        party = psi.create_party(
            settings,
            role=role,
            items=data.keys,
            peer_size=hs.peer_size,
            session_id=sid,
            executor=executor,
            join=join_provider(args, settings),
            progress=progress,
            **resume_kwargs,
        )
        closers.append(party.close)

        def decode(body_: bytes) -> psi.PsiMessage:
            return psi.decode_message(body_, settings, sid)

        result = drive(conn, party, decode)
        progress.finish()
        conn.close()
        elapsed = time.monotonic() - t0
        extra: dict[str, Any] = {
            "peer": peer_name,
            "bytes_sent": conn.bytes_sent,
            "bytes_received": conn.bytes_received,
            "frames_sent": conn.frames_sent,
            "frames_received": conn.frames_received,
            "tls": _tls_report(conn, tls),
            "session_id": hs.session_id.hex(),
            "peer_tool": hs.peer_tool_version,
        }
        if isinstance(party, psi.PartitionedParty):
            extra["buckets"] = {
                "done": party.buckets_done,
                "total": party.buckets_total,
                "resumed": resume.resumed if resume is not None else 0,
            }
        if rejected is not None:
            extra["rejected_connections"] = rejected
        code = _finish(
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
        if resume is not None and code == EXIT_OK:
            resume.done()
        return code

    return _guarded(body, progress)


def _tell_peer_input_failed(args: argparse.Namespace, tls: TlsConfig | None) -> None:
    """Best effort, a few seconds at most: connect and send an ABORT frame so a waiting
    listener ends at once instead of at its connect timeout.  No path or value is sent."""
    try:
        sock, _, _ = _connect(args, tls, timeout=min(3.0, args.connect_timeout))
    except Exception:  # noqa: BLE001 - best effort: the input error is what gets reported
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
        args.input = args.file_a
        settings, spec, data = _prepare(args, "listener", progress, label="A ")
        spec_b = _input_spec(args, args.file_b)
        data_b = load_input(spec_b)
        progress.info(_describe_input("B ", spec_b, data_b))
        if data_b.key_columns != data.key_columns:  # pragma: no cover - same options for both
            raise InvalidArgumentError("A and B have different numbers of key columns")
        sid = os.urandom(32)
        t0 = time.monotonic()
        executor = open_executor(args)
        closers.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
        a = psi.create_party(
            settings,
            role="listener",
            items=data.keys,
            peer_size=len(data_b.keys),
            session_id=sid,
            executor=executor,
            join=join_provider(args, settings),
            progress=progress,
        )
        b = psi.create_party(
            settings,
            role="connector",
            items=data_b.keys,
            peer_size=len(data.keys),
            session_id=sid,
            executor=executor,
            join=join_provider(args, settings),
            progress=Progress(quiet=args.quiet, label="B"),
        )
        closers.extend((a.close, b.close))
        to_b = [m.to_bytes() for m in a.start()]
        to_a = [m.to_bytes() for m in b.start()]
        moved = 0
        while not (a.done and b.done):
            if not to_a and not to_b:
                raise LocalProtocolError("the two local parties stalled (no messages in flight)")
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
