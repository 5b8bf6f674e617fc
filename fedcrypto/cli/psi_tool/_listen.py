"""The listener's accept loop: keep accepting until one peer is admitted.

A port scan, a health check, a client without the right certificate or a peer that
trickles bytes must not end (or block) the listener.  Every accepted TCP connection gets its
own *admission* — the TLS handshake and certificate check, or in plaintext mode the first
frame, which must be a well-formed HELLO — in a thread of its own, bounded by the handshake
deadline, at most :data:`MAX_PENDING` at a time.  The first admission that succeeds wins:
the listening socket closes and the others are cancelled.  Failed admissions are *rejected
attempts*: each is reported through ``on_reject`` (the caller logs it, rate-limited) and
counted.  When ``--connect-timeout`` passes without a winner, the listener stops accepting,
lets admissions already in progress finish (each within its own deadline) and then fails.
"""

from __future__ import annotations

import errno
import os
import queue
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from ..._immutable import Immutable
from ..._sanitize import peer_text
from ...exceptions import FedCryptoError, InvalidArgumentError, PeerError
from ._net import Deadline, describe_oserror

__all__ = ["accept_peer", "Admitted", "NoPeerError", "RejectionLog", "MAX_PENDING"]

T = TypeVar("T")

#: Admissions (TLS handshakes / first frames) in progress at once; more are refused at once.
MAX_PENDING = 32
_POLL = 0.05


class NoPeerError(PeerError):
    """No peer was admitted before ``--connect-timeout``."""


@dataclass(frozen=True)
class Admitted(Immutable, Generic[T]):
    """The winning connection: the ``value`` the admission returned, the peer's address,
    the handshake ``deadline`` (started when the TCP connection was accepted) and the number
    of ``rejected`` attempts before it."""

    value: T
    address: str
    deadline: Deadline
    rejected: int


class RejectionLog:
    """Writes one sanitized line per rejected attempt, rate-limited.

    The first ``burst`` lines are written at once; after that at most one line per
    ``interval`` seconds, which also says how many lines were suppressed since the last one.
    :meth:`flush` writes the final suppressed count.  ``write`` receives each line.
    """

    def __init__(
        self, write: Callable[[str], None], *, burst: int = 5, interval: float = 10.0
    ) -> None:
        self._write = write
        self._burst = burst
        self._interval = interval
        self._written = 0
        self._suppressed = 0
        self._last = -float("inf")
        self.count = 0

    def __call__(self, address: str, reason: str) -> None:
        self.count += 1
        now = time.monotonic()
        if self._written >= self._burst and now - self._last < self._interval:
            self._suppressed += 1
            return
        more = f" ({self._suppressed} more rejected attempts not shown)" if self._suppressed else ""
        self._suppressed = 0
        self._written += 1
        self._last = now
        self._write(
            f"rejected connection #{self.count} from {peer_text(address, 80)}: "
            f"{peer_text(reason)}{more}"
        )

    def flush(self) -> None:
        """Report attempts that were suppressed since the last line."""
        if self._suppressed:
            self._write(f"{self._suppressed} more rejected connection attempts not shown")
            self._suppressed = 0


