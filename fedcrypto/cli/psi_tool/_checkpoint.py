"""Checkpoints of partitioned runs (``--resume``): finished buckets survive a crash.

Layout, in ``--workdir``: a directory ``fedcrypto-psi-<role>.checkpoint/`` (mode 0700) with

* ``state.json`` (mode 0600, replaced atomically): format version, role, the agreed
  settings, the SHA-256 of this side's normalized IDs in input order, both set sizes, the
  peer's certificate fingerprint, the session id, the **secret** randomness seed (see
  :mod:`fedcrypto.psi`'s ``randomness_seed``: it derives every bucket's secret scalar, so
  it is as secret as a private key) and the finished buckets with their counts;
* ``bucket-NNNNN.i64``: the matched positions of each finished bucket (little-endian int64,
  only when this side learns the intersection).

Resuming checks, before anything is sent, that settings and input are unchanged, and after
the handshake that the peer (certificate, set size) is the same; a difference is refused
with a message naming what changed.  Both sides announce the checkpointed session in their
hello (a hash of its id), so two different sessions are never mixed; each side then sends
the list of buckets it finished, and only buckets finished on both sides are skipped.
Buckets re-run repeat exactly the messages they sent before (same seed).  The directory is
removed after a successful run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from typing import Any

import numpy as np

from ... import psi
from ..._random import random_bytes
from ..._sanitize import peer_text
from ...exceptions import InvalidArgumentError, RemoteProtocolError

__all__ = ["Checkpoint", "input_digest", "RESUME_MAGIC", "encode_finished", "decode_finished"]

FORMAT = 1
#: First bytes of the frame in which each side lists its finished buckets.
RESUME_MAGIC = b"FCPSI-RESUME\x00"


def input_digest(keys: Sequence[bytes]) -> str:
    """SHA-256 (hex) of this side's IDs in input order (length-prefixed)."""
    h = hashlib.sha256(b"fedcrypto-psi/checkpoint-input/v1")
    for k in keys:
        h.update(len(k).to_bytes(4, "big"))
        h.update(k)
    return h.hexdigest()


def session_tag(session_id: bytes) -> str:
    """What a hello announces about the checkpointed session (never the id itself)."""
    return hashlib.sha256(b"fedcrypto-psi/resume/" + session_id).hexdigest()[:32]


def encode_finished(buckets: Sequence[int]) -> bytes:
    """The RESUME frame body."""
    return RESUME_MAGIC + json.dumps(sorted(buckets)).encode()


