"""Length-prefixed frames over TCP or TLS 1.3, with bounded sizes, rates and deadlines.

Frame layout (big-endian)::

    offset  size  field
    0       2     magic b"FP"
    2       1     frame kind (HELLO=1, READY=2, MESSAGE=3, DONE=4, ABORT=5)
    3       4     body length L  (L <= the limit of its kind, see :data:`KIND_LIMITS`)
    7       L     body

:class:`FrameDecoder` is the sans-I/O parser (bytes in, frames out), the one door where the
peer's bytes become frames: anything that is not a frame, an unknown kind, or a length above
the limit of its kind raises :class:`~fedcrypto.exceptions.PeerError` before any allocation.

:class:`Connection` owns one socket through one background thread running a ``select`` loop
over a non-blocking socket, so a party can send while its peer sends (no deadlock with large
batches) and a single thread ever touches the TLS object.  The main thread queues frames with
:meth:`Connection.send` and takes them with :meth:`Connection.recv`; inbound frames are
buffered up to a bound, past which the loop stops reading (TCP back-pressure).

Time bounds on the peer (each raises :class:`~fedcrypto.exceptions.PeerError`):

* idle timeout: no inbound byte while waiting for a frame, or no outbound progress;
* minimum progress rate: once the first byte of a frame is in, the whole frame (header
  included) must arrive within ``frame_grace + size / min_rate`` seconds of reading time
  (time spent not reading because our own inbox is full does not count).  A peer trickling
  one byte every few seconds is cut off after ``frame_grace`` seconds;
* a deadline passed to :meth:`Connection.recv` (the handshake deadline).
"""

from __future__ import annotations

import collections
import hashlib
import os
import select
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass

from ..._immutable import Immutable
from ..._sanitize import peer_text
from ...exceptions import InvalidArgumentError, PeerError

__all__ = [
    "FrameKind",
    "FrameDecoder",
    "Connection",
    "Deadline",
    "PeerAborted",
    "TlsInfo",
    "DEFAULT_MAX_FRAME",
    "DEFAULT_MIN_RATE",
    "FRAME_GRACE",
    "KIND_LIMITS",
    "MAX_HELLO_BYTES",
    "MAX_ABORT_BYTES",
    "HEADER_SIZE",
    "connect_tcp",
    "describe_oserror",
    "parse_peer",
]

MAGIC = b"FP"
_HEADER = struct.Struct(">2sBI")
HEADER_SIZE = _HEADER.size
#: Default largest frame accepted from a peer: 256 MiB (the tool passes its own default).
DEFAULT_MAX_FRAME = 256 << 20
#: Largest HELLO body (magic + canonical JSON).
MAX_HELLO_BYTES = 64 << 10
#: Largest ABORT body (a one-line reason).
MAX_ABORT_BYTES = 4 << 10
#: Default minimum progress rate of a frame being received, bytes per second (64 KiB/s).
DEFAULT_MIN_RATE = 64 << 10
#: Seconds every frame gets on top of ``size / min_rate``.
FRAME_GRACE = 5.0
_CHUNK = 1 << 20
_INBOX_BYTES = 256 << 20
_INBOX_FRAMES = 64
_DRAIN_SECONDS = 3.0
_ABORT_REASON_CHARS = 300


class FrameKind:
    """Frame kind codes (part of the wire format)."""

    HELLO = 1
    READY = 2
    MESSAGE = 3
    DONE = 4
    ABORT = 5
    NAMES = {1: "HELLO", 2: "READY", 3: "MESSAGE", 4: "DONE", 5: "ABORT"}


#: Largest body per frame kind; MESSAGE is bounded by the connection's ``max_frame``.
KIND_LIMITS = {
    FrameKind.HELLO: MAX_HELLO_BYTES,
    FrameKind.READY: 64,
    FrameKind.DONE: 0,
    FrameKind.ABORT: MAX_ABORT_BYTES,
}


class PeerAborted(PeerError):
    """The peer sent an ABORT frame; the message carries its (sanitized) reason."""


