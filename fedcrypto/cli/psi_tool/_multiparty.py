"""``fedcrypto psi listen|connect --parties N``: the n-party PSI over a star of TLS links.

The leader (``listen --parties N``, party 0) admits N-1 members (``connect --parties N``),
each over its own mutually authenticated TLS link, and relays the ring messages between
them: every relayed message is blinded with its owner's one-time key (or is an oblivious
table), so the leader cannot read what it forwards (``docs/psi-multiparty.md``).

Handshake, per member link (frames of :mod:`._net`):

1. member -> leader: HELLO (the two-party hello with ``settings`` = the multi-party
   settings plus ``parties``);
2. the leader waits for all N-1 hellos and compares each with its own; any difference is
   named with the party that has it, sent to every member in an ABORT, and every side
   exits 1;
3. leader -> member: HELLO (the leader's), then the ROSTER (one frame:
   ``b"FCMPSI-ROSTER\\0" || u16 your_index || JSON``; JSON lists every party's index, set
   size, certificate fingerprint and hello digest); the session id is SHA-256 over the
   JSON, so all parties agree on the roster or the READY check fails;
4. READY both ways (a hash of the session id).

Then MESSAGE frames carry :class:`~fedcrypto.psi.MpMessage` bytes; a member sends all its
messages to the leader, which checks the sender field against the link and forwards each to
its destination.  A finished member sends DONE; the leader sends DONE to all once every
party is finished, and only then does any party write its output.  Any failure (a member
disconnecting, bad elements, a mismatch) makes the leader ABORT every link with a reason
naming the party: every party exits 1 and writes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import os
import queue
import select
import socket
import threading
import time
import traceback
from collections.abc import Callable, Generator
from concurrent.futures import Executor
from typing import Any

import numpy as np

from ... import __version__, psi
from ..._sanitize import peer_text
from ...exceptions import (
    FedCryptoError,
    InvalidArgumentError,
    PeerError,
    RemoteProtocolError,
)
from ...scale import process_executor
from . import _run
from ._errors import EXIT_OK, classify
from ._handshake import Hello, check_nesting, compare_hellos
from ._input import InputSpec
from ._listen import NoPeerError, RejectionLog, _address, _bind
from ._net import Connection, Deadline, FrameKind, PeerAborted, connect_tcp, parse_peer
from ._output import write_intersection, write_report
from ._progress import Progress
from ._tls import (
    PinMismatchError,
    TlsConfig,
    _load_anchor,
    certificate_fingerprint,
    check_peer_certificate,
    client_context,
    format_fingerprint,
    server_context,
    tls_handshake,
)

__all__ = ["run_listen", "run_connect", "add_multiparty_options", "ROSTER_MAGIC"]

ROSTER_MAGIC = b"FCMPSI-ROSTER\x00"
MEMBER_CERT_DEST = "tls_member_cert"
_QUEUE_FRAMES = 64


# -- options ----------------------------------------------------------------------------
def _mp_settings(args: argparse.Namespace, leader: bool) -> psi.MultipartySettings:
    """``--reveal`` in a multi-party run: ``both`` -> every party learns, ``count`` -> every
    party learns the size, the leader's ``me`` / a member's ``peer`` -> only the leader."""
    mine = {"both": "all", "count": "count", "me" if leader else "peer": "receiver"}
    reveal = mine.get(args.reveal)
    if reveal is None:
        raise InvalidArgumentError(
            f"--reveal {args.reveal} on {'the leader' if leader else 'a member'}: a multi-party "
            "run reveals to every party (both), only the size (count), or only to the leader "
            "(me on the leader, peer on the members)"
        )
    settings = psi.MultipartySettings(
        protocol=args.protocol,
        group=args.group,
        reveal=reveal,
        receiver=0,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    settings.validate(args.parties)
    return settings


def _hello(
    args: argparse.Namespace,
    settings: psi.MultipartySettings,
    role: str,
    size: int,
    spec: InputSpec,
    data: Any,
) -> Hello:
    fields = dict(settings.as_dict())
    fields["parties"] = args.parties
    return Hello.build(
        role=role,
        tool_version=__version__,
        protocol_version=psi.MP_PROTOCOL_VERSION,
        settings=fields,
        input_settings=_run._input_settings(spec, data),
        set_size=size,
    )


def _tls(args: argparse.Namespace, server: bool) -> tuple[TlsConfig | None, set[bytes] | None]:
    """This side's TLS config and, on a pinning leader, the member fingerprints it accepts."""
    members = list(getattr(args, MEMBER_CERT_DEST, None) or [])
    if not server or not members:
        return _run._tls_config(args, server), None
    if args.tls_peer_cert or args.tls_peer_fingerprint or args.tls_ca:
        raise InvalidArgumentError(
            "--tls-member-cert replaces --tls-peer-cert/--tls-ca on the leader"
        )
    if args.insecure_no_tls:
        raise InvalidArgumentError("--insecure-no-tls cannot be combined with --tls-member-cert")
    if len(members) != args.parties - 1:
        raise InvalidArgumentError(
            f"--parties {args.parties} needs {args.parties - 1} --tls-member-cert files, "
            f"got {len(members)}"
        )
    args.tls_peer_cert = members[0]
    cfg = _run._tls_config(args, server)
    pins = {certificate_fingerprint(m, "--tls-member-cert") for m in members}
    if len(pins) != len(members):
        raise InvalidArgumentError("two --tls-member-cert files hold the same certificate")
    return cfg, pins