def _bind(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidArgumentError(
            f"--host {peer_text(host)}: cannot resolve ({exc.strerror})"
        ) from None
    family, _, _, _, addr = infos[0]
    lsock = socket.socket(family, socket.SOCK_STREAM)
    try:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(addr)
        lsock.listen(MAX_PENDING)
    except OSError as exc:
        lsock.close()
        why = "address already in use" if exc.errno == errno.EADDRINUSE else describe_oserror(exc)
        raise InvalidArgumentError(f"cannot listen on {peer_text(host)}:{port}: {why}") from None
    lsock.setblocking(False)
    return lsock


def _address(addr: object) -> str:
    if isinstance(addr, tuple) and len(addr) >= 2:
        host, port = addr[0], addr[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(addr)


def accept_peer(
    host: str,
    port: int,
    *,
    admit: Callable[[socket.socket, Deadline, threading.Event], T],
    discard: Callable[[T], None],
    connect_timeout: float,
    handshake_timeout: float,
    on_reject: Callable[[str, str], None],
    port_file: str | None = None,
    on_listening: Callable[[str, int], None] | None = None,
) -> Admitted[T]:
    """Bind ``host:port`` and accept connections until one is admitted.

    :param admit: ``admit(sock, deadline, cancel)`` runs in a thread per connection and
        returns the admitted value, or raises (any :class:`FedCryptoError`, typically
        :class:`PeerError` or a remote protocol error) to reject the attempt.  It owns
        ``sock`` (closes it on failure) and must give up when ``cancel`` is set.
    :param discard: releases a value admitted after another one won.
    :param connect_timeout: seconds to accept new connections.
    :param handshake_timeout: deadline of each admission, from its TCP accept.
    :param on_reject: ``on_reject(address, reason)`` for every rejected attempt (main thread).
    :param port_file: written with the bound port number once listening.
    :param on_listening: ``on_listening(host, port)`` once listening.
    :returns: the :class:`Admitted` winner.
    :raises InvalidArgumentError: the address cannot be bound.
    :raises NoPeerError: nothing admitted in time (the message counts rejected attempts).
    """
    lsock: socket.socket | None = _bind(host, port)
    assert lsock is not None
    bound = lsock.getsockname()[1]
    if port_file:
        tmp = f"{port_file}.tmp{os.getpid()}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{bound}\n")
        os.replace(tmp, port_file)
    if on_listening is not None:
        on_listening(host, bound)
    results: queue.Queue[tuple[bool, str, object, Deadline]] = queue.Queue()
    cancel = threading.Event()
    lock = threading.Lock()
    pending = [0]
    rejected = 0
    last_reason = ""
    stop_accepting = time.monotonic() + connect_timeout

    def run(sock: socket.socket, address: str, deadline: Deadline) -> None:
        outcome: tuple[bool, str, object, Deadline]
        try:
            value: object = admit(sock, deadline, cancel)
            outcome = (True, address, value, deadline)
        except FedCryptoError as exc:
            outcome = (False, address, str(exc), deadline)
        except Exception as exc:  # noqa: BLE001 - a failed attempt must not end the listener
            outcome = (False, address, f"internal error ({type(exc).__name__})", deadline)
        with lock:
            pending[0] -= 1
            late = outcome[0] and cancel.is_set()  # another peer already won
            if not late:
                results.put(outcome)
        if late:
            discard(outcome[2])  # type: ignore[arg-type]

    def reject(address: str, reason: str) -> None:
        nonlocal rejected, last_reason
        rejected += 1
        last_reason = reason
        on_reject(address, reason)

    try:
        while True:
            while True:
                try:
                    ok, address, value, deadline = results.get_nowait()
                except queue.Empty:
                    break
                if ok:
                    with lock:
                        cancel.set()
                        leftovers = []
                        while True:
                            try:
                                leftovers.append(results.get_nowait())
                            except queue.Empty:
                                break
                    for extra in leftovers:
                        if extra[0]:
                            discard(extra[2])  # type: ignore[arg-type]
                    return Admitted(value, address, deadline, rejected)  # type: ignore[arg-type]
                reject(address, str(value))
            now = time.monotonic()
            if lsock is not None and now >= stop_accepting:
                lsock.close()
                lsock = None
            with lock:
                busy = pending[0]
            if lsock is None:
                if busy == 0 and results.empty():
                    detail = (
                        f"; {rejected} connection attempt{'s' if rejected != 1 else ''} "
                        f"rejected (last: {peer_text(last_reason)})"
                        if rejected
                        else ""
                    )
                    raise NoPeerError(
                        f"no peer completed the handshake within {connect_timeout:g} s "
                        f"(--connect-timeout){detail}"
                    )
                time.sleep(_POLL)
                continue
            r, _, _ = select.select([lsock], [], [], min(_POLL, max(0.0, stop_accepting - now)))
            if not r:
                continue
            try:
                conn, addr = lsock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                continue
            address = _address(addr)
            if busy >= MAX_PENDING:
                conn.close()
                reject(address, f"{MAX_PENDING} handshakes already in progress")
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            deadline = Deadline(handshake_timeout, "the handshake", "--handshake-timeout")
            with lock:
                pending[0] += 1
            threading.Thread(
                target=run, args=(conn, address, deadline), name="psi-admit", daemon=True
            ).start()
    finally:
        cancel.set()
        if lsock is not None:
            lsock.close()