class FrameDecoder:
    """Sans-I/O frame parser: :meth:`feed` bytes, get complete ``(kind, body)`` frames.

    :param max_frame: largest MESSAGE body accepted; other kinds have the smaller limits of
        :data:`KIND_LIMITS` (never above ``max_frame``).
    :raises PeerError: from :meth:`feed`, for bytes that are not a frame (bad magic, unknown
        kind) or a length above the limit of its kind — checked on the 7-byte header, before
        the body is buffered.  After an error the decoder must not be used again.
    """

    def __init__(self, max_frame: int) -> None:
        if isinstance(max_frame, bool) or not isinstance(max_frame, int) or max_frame < 0:
            raise InvalidArgumentError("max_frame must be a non-negative int")
        self._max = max_frame
        self._buf = bytearray()
        self._need: int | None = None  # total bytes of the frame in progress, once known

    @property
    def buffered(self) -> int:
        """Bytes held of a frame that is not complete yet (0 at a frame boundary)."""
        return len(self._buf)

    @property
    def frame_size(self) -> int | None:
        """Total size (header + body) of the incomplete frame, once its header is in."""
        return self._need

    def limit(self, kind: int) -> int:
        """Largest body accepted for a frame ``kind``."""
        return min(self._max, KIND_LIMITS.get(kind, self._max))

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        """Add received bytes; return the frames they complete, in order."""
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        pos = 0
        buf = self._buf
        while len(buf) - pos >= _HEADER.size:
            magic, kind, length = _HEADER.unpack_from(buf, pos)
            if magic != MAGIC or kind not in FrameKind.NAMES:
                raise PeerError("the peer sent data that is not a fedcrypto psi frame (garbage)")
            limit = self.limit(kind)
            if length > limit:
                raise PeerError(
                    f"the peer sent a {FrameKind.NAMES[kind]} frame of {length} bytes, above "
                    f"the limit of {limit}"
                    + (" (--max-frame-size)" if kind == FrameKind.MESSAGE else "")
                )
            end = pos + _HEADER.size + length
            if len(buf) < end:
                self._need = _HEADER.size + length
                break
            frames.append((kind, bytes(buf[pos + _HEADER.size : end])))
            pos = end
        else:
            self._need = None
        if pos:
            del buf[:pos]
        if not buf:
            self._need = None
        return frames


class Deadline(Immutable):
    """A point in time by which something must be done (``seconds`` from now).

    ``what`` and ``option`` name it in the error: ``"{what} did not complete within
    {seconds} s ({option})"``.
    """

    __slots__ = ("seconds", "what", "option", "_end")
    seconds: float
    what: str
    option: str
    _end: float

    def __init__(self, seconds: float, what: str = "the handshake", option: str = "") -> None:
        self._set(seconds=seconds, what=what, option=option, _end=time.monotonic() + seconds)

    def left(self) -> float:
        """Seconds left (negative once passed)."""
        return self._end - time.monotonic()

    def expired(self) -> bool:
        """Whether the deadline has passed."""
        return self.left() <= 0

    def error(self) -> PeerError:
        """The error to raise once the deadline has passed."""
        suffix = f" ({self.option})" if self.option else ""
        return PeerError(f"{self.what} did not complete within {self.seconds:g} s{suffix}")


@dataclass(frozen=True)
class TlsInfo(Immutable):
    """What was negotiated: TLS version, cipher and the SHA-256 fingerprint of the peer's
    certificate (``None`` fields without TLS)."""

    version: str | None
    cipher: str | None
    peer_cert_sha256: bytes | None = None


def _tls_info(sock: socket.socket) -> TlsInfo:
    if not isinstance(sock, ssl.SSLSocket):
        return TlsInfo(None, None)
    cipher = sock.cipher()
    der = sock.getpeercert(binary_form=True)
    return TlsInfo(
        sock.version(),
        cipher[0] if cipher else None,
        hashlib.sha256(der).digest() if der else None,
    )


