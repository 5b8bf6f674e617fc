"""The versioned hello exchanged before the PSI starts.

Both sides send a HELLO frame at once::

    b"FCPSI-HELLO\\0" || UTF-8 JSON (sorted keys, no spaces), at most 64 KiB

with fields ``hello_version`` (this format, 1), ``tool`` and ``tool_version``,
``protocol_version`` (:data:`fedcrypto.psi.PROTOCOL_VERSION`), ``role`` (listener/connector),
``settings`` (``PsiSettings.as_dict()``: protocol, group, canonical reveal, batch size),
``input`` (normalization, number of key columns, duplicates policy), ``set_size`` and a fresh
32-byte random ``nonce`` (hex).  Each side checks the peer's hello on its own; any
difference aborts the run naming the setting and both values, on both sides (a side that
finds a problem the other cannot see sends an ABORT frame with the reason).  Then both send
READY carrying ``SHA-256("fedcrypto-psi/ready/v1" || session_id)``, where::

    session_id = SHA-256("fedcrypto-psi/session/v1" || u32 len || listener hello
                                                   || u32 len || connector hello)

so both confirm the same transcript; the session id feeds the protocol's domain separation.

:meth:`Hello.parse` is the door for the peer's hello: it checks the size (at most
:data:`MAX_HELLO_BYTES`) and the nesting depth (at most :data:`MAX_HELLO_DEPTH`, what the
format uses: the object, its ``settings``/``input`` objects, the ``normalize`` list) *before*
the JSON parser runs, so a hostile hello costs neither recursion nor memory, and raises
:class:`~fedcrypto.exceptions.RemoteProtocolError` for anything malformed.  Every string of
the peer's hello that reaches a message goes through
:func:`fedcrypto._sanitize.peer_text`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..._immutable import Immutable
from ..._sanitize import peer_text
from ...exceptions import RemoteProtocolError
from ._net import MAX_HELLO_BYTES, Connection, Deadline, FrameKind

__all__ = [
    "HELLO_VERSION",
    "HELLO_MAGIC",
    "Hello",
    "HandshakeResult",
    "MAX_HELLO_DEPTH",
    "run_handshake",
    "exchange_hellos",
    "confirm_handshake",
    "check_nesting",
    "compare_hellos",
    "session_id_of",
    "reveal_to_user",
    "reveal_to_canonical",
]

HELLO_VERSION = 1
HELLO_MAGIC = b"FCPSI-HELLO\x00"
#: Deepest nesting of JSON arrays/objects in a hello (object > settings/input > normalize).
MAX_HELLO_DEPTH = 3
_SPECIAL = re.compile(rb'[\\"\[\]{}]')
_MAX_SET = 1 << 40
TOOL = "fedcrypto-psi"

_OPTION_NAMES = {
    "psi_version": "PSI protocol version",
    "protocol": "--protocol",
    "group": "--group",
    "reveal": "--reveal",
    "batch_size": "--batch-size",
    "buckets": "--buckets",
    "resume": "--resume (checkpointed session)",
    "normalize": "--normalize",
    "key_columns": "number of --id-column columns",
    "duplicates": "--duplicates",
    "compute": "--compute",
    "threshold": "--threshold",
}


def reveal_to_canonical(user: str, role: str) -> str:
    """Map ``--reveal me|peer|both|count`` typed on ``role``'s machine to the canonical value
    (who learns: listener | connector | both | count)."""
    other = "connector" if role == "listener" else "listener"
    return {"me": role, "peer": other}.get(user, user)


def reveal_to_user(canonical: str, role: str) -> str:
    """Inverse of :func:`reveal_to_canonical` for messages shown on ``role``'s machine."""
    if canonical == role:
        return "me"
    if canonical in ("listener", "connector"):
        return "peer"
    return canonical


def check_nesting(text: bytes, max_depth: int = MAX_HELLO_DEPTH) -> None:
    """Refuse JSON ``text`` whose arrays/objects nest deeper than ``max_depth``.

    One linear pass over the structural characters (quotes, backslashes, brackets) outside
    strings, so it runs before — and protects — the recursive JSON parser.

    :raises RemoteProtocolError: nesting deeper than ``max_depth``.
    """
    depth = 0
    in_string = False
    escaped_at = -2
    for m in _SPECIAL.finditer(text):
        ch = m.group()
        pos = m.start()
        if in_string:
            if ch == b"\\":
                if escaped_at != pos - 1:
                    escaped_at = pos  # this backslash escapes the next character
                else:
                    escaped_at = -2  # an escaped backslash
            elif ch == b'"' and escaped_at != pos - 1:
                in_string = False
        elif ch == b'"':
            in_string = True
            escaped_at = -2
        elif ch in (b"[", b"{"):
            depth += 1
            if depth > max_depth:
                raise RemoteProtocolError(
                    f"the peer's hello nests JSON deeper than the {max_depth} levels the "
                    f"hello format uses"
                )
        elif ch in (b"]", b"}"):
            depth -= 1