# -- the leader ---------------------------------------------------------------------------
class _Member:
    """One admitted member: its link, index, address and certificate fingerprint."""

    def __init__(self, index: int, conn: Connection, address: str, fp: bytes | None) -> None:
        self.index = index
        self.conn = conn
        self.address = address
        self.fp = fp
        self.size = 0
        self.hello: Hello | None = None
        self.done = False

    @property
    def name(self) -> str:
        fp = f", SHA-256 {format_fingerprint(self.fp)[:23]}..." if self.fp else ""
        return f"party {self.index} ({self.address}{fp})"


def _admit_all(
    args: argparse.Namespace,
    tls: TlsConfig | None,
    pins: set[bytes] | None,
    progress: Progress,
    members: list[_Member],
) -> None:
    ctx = server_context(tls) if tls is not None else None
    if ctx is not None and pins is not None:
        for path in getattr(args, MEMBER_CERT_DEST)[1:]:
            _load_anchor(ctx, "--tls-member-cert", path)

    def admit(sock: socket.socket, deadline: Deadline, cancel: threading.Event) -> Any:
        if ctx is None:
            return sock, None
        assert tls is not None
        ssock = tls_handshake(
            sock, ctx, server=True, server_hostname=None, deadline=deadline, cancel=cancel
        )
        try:
            fp = check_peer_certificate(ssock, tls, peer="the member") if pins is None else None
            if pins is not None:
                der = ssock.getpeercert(binary_form=True) or b""
                fp = hashlib.sha256(der).digest()
                if fp not in pins:
                    raise PeerError(
                        f"its certificate (SHA-256 {format_fingerprint(fp)}) is not one of the "
                        "--tls-member-cert files"
                    )
        except PeerError:
            ssock.close()
            raise
        return ssock, fp

    def discard(value: Any) -> None:
        value[0].close()

    def listening(host: str, bound: int) -> None:
        if not members:
            progress.info(
                f"listening on {host}:{bound} for {args.parties - 1} members "
                f"({'mutual TLS 1.3' if tls else 'PLAINTEXT, no TLS'})"
            )

    log = RejectionLog(progress.warn)
    admissions = _accept_members(args, admit, discard, listening, log)
    for sock, address, fp in admissions:
        if fp is not None and any(m.fp == fp for m in members):
            Connection(sock, max_frame=1 << 16, idle_timeout=3.0).abort(
                "another member already joined with this certificate (one identity, one party)"
            )
            progress.warn(f"refused {address}: its certificate is already used by a member")
            continue
        m = _Member(len(members) + 1, _run._connection(args, sock), address, fp)
        members.append(m)
        progress.info(f"{m.name} joined ({len(members)} of {args.parties - 1})")
        if len(members) == args.parties - 1:
            break
    admissions.close()  # stop listening, cancel and discard late admissions
    log.flush()


