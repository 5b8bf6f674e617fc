"""Length-prefixed frames over TCP or mutual TLS 1.3, with bounded sizes and timeouts.

Frame layout (big-endian)::

    offset  size  field
    0       2     magic b"FP"
    2       1     frame kind (HELLO=1, READY=2, MESSAGE=3, DONE=4, ABORT=5)
    3       4     body length L  (L <= the receiver's --max-frame-size)
    7       L     body

One background thread owns the socket and runs a ``select`` loop over a non-blocking socket,
so a party can send while its peer sends (no deadlock with large batches) and a single thread
ever touches the TLS object.  The main thread queues frames with :meth:`Connection.send` and
takes them with :meth:`Connection.recv`; inbound frames are buffered up to a bound, past which
the loop stops reading (TCP back-pressure).  A peer that disconnects, stalls past the idle
timeout, sends bytes that are not frames, a truncated frame or a frame above the limit raises
:class:`~fedcrypto.exceptions.PeerError` in the main thread.
"""

from __future__ import annotations

import collections
import errno
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass

from ...exceptions import InvalidArgumentError, PeerError

__all__ = [
    "FrameKind",
    "Connection",
    "PeerAborted",
    "DEFAULT_MAX_FRAME",
    "server_context",
    "client_context",
    "listen_and_accept",
    "connect",
]

MAGIC = b"FP"
_HEADER = struct.Struct(">2sBI")
#: Default largest frame accepted from a peer: 256 MiB.
DEFAULT_MAX_FRAME = 256 << 20
_CHUNK = 1 << 20
_INBOX_BYTES = 256 << 20
_INBOX_FRAMES = 64
_DRAIN_SECONDS = 3.0


class FrameKind:
    """Frame kind codes (part of the wire format)."""

    HELLO = 1
    READY = 2
    MESSAGE = 3
    DONE = 4
    ABORT = 5
    NAMES = {1: "HELLO", 2: "READY", 3: "MESSAGE", 4: "DONE", 5: "ABORT"}


class PeerAborted(PeerError):
    """The peer sent an ABORT frame; the message carries its (sanitized) reason."""


def _sanitize(text: str, limit: int = 300) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in text)
    return clean[:limit] + ("..." if len(clean) > limit else "")


@dataclass(frozen=True)
class TlsInfo:
    """What was negotiated: TLS version and cipher (``None`` fields without TLS)."""

    version: str | None
    cipher: str | None