class Connection:
    """A framed connection to the peer; see the module docstring.

    :param sock: a connected (TLS-wrapped or plain) socket, handed over to this object.
    :param max_frame: the largest MESSAGE frame body accepted.
    :param idle_timeout: seconds without any inbound byte (while waiting for a frame) or
        without outbound progress before giving up.
    :param min_rate: minimum bytes per second at which a frame must arrive once started.
    :param frame_grace: seconds every frame gets on top of ``size / min_rate``.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        max_frame: int,
        idle_timeout: float,
        min_rate: float = DEFAULT_MIN_RATE,
        frame_grace: float = FRAME_GRACE,
    ) -> None:
        self._sock = sock
        self._decoder = FrameDecoder(max_frame)
        self._idle = idle_timeout
        self._min_rate = float(min_rate)
        self._grace = float(frame_grace)
        self._tls = isinstance(sock, ssl.SSLSocket)
        self.tls_info = _tls_info(sock)
        sock.setblocking(False)
        self._lock = threading.Condition()
        self._outq: collections.deque[bytes] = collections.deque()
        self._inbox: collections.deque[tuple[int, bytes]] = collections.deque()
        self._inbox_bytes = 0
        self._error: PeerError | None = None
        self._eof = False
        self._closing = False
        self._drain = _DRAIN_SECONDS
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

    def recv(self, deadline: Deadline | None = None) -> tuple[int, bytes]:
        """Wait for the next frame; returns ``(kind, body)``.

        :param deadline: give up when it passes (the handshake deadline).
        :raises PeerAborted: for an ABORT frame.
        :raises PeerError: when the peer disconnected, stalled past the idle timeout, sent a
            frame too slowly, sent bytes that are not valid frames, or ``deadline`` passed.
        """
        waiting_since = time.monotonic()
        with self._lock:
            while True:
                if self._inbox:
                    kind, body = self._inbox.popleft()
                    self._inbox_bytes -= len(body)
                    self._wake()
                    if kind == FrameKind.ABORT:
                        reason = peer_text(body, _ABORT_REASON_CHARS) or "no reason given"
                        raise PeerAborted(f"the peer aborted: {reason}")
                    return kind, body
                if self._error is not None:
                    raise self._error
                if self._eof:
                    raise PeerError("the peer closed the connection")
                now = time.monotonic()
                if deadline is not None and deadline.expired():
                    raise deadline.error()
                idle = now - max(self._last_rx, waiting_since)
                if idle > self._idle:
                    raise PeerError(f"no data from the peer for {self._idle:g} s (idle timeout)")
                wait = min(1.0, self._idle - idle + 0.01)
                if deadline is not None:
                    wait = min(wait, max(0.0, deadline.left()) + 0.01)
                self._lock.wait(wait)

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

    def close(self, *, flush_timeout: float = 10.0, drain: float = _DRAIN_SECONDS) -> None:
        """Send what is queued (bounded by ``flush_timeout``), half-close, drain for at most
        ``drain`` seconds (so our last frame is not lost to a reset) and close the socket.
        Safe to call more than once."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            self._drain = drain
        self._wake()
        self._thread.join(flush_timeout + drain + 1.0)
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

    def abort(self, reason: str, *, flush_timeout: float = 3.0) -> None:
        """Send an ABORT frame with a one-line ``reason`` (no secrets), then close."""
        body = peer_text(reason, 500).encode("utf-8")[:MAX_ABORT_BYTES]
        try:
            self.send(FrameKind.ABORT, body)
        except PeerError:
            pass
        self.close(flush_timeout=flush_timeout)

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
            self._fail(PeerError(f"network error: {describe_oserror(exc)}"))
        finally:
            with self._lock:
                self._lock.notify_all()

    def _check_rate(self, now: float, started: float) -> None:
        need = self._decoder.frame_size or _HEADER.size
        allowed = self._grace + need / self._min_rate
        elapsed = now - started
        if elapsed > allowed:
            raise PeerError(
                f"the peer is sending too slowly: {self._decoder.buffered} of {need} bytes of a "
                f"frame in {elapsed:.0f} s (minimum rate {self._min_rate:g} B/s after "
                f"{self._grace:g} s; --min-rate)"
            )

    def _loop(self) -> None:
        sock = self._sock
        wbuf = b""
        wpos = 0
        last_tx_progress = time.monotonic()
        flush_deadline: float | None = None
        frame_started: float | None = None  # reading-time clock of the incomplete frame
        paused_at: float | None = None
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
            now = time.monotonic()
            if not reading and paused_at is None:
                paused_at = now
            elif reading and paused_at is not None:
                if frame_started is not None:
                    frame_started += now - paused_at  # our own back-pressure does not count
                paused_at = None
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
                        f"sending to the peer failed: {describe_oserror(exc)}"
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
                got = self._read_some()
                if got:
                    progressed = True
                    if self._decoder.buffered == 0:
                        frame_started = None
                    elif frame_started is None or got > self._decoder.buffered:
                        frame_started = time.monotonic()  # a new frame began in this read
                elif got is None:  # EOF
                    with self._lock:
                        if self._decoder.buffered:
                            self._error = self._error or PeerError(
                                "the peer closed the connection in the middle of a frame "
                                "(truncated frame)"
                            )
                        self._eof = True
                        self._lock.notify_all()
                if frame_started is not None and not self._eof:
                    self._check_rate(time.monotonic(), frame_started)
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

    def _read_some(self) -> int | None:
        """Read and decode what is available: bytes read (0 if none), ``None`` on EOF."""
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
                    f"receiving from the peer failed: {describe_oserror(exc)}"
                ) from None
            if not data:
                return None if not total else total
            total += len(data)
            self.bytes_received += len(data)
            self._last_rx = time.monotonic()
            frames = self._decoder.feed(data)
            if frames:
                with self._lock:
                    for kind, body in frames:
                        self._inbox.append((kind, body))
                        self._inbox_bytes += len(body)
                        self.frames_received += 1
                    self._lock.notify_all()
        return total

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
        deadline = time.monotonic() + self._drain
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