def _accept_members(
    args: argparse.Namespace,
    admit: Callable[[socket.socket, Deadline, threading.Event], Any],
    discard: Callable[[Any], None],
    listening: Callable[[str, int], None],
    log: RejectionLog,
) -> Generator[tuple[Any, str, bytes | None], None, None]:
    """Bind once and yield ``(socket, address, fingerprint)`` for each admitted connection
    (TLS and certificate checks run in a thread per attempt) until the caller stops or
    ``--connect-timeout`` passes (then :class:`NoPeerError`)."""
    lsock = _bind(args.host, args.port)
    bound = lsock.getsockname()[1]
    if args.port_file:
        tmp = f"{args.port_file}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{bound}\n")
        os.replace(tmp, args.port_file)
    listening(args.host, bound)
    results: queue.Queue[tuple[bool, str, Any]] = queue.Queue()
    cancel = threading.Event()
    stop_at = time.monotonic() + args.connect_timeout
    joined = 0

    def run(sock: socket.socket, address: str, deadline: Deadline) -> None:
        try:
            value = admit(sock, deadline, cancel)
        except Exception as exc:  # noqa: BLE001 - a failed attempt must not end the leader
            results.put(
                (
                    False,
                    address,
                    str(exc)
                    if isinstance(exc, FedCryptoError)
                    else f"internal error ({type(exc).__name__})",
                )
            )
            return
        if cancel.is_set():
            discard(value)
        else:
            results.put((True, address, value))

    try:
        while True:
            while not results.empty():
                ok, address, value = results.get_nowait()
                if ok:
                    joined += 1
                    yield value[0], address, value[1]
                else:
                    log(address, value)
            if time.monotonic() >= stop_at:
                raise NoPeerError(
                    f"only {joined} of {args.parties - 1} members joined within "
                    f"{args.connect_timeout:g} s (--connect-timeout)"
                )
            r, _, _ = select.select([lsock], [], [], 0.05)
            if not r:
                continue
            try:
                sock, addr = lsock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = Deadline(args.handshake_timeout, "the handshake", "--handshake-timeout")
            threading.Thread(
                target=run, args=(sock, _address(addr), deadline), name="mpsi-admit", daemon=True
            ).start()
    finally:
        cancel.set()
        lsock.close()
        while not results.empty():
            ok, _, value = results.get_nowait()
            if ok:
                discard(value)


def _abort_all(members: list[_Member], reason: str) -> None:
    for m in members:
        with contextlib.suppress(Exception):
            m.conn.abort(reason)


