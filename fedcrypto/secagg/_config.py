"""Public parameters of one secure-aggregation session, shared by the server and every client."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .._immutable import Immutable
from ..exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidTypeError,
    SerializationError,
)
from ..serialization import ObjectType, Reader, Writer, pack, param_id, unpack
from ._crypto import check_verifying_key
from ._graph import HararyGraph
from ._masking import word_dtype

__all__ = [
    "SecAggConfig",
    "ROUNDS",
    "SESSION_ID_BYTES",
    "MAX_CLIENT_ID",
    "MAX_CLIENTS",
    "MAX_VECTOR_LENGTH",
]

SESSION_ID_BYTES = 32
MAX_CLIENT_ID = (1 << 32) - 1
#: Most clients one session may register.
MAX_CLIENTS = 1 << 20
#: Longest input vector (entries).
MAX_VECTOR_LENGTH = 1 << 31
#: Round names, in protocol order (also the keys of ``simulate(dropouts=...)``).
ROUNDS = ("advertise_keys", "share_keys", "masked_input", "consistency", "unmasking")


@dataclass(frozen=True, eq=False)
class SecAggConfig(Immutable):
    """Everything the parties of one session agree on before it starts.

    Build it with :meth:`create`.  The session id must be fresh and unpredictable
    for every run: it salts every key derivation and is bound into every message,
    so messages of one session are useless in another.

    Attributes:
        session_id: 32 random bytes.
        client_ids: the registered clients (sorted, distinct, ``0 <= id < 2^32``).
        threshold: ``t``: the Shamir threshold, and the minimum number of clients
            that must survive each round.  In SecAgg+ mode it applies to each
            client's ``k + 1`` share holders (neighbours plus itself).
        modulus_bits: ``k`` in ``Z_{2^k}`` (1..64).
        vector_length: entries per input vector.
        active: the active-adversary variant (Ed25519 signatures, ConsistencyCheck round).
        verifying_keys: in active mode, every client's long-term Ed25519 public key (the PKI).
        degree: SecAgg+ neighbour degree, or ``None`` for the complete graph (Bonawitz).
    """

    session_id: bytes
    client_ids: tuple[int, ...]
    threshold: int
    modulus_bits: int
    vector_length: int
    active: bool = False
    verifying_keys: Mapping[int, Ed25519PublicKey] = field(default_factory=dict)
    degree: int | None = None
    _graph: HararyGraph | None = field(default=None, repr=False)
    _id_set: frozenset[int] = field(default_factory=frozenset, repr=False)

    @classmethod
    def create(
        cls,
        client_ids: Iterable[int],
        *,
        threshold: int,
        vector_length: int,
        modulus_bits: int = 32,
        active: bool = False,
        verifying_keys: Mapping[int, Ed25519PublicKey] | None = None,
        degree: int | None = None,
        session_id: bytes | None = None,
        unsafe_allow_low_threshold: bool = False,
    ) -> SecAggConfig:
        """Validate the parameters and build a config (fresh random session id by default).

        Threshold rule: ``t`` must be a strict majority of the share holders
        (``n // 2 < t <= n`` for Bonawitz, ``(k + 1) // 2 < t <= k + 1`` for SecAgg+),
        otherwise a server could collect ``t`` shares of both secrets of one client
        from two disjoint groups.  ``unsafe_allow_low_threshold=True`` only lowers the
        bound to ``t >= 2`` (for experiments; it voids the security argument).

        Caps: at most :data:`MAX_CLIENTS` clients, ids below 2^32, vectors of at most
        :data:`MAX_VECTOR_LENGTH` entries.  In active mode every verifying key must be a
        canonically encoded Ed25519 point of large order.

        Raises:
            InvalidArgumentError: bad ids, threshold, modulus, degree, session id,
                missing or invalid (small-order, non-canonical) verifying keys in active
                mode, or a size beyond the caps.
            InvalidTypeError: a verifying key of the wrong type.
        """
        ids = tuple(sorted(int(c) for c in client_ids))
        n = len(ids)
        if n < 2:
            raise InvalidArgumentError("secure aggregation needs at least 2 clients")
        if n > MAX_CLIENTS:
            raise InvalidArgumentError(f"at most {MAX_CLIENTS} clients per session")
        if len(set(ids)) != n or ids[0] < 0 or ids[-1] > MAX_CLIENT_ID:
            raise InvalidArgumentError("client ids must be distinct integers in [0, 2^32)")
        word_dtype(modulus_bits)  # validates 1..64
        if (
            not isinstance(vector_length, int)
            or isinstance(vector_length, bool)
            or not 1 <= vector_length <= MAX_VECTOR_LENGTH
        ):
            raise InvalidArgumentError(f"vector_length must be between 1 and {MAX_VECTOR_LENGTH}")
        if session_id is None:
            session_id = os.urandom(SESSION_ID_BYTES)
        if not isinstance(session_id, bytes) or len(session_id) != SESSION_ID_BYTES:
            raise InvalidArgumentError(f"session_id must be {SESSION_ID_BYTES} bytes")
        if degree is not None:
            if not isinstance(degree, int) or degree < 2:
                raise InvalidArgumentError("SecAgg+ degree must be an integer >= 2")
            if degree >= n - 1:
                degree = None  # complete graph: plain Bonawitz
            elif degree % 2:
                raise InvalidArgumentError("SecAgg+ degree must be even (Harary graph) or >= n - 1")
        holders = n if degree is None else degree + 1
        if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold > holders:
            raise InvalidArgumentError(f"threshold must be an integer <= {holders} (share holders)")
        low = 2 if unsafe_allow_low_threshold else holders // 2 + 1
        if threshold < low:
            raise InvalidArgumentError(
                f"threshold must be at least {low} "
                f"(a strict majority of the {holders} share holders)"
            )
        keys: dict[int, Ed25519PublicKey] = {}
        if active:
            if verifying_keys is None:
                raise InvalidArgumentError("active mode needs every client's Ed25519 verifying key")
            for c in ids:
                if c not in verifying_keys:
                    raise InvalidArgumentError(f"no verifying key for client {c}")
                key = verifying_keys[c]
                if not isinstance(key, Ed25519PublicKey):
                    raise InvalidTypeError("verifying keys must be Ed25519PublicKey objects")
                try:
                    check_verifying_key(key)
                except InvalidGroupElementError as exc:
                    raise InvalidArgumentError(f"verifying key of client {c}: {exc}") from None
                keys[c] = key
        graph = None if degree is None else HararyGraph(ids, degree, session_id)
        return cls(
            session_id=session_id,
            client_ids=ids,
            threshold=threshold,
            modulus_bits=modulus_bits,
            vector_length=vector_length,
            active=bool(active),
            verifying_keys=MappingProxyType(keys),
            degree=degree,
            _graph=graph,
            _id_set=frozenset(ids),
        )

    def to_bytes(self) -> bytes:
        """Serialize the public parameters (envelope type ``SECAGG_CONFIG``).

        Payload: ``session id (32) || u8 flags (bit 0 active, bit 1 SecAgg+) || u8 k ||
        u32 vector_length || u32 threshold || u32 degree (0 = complete graph) ||
        u32 n || n x u32 client id || (active) n x 32-byte Ed25519 verifying key``.
        """
        flags = (1 if self.active else 0) | (2 if self.degree is not None else 0)
        w = Writer().raw(self.session_id).u8(flags).u8(self.modulus_bits)
        w.u32(self.vector_length).u32(self.threshold).u32(self.degree or 0)
        w.u32(len(self.client_ids))
        for c in self.client_ids:
            w.u32(c)
        if self.active:
            for c in self.client_ids:
                w.raw(self.verifying_keys[c].public_bytes(Encoding.Raw, PublicFormat.Raw))
        return pack(ObjectType.SECAGG_CONFIG, w.getvalue(), param=self.param)

    @classmethod
    def from_bytes(cls, data: bytes, *, unsafe_allow_low_threshold: bool = False) -> SecAggConfig:
        """Parse parameters received from the server and re-validate them with :meth:`create`.

        A receiver should still check that the parameters are ones it accepts (its own id
        is listed, the threshold and client count are what it expects).

        Raises:
            SerializationError: malformed bytes, or parameters that :meth:`create`
                refuses (bad ids, threshold, modulus, degree, sizes beyond the caps,
                invalid verifying keys).
        """
        env = unpack(data, ObjectType.SECAGG_CONFIG)
        r = Reader(env.payload)
        sid = r.raw(SESSION_ID_BYTES)
        if env.param_id != param_id(b"secagg", sid):
            raise SerializationError("envelope parameter id does not match the session id")
        flags, k = r.u8(), r.u8()
        if flags & ~3:
            raise SerializationError("unknown configuration flags")
        length, threshold, degree, n = r.u32(), r.u32(), r.u32(), r.u32()
        if n > MAX_CLIENTS:
            raise SerializationError(f"more than {MAX_CLIENTS} clients")
        if n * (4 + (32 if flags & 1 else 0)) != r.remaining():
            raise SerializationError("client list does not match the payload length")
        ids = [r.u32() for _ in range(n)]
        keys: dict[int, Ed25519PublicKey] | None = None
        if flags & 1:
            keys = {}
            for c in ids:
                try:
                    keys[c] = Ed25519PublicKey.from_public_bytes(r.raw(32))
                except ValueError:
                    raise SerializationError("invalid Ed25519 verifying key") from None
        r.finish()
        if bool(flags & 2) != (degree != 0):
            raise SerializationError("SecAgg+ flag and degree disagree")
        try:
            return cls.create(
                ids,
                threshold=threshold,
                vector_length=length,
                modulus_bits=k,
                active=bool(flags & 1),
                verifying_keys=keys,
                degree=degree or None,
                session_id=sid,
                unsafe_allow_low_threshold=unsafe_allow_low_threshold,
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"unacceptable session parameters: {exc}") from None

    @property
    def param(self) -> bytes:
        """The 16-byte envelope parameter id of this session's messages."""
        return param_id(b"secagg", self.session_id)

    @property
    def client_set(self) -> frozenset[int]:
        """The registered client ids as a frozenset."""
        return self._id_set

    def is_registered(self, client: int) -> bool:
        """Whether ``client`` is one of this session's clients (constant time in n)."""
        return client in self._id_set

    def neighbors(self, client: int) -> frozenset[int]:
        """The clients ``client`` masks with and shares to (never itself).

        Raises:
            KeyError: ``client`` is not registered.
        """
        if self._graph is None:
            if client not in self._id_set:
                raise KeyError(client)
            return self._id_set - {client}
        return self._graph.neighbors(client)

    def holders(self, client: int, among: Iterable[int]) -> tuple[int, ...]:
        """Sorted share holders of ``client``: itself and its neighbours, restricted to ``among``.

        ``among`` must contain registered clients only (the state machines check this).
        """
        if self.degree is None:  # complete graph: everyone in ``among`` holds a share
            return tuple(sorted(set(among)))
        pool = self.neighbors(client) | {client}
        among_set = among if isinstance(among, (set, frozenset)) else set(among)
        return tuple(sorted(c for c in pool if c in among_set))

    def __repr__(self) -> str:
        return (
            f"SecAggConfig(clients={len(self.client_ids)}, threshold={self.threshold}, "
            f"modulus_bits={self.modulus_bits}, vector_length={self.vector_length}, "
            f"active={self.active}, degree={self.degree})"
        )