class Connection:
    """A framed connection to the peer; see the module docstring.

    ``sock``: a connected (TLS-wrapped or plain) socket, handed over to this object;
    ``max_frame``: the largest frame accepted; ``idle_timeout``: seconds without any inbound
    byte (while waiting for a frame) or without outbound progress before giving up.
    """

    def __init__(self, sock: socket.socket, *, max_frame: int, idle_timeout: float) -> None:
        self._sock = sock
        self._max_frame = max_frame
        self._idle = idle_timeout
        self._tls = isinstance(sock, ssl.SSLSocket)
        if isinstance(sock, ssl.SSLSocket):
            cipher = sock.cipher()
            self.tls_info = TlsInfo(sock.version(), cipher[0] if cipher else None)
        else:
            self.tls_info = TlsInfo(None, None)
        sock.setblocking(False)
        self._lock = threading.Condition()
        self._outq: collections.deque[bytes] = collections.deque()
        self._inbox: collections.deque[tuple[int, bytes]] = collections.deque()
        self._inbox_bytes = 0
        self._error: PeerError | None = None
        self._eof = False
        self._closing = False
        self._clean_boundary = True
        self._last_rx = time.monotonic()
        self.bytes_sent = 0
        self.bytes_received = 0
        self.frames_sent = 0
        self.frames_received = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._thread = threading.Thread(target=self._run, name="psi-io", daemon=True)
        self._thread.start()

    # -- main-thread API -------------------------------------------------------------
    def send(self, kind: int, body: bytes) -> None:
        """Queue one frame for sending (never blocks)."""
        frame = _HEADER.pack(MAGIC, kind, len(body)) + body
        with self._lock:
            if self._closing:
                raise PeerError("connection already closed")
            self._outq.append(frame)
            self.frames_sent += 1
        self._wake()

    def recv(self) -> tuple[int, bytes]:
        """Wait for the next frame; returns ``(kind, body)``.

        Raises :class:`PeerAborted` for an ABORT frame, :class:`PeerError` when the peer
        disconnected, stalled past the idle timeout, or sent bytes that are not valid frames.
        """
        waiting_since = time.monotonic()
        with self._lock:
            while True:
                if self._inbox:
                    kind, body = self._inbox.popleft()
                    self._inbox_bytes -= len(body)
                    self._wake()
                    if kind == FrameKind.ABORT:
                        reason = _sanitize(body.decode("utf-8", "replace")) or "no reason given"
                        raise PeerAborted(f"the peer aborted: {reason}")
                    return kind, body
                if self._error is not None:
                    raise self._error
                if self._eof:
                    raise PeerError("the peer closed the connection")
                idle = time.monotonic() - max(self._last_rx, waiting_since)
                if idle > self._idle:
                    raise PeerError(f"no data from the peer for {self._idle:g} s (idle timeout)")
                self._lock.wait(min(1.0, self._idle - idle + 0.01))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued frame has been handed to the kernel; False on timeout or
        when the connection failed."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._outq or not self._clean_boundary:
                left = deadline - time.monotonic()
                if left <= 0 or self._error is not None or not self._thread.is_alive():
                    return False
                self._lock.wait(min(left, 0.05))
        return True

    def close(self, *, flush_timeout: float = 10.0) -> None:
        """Send what is queued (bounded by ``flush_timeout``), half-close, drain briefly and
        close the socket.  Safe to call more than once."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._wake()
        self._thread.join(flush_timeout + _DRAIN_SECONDS + 1.0)
        if not self._thread.is_alive() and self._outq and self._clean_boundary:
            # The I/O loop stopped on a read-side error: best-effort blocking send of what is
            # queued (typically our ABORT) so the peer learns why we stop.
            try:
                self._sock.setblocking(True)
                self._sock.settimeout(2.0)
                while self._outq:
                    self._sock.sendall(self._outq.popleft())
            except (OSError, ValueError):
                pass
        self._close_socket()

    def abort(self, reason: str) -> None:
        """Send an ABORT frame with a one-line ``reason`` (no secrets), then close."""
        try:
            self.send(FrameKind.ABORT, _sanitize(reason, 500).encode("utf-8"))
        except PeerError:
            pass
        self.close(flush_timeout=3.0)

    # -- I/O thread ------------------------------------------------------------------
    def _wake(self) -> None:
        try:
            self._wake_w.send(b"\0")
        except OSError:
            pass

    def _fail(self, err: PeerError) -> None:
        with self._lock:
            if self._error is None:
                self._error = err
            self._lock.notify_all()

    def _run(self) -> None:
        try:
            self._loop()
        except PeerError as exc:
            self._fail(exc)
        except (OSError, ValueError) as exc:  # pragma: no cover - unexpected socket failure
            self._fail(PeerError(f"network error: {_describe_oserror(exc)}"))
        finally:
            with self._lock:
                self._lock.notify_all()

    def _loop(self) -> None:
        sock = self._sock
        rbuf = bytearray()
        wbuf = b""
        wpos = 0
        last_tx_progress = time.monotonic()
        flush_deadline: float | None = None
        while True:
            with self._lock:
                closing = self._closing
                if wpos >= len(wbuf) and self._outq:
                    wbuf = self._outq.popleft()
                    wpos = 0
                    last_tx_progress = time.monotonic()
                self._clean_boundary = wpos >= len(wbuf)
                if self._clean_boundary and not self._outq:
                    self._lock.notify_all()  # wakes flush()
                reading = (
                    not self._eof
                    and self._error is None
                    and len(self._inbox) < _INBOX_FRAMES
                    and self._inbox_bytes < _INBOX_BYTES
                )
            writing = wpos < len(wbuf)
            if closing and not writing:
                self._half_close_and_drain()
                return
            if closing:
                if flush_deadline is None:
                    flush_deadline = time.monotonic() + 10.0
                elif time.monotonic() > flush_deadline:
                    return
            progressed = False
            if writing:
                try:
                    n = sock.send(memoryview(wbuf)[wpos : wpos + _CHUNK])
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    n = 0
                except (ConnectionError, ssl.SSLError, OSError) as exc:
                    raise PeerError(
                        f"sending to the peer failed: {_describe_oserror(exc)}"
                    ) from None
                if n:
                    wpos += n
                    self.bytes_sent += n
                    last_tx_progress = time.monotonic()
                    progressed = True
                elif time.monotonic() - last_tx_progress > self._idle:
                    raise PeerError(
                        f"the peer has not read our data for {self._idle:g} s (idle timeout)"
                    )
            if reading:
                got = self._read_some(rbuf)
                if got:
                    progressed = True
                    self._parse(rbuf)
                elif got is None:  # EOF
                    with self._lock:
                        if rbuf:
                            self._error = self._error or PeerError(
                                "the peer closed the connection in the middle of a frame "
                                "(truncated frame)"
                            )
                        self._eof = True
                        self._lock.notify_all()
            if progressed:
                continue
            rlist: list[socket.socket] = [self._wake_r]
            if reading:
                rlist.append(sock)
            wlist = [sock] if writing else []
            r, _, _ = select.select(rlist, wlist, [], 1.0)
            if self._wake_r in r:
                try:
                    while self._wake_r.recv(4096):
                        pass
                except BlockingIOError:
                    pass

    def _read_some(self, rbuf: bytearray) -> int | None:
        """Read what is available: number of bytes (0 if none), ``None`` on EOF."""
        total = 0
        while total < 8 * _CHUNK:
            try:
                data = self._sock.recv(_CHUNK)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                break
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return None if not total else total
            except (ConnectionError, ssl.SSLError, OSError) as exc:
                raise PeerError(
                    f"receiving from the peer failed: {_describe_oserror(exc)}"
                ) from None
            if not data:
                return None if not total else total
            rbuf += data
            total += len(data)
            self.bytes_received += len(data)
            self._last_rx = time.monotonic()
        return total

    def _parse(self, rbuf: bytearray) -> None:
        frames: list[tuple[int, bytes]] = []
        pos = 0
        while len(rbuf) - pos >= _HEADER.size:
            magic, kind, length = _HEADER.unpack_from(rbuf, pos)
            if magic != MAGIC or kind not in FrameKind.NAMES:
                raise PeerError("the peer sent data that is not a fedcrypto psi frame (garbage)")
            if length > self._max_frame:
                raise PeerError(
                    f"the peer sent a {FrameKind.NAMES[kind]} frame of {length} bytes, above the "
                    f"limit of {self._max_frame} (--max-frame-size)"
                )
            if len(rbuf) - pos - _HEADER.size < length:
                break
            start = pos + _HEADER.size
            frames.append((kind, bytes(rbuf[start : start + length])))
            pos = start + length
        if pos:
            del rbuf[:pos]
        if frames:
            with self._lock:
                for kind, body in frames:
                    self._inbox.append((kind, body))
                    self._inbox_bytes += len(body)
                    self.frames_received += 1
                self._lock.notify_all()

    def _half_close_and_drain(self) -> None:
        """Send FIN after our data, then read (and discard) until the peer closes too, so the
        peer's last frames are never destroyed by a reset."""
        try:
            if self._tls:
                try:
                    socket.socket.shutdown(self._sock, socket.SHUT_WR)
                except OSError:
                    pass
            else:
                self._sock.shutdown(socket.SHUT_WR)
        except OSError:
            return
        if self._eof:
            return
        deadline = time.monotonic() + _DRAIN_SECONDS
        while time.monotonic() < deadline:
            r, _, _ = select.select([self._sock], [], [], 0.2)
            if not r:
                continue
            try:
                data = socket.socket.recv(self._sock, _CHUNK)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            if not data:
                return

    def _close_socket(self) -> None:
        for s in (self._sock, self._wake_r, self._wake_w):
            try:
                s.close()
            except OSError:
                pass