def _leader_handshake(
    args: argparse.Namespace, ours: Hello, members: list[_Member], tls: TlsConfig | None
) -> tuple[bytes, list[int]]:
    deadline = Deadline(args.handshake_timeout, "the handshake", "--handshake-timeout")
    problems: list[str] = []
    for m in members:
        kind, body = m.conn.recv(deadline)
        if kind != FrameKind.HELLO:
            raise RemoteProtocolError(f"{m.name} sent a {FrameKind.NAMES[kind]} frame, not HELLO")
        try:
            m.hello = Hello.parse(body)
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(f"{m.name}: {exc}") from None
        for p in compare_hellos(ours, m.hello):
            problems.append(f"{m.name}: {p}")
        m.size = int(m.hello.fields["set_size"])
        if args.max_peer_size is not None and m.size > args.max_peer_size:
            problems.append(
                f"{m.name} announced {m.size} IDs, more than --max-peer-size {args.max_peer_size}"
            )
        if m.size > psi.MAX_SET_SIZE:
            problems.append(f"{m.name} announced {m.size} IDs (limit {psi.MAX_SET_SIZE})")
    if problems:
        text = "settings differ between the parties: " + "; ".join(problems)
        _abort_all(members, text)
        raise RemoteProtocolError(text)
    sizes = [int(ours.fields["set_size"])] + [m.size for m in members]
    roster = {
        "parties": args.parties,
        "members": [
            {
                "index": 0,
                "set_size": sizes[0],
                "certificate_sha256": format_fingerprint(tls.local_fingerprint) if tls else None,
                "hello_sha256": hashlib.sha256(ours.raw).hexdigest(),
            }
        ]
        + [
            {
                "index": m.index,
                "set_size": m.size,
                "certificate_sha256": format_fingerprint(m.fp) if m.fp else None,
                "hello_sha256": hashlib.sha256(m.hello.raw).hexdigest() if m.hello else None,
            }
            for m in members
        ],
    }
    common = json.dumps(roster, sort_keys=True, separators=(",", ":")).encode()
    sid = _session_id(common)
    for m in members:
        m.conn.send(FrameKind.HELLO, ours.raw)
        m.conn.send(FrameKind.HELLO, ROSTER_MAGIC + m.index.to_bytes(2, "big") + common)
    ready = _ready(sid)
    for m in members:
        kind, body = m.conn.recv(deadline)
        if kind != FrameKind.READY or not hmac.compare_digest(body, ready):
            text = f"{m.name} does not agree on the roster (handshake transcripts differ)"
            _abort_all(members, text)
            raise RemoteProtocolError(text)
    for m in members:
        m.conn.send(FrameKind.READY, ready)
    return sid, sizes


def _session_id(common: bytes) -> bytes:
    return hashlib.sha256(b"fedcrypto-mpsi/session/v1" + common).digest()


def _ready(sid: bytes) -> bytes:
    return hashlib.sha256(b"fedcrypto-mpsi/ready/v1" + sid).digest()


def _reader(m: _Member, out: queue.Queue[tuple[int, int, Any]]) -> None:
    """Move every frame from a member's link into the leader's queue (stops after DONE)."""
    while True:
        try:
            kind, body = m.conn.recv()
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            out.put((m.index, -1, exc))
            return
        out.put((m.index, kind, body))
        if kind == FrameKind.DONE:
            return


def _lead(
    args: argparse.Namespace,
    settings: psi.MultipartySettings,
    party: psi.MultipartyParty,
    members: list[_Member],
    sid: bytes,
    progress: Progress,
) -> dict[str, Any]:
    n = args.parties
    by_index = {m.index: m for m in members}
    relayed = {m.index: 0 for m in members}
    inbox: queue.Queue[tuple[int, int, Any]] = queue.Queue(_QUEUE_FRAMES)
    for m in members:
        threading.Thread(target=_reader, args=(m, inbox), name="mpsi-read", daemon=True).start()

    def route(msgs: list[psi.MpMessage]) -> None:
        for out in msgs:
            by_index[out.dest].conn.send(FrameKind.MESSAGE, out.to_bytes())

    route(party.start())
    while not (party.done and all(m.done for m in members)):
        i, kind, body = inbox.get()
        m = by_index[i]
        if kind == -1:
            exc = body
            if isinstance(exc, PeerAborted):
                raise PeerError(f"{m.name} aborted: {str(exc).removeprefix('the peer aborted: ')}")
            raise PeerError(f"{m.name} is gone: {exc}")
        if kind == FrameKind.DONE:
            m.done = True
            progress.info(f"{m.name} finished its part")
            continue
        if kind != FrameKind.MESSAGE:
            raise RemoteProtocolError(f"{m.name} sent an unexpected {FrameKind.NAMES[kind]} frame")
        try:
            msg = psi.decode_mp_message(body, settings, n, sid)
        except FedCryptoError as exc:
            raise RemoteProtocolError(f"{m.name} sent a malformed message: {exc}") from None
        if msg.sender != i:
            raise RemoteProtocolError(f"{m.name} sent a message in the name of party {msg.sender}")
        if msg.dest == 0:
            try:
                route(party.handle(msg))
            except RemoteProtocolError as exc:
                raise type(exc)(f"data relayed from {m.name}: {exc}") from None
        else:
            by_index[msg.dest].conn.send(FrameKind.MESSAGE, body)
            relayed[i] += len(body)
    for m in members:
        m.conn.send(FrameKind.DONE, b"")
    return {"relayed_bytes_from": {str(k): v for k, v in relayed.items()}}


