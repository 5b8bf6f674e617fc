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
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from typing import Any

from ...exceptions import ProtocolError
from ._net import Connection, FrameKind

__all__ = [
    "HELLO_VERSION",
    "HELLO_MAGIC",
    "Hello",
    "HandshakeResult",
    "run_handshake",
    "compare_hellos",
    "session_id_of",
    "reveal_to_user",
    "reveal_to_canonical",
]

HELLO_VERSION = 1
HELLO_MAGIC = b"FCPSI-HELLO\x00"
_MAX_HELLO = 64 << 10
_MAX_SET = 1 << 40
TOOL = "fedcrypto-psi"

_OPTION_NAMES = {
    "psi_version": "PSI protocol version",
    "protocol": "--protocol",
    "group": "--group",
    "reveal": "--reveal",
    "batch_size": "--batch-size",
    "normalize": "--normalize",
    "key_columns": "number of --id-column columns",
    "duplicates": "--duplicates",
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


@dataclass(frozen=True)
class Hello:
    """One side's hello: the parsed ``fields`` and the exact ``raw`` frame body."""

    fields: dict[str, Any]
    raw: bytes

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
        """Parse and sanity-check a peer's hello; raises ProtocolError when malformed."""
        if not raw.startswith(HELLO_MAGIC):
            raise ProtocolError("the peer's first frame is not a fedcrypto psi hello")
        if len(raw) > _MAX_HELLO:
            raise ProtocolError("the peer's hello is too large")
        try:
            fields = json.loads(raw[len(HELLO_MAGIC) :].decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ProtocolError("the peer's hello is malformed (not JSON)") from None
        if not isinstance(fields, dict):
            raise ProtocolError("the peer's hello is malformed (not an object)")
        version = fields.get("hello_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProtocolError("the peer's hello has no version")
        if version != HELLO_VERSION:
            raise ProtocolError(
                f"handshake version mismatch: this side speaks hello version {HELLO_VERSION}, "
                f"the peer {version} (tool version {_short(fields.get('tool_version'))}); "
                "upgrade the older side"
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
                raise ProtocolError(f"the peer's hello is malformed (field {key!r})")
        if fields["tool"] != TOOL:
            raise ProtocolError("the peer is not a fedcrypto psi tool")
        if not 0 <= fields["set_size"] <= _MAX_SET:
            raise ProtocolError("the peer announced an impossible set size")
        try:
            nonce = bytes.fromhex(fields["nonce"])
        except ValueError:
            nonce = b""
        if len(nonce) != 32:
            raise ProtocolError("the peer's hello is malformed (nonce)")
        return cls(fields, raw)


def _short(value: object) -> str:
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return repr(text[:40])


def session_id_of(listener: Hello, connector: Hello) -> bytes:
    """The 32-byte session id: SHA-256 over both hellos, listener first."""
    h = hashlib.sha256(b"fedcrypto-psi/session/v1")
    for hello in (listener, connector):
        h.update(len(hello.raw).to_bytes(4, "big"))
        h.update(hello.raw)
    return h.digest()


def compare_hellos(ours: Hello, theirs: Hello) -> list[str]:
    """Every setting on which the two hellos disagree, as human-readable phrases from our side's
    point of view (empty when compatible).  Symmetric: the peer finds the same differences."""
    role = ours.fields["role"]
    problems: list[str] = []
    if theirs.fields["protocol_version"] != ours.fields["protocol_version"]:
        problems.append(
            f"PSI protocol version: this side speaks {ours.fields['protocol_version']}, the peer "
            f"{theirs.fields['protocol_version']} "
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
            name = _OPTION_NAMES.get(key, key)
            if key == "reveal" and isinstance(b, str):
                problems.append(
                    f"--reveal: this side asks for {reveal_to_user(str(a), role)!r} ({_who(a)}), "
                    f"the peer for what is {reveal_to_user(b, role)!r} here ({_who(b)})"
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
    }.get(str(canonical), "unknown")


def _fmt(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, list):
        return repr(",".join(str(v) for v in value) or "none")
    if isinstance(value, str | int) and not isinstance(value, bool):
        return repr(value) if isinstance(value, str) else str(value)
    return _short(value)


@dataclass(frozen=True)
class HandshakeResult:
    """Outcome of the handshake: ``session_id`` (32 bytes), ``peer_size`` and the peer's
    ``peer_tool_version``."""

    session_id: bytes
    peer_size: int
    peer_tool_version: str


def run_handshake(conn: Connection, ours: Hello, *, max_peer_size: int | None) -> HandshakeResult:
    """Exchange hellos and READY frames over ``conn``.

    Raises ProtocolError naming every mismatching setting (after sending an ABORT frame to the
    peer), :class:`~fedcrypto.exceptions.PeerError` when the peer aborts or disconnects.
    """
    conn.send(FrameKind.HELLO, ours.raw)
    kind, body = conn.recv()
    if kind != FrameKind.HELLO:
        raise _abort(
            conn,
            f"expected the peer's HELLO, got a {FrameKind.NAMES[kind]} frame",
            "protocol violation: the first frame must be HELLO",
        )
    try:
        theirs = Hello.parse(body)
    except ProtocolError as exc:
        raise _abort(conn, str(exc), "it could not parse our hello: " + str(exc)) from None
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
    kind, body = conn.recv()
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
    return HandshakeResult(sid, peer_size, str(theirs.fields["tool_version"]))


def _abort(conn: Connection, local: str, remote: str) -> ProtocolError:
    conn.abort(remote)
    return ProtocolError(local)
