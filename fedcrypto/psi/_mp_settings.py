"""Settings every party of a multi-party PSI run must agree on, and the protocol caps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._settings import PsiSettings, supported_groups

__all__ = [
    "MP_PROTOCOL_VERSION",
    "MP_REVEAL_MODES",
    "MAX_PARTIES",
    "MAX_SET_SIZE",
    "MultipartySettings",
]

#: Version of the multi-party PSI messages (part of every domain-separation tag).
MP_PROTOCOL_VERSION = 1
#: ``receiver``: one designated party learns the intersection; ``all``: every party does;
#: ``count``: every party learns only its size.
MP_REVEAL_MODES = ("receiver", "all", "count")
#: Most parties in one run (the handshake refuses more before anything is allocated).
MAX_PARTIES = 64
#: Largest set a party may announce (2^28 elements: 8 GiB of 32-byte elements per hop).
MAX_SET_SIZE = 1 << 28
_MAX_BATCH = 1 << 20


@dataclass(frozen=True)
class MultipartySettings(Immutable):
    """The parameters of one multi-party PSI run (an immutable value).

    :param protocol: ``"ecdh"`` (default) or ``"dh"``.
    :param group: ``curve25519`` (default) or ``p256`` for ECDH; a DH group name
        (``ffdhe2048`` default) for DH.  Aliases as in :class:`PsiSettings`.
    :param reveal: ``"receiver"`` (default; party ``receiver`` learns the intersection),
        ``"all"`` (every party learns it) or ``"count"`` (every party learns its size only).
    :param receiver: index of the learning party in ``receiver`` mode (0 = the leader).
    :param batch_size: elements per message (bounds every frame).
    :param workers: for the tool: how many local worker processes to start
        (:func:`fedcrypto.scale.process_executor`; None = all cores).  The party objects
        ignore it: they run on the ``executor`` their caller passes.

    Everything but ``workers`` must be equal at every party (:meth:`as_dict` is what the
    handshake compares).
    """

    protocol: str = "ecdh"
    group: str | None = None
    reveal: str = "receiver"
    receiver: int = 0
    batch_size: int = 65536
    workers: int | None = None

    def _pair_settings(self) -> PsiSettings:
        return PsiSettings(protocol=self.protocol, group=self.group, reveal="both")

    def resolved_group(self) -> str:
        """The group name with the default filled in and aliases resolved.

        :raises InvalidArgumentError: for an unknown protocol or group.
        """
        return self._pair_settings().resolved_group()

    def validate(self, parties: int | None = None) -> None:
        """Check every field (and ``receiver < parties`` when ``parties`` is given).

        :raises InvalidTypeError: for a field of the wrong type.
        :raises InvalidArgumentError: for a value out of range (protocol other than ecdh / dh,
            unknown group or reveal mode, receiver, batch size or worker count out of range).
        """
        for name in ("protocol", "reveal"):
            if not isinstance(getattr(self, name), str):
                raise InvalidTypeError(f"{name} must be a string")
        if self.group is not None and not isinstance(self.group, str):
            raise InvalidTypeError("group must be a string or None")
        for name in ("receiver", "batch_size"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidTypeError(f"{name} must be an int")
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int)
        ):
            raise InvalidTypeError("workers must be an int or None")
        if self.protocol not in ("ecdh", "dh"):
            supported_groups(self.protocol)  # unknown protocol -> its own message
            raise InvalidArgumentError("multi-party PSI supports the ecdh and dh protocols only")
        self.resolved_group()
        if self.reveal not in MP_REVEAL_MODES:
            raise InvalidArgumentError(
                f"unknown reveal mode {self.reveal!r}; choose one of {', '.join(MP_REVEAL_MODES)}"
            )
        if not 0 <= self.receiver < MAX_PARTIES:
            raise InvalidArgumentError(f"receiver must be between 0 and {MAX_PARTIES - 1}")
        if parties is not None and self.receiver >= parties:
            raise InvalidArgumentError(
                f"receiver {self.receiver} is not one of the {parties} parties"
            )
        if not 1 <= self.batch_size <= _MAX_BATCH:
            raise InvalidArgumentError(f"batch_size must be between 1 and {_MAX_BATCH}")
        if self.workers is not None and not 1 <= self.workers <= 256:
            raise InvalidArgumentError("workers must be between 1 and 256")

    def as_dict(self) -> dict[str, str | int]:
        """The settings all parties must agree on (``workers`` is a local choice)."""
        return {
            "protocol": self.protocol,
            "group": self.resolved_group(),
            "reveal": self.reveal,
            "receiver": self.receiver,
            "batch_size": self.batch_size,
            "mpsi_version": MP_PROTOCOL_VERSION,
        }

    def learners(self, parties: int) -> tuple[int, ...]:
        """Indices of the parties that learn something (the intersection or its size)."""
        if self.reveal == "receiver":
            return (self.receiver,)
        return tuple(range(parties))

    def suite_id(self, parties: int) -> bytes:
        """Canonical bytes naming version, protocol, group, reveal mode, receiver and party
        count (used in every domain-separation tag and message binding)."""
        return (
            f"fedcrypto-mpsi-v{MP_PROTOCOL_VERSION}:{self.protocol}:{self.resolved_group()}:"
            f"{self.reveal}:{self.receiver}:{parties}"
        ).encode()


def mp_session_tag(
    settings: MultipartySettings, parties: int, session_id: bytes, purpose: str
) -> bytes:
    """A domain-separation tag (at most 255 bytes) for one purpose within one session."""
    sid = hashlib.sha256(session_id).hexdigest()[:32]
    return settings.suite_id(parties) + f":{purpose}:".encode() + sid.encode()