# -- a member -------------------------------------------------------------------------------
def _parse_roster(
    body: bytes, ours: Hello, args: argparse.Namespace
) -> tuple[int, bytes, list[int], list[Any]]:
    if not body.startswith(ROSTER_MAGIC) or len(body) < len(ROSTER_MAGIC) + 2:
        raise RemoteProtocolError("the leader's second frame is not a roster")
    me = int.from_bytes(body[len(ROSTER_MAGIC) : len(ROSTER_MAGIC) + 2], "big")
    common = body[len(ROSTER_MAGIC) + 2 :]
    check_nesting(common)
    try:
        roster = json.loads(common.decode("utf-8"))
        entries = roster["members"]
        sizes = [int(e["set_size"]) for e in entries]
        ok = (
            roster["parties"] == args.parties
            and len(entries) == args.parties
            and [e["index"] for e in entries] == list(range(args.parties))
            and 1 <= me < args.parties
        )
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, RecursionError):
        raise RemoteProtocolError("the leader's roster is malformed") from None
    if not ok or not all(0 <= s <= psi.MAX_SET_SIZE for s in sizes):
        raise RemoteProtocolError("the leader's roster does not match --parties or is malformed")
    if entries[me]["hello_sha256"] != hashlib.sha256(ours.raw).hexdigest():
        raise RemoteProtocolError("the leader's roster does not list this side's hello")
    return me, _session_id(common), sizes, entries


def _member(
    args: argparse.Namespace,
    settings: psi.MultipartySettings,
    conn: Connection,
    ours: Hello,
    data: Any,
    progress: Progress,
    executor: Executor,
) -> tuple[psi.PsiResult, int, list[int], list[Any]]:
    deadline = Deadline(args.handshake_timeout, "the handshake", "--handshake-timeout")
    conn.send(FrameKind.HELLO, ours.raw)
    kind, body = conn.recv(deadline)
    if kind != FrameKind.HELLO:
        raise RemoteProtocolError(f"expected the leader's HELLO, got {FrameKind.NAMES[kind]}")
    leader = Hello.parse(body)
    problems = compare_hellos(ours, leader)
    if problems:
        raise RemoteProtocolError("settings differ from the leader's: " + "; ".join(problems))
    kind, body = conn.recv(deadline)
    me, sid, sizes, entries = _parse_roster(body, ours, args)
    conn.send(FrameKind.READY, _ready(sid))
    kind, body = conn.recv(deadline)
    if kind != FrameKind.READY or not hmac.compare_digest(body, _ready(sid)):
        raise RemoteProtocolError("the leader did not confirm the roster")
    for e in entries:
        fp = e.get("certificate_sha256")
        progress.info(
            f"party {e['index']}{' (this side)' if e['index'] == me else ''}: "
            f"{e['set_size']} IDs"
            + (f", certificate SHA-256 {peer_text(str(fp), 95)}" if fp else "")
        )
    party = psi.MultipartyParty(
        settings,
        index=me,
        items=data.keys,
        sizes=sizes,
        session_id=sid,
        progress=progress,
        executor=executor,
    )
    try:
        for msg in party.start():
            conn.send(FrameKind.MESSAGE, msg.to_bytes())
        while not party.done:
            kind, body = conn.recv()
            if kind != FrameKind.MESSAGE:
                raise RemoteProtocolError(
                    f"unexpected {FrameKind.NAMES[kind]} frame from the leader"
                )
            msg = psi.decode_mp_message(body, settings, args.parties, sid)
            for out in party.handle(msg):
                conn.send(FrameKind.MESSAGE, out.to_bytes())
        conn.send(FrameKind.DONE, b"")
        progress.info("this side finished its part; waiting for the other parties")
        kind, _ = conn.recv()
        if kind != FrameKind.DONE:
            raise RemoteProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame at the end")
        return party.result(), me, sizes, entries
    finally:
        party.close()