@dataclass(frozen=True)
class Hello(Immutable):
    """One side's hello: the parsed ``fields`` (read-only) and the exact ``raw`` frame body."""

    fields: Mapping[str, Any]
    raw: bytes

    def __post_init__(self) -> None:
        self._set(fields=types.MappingProxyType(dict(self.fields)))

    @classmethod
    def build(
        cls,
        *,
        role: str,
        tool_version: str,
        protocol_version: int,
        settings: dict[str, Any],
        input_settings: dict[str, Any],
        set_size: int,
        nonce: bytes | None = None,
    ) -> Hello:
        """Build our hello with a fresh random nonce."""
        fields = {
            "hello_version": HELLO_VERSION,
            "tool": TOOL,
            "tool_version": tool_version,
            "protocol_version": protocol_version,
            "role": role,
            "settings": dict(settings),
            "input": dict(input_settings),
            "set_size": int(set_size),
            "nonce": (nonce if nonce is not None else os.urandom(32)).hex(),
        }
        raw = HELLO_MAGIC + json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
        return cls(fields, raw)

    @classmethod
    def parse(cls, raw: bytes) -> Hello:
        """Parse and sanity-check a peer's hello.

        :raises RemoteProtocolError: not a hello, larger than :data:`MAX_HELLO_BYTES`, nested
            deeper than :data:`MAX_HELLO_DEPTH`, not UTF-8 JSON, another hello version, or a
            field missing or of the wrong type.
        """
        if len(raw) > MAX_HELLO_BYTES:
            raise RemoteProtocolError(
                f"the peer's hello is too large ({len(raw)} bytes, limit {MAX_HELLO_BYTES})"
            )
        if not raw.startswith(HELLO_MAGIC):
            raise RemoteProtocolError("the peer's first frame is not a fedcrypto psi hello")
        body = raw[len(HELLO_MAGIC) :]
        check_nesting(body)
        try:
            fields = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise RemoteProtocolError("the peer's hello is malformed (not JSON)") from None
        if not isinstance(fields, dict):
            raise RemoteProtocolError("the peer's hello is malformed (not an object)")
        version = fields.get("hello_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise RemoteProtocolError("the peer's hello has no version")
        if version != HELLO_VERSION:
            raise RemoteProtocolError(
                f"handshake version mismatch: this side speaks hello version {HELLO_VERSION}, "
                f"the peer {version if abs(version) < 10**6 else 'another'} "
                f"(tool version {_short(fields.get('tool_version'))}); upgrade the older side"
            )
        spec = {
            "tool": str,
            "tool_version": str,
            "protocol_version": int,
            "role": str,
            "settings": dict,
            "input": dict,
            "set_size": int,
            "nonce": str,
        }
        for key, typ in spec.items():
            value = fields.get(key)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise RemoteProtocolError(f"the peer's hello is malformed (field {key!r})")
        if fields["tool"] != TOOL:
            raise RemoteProtocolError("the peer is not a fedcrypto psi tool")
        if not 0 <= fields["set_size"] <= _MAX_SET:
            raise RemoteProtocolError("the peer announced an impossible set size")
        try:
            nonce = bytes.fromhex(fields["nonce"])
        except ValueError:
            nonce = b""
        if len(nonce) != 32:
            raise RemoteProtocolError("the peer's hello is malformed (nonce)")
        return cls(fields, raw)


def _short(value: object) -> str:
    """A peer value quoted for a message: sanitized, at most 40 characters."""
    return "'" + peer_text(value if isinstance(value, str) else repr(value), 40) + "'"


def session_id_of(listener: Hello, connector: Hello) -> bytes:
    """The 32-byte session id: SHA-256 over both hellos, listener first."""
    h = hashlib.sha256(b"fedcrypto-psi/session/v1")
    for hello in (listener, connector):
        h.update(len(hello.raw).to_bytes(4, "big"))
        h.update(hello.raw)
    return h.digest()


def compare_hellos(ours: Hello, theirs: Hello) -> list[str]:
    """Every setting on which the two hellos disagree, as human-readable phrases from our side's
    point of view (empty when compatible).  Symmetric: the peer finds the same differences.
    The peer's keys and values are sanitized."""
    role = ours.fields["role"]
    problems: list[str] = []
    if theirs.fields["protocol_version"] != ours.fields["protocol_version"]:
        problems.append(
            f"PSI protocol version: this side speaks {ours.fields['protocol_version']}, the peer "
            f"{_fmt(theirs.fields['protocol_version'])} "
            f"(tool version {_short(theirs.fields['tool_version'])})"
        )
    expected_role = "connector" if role == "listener" else "listener"
    if theirs.fields["role"] != expected_role:
        problems.append(
            f"role: the peer says it is the {_short(theirs.fields['role'])}, expected the "
            f"{expected_role}"
        )
    for group in ("settings", "input"):
        mine, other = ours.fields[group], theirs.fields[group]
        for key in sorted(set(mine) | set(other)):
            a, b = mine.get(key), other.get(key)
            if a == b:
                continue
            name = _OPTION_NAMES.get(key) or f"setting {_short(key)}"
            if key == "reveal" and isinstance(b, str):
                problems.append(
                    f"--reveal: this side asks for {reveal_to_user(str(a), role)!r} ({_who(a)}), "
                    f"the peer for what is {_short(reveal_to_user(b, role))} here ({_who(b)})"
                )
            else:
                problems.append(f"{name}: {_fmt(a)} here, {_fmt(b)} on the peer")
    return problems


def _who(canonical: object) -> str:
    return {
        "listener": "the listener learns the intersection",
        "connector": "the connector learns the intersection",
        "both": "both learn the intersection",
        "count": "both learn only its size",
    }.get(canonical if isinstance(canonical, str) else "", "unknown")


def _fmt(value: object) -> str:
    """A hello value for a message (sanitized and bounded: it may come from the peer)."""
    if value is None:
        return "unset"
    if isinstance(value, list):
        return _short(",".join(v if isinstance(v, str) else repr(v) for v in value[:20]) or "none")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**12:
        return str(value)
    return _short(value)


@dataclass(frozen=True)
class HandshakeResult(Immutable):
    """Outcome of the handshake: ``session_id`` (32 bytes), ``peer_size`` and the peer's
    ``peer_tool_version`` (sanitized); ``peer_fields``: the peer's whole hello (read-only,
    unsanitized: for optional fields such as the payload column names of issue 13)."""

    session_id: bytes
    peer_size: int
    peer_tool_version: str
    peer_fields: Mapping[str, Any] | None = None


def exchange_hellos(conn: Connection, ours: Hello, *, deadline: Deadline | None = None) -> Hello:
    """Send our hello and parse the peer's (the first frame it sends).

    :raises PeerAborted: the peer's first frame is an ABORT.
    :raises PeerError: disconnect, garbage, too slow, or ``deadline`` passed.
    :raises RemoteProtocolError: the first frame is not a well-formed hello (after sending
        the peer an ABORT that says why).
    """
    conn.send(FrameKind.HELLO, ours.raw)
    kind, body = conn.recv(deadline)
    if kind != FrameKind.HELLO:
        raise _abort(
            conn,
            f"expected the peer's HELLO, got a {FrameKind.NAMES[kind]} frame",
            "protocol violation: the first frame must be HELLO",
        )
    try:
        return Hello.parse(body)
    except RemoteProtocolError as exc:
        raise _abort(conn, str(exc), "it could not parse our hello: " + str(exc)) from None


def confirm_handshake(
    conn: Connection,
    ours: Hello,
    theirs: Hello,
    *,
    max_peer_size: int | None,
    deadline: Deadline | None = None,
) -> HandshakeResult:
    """Compare the hellos, apply ``--max-peer-size``, derive the session id and exchange
    READY frames.

    :raises RemoteProtocolError: settings differ (every difference named), the peer
        announced too many IDs, or the transcripts differ — after sending an ABORT frame.
    :raises PeerError: the peer aborted, disconnected or ``deadline`` passed.
    """
    problems = compare_hellos(ours, theirs)
    if problems:
        raise _abort(
            conn,
            "settings differ between the two sides: " + "; ".join(problems),
            "settings differ between the two sides",
        )
    peer_size = theirs.fields["set_size"]
    if max_peer_size is not None and peer_size > max_peer_size:
        raise _abort(
            conn,
            f"the peer announced {peer_size} IDs, more than --max-peer-size {max_peer_size} "
            "(dictionary guard)",
            f"its --max-peer-size {max_peer_size} is below our set size {peer_size}",
        )
    if ours.fields["role"] == "listener":
        sid = session_id_of(ours, theirs)
    else:
        sid = session_id_of(theirs, ours)
    confirm = hashlib.sha256(b"fedcrypto-psi/ready/v1" + sid).digest()
    conn.send(FrameKind.READY, confirm)
    kind, body = conn.recv(deadline)
    if kind != FrameKind.READY:
        raise _abort(
            conn,
            f"expected the peer's READY, got a {FrameKind.NAMES[kind]} frame",
            "protocol violation: expected READY",
        )
    if not hmac.compare_digest(body, confirm):
        raise _abort(
            conn,
            "handshake transcripts differ between the two sides",
            "handshake transcripts differ between the two sides",
        )
    return HandshakeResult(
        sid, peer_size, peer_text(theirs.fields["tool_version"], 64), theirs.fields
    )


def run_handshake(
    conn: Connection,
    ours: Hello,
    *,
    max_peer_size: int | None,
    deadline: Deadline | None = None,
) -> HandshakeResult:
    """Exchange hellos and READY frames over ``conn`` (:func:`exchange_hellos` then
    :func:`confirm_handshake`), all before ``deadline``.

    :raises RemoteProtocolError: a malformed hello, settings that differ (every one named),
        too many IDs announced, transcripts that differ (the peer gets an ABORT first).
    :raises PeerError: the peer aborts, disconnects, is too slow, or ``deadline`` passes.
    """
    theirs = exchange_hellos(conn, ours, deadline=deadline)
    return confirm_handshake(conn, ours, theirs, max_peer_size=max_peer_size, deadline=deadline)


def _abort(conn: Connection, local: str, remote: str) -> RemoteProtocolError:
    conn.abort(remote)
    return RemoteProtocolError(local)