def decode_finished(body: bytes, total: int) -> set[int]:
    """Parse the peer's RESUME frame (at most ``total`` distinct buckets below ``total``).

    :raises RemoteProtocolError: anything else.
    """
    if not body.startswith(RESUME_MAGIC) or len(body) > len(RESUME_MAGIC) + 8 * total + 16:
        raise RemoteProtocolError("the peer did not send its list of finished buckets")
    try:
        value = json.loads(body[len(RESUME_MAGIC) :].decode("ascii"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise RemoteProtocolError("the peer's list of finished buckets is malformed") from None
    if not isinstance(value, list) or not all(
        isinstance(b, int) and not isinstance(b, bool) and 0 <= b < total for b in value
    ):
        raise RemoteProtocolError("the peer's list of finished buckets is malformed")
    return set(value)


class Checkpoint:
    """The checkpoint directory of one side (see the module docstring)."""

    def __init__(self, workdir: str, role: str) -> None:
        self.path = os.path.join(workdir, f"fedcrypto-psi-{role}.checkpoint")
        self.role = role
        self.state: dict[str, Any] | None = None

    # -- loading -------------------------------------------------------------------------
    def load(self) -> bool:
        """Read ``state.json`` if there is one; True when a checkpoint exists.

        :raises InvalidArgumentError: a checkpoint that cannot be read (exit 2).
        """
        file = os.path.join(self.path, "state.json")
        if not os.path.exists(file):
            return False
        try:
            with open(file, encoding="utf-8") as fh:
                state = json.load(fh)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise InvalidArgumentError(
                f"--resume: the checkpoint {self.path} cannot be read ({type(exc).__name__}); "
                "remove it to start afresh"
            ) from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise InvalidArgumentError(f"--resume: {self.path} is not a checkpoint of this tool")
        self.state = state
        return True

    def check_local(self, settings: dict[str, Any], digest: str, set_size: int) -> None:
        """Refuse a checkpoint made with other settings or another input (exit 2)."""
        assert self.state is not None
        old = self.state.get("settings", {})
        changed = [
            f"{k}: {peer_text(repr(old.get(k)), 60)} then, {v!r} now"
            for k, v in settings.items()
            if old.get(k) != v
        ]
        if changed:
            raise InvalidArgumentError(
                "--resume: the settings changed since the checkpoint (" + "; ".join(changed) + ")"
            )
        if self.state.get("input_sha256") != digest or self.state.get("set_size") != set_size:
            raise InvalidArgumentError(
                "--resume: the input changed since the checkpoint (its IDs or their order "
                "differ); restore the original file or remove the checkpoint "
                f"{self.path} to start afresh"
            )

    def check_peer(self, peer_fingerprint: str | None, peer_size: int) -> None:
        """Refuse a checkpoint made with another peer (exit 2)."""
        assert self.state is not None
        if self.state.get("peer_certificate_sha256") != peer_fingerprint:
            raise InvalidArgumentError(
                "--resume: the peer changed: its certificate is "
                f"{peer_fingerprint or 'none (plaintext)'}, the checkpoint's peer had "
                f"{peer_text(str(self.state.get('peer_certificate_sha256')), 100)}"
            )
        if self.state.get("peer_size") != peer_size:
            raise InvalidArgumentError(
                f"--resume: the peer's input changed: it announces {peer_size} IDs, "
                f"{peer_text(str(self.state.get('peer_size')), 30)} when checkpointed"
            )

    @property
    def session_id(self) -> bytes:
        assert self.state is not None
        return bytes.fromhex(self.state["session_id"])

    @property
    def seed(self) -> bytes:
        assert self.state is not None
        return bytes.fromhex(self.state["seed"])

    def finished(self) -> dict[int, int | None]:
        """Finished buckets -> count (None when this side learns nothing)."""
        assert self.state is not None
        return {int(k): v for k, v in self.state.get("finished", {}).items()}

    def results(self, buckets: set[int]) -> dict[int, psi.PsiResult]:
        """The stored results of ``buckets``."""
        out: dict[int, psi.PsiResult] = {}
        fin = self.finished()
        for b in buckets:
            file = self._bucket_file(b)
            count = fin[b]
            if os.path.exists(file):
                idx = np.fromfile(file, dtype="<i8").astype(np.int64)
                out[b] = psi.PsiResult(indices=idx, count=int(idx.size))
            else:
                out[b] = psi.PsiResult(indices=None, count=count)
        return out

    # -- writing -------------------------------------------------------------------------
    def create(
        self,
        *,
        settings: dict[str, Any],
        digest: str,
        set_size: int,
        peer_fingerprint: str | None,
        peer_size: int,
        session_id: bytes,
    ) -> None:
        """Start a fresh checkpoint for this session (a new secret seed)."""
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        self.state = {
            "format": FORMAT,
            "role": self.role,
            "settings": settings,
            "input_sha256": digest,
            "set_size": set_size,
            "peer_certificate_sha256": peer_fingerprint,
            "peer_size": peer_size,
            "session_id": session_id.hex(),
            "seed": random_bytes(32).hex(),
            "finished": {},
        }
        self._save()

    def record(self, bucket: int, result: psi.PsiResult) -> None:
        """Store one finished bucket (positions first, then the state that names it)."""
        assert self.state is not None
        if result.indices is not None:
            tmp = self._bucket_file(bucket) + ".tmp"
            np.asarray(result.indices, dtype="<i8").tofile(tmp)
            os.replace(tmp, self._bucket_file(bucket))
        self.state["finished"][str(bucket)] = result.count
        self._save()

    def remove(self) -> None:
        """Delete the checkpoint (after a successful run)."""
        shutil.rmtree(self.path, ignore_errors=True)

    def _bucket_file(self, bucket: int) -> str:
        return os.path.join(self.path, f"bucket-{bucket:05d}.i64")

    def _save(self) -> None:
        file = os.path.join(self.path, "state.json")
        tmp = file + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.state, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, file)