# -- shared driver --------------------------------------------------------------------------
def _run_mp(args: argparse.Namespace, leader: bool) -> int:
    progress = Progress(quiet=args.quiet)
    members: list[_Member] = []
    links: list[Connection] = []
    executors: list[Executor] = []
    try:
        if not 3 <= args.parties <= psi.MAX_PARTIES:
            raise InvalidArgumentError(
                f"--parties must be between 3 and {psi.MAX_PARTIES} (two parties: omit --parties)"
            )
        tls, pins = _tls(args, server=leader)
        if tls is not None:
            progress.info(
                f"this side's certificate: SHA-256 {format_fingerprint(tls.local_fingerprint)}"
            )
        settings = _mp_settings(args, leader)
        _, spec, data = _run._prepare(
            _pair_view(args), "listener" if leader else "connector", progress
        )
        executor = process_executor(args.workers)  # this side's masking, local processes
        executors.append(executor)
        ours = _hello(
            args, settings, "listener" if leader else "connector", len(data.keys), spec, data
        )
        t0 = time.monotonic()
        if leader:
            _admit_all(args, tls, pins, progress, members)
            sid, sizes = _leader_handshake(args, ours, members, tls)
            progress.info(
                f"all {args.parties} parties agree; sizes: "
                + ", ".join(f"party {i}: {s}" for i, s in enumerate(sizes))
            )
            progress.reset_clock()
            party = psi.MultipartyParty(
                settings,
                index=0,
                items=data.keys,
                sizes=sizes,
                session_id=sid,
                progress=progress,
                executor=executor,
            )
            try:
                extra = _lead(args, settings, party, members, sid, progress)
                result = party.result()
            finally:
                party.close()
            me = 0
            extra["members"] = [
                {
                    "index": m.index,
                    "address": m.address,
                    "set_size": m.size,
                    "certificate_sha256": format_fingerprint(m.fp) if m.fp else None,
                }
                for m in members
            ]
        else:
            host, port = parse_peer(args.peer)
            sock = connect_tcp(host, port, timeout=args.connect_timeout)
            if tls is not None:
                name = (args.tls_server_name or host) if tls.mode == "ca" else None
                sock = tls_handshake(
                    sock,
                    client_context(tls),
                    server=False,
                    server_hostname=name,
                    deadline=Deadline(
                        args.handshake_timeout, "the handshake", "--handshake-timeout"
                    ),
                )
                try:
                    check_peer_certificate(sock, tls, peer="the leader")
                except PinMismatchError:
                    sock.close()
                    raise
            conn = _run._connection(args, sock)
            links.append(conn)
            result, me, sizes, entries = _member(
                args, settings, conn, ours, data, progress, executor
            )
            extra = {
                "leader": f"{host}:{port}",
                "roster": [
                    {
                        "index": i,
                        "set_size": sizes[i],
                        "certificate_sha256": peer_text(str(e.get("certificate_sha256")), 100),
                    }
                    for i, e in enumerate(entries)
                ],
            }
        progress.finish()
        return _write(
            args, settings, data, spec, result, me, sizes, time.monotonic() - t0, extra, progress
        )
    except (Exception, KeyboardInterrupt) as exc:
        outcome = classify(exc)
        progress.finish()
        reason = outcome.tell_peer
        if leader and isinstance(exc, (PeerError, RemoteProtocolError)):
            reason = f"the leader stopped: {exc}"
        elif leader and reason is not None:
            reason = f"the leader {reason.removeprefix('it ')}"
        for m in members:
            with contextlib.suppress(Exception):
                if reason is not None:
                    m.conn.abort(reason)
                else:
                    m.conn.close(flush_timeout=1.0)
        for c in links:
            with contextlib.suppress(Exception):
                if outcome.tell_peer is not None:
                    c.abort(outcome.tell_peer)
                else:
                    c.close(flush_timeout=1.0)
        _run._error_line(outcome.message)
        if os.environ.get("FEDCRYPTO_DEBUG") == "1":
            traceback.print_exc()
        return outcome.code
    finally:
        for m in members:
            with contextlib.suppress(Exception):
                m.conn.close(flush_timeout=2.0)
        for c in links:
            with contextlib.suppress(Exception):
                c.close(flush_timeout=2.0)
        for ex in executors:
            ex.shutdown(wait=False, cancel_futures=True)


