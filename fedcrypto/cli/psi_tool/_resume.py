"""``--resume``: run a partitioned PSI so that it can continue after a crash.

The driver calls :class:`Resume` at three points: before the hello (check the checkpoint
against this run's settings and input), after the handshake (check the peer, agree on the
finished buckets and the session, get the party's keyword arguments), and after success
(remove the checkpoint).  See :mod:`._checkpoint` for what is stored and checked.
"""

from __future__ import annotations

import argparse
from typing import Any

from ... import psi
from ...exceptions import InvalidArgumentError, RemoteProtocolError
from ._checkpoint import Checkpoint, decode_finished, encode_finished, input_digest, session_tag
from ._input import InputData
from ._net import Connection, FrameKind

__all__ = ["Resume", "hello_settings"]


class Resume:
    """The resume state of one run (see the module docstring)."""

    def __init__(
        self, args: argparse.Namespace, role: str, settings: psi.PsiSettings, data: InputData
    ) -> None:
        if settings.buckets < 2:
            raise InvalidArgumentError("--resume needs a partitioned run (--buckets 2 or more)")
        if settings.protocol == "rsa":
            raise InvalidArgumentError("--resume is available for --protocol ecdh and dh")
        if args.workdir is None:
            raise InvalidArgumentError("--resume needs --workdir (where the checkpoint is kept)")
        self._buckets = settings.buckets
        self._settings = settings.as_dict()
        self._digest = input_digest(data.keys)
        self._size = len(data.keys)
        self.checkpoint = Checkpoint(args.workdir, role)
        self.resumed = 0
        if self.checkpoint.load():
            self.checkpoint.check_local(self._settings, self._digest, self._size)

    def hello_fields(self) -> dict[str, Any]:
        """What the hello announces: the checkpointed session's tag, or ``"new"``."""
        has = self.checkpoint.state is not None
        return {"resume": session_tag(self.checkpoint.session_id) if has else "new"}

    def start(
        self, conn: Connection, *, peer_fingerprint: str | None, peer_size: int, fresh_sid: bytes
    ) -> tuple[bytes, dict[str, Any]]:
        """Check the peer, exchange finished buckets; returns ``(session_id, party kwargs)``.

        :raises InvalidArgumentError: the peer changed since the checkpoint (exit 2).
        :raises RemoteProtocolError: the peer's list of finished buckets is malformed.
        """
        ck = self.checkpoint
        if ck.state is None:
            ck.create(
                settings=self._settings,
                digest=self._digest,
                set_size=self._size,
                peer_fingerprint=peer_fingerprint,
                peer_size=peer_size,
                session_id=fresh_sid,
            )
        else:
            ck.check_peer(peer_fingerprint, peer_size)
        mine = ck.finished()
        conn.send(FrameKind.MESSAGE, encode_finished(list(mine)))
        kind, body = conn.recv()
        if kind != FrameKind.MESSAGE:
            raise RemoteProtocolError("the peer did not send its list of finished buckets")
        skip = set(mine) & decode_finished(body, self._buckets)
        self.resumed = len(skip)
        return ck.session_id, {
            "finished": ck.results(skip),
            "on_bucket_done": ck.record,
            "randomness_seed": ck.seed,
        }

    def done(self) -> None:
        """The run succeeded: the checkpoint is no longer needed."""
        self.checkpoint.remove()


def hello_settings(settings: psi.PsiSettings, resume: Resume | None) -> dict[str, Any]:
    """The settings a hello announces (plus the resume tag with ``--resume``)."""
    out: dict[str, Any] = settings.as_dict()
    if resume is not None:
        out.update(resume.hello_fields())
    return out
