"""PSI settings both parties must agree on, and the protocol constants."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError

__all__ = [
    "PROTOCOL_VERSION",
    "PROTOCOLS",
    "REVEAL_MODES",
    "ROLES",
    "TAG_BYTES",
    "SESSION_ID_BYTES",
    "MAX_BUCKETS",
    "PsiSettings",
    "supported_groups",
    "COMPUTE_MODES",
]

#: Version of the PSI message protocol (part of every domain-separation tag).
#: 2: settings carry ``buckets`` (partitioned PSI, bucket frames).
PROTOCOL_VERSION = 2
PROTOCOLS = ("ecdh", "dh", "rsa")
REVEAL_MODES = ("listener", "connector", "both", "count")
ROLES = ("listener", "connector")
#: Second-stage tags are truncated to 128 bits: for 1e8 x 1e8 elements the chance of any
#: false match is below 1e16 / 2^128 ~ 2^-74.
TAG_BYTES = 16
SESSION_ID_BYTES = 32

_GROUPS: dict[str, tuple[str, ...]] = {
    "ecdh": ("curve25519", "p256"),
    "dh": ("ffdhe2048", "ffdhe3072", "ffdhe4096", "modp2048", "modp3072"),
    "rsa": ("rsa2048", "rsa3072"),
}
_ALIASES = {
    "modp_2048": "modp2048",
    "modp_3072": "modp3072",
    "x25519": "curve25519",
    "secp256r1": "p256",
    "p-256": "p256",
}
_MAX_BATCH = 1 << 20
#: Most buckets a partitioned run may use (each bucket is a sub-session with its own frames).
MAX_BUCKETS = 1 << 16
#: What a run computes: the intersection itself, only its size, or the intersection-sum
#: with cardinality (see ``docs/psi-compute.md``).
COMPUTE_MODES = ("intersection", "count", "sum")
#: Largest ``threshold`` accepted (the hello caps set sizes at 2^40).
_MAX_THRESHOLD = 1 << 40


def supported_groups(protocol: str) -> tuple[str, ...]:
    """The group names accepted for ``protocol`` (the first one is the default).

    :raises InvalidArgumentError: for an unknown protocol.
    """
    try:
        return _GROUPS[protocol]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown PSI protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}"
        ) from None


@dataclass(frozen=True)
class PsiSettings(Immutable):
    """The parameters of one PSI run (an immutable value; :meth:`validate` checks it).

    :param protocol: ``"ecdh"`` (default), ``"dh"`` or ``"rsa"``.
    :param group: curve / group / key size; ``None`` picks the protocol's default
        (``curve25519``, ``ffdhe2048``, ``rsa2048``).  See :func:`supported_groups`.
    :param reveal: who learns the intersection: ``"listener"``, ``"connector"``, ``"both"``,
        or ``"count"`` (both learn only its size; ECDH and DH only).
    :param batch_size: elements per message (bounds every frame).
    :param memory_budget: bytes the matching step may hold in memory; past it the join
        runs out of core with hash partitions in ``workdir``.
    :param workers: for the tools: how many local worker processes to start
        (:func:`fedcrypto.scale.process_executor`; None = all cores).  The party objects
        ignore it: they run on the ``executor`` their caller passes.  Never changes a result.
    :param rsa_primes: RSA only: prime factors of the signer's per-run key, 3 (default,
        about 2.2x faster signing) or 2.  A local choice of the signer: the peer only sees
        the public key ``(n, e)``, whatever the count (see docs/psi.md).
    :param buckets: partitioned PSI (1 = one session, the default): both sides split their
        items into this many buckets by a session-keyed HMAC and run one padded sub-session
        per bucket (see :class:`fedcrypto.psi.PartitionedParty` and ``docs/scale-out.md``).
    :param compute: ``"intersection"`` (default), ``"count"`` (the same run as reveal
        ``"count"``, which it implies: ``PsiSettings(compute="count")`` has reveal
        ``"count"``) or ``"sum"``: intersection-sum with cardinality, see
        :func:`fedcrypto.psi.create_sum_party` and ``docs/psi-compute.md``.
    :param threshold: compute ``"sum"`` only: the sums are revealed only when the
        intersection has at least this many elements (0 = always).

    ``protocol``, ``group``, ``reveal``, ``batch_size`` and ``buckets`` must be equal on
    both sides (:meth:`as_dict` is what the handshake compares); ``memory_budget``,
    ``workers`` and ``rsa_primes`` are local choices.
    """

    protocol: str = "ecdh"
    group: str | None = None
    reveal: str = "both"
    batch_size: int = 65536
    memory_budget: int = 512 << 20
    workers: int | None = None
    rsa_primes: int = 3
    buckets: int = 1
    compute: str = "intersection"
    threshold: int = 0

    def __post_init__(self) -> None:
        # compute="count" is the run of reveal="count": it implies that reveal mode, so both
        # sides agree (same hello, same suite) whichever spelling they used.
        if self.compute == "count" and self.reveal == "both":
            self._set(reveal="count")

    def resolved_group(self) -> str:
        """The group name with the protocol's default filled in and aliases resolved.

        :raises InvalidArgumentError: for an unknown protocol or group.
        """
        groups = supported_groups(self.protocol)
        if self.group is None:
            return groups[0]
        name = _ALIASES.get(self.group.lower(), self.group.lower())
        if name not in groups:
            raise InvalidArgumentError(
                f"unknown group {self.group!r} for protocol {self.protocol!r}; "
                f"choose one of {', '.join(groups)}"
            )
        return name

    def validate(self) -> None:
        """Check every field.

        :raises InvalidTypeError: for a field of the wrong type.
        :raises InvalidArgumentError: for an unknown protocol, group or reveal mode, reveal
            ``"count"`` with RSA, or a batch size / budget / worker count out of range.
        """
        for name in ("protocol", "reveal"):
            if not isinstance(getattr(self, name), str):
                raise InvalidTypeError(f"{name} must be a string")
        if self.group is not None and not isinstance(self.group, str):
            raise InvalidTypeError("group must be a string or None")
        for name in ("batch_size", "memory_budget", "buckets"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidTypeError(f"{name} must be an int")
        if self.workers is not None and (
            isinstance(self.workers, bool) or not isinstance(self.workers, int)
        ):
            raise InvalidTypeError("workers must be an int or None")
        self.resolved_group()
        if self.reveal not in REVEAL_MODES:
            raise InvalidArgumentError(
                f"unknown reveal mode {self.reveal!r}; choose one of {', '.join(REVEAL_MODES)}"
            )
        if self.protocol == "rsa" and self.reveal == "count":
            raise InvalidArgumentError(
                "reveal 'count' is available for the ecdh and dh protocols only (with RSA the "
                "client can always link signatures to its own items)"
            )
        if not 1 <= self.batch_size <= _MAX_BATCH:
            raise InvalidArgumentError(f"batch_size must be between 1 and {_MAX_BATCH}")
        if self.memory_budget < 1 << 20:
            raise InvalidArgumentError("memory_budget must be at least 1 MiB")
        if self.workers is not None and not 1 <= self.workers <= 256:
            raise InvalidArgumentError("workers must be between 1 and 256")
        if isinstance(self.rsa_primes, bool) or not isinstance(self.rsa_primes, int):
            raise InvalidTypeError("rsa_primes must be an int")
        if self.rsa_primes not in (2, 3):
            raise InvalidArgumentError("rsa_primes must be 2 or 3")
        if not 1 <= self.buckets <= MAX_BUCKETS:
            raise InvalidArgumentError(f"buckets must be between 1 and {MAX_BUCKETS}")
        self._validate_compute()

    def _validate_compute(self) -> None:
        """Check ``compute`` and ``threshold`` (see :data:`COMPUTE_MODES`)."""
        if not isinstance(self.compute, str):
            raise InvalidTypeError("compute must be a string")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int):
            raise InvalidTypeError("threshold must be an int")
        if self.compute not in COMPUTE_MODES:
            raise InvalidArgumentError(
                f"unknown compute mode {self.compute!r}; choose one of {', '.join(COMPUTE_MODES)}"
            )
        if self.compute == "count" and self.reveal != "count":
            raise InvalidArgumentError(
                "compute 'count' reveals only the intersection size, to both sides: use it "
                "with reveal 'both' or 'count'"
            )
        if self.compute == "sum":
            if self.protocol == "rsa":
                raise InvalidArgumentError("compute 'sum' needs the ecdh or dh protocol")
            if self.buckets != 1:
                # per-bucket sums would each be revealed: a sum run is one session
                raise InvalidArgumentError("compute 'sum' runs as one session: use buckets=1")
            if self.reveal == "count":
                raise InvalidArgumentError(
                    "compute 'sum' takes reveal 'listener', 'connector' or 'both' (who learns "
                    "the size and the sums)"
                )
        if not 0 <= self.threshold <= _MAX_THRESHOLD:
            raise InvalidArgumentError("threshold must be between 0 and 2^40")
        if self.threshold and self.compute != "sum":
            raise InvalidArgumentError("threshold applies to compute 'sum' only")

    def as_dict(self) -> dict[str, str | int]:
        """The settings both sides must agree on: protocol, group (resolved), reveal,
        batch_size, buckets, the PSI protocol version, and compute/threshold for sums."""
        out: dict[str, str | int] = {
            "protocol": self.protocol,
            "group": self.resolved_group(),
            "reveal": self.reveal,
            "batch_size": self.batch_size,
            "buckets": self.buckets,
            "psi_version": PROTOCOL_VERSION,
        }
        if self.compute == "sum":  # absent otherwise: older hellos stay byte-identical
            out["compute"] = self.compute
            out["threshold"] = self.threshold
        return out

    def single_bucket(self) -> PsiSettings:
        """These settings with ``buckets=1`` (what each bucket's sub-session runs)."""
        return dataclasses.replace(self, buckets=1)

    def suite_id(self) -> bytes:
        """Canonical bytes naming protocol, version, group and reveal mode (used in DSTs)."""
        suite = (
            f"fedcrypto-psi-v{PROTOCOL_VERSION}:{self.protocol}:{self.resolved_group()}:"
            f"{self.reveal}"
        )
        if self.compute == "sum":
            suite += f":sum:{self.threshold}"
        return suite.encode()


def session_tag(settings: PsiSettings, session_id: bytes, purpose: str) -> bytes:
    """A domain-separation tag naming the library, protocol version, suite, session and purpose.

    At most 255 bytes (a valid RFC 9380 DST): the session id enters as a SHA-256 digest.
    """
    sid = hashlib.sha256(session_id).hexdigest()[:32]
    return settings.suite_id() + f":{purpose}:".encode() + sid.encode()


def check_session_id(session_id: object) -> bytes:
    """Validate a session id: exactly 32 bytes."""
    if not isinstance(session_id, (bytes, bytearray)):
        raise InvalidTypeError("session_id must be bytes")
    if len(session_id) != SESSION_ID_BYTES:
        raise InvalidArgumentError(f"session_id must be exactly {SESSION_ID_BYTES} bytes")
    return bytes(session_id)