def _pair_view(args: argparse.Namespace) -> argparse.Namespace:
    """The options as the two-party input checks expect them (settings come from --reveal
    both so ``_prepare`` validates a pair configuration that always exists)."""
    view = argparse.Namespace(**vars(args))
    view.reveal = "both"
    view.protocol = args.protocol if args.protocol in ("ecdh", "dh") else "ecdh"
    return view


def _write(
    args: argparse.Namespace,
    settings: psi.MultipartySettings,
    data: Any,
    spec: InputSpec,
    result: psi.PsiResult,
    me: int,
    sizes: list[int],
    elapsed: float,
    extra: dict[str, Any],
    progress: Progress,
) -> int:
    learned = result.indices is not None
    lines = None
    if result.indices is not None:
        lines = write_intersection(
            args.output, data, np.asarray(result.indices, dtype=np.int64), args.output_format
        )
    count = result.count
    if not args.quiet:
        what = (
            f"intersection of all {args.parties} sets: {count} of {len(data.keys)} IDs"
            if count is not None
            else "this side does not learn the intersection (only the leader does)"
        )
        where = ""
        if learned:
            where = " -> " + ("stdout" if args.output == "-" else args.output)
        elif args.output:
            where = " (no output written)"
        progress.info(
            f"{what}{where}; {settings.protocol}/{settings.resolved_group()}, {elapsed:.2f} s"
        )
    if args.report:
        report = {
            "status": "ok",
            "mode": "multiparty",
            "party_index": me,
            "parties": args.parties,
            "protocol": settings.protocol,
            "group": settings.resolved_group(),
            "reveal": settings.reveal,
            "batch_size": settings.batch_size,
            "set_sizes": sizes,
            "local_size": len(data.keys),
            "intersection_size": count,
            "learned_intersection": learned,
            "output": args.output if learned else None,
            "output_lines": lines,
            "duration_s": round(elapsed, 4),
            "stage_seconds": {k: round(v, 4) for k, v in progress.phase_times.items()},
            "versions": {"fedcrypto": __version__, "mpsi_protocol": psi.MP_PROTOCOL_VERSION},
        }
        report.update(extra)
        write_report(args.report, report)
    return EXIT_OK


def run_listen(args: argparse.Namespace) -> int:
    """``fedcrypto psi listen``: the n-party leader with ``--parties N``, else two-party."""
    if getattr(args, "parties", None) is None:
        return _run.run_listen(args)
    return _run_mp(args, leader=True)


def run_connect(args: argparse.Namespace) -> int:
    """``fedcrypto psi connect``: an n-party member with ``--parties N``, else two-party."""
    if getattr(args, "parties", None) is None:
        return _run.run_connect(args)
    return _run_mp(args, leader=False)


def add_multiparty_options(
    listen: argparse.ArgumentParser, connect: argparse.ArgumentParser
) -> None:
    """Add ``--parties`` to ``listen`` and ``connect`` and ``--tls-member-cert`` to
    ``listen``, and route both sub-commands through this module."""
    groups = {}
    for p, func in ((listen, run_listen), (connect, run_connect)):
        g = groups[id(p)] = p.add_argument_group("multi-party (docs/psi-multiparty.md)")
        g.add_argument(
            "--parties",
            type=int,
            default=None,
            metavar="N",
            help="run an N-party PSI (3 or more): the leader listens for N-1 members",
        )
        p.set_defaults(func=func)
    groups[id(listen)].add_argument(
        "--tls-member-cert",
        dest=MEMBER_CERT_DEST,
        action="append",
        default=None,
        metavar="PEM",
        help="leader with --parties: pin one member's certificate (repeat for each member)",
    )
