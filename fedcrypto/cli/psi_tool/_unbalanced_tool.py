"""``fedcrypto psi serve`` and ``fedcrypto psi query``: unbalanced PSI with a reusable cache.

``serve --input BIG.csv --cache DIR`` masks the big set once under a long-term OPRF key kept
in ``DIR/oprf.key`` (created with mode 0600; refused when group- or world-readable) and keeps
the cache of 8-byte tags in ``DIR/cache.bin`` (rebuilt only when the key epoch or the input
changes); then it serves many clients at once over (mutual) TLS, one thread per client (at
most ``--max-clients`` at a time).  ``--rotate`` draws a new key and epoch and deletes the
old cache: clients holding it get a stale-epoch error asking them to re-download.

``query --server HOST:PORT --input small.csv --cache DIR`` downloads the server's cache once
per key epoch into ``DIR`` (``--refresh`` forces it), runs the OPRF for its IDs (two requests
in flight at most) and matches locally.  The frames are the tool's (:mod:`._net`), TLS and
identities the tool's (:mod:`._tls`); there is no hello: the first frame is a message.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import re
import socket
import stat
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import psi
from ..._backend import default_threads
from ..._sanitize import peer_text
from ...exceptions import (
    InputFormatError,
    InvalidArgumentError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ...scale import process_executor
from ._errors import classify
from ._input import InputData, load_input
from ._net import Connection, Deadline, FrameKind, PeerAborted
from ._output import check_output_path, write_intersection, write_report
from ._progress import Progress
from ._run import _connect, _connection, _describe_input, _guarded, _input_spec, _tls_config
from ._tls import check_peer_certificate, server_context, tls_handshake

__all__ = ["add_unbalanced_modes", "run_serve", "run_query"]

_KEY_MAGIC = b"FCPSI-OPRF-KEY1\n"
_CACHE_MAGIC = b"FCPSI-CACHE1\n"
_WINDOW = 2


# -- key and cache files (server) ----------------------------------------------------------
def _write_private(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically with mode 0600 from the start."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def load_or_create_key(
    directory: str, *, rotate: bool, info: Callable[[str], None]
) -> tuple[bytes, bytes]:
    """The long-term OPRF key and epoch in ``directory`` (created, or replaced with
    ``rotate``)."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, "oprf.key")
    old_epoch: bytes | None = None
    if os.path.exists(path):
        st = os.stat(path)
        if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InputFormatError(
                f"{path}: the key file is readable by others (mode {stat.S_IMODE(st.st_mode):o});"
                " chmod 600 it"
            )
        with open(path, "rb") as fh:
            raw = fh.read(4096)
        lines = raw[len(_KEY_MAGIC) :].split(b"\n")
        if not raw.startswith(_KEY_MAGIC) or len(lines) < 2:
            raise InputFormatError(f"{path}: not a fedcrypto OPRF key file")
        try:
            key, old_epoch = bytes.fromhex(lines[0].decode()), bytes.fromhex(lines[1].decode())
        except ValueError:
            raise InputFormatError(f"{path}: not a fedcrypto OPRF key file") from None
        if len(key) != 32 or len(old_epoch) != 16:
            raise InputFormatError(f"{path}: not a fedcrypto OPRF key file")
        if not rotate:
            return key, old_epoch
    key, epoch = psi.new_server_key()
    _write_private(path, _KEY_MAGIC + key.hex().encode() + b"\n" + epoch.hex().encode() + b"\n")
    cache = os.path.join(directory, "cache.bin")
    if old_epoch is not None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(cache)
        info(
            f"rotated the OPRF key: epoch {old_epoch.hex()} -> {epoch.hex()}; the old cache is "
            "invalid and deleted, clients must download the new one (their queries now get a "
            "stale-epoch error)"
        )
    else:
        info(f"created a new OPRF key (epoch {epoch.hex()}) in {path} (mode 0600)")
    return key, epoch


def _fingerprint(data: InputData) -> bytes:
    h = hashlib.sha256(b"fedcrypto-psi-cache-input-v1")
    for k in data.keys:
        h.update(len(k).to_bytes(4, "big"))
        h.update(k)
    return h.digest()


def _build_part(items: list[bytes], key: bytes, epoch: bytes) -> np.ndarray:
    return psi.build_cache(items, key, epoch)


def build_or_load_cache(
    directory: str,
    data: InputData,
    key: bytes,
    epoch: bytes,
    *,
    workers: int | None,
    info: Callable[[str], None],
) -> psi.TagCache:
    """The cache for ``epoch`` and this input: loaded from ``DIR/cache.bin`` when it matches,
    else built (over ``workers`` processes) and stored."""
    path = os.path.join(directory, "cache.bin")
    fp = _fingerprint(data)
    if os.path.exists(path):
        with open(path, "rb") as fh:
            raw = fh.read()
        head = len(_CACHE_MAGIC)
        if raw.startswith(_CACHE_MAGIC) and raw[head : head + 32] == fp:
            try:
                cache = psi.TagCache.from_bytes(raw[head + 32 :], max_ids=1 << 40)
            except InvalidArgumentError:
                cache = None
            if cache is not None and cache.epoch == epoch:
                info(f"reusing the cache of {len(cache.tags)} tags (epoch {epoch.hex()})")
                return cache
    t0 = time.monotonic()
    items = list(data.keys)
    nproc = workers or default_threads()
    if nproc > 1 and len(items) >= 20000:
        step = -(-len(items) // (nproc * 4))
        with process_executor(nproc) as pool:  # the one pool policy: spawn, watched parent
            parts = list(
                pool.map(
                    _build_part,
                    [items[i : i + step] for i in range(0, len(items), step)],
                    [key] * -(-len(items) // step),
                    [epoch] * -(-len(items) // step),
                )
            )
        tags = np.sort(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
    else:
        tags = psi.build_cache(items, key, epoch)
    cache = psi.TagCache(epoch, tags)
    _write_private(path, _CACHE_MAGIC + fp + cache.to_bytes())
    info(
        f"masked {len(items)} IDs into a cache of {len(tags) * 8 / 2**20:.1f} MiB in "
        f"{time.monotonic() - t0:.1f} s (epoch {epoch.hex()})"
    )
    return cache


# -- serve ---------------------------------------------------------------------------------
def _serve_client(
    conn: Connection,
    server: psi.OprfServer,
    cache_frames: list[bytes],
    max_query: int,
    log: Callable[[str], None],
    name: str,
) -> None:
    queried = 0
    while True:
        kind, body = conn.recv()
        if kind == FrameKind.DONE:
            conn.send(FrameKind.DONE, b"")
            break
        if kind != FrameKind.MESSAGE:
            raise RemoteProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame")
        msg = psi.decode_unbalanced_message(body)
        if isinstance(msg, psi.CacheRequest):
            for frame in cache_frames:
                conn.send(FrameKind.MESSAGE, frame)
            log(f"{name}: sent the cache")
        elif isinstance(msg, psi.OprfRequest) and not isinstance(msg, psi.OprfResponse):
            queried += msg.count
            if queried > max_query:
                raise RemoteProtocolError(
                    f"the client queried more than --max-query {max_query} IDs"
                )
            conn.send(FrameKind.MESSAGE, server.answer(msg).to_bytes())
        else:
            raise RemoteProtocolError(f"unexpected {type(msg).__name__} from a client")
    log(f"{name}: queried {queried} IDs")


def run_serve(args: argparse.Namespace) -> int:
    """``fedcrypto psi serve``: build or load the cache, then serve clients."""
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        tls = _tls_config(args, server=True)
        spec = _input_spec(args, args.input)
        data = load_input(spec)
        progress.info(_describe_input("", spec, data))
        key, epoch = load_or_create_key(args.cache, rotate=args.rotate, info=progress.info)
        cache = build_or_load_cache(
            args.cache, data, key, epoch, workers=args.workers, info=progress.info
        )
        if args.build_only:
            return 0
        server = psi.OprfServer(key, epoch)
        frames = [m.to_bytes() for m in psi.cache_messages(cache)]
        ctx = server_context(tls) if tls is not None else None
        lsock = socket.create_server((args.host, args.port))
        closers.append(lsock.close)
        port = lsock.getsockname()[1]
        if args.port_file:
            tmp = args.port_file + ".tmp"
            with open(tmp, "w") as fh:
                fh.write(f"{port}\n")
            os.replace(tmp, args.port_file)
        mode = "PLAINTEXT, no TLS" if tls is None else "mutual TLS 1.3"
        progress.info(f"serving {len(cache.tags)} IDs on {args.host}:{port} ({mode})")
        slots = threading.Semaphore(args.max_clients)
        lock = threading.Lock()
        served = [0]
        threads: list[threading.Thread] = []

        def log(text: str) -> None:
            with lock:
                progress.info(text)

        def client(sock: socket.socket, addr: str) -> None:
            conn = None
            try:
                sock.settimeout(None)
                if ctx is not None and tls is not None:
                    deadline = Deadline(
                        args.handshake_timeout, "the TLS handshake", "--handshake-timeout"
                    )
                    ssock = tls_handshake(
                        sock, ctx, server=True, server_hostname=None, deadline=deadline
                    )
                    check_peer_certificate(ssock, tls, peer="the client")
                    sock = ssock
                conn = _connection(args, sock)
                _serve_client(conn, server, frames, args.max_query, log, addr)
                conn.close()
            except (Exception, PeerAborted) as exc:  # noqa: BLE001 - one client's failure
                outcome = classify(exc)
                log(f"{addr}: {peer_text(outcome.message, 300)}")
                if conn is not None and outcome.tell_peer is not None:
                    conn.abort(outcome.tell_peer)
                else:
                    with contextlib.suppress(OSError):
                        sock.close()
            finally:
                slots.release()

        try:
            while args.max_connections is None or served[0] < args.max_connections:
                sock, peer = lsock.accept()
                slots.acquire()
                served[0] += 1
                t = threading.Thread(
                    target=client, args=(sock, f"{peer[0]}:{peer[1]}"), daemon=True
                )
                t.start()
                threads.append(t)
        finally:
            for t in threads:
                t.join(timeout=args.idle_timeout)
        return 0

    return _guarded(body, progress)


# -- query ---------------------------------------------------------------------------------
def _cache_file(directory: str, server: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", server)
    return os.path.join(directory, f"{safe}.cache")


def run_query(args: argparse.Namespace) -> int:
    """``fedcrypto psi query``: download the cache once per epoch, query, match locally."""
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        tls = _tls_config(args, server=False)
        spec = _input_spec(args, args.input)
        data = load_input(spec)
        progress.info(_describe_input("", spec, data))
        check_output_path(args.output)
        if args.report:
            check_output_path(args.report, "--report")
        os.makedirs(args.cache, mode=0o700, exist_ok=True)
        path = _cache_file(args.cache, args.server)
        cache = None
        if os.path.exists(path) and not args.refresh:
            with open(path, "rb") as fh:
                try:
                    cache = psi.TagCache.from_bytes(fh.read(), max_ids=args.max_cache_ids)
                except InvalidArgumentError as exc:
                    raise InputFormatError(f"{path}: {exc} (use --refresh)") from None
        args.peer = args.server
        t0 = time.monotonic()
        sock, _, name = _connect(args, tls)
        conn = _connection(args, sock)
        holder.append(conn)
        downloaded = False
        if cache is None:
            conn.send(FrameKind.MESSAGE, psi.CacheRequest(param=psi.UNBALANCED_PARAM).to_bytes())
            receiver = psi.CacheReceiver(max_ids=args.max_cache_ids)
            while not receiver.done:
                receiver.handle(_recv_message(conn))
            cache = receiver.result()
            _write_cache(path, cache)
            downloaded = True
            progress.info(
                f"downloaded the cache: {len(cache.tags)} tags, "
                f"{len(cache.tags) * 8 / 2**20:.1f} MiB (epoch {cache.epoch.hex()})"
            )
        t1 = time.monotonic()
        client = psi.OprfClient(list(data.keys), cache)
        requests = client.start()
        sent = 0
        try:
            while not client.done:
                while sent < len(requests) and sent - client.answered < _WINDOW:
                    conn.send(FrameKind.MESSAGE, requests[sent].to_bytes())
                    sent += 1
                client.handle(_recv_message(conn))
        except psi.StaleCacheError:
            raise LocalProtocolError(
                f"the server {peer_text(args.server, 80)} rotated its key since this cache was "
                f"downloaded (epoch {cache.epoch.hex()}): run again with --refresh to download "
                "the new cache"
            ) from None
        conn.send(FrameKind.DONE, b"")
        kind, _ = conn.recv()
        if kind != FrameKind.DONE:
            raise RemoteProtocolError("the server sent more answers than were asked")
        conn.close()
        online = time.monotonic() - t1
        indices = client.result()
        lines = write_intersection(args.output, data, indices, args.output_format)
        fp = psi.false_positive_bound(len(data.keys), len(cache.tags))
        progress.info(
            f"intersection: {len(indices)} of {len(data.keys)} IDs -> "
            f"{'stdout' if args.output == '-' else args.output}; online query {online:.2f} s "
            f"(false-positive bound {fp:.1e})"
        )
        if args.report:
            write_report(
                args.report,
                {
                    "status": "ok",
                    "mode": "query",
                    "server": args.server,
                    "peer": name,
                    "local_size": len(data.keys),
                    "server_size": len(cache.tags),
                    "epoch": cache.epoch.hex(),
                    "cache_downloaded": downloaded,
                    "intersection_size": len(indices),
                    "output_lines": lines,
                    "false_positive_bound": fp,
                    "online_s": round(online, 4),
                    "duration_s": round(time.monotonic() - t0, 4),
                    "bytes_sent": conn.bytes_sent,
                    "bytes_received": conn.bytes_received,
                },
            )
        return 0

    return _guarded(body, progress)


def _recv_message(conn: Connection) -> psi.PsiMessage:
    kind, body = conn.recv()
    if kind != FrameKind.MESSAGE:
        raise RemoteProtocolError(f"unexpected {FrameKind.NAMES[kind]} frame from the server")
    return psi.decode_unbalanced_message(body)


def _write_cache(path: str, cache: psi.TagCache) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(cache.to_bytes())
    os.replace(tmp, path)


# -- parser --------------------------------------------------------------------------------
def add_unbalanced_modes(
    modes: Any,
    add_input: Callable[[argparse.ArgumentParser], None],
    add_network: Callable[[argparse.ArgumentParser], None],
    positive: Callable[[str], int],
    port: Callable[[str], int],
    epilog: str,
) -> None:
    """Add the ``serve`` and ``query`` sub-commands."""
    serve = modes.add_parser(
        "serve",
        help="unbalanced PSI: mask a big set once and serve many clients",
        description="Mask the big set once under a long-term OPRF key (kept in DIR) and serve "
        "its cache of 8-byte tags and OPRF queries to many clients over TLS.",
        epilog=epilog,
    )
    serve.add_argument("--input", required=True, metavar="FILE|-", help="the big ID file")
    serve.add_argument("--cache", required=True, metavar="DIR", help="key and cache directory")
    serve.add_argument(
        "--rotate", action="store_true", help="new key and epoch: invalidates the old cache"
    )
    serve.add_argument("--port", type=port, default=0, help="TCP port (0 picks a free one)")
    serve.add_argument("--host", default="127.0.0.1", metavar="ADDR")
    serve.add_argument("--port-file", metavar="FILE", help="write the bound port to FILE")
    serve.add_argument(
        "--max-clients", type=positive, default=32, metavar="N", help="concurrent clients"
    )
    serve.add_argument(
        "--max-query",
        type=positive,
        default=1_000_000,
        metavar="N",
        help="most IDs one client connection may query (default 1,000,000)",
    )
    serve.add_argument(
        "--max-connections",
        type=positive,
        default=None,
        metavar="N",
        help="exit after serving N connections (default: serve until interrupted)",
    )
    serve.add_argument(
        "--build-only", action="store_true", help="build (or check) the cache and exit"
    )
    serve.add_argument("--workers", type=positive, default=None, metavar="N")
    serve.add_argument("--quiet", action="store_true")
    add_input(serve)
    add_network(serve)
    serve.set_defaults(func=run_serve, output_format="ids", batch_size=65536)

    query = modes.add_parser(
        "query",
        help="unbalanced PSI: query a psi serve server",
        description="Download the server's cache once per key epoch, run the OPRF for this "
        "side's IDs and match locally; writes the intersection.",
        epilog=epilog,
    )
    query.add_argument("--server", required=True, metavar="HOST:PORT")
    query.add_argument("--input", required=True, metavar="FILE|-", help="this side's IDs")
    query.add_argument("--cache", required=True, metavar="DIR", help="where caches are kept")
    query.add_argument(
        "--refresh", action="store_true", help="download the cache again (after a rotation)"
    )
    query.add_argument(
        "--max-cache-ids",
        type=positive,
        default=1 << 30,
        metavar="N",
        help="refuse a server cache of more than N IDs (default 2^30)",
    )
    query.add_argument("--tls-server-name", metavar="NAME")
    query.add_argument("--output", required=True, metavar="FILE|-")
    query.add_argument("--output-format", choices=("ids", "rows"), default="ids")
    query.add_argument("--report", metavar="FILE.json")
    query.add_argument("--quiet", action="store_true")
    add_input(query)
    add_network(query)
    query.set_defaults(func=run_query, batch_size=65536)