def _describe_oserror(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError):
        return f"TLS error ({exc.reason or exc.__class__.__name__})"
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the peer"
    if isinstance(exc, BrokenPipeError):
        return "the peer closed the connection"
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or exc.__class__.__name__


def _check_file(option: str, path: str) -> None:
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"{option} {path}: no such file")


def _base_context(purpose: int, cert: str, key: str, ca: str) -> ssl.SSLContext:
    for option, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-ca", ca)):
        _check_file(option, path)
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        ctx.load_cert_chain(cert, key)
    except ssl.SSLError as exc:
        raise InvalidArgumentError(
            f"--tls-cert/--tls-key: cannot load the certificate and key ({exc.reason})"
        ) from None
    try:
        ctx.load_verify_locations(cafile=ca)
    except ssl.SSLError as exc:
        raise InvalidArgumentError(f"--tls-ca {ca}: cannot load ({exc.reason})") from None
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def server_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS 1.3 server context that requires a client certificate signed by ``ca``."""
    return _base_context(ssl.PROTOCOL_TLS_SERVER, cert, key, ca)


def client_context(cert: str, key: str, ca: str) -> ssl.SSLContext:
    """TLS 1.3 client context: presents ``cert``, verifies the server against ``ca`` and its
    host name."""
    ctx = _base_context(ssl.PROTOCOL_TLS_CLIENT, cert, key, ca)
    ctx.check_hostname = True
    return ctx


def _tls_handshake(
    sock: socket.socket, ctx: ssl.SSLContext, *, server: bool, hostname: str | None, timeout: float
) -> socket.socket:
    sock.settimeout(timeout)
    try:
        return ctx.wrap_socket(sock, server_side=server, server_hostname=hostname)
    except ssl.SSLCertVerificationError as exc:
        sock.close()
        raise PeerError(
            f"TLS: the peer's certificate was rejected ({exc.verify_message})"
        ) from None
    except ssl.SSLError as exc:
        sock.close()
        raise PeerError(f"TLS handshake failed ({exc.reason or exc.__class__.__name__})") from None
    except (OSError, TimeoutError) as exc:
        sock.close()
        raise PeerError(f"TLS handshake failed: {_describe_oserror(exc)}") from None


def listen_and_accept(
    host: str,
    port: int,
    *,
    ctx: ssl.SSLContext | None,
    timeout: float,
    port_file: str | None = None,
    on_listening: object = None,
) -> socket.socket:
    """Bind ``host:port``, wait up to ``timeout`` seconds for one peer, complete TLS (when
    ``ctx``) and return the connected socket; the listening socket is closed either way.

    Raises InvalidArgumentError when the address cannot be bound (port in use, bad address)
    and PeerError when no peer connects in time or TLS fails.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgumentError(f"--host {host}: cannot resolve ({exc.strerror})") from None
    family, _, _, _, addr = infos[0]
    lsock = socket.socket(family, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind(addr)
        except OSError as exc:
            why = (
                "address already in use"
                if exc.errno == errno.EADDRINUSE
                else _describe_oserror(exc)
            )
            raise InvalidArgumentError(f"cannot listen on {host}:{port}: {why}") from None
        lsock.listen(1)
        bound = lsock.getsockname()[1]
        if port_file:
            tmp = f"{port_file}.tmp{os.getpid()}"
            with open(tmp, "w", encoding="ascii") as fh:
                fh.write(f"{bound}\n")
            os.replace(tmp, port_file)
        if callable(on_listening):
            on_listening(host, bound)
        lsock.settimeout(timeout)
        try:
            conn, _ = lsock.accept()
        except TimeoutError:
            raise PeerError(f"no peer connected within {timeout:g} s (--connect-timeout)") from None
    finally:
        lsock.close()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is None:
        return conn
    return _tls_handshake(conn, ctx, server=True, hostname=None, timeout=timeout)


def parse_peer(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` for IPv6); raises InvalidArgumentError."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise InvalidArgumentError(f"--peer {text!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_s)


def connect(
    host: str,
    port: int,
    *,
    ctx: ssl.SSLContext | None,
    timeout: float,
    server_name: str | None = None,
) -> socket.socket:
    """Connect to ``host:port``, retrying refused connections until ``timeout`` seconds have
    passed (the listener may start a little later), then complete TLS when ``ctx``.

    Raises PeerError when the peer cannot be reached or TLS fails.
    """
    deadline = time.monotonic() + timeout
    last = "timed out"
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise PeerError(f"could not connect to {host}:{port} within {timeout:g} s ({last})")
        try:
            sock = socket.create_connection((host, port), timeout=min(left, 10.0))
            break
        except socket.gaierror as exc:
            raise PeerError(f"cannot resolve {host} ({exc.strerror})") from None
        except (ConnectionRefusedError, TimeoutError, OSError) as exc:
            last = _describe_oserror(exc)
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx is None:
        return sock
    return _tls_handshake(
        sock,
        ctx,
        server=False,
        hostname=server_name or host,
        timeout=max(1.0, deadline - time.monotonic()),
    )