_TLS_REASONS = {
    "TLSV1_ALERT_UNKNOWN_CA": "the peer does not trust our certificate",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the peer rejected our certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "the peer rejected our certificate",
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the peer requires a certificate",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE": "the peer presented no certificate",
    "WRONG_VERSION_NUMBER": "the peer does not speak TLS",
    "HTTP_REQUEST": "the peer sent an HTTP request, not TLS",
    "UNEXPECTED_EOF_WHILE_READING": "the peer closed the connection",
}


def describe_oserror(exc: BaseException) -> str:
    """A short, sanitized, human description of a socket or TLS error."""
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or exc.__class__.__name__
        friendly = _TLS_REASONS.get(reason)
        text = f"TLS error ({reason})" if friendly is None else f"{friendly} [TLS {reason}]"
        return peer_text(text)
    if isinstance(exc, ConnectionResetError):
        return "connection reset by the peer"
    if isinstance(exc, BrokenPipeError):
        return "the peer closed the connection"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError) and exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return peer_text(str(exc) or exc.__class__.__name__)


def parse_peer(text: str) -> tuple[str, int]:
    """Parse ``HOST:PORT`` (``[v6]:PORT`` for IPv6); raises InvalidArgumentError."""
    host, sep, port_s = text.rpartition(":")
    if not sep or not host or not port_s.isdigit() or not 0 < int(port_s) < 65536:
        raise InvalidArgumentError(f"--peer {peer_text(text)!r}: expected HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_s)


def connect_tcp(host: str, port: int, *, timeout: float) -> socket.socket:
    """Connect to ``host:port``, retrying refused connections until ``timeout`` seconds have
    passed (the listener may start a little later).

    :raises PeerError: when the peer cannot be reached in time or the name does not resolve.
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
            raise PeerError(f"cannot resolve {peer_text(host)} ({exc.strerror})") from None
        except OSError as exc:
            last = describe_oserror(exc)
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock
