"""The network part shared by the issue-13 modes (``--compute sum``, payload transfer): build
the hello (with optional extra top-level fields), then listen or connect and run the
handshake with the tool's own TLS, identity and connection code (:mod:`._run`)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ... import __version__, psi
from ._handshake import HELLO_MAGIC, HandshakeResult, Hello, run_handshake
from ._input import InputData, InputSpec
from ._net import Connection
from ._progress import Progress
from ._run import _connect, _connection, _input_settings, _listen
from ._tls import TlsConfig

__all__ = ["build_hello", "open_session"]


def build_hello(
    role: str,
    settings: dict[str, Any],
    spec: InputSpec,
    data: InputData,
    extra: dict[str, Any] | None = None,
) -> Hello:
    """The hello of :meth:`Hello.build`, plus ``extra`` top-level fields (covered by the
    session id like every hello byte; ignored by :func:`compare_hellos`)."""
    hello = Hello.build(
        role=role,
        tool_version=__version__,
        protocol_version=psi.PROTOCOL_VERSION,
        settings=settings,
        input_settings=_input_settings(spec, data),
        set_size=len(data.keys),
    )
    if not extra:
        return hello
    fields = dict(hello.fields)
    fields.update(extra)
    raw = HELLO_MAGIC + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    return Hello(fields, raw)


def open_session(
    args: argparse.Namespace,
    role: str,
    hello: Hello,
    tls: TlsConfig | None,
    progress: Progress,
    holder: list[Connection],
) -> tuple[Connection, HandshakeResult, str]:
    """Listen (accepting until one peer is admitted) or connect, then run the handshake."""
    if role == "listener":
        conn, hs, peer_name, _ = _listen(args, tls, hello, progress, holder)
    else:
        sock, deadline, peer_name = _connect(args, tls)
        conn = _connection(args, sock)
        holder.append(conn)
        hs = run_handshake(conn, hello, max_peer_size=args.max_peer_size, deadline=deadline)
    progress.info(f"connected to {peer_name}")
    return conn, hs, peer_name
