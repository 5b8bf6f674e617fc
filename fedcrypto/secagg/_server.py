"""The server side of Bonawitz et al. secure aggregation (CCS 2017, Fig. 4), sans-I/O.

For each round the server ``receive_*``s the clients' messages (objects or bytes;
each is validated: session, round, registered sender who took part in the previous
round, no repeat, signature in active mode, and the round's own content: valid and
unique public keys, share ciphertexts of the exact size addressed to exactly the
sender's holders, masked inputs of the right length and range, well-formed requested
shares the sender can hold) and then closes the round with the method that builds the
next broadcast.  ``receive_*`` is the door where client data enters: anything wrong
raises :class:`~fedcrypto.exceptions.RemoteProtocolError` (or a subclass) and leaves the
server's state unchanged, so a bad message only ever drops its sender.  Closing a round
with fewer than ``t`` clients, or calling the methods out of order, raises
:class:`~fedcrypto.exceptions.LocalProtocolError`.

Dropout recovery (round 4): for each client ``v`` in U2 that sent no masked input,
the server reconstructs its mask key ``s_v^SK`` from ``t`` shares and regenerates
the pairwise masks ``PRG(s_{u,v})`` for every surviving neighbour ``u``; for every
survivor ``u`` it reconstructs ``b_u`` and removes ``PRG(b_u)``.  All masks are
AES-CTR keystreams accumulated in wrapping machine words (see ``_masking``),
regenerated as plain jobs on the executor the caller gave (``_recovery``; inline
without one): the server never starts processes of its own.

Every reconstructed secret is checked against a binding public value its owner sent
before any share of it was revealed: a mask key must match the X25519 public key the
owner advertised in round 0, a self-mask seed ``b_u`` must open the commitment
``SHA-256(label || session || u || b_u)`` the owner sent in its ShareKeys (round 1).
Shamir's own range check is not relied on: a wrong share passes it with probability
about 2^-7 per chunk, and a holder can shift the secret by a chosen multiple of its
Lagrange coefficient and always pass it.  When a check fails, the server looks for the
single share whose removal makes the secret pass (using every other share, checked for
consistency; a guess is accepted only when the secret then matches the commitment or
public key, so it is sound even with no share to spare) and sets it aside; a client
caught with bad shares of two owners has its whole unmasking response set aside
(``AggregationResult.discarded_responses``).  When no single share explains a failure,
or one owner needs more than two set aside, that owner dealt inconsistent shares or
committed to another seed (or several holders lied) and
:meth:`SecAggServer.aggregate` raises :class:`~fedcrypto.exceptions.RemoteProtocolError`
naming it.  It never returns a sum with a mask left in (short of a SHA-256 second
preimage or an X25519 key collision).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Container
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .._immutable import Immutable
from ..exceptions import (
    FedCryptoError,
    InvalidGroupElementError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from ..sharing import Share, shamir_combine, shamir_combine_many
from ._config import SecAggConfig
from ._crypto import (
    SHARE_CIPHERTEXT_BYTES,
    load_public_key,
    seed_matches,
    verify,
    x25519_key_problem,
)
from ._masking import MaskAccumulator
from ._messages import (
    AdvertiseKeys,
    ConsistencyCheck,
    ConsistencyRequest,
    KeyList,
    MaskedInput,
    Message,
    ShareDelivery,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
    consistency_transcript,
)
from ._recovery import PairJob, run_recovery
from ._shares import SHARE_WIRE_BYTES, first_bad_share, shares_from_wire

__all__ = ["SecAggServer", "AggregationResult"]

M = TypeVar("M", bound=Message)

_ADVERTISE, _SHARE, _MASK, _CONSISTENCY, _UNMASK, _DONE = range(6)
_ROUND_NAMES = ("advertise_keys", "share_keys", "masked_input", "consistency", "unmasking", "done")


@dataclass(frozen=True, eq=False)
class AggregationResult(Immutable):
    """The outcome of a session.

    Attributes:
        aggregate: ``sum of x_u over included clients mod 2^k`` (uint64, read-only).
        included: sorted ids of the clients whose inputs are in the sum (U3).
        modulus_bits: ``k``.
        discarded_responses: sorted ids of clients whose unmasking responses were set
            aside because they held bad shares of two or more owners (their inputs are
            still in the sum; their shares were not used).
    """

    aggregate: npt.NDArray[np.uint64]
    included: tuple[int, ...]
    modulus_bits: int
    discarded_responses: tuple[int, ...] = ()


class _TooFewShares(Exception):
    """Internal: an owner has fewer than ``t`` shares."""

    def __init__(self, owner: int, count: int) -> None:
        super().__init__(owner, count)
        self.owner, self.count = owner, count


class _Unrecovered(Exception):
    """Internal: these owners' secrets failed their checks."""

    def __init__(self, owners: list[int]) -> None:
        super().__init__(owners)
        self.owners = owners


class SecAggServer:
    """The aggregation server of one session (honest-but-curious or active variant).

    Args:
        config: the session parameters (identical at every party).
        executor: where the unmasking step regenerates masks: any
            ``concurrent.futures.Executor`` (a spawn-based process pool, a Dask
            executor, threads), or ``None`` to run inline in this process.  The server
            never starts processes of its own.  Jobs are plain data and a module-level
            function (``fedcrypto.secagg._recovery``); they carry the recovered secrets,
            so use only executors the server trusts.  The result is the same whatever
            the executor; a job that fails there (a worker that died) is redone inline.

    Raises:
        InvalidTypeError: ``config`` is not a SecAggConfig, or ``executor`` is not an
            Executor.

    Rounds:
        0. :meth:`receive_advertise_keys` ..., then :meth:`key_list` -> KeyList (to all of U1)
        1. :meth:`receive_share_keys` ..., then :meth:`share_deliveries` -> {client: ShareDelivery}
        2. :meth:`receive_masked_input` ..., then :meth:`consistency_request` (active) or
           :meth:`unmask_request` (honest-but-curious)
        3. (active) :meth:`receive_consistency_check` ..., then :meth:`unmask_request`
        4. :meth:`receive_unmask_response` ..., then :meth:`aggregate` -> AggregationResult
    """

    __slots__ = (
        "_adverts",
        "_config",
        "_consistency",
        "_discarded",
        "_executor",
        "_inputs",
        "_mask_publics",
        "_positions",
        "_public_keys",
        "_responses",
        "_shares",
        "_stage",
        "_u3",
        "_u3_set",
        "_unmask",
    )

    def __init__(self, config: SecAggConfig, *, executor: Executor | None = None) -> None:
        if not isinstance(config, SecAggConfig):
            raise InvalidTypeError("config must be a SecAggConfig")
        if executor is not None and not isinstance(executor, Executor):
            raise InvalidTypeError("executor must be a concurrent.futures.Executor or None")
        self._config = config
        self._executor = executor
        self._stage = _ADVERTISE
        self._adverts: dict[int, AdvertiseKeys] = {}
        self._shares: dict[int, ShareKeys] = {}
        self._inputs: dict[int, MaskedInput] = {}
        self._consistency: dict[int, ConsistencyCheck] = {}
        self._responses: dict[int, UnmaskResponse] = {}
        self._mask_publics: dict[int, X25519PublicKey] = {}
        self._u3: tuple[int, ...] = ()
        self._u3_set: frozenset[int] = frozenset()
        self._unmask: UnmaskRequest | None = None
        self._public_keys: set[bytes] = set()  # every X25519 key accepted in round 0
        self._positions: dict[int | None, dict[int, int]] = {}
        self._discarded: list[int] = []

    def __repr__(self) -> str:
        return f"SecAggServer(round={_ROUND_NAMES[self._stage]}, {self._config!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("SecAggServer state cannot be pickled")

    @property
    def config(self) -> SecAggConfig:
        """The session parameters."""
        return self._config

    @property
    def round(self) -> str:
        """Name of the round currently collecting messages."""
        return _ROUND_NAMES[self._stage]

    # -- helpers -----------------------------------------------------------------
    def _accept(
        self,
        msg: M | bytes,
        cls: type[M],
        stage: int,
        previous: Container[int],
        seen: dict[int, M],
    ) -> M:
        cfg = self._config
        if isinstance(msg, (bytes, bytearray, memoryview)):
            try:
                msg = cls.from_bytes(bytes(msg), session_id=cfg.session_id)
            except SerializationError as exc:
                raise RemoteProtocolError(f"malformed {cls.__name__}: {exc}") from None
        elif not isinstance(msg, cls):
            raise InvalidTypeError(
                f"expected {cls.__name__} or its bytes, got {type(msg).__name__}"
            )
        elif msg.session_id != cfg.session_id:
            raise RemoteProtocolError(f"{cls.__name__} belongs to another session")
        if self._stage != stage:
            raise RemoteProtocolError(
                f"{cls.__name__} arrived while collecting {self.round}: late, early or replayed"
            )
        sender: int = msg.sender  # type: ignore[attr-defined]
        if sender not in previous:
            raise RemoteProtocolError(
                f"{cls.__name__} from client {sender}, which is not in the previous round's set"
            )
        if sender in seen:
            raise RemoteProtocolError(f"repeated {cls.__name__} from client {sender} (replay)")
        if cfg.active and not isinstance(msg, ConsistencyCheck):
            verify(cfg.verifying_keys[sender], msg.signature, msg.signed_transcript(), who=sender)  # type: ignore[attr-defined]
        return msg

    def _need(self, count: int, what: str) -> None:
        if count < self._config.threshold:
            raise LocalProtocolError(
                f"only {count} clients {what}; "
                f"at least threshold = {self._config.threshold} are needed"
            )

    # -- round 0 -----------------------------------------------------------------
    def receive_advertise_keys(self, msg: AdvertiseKeys | bytes) -> None:
        """Collect a client's AdvertiseKeys (round 0).

        Both X25519 keys must be valid (32 bytes, canonical, not of small order: see
        :func:`~fedcrypto.secagg._crypto.x25519_key_problem`), distinct, and not already
        advertised by another client; otherwise the client is left out of U1 and every
        honest client can still complete the round.

        Raises:
            RemoteProtocolError: wrong round, unknown or repeated sender, malformed
                bytes, the two keys equal, a key another client already advertised.
            InvalidGroupElementError: an invalid key (a ``RemoteProtocolError``).
            InvalidSignatureError: bad signature (active).
        """
        m = self._accept(msg, AdvertiseKeys, _ADVERTISE, self._config.client_set, self._adverts)
        for pk in (m.enc_public, m.mask_public):
            problem = x25519_key_problem(pk)
            if problem is not None:
                raise InvalidGroupElementError(f"client {m.sender}: {problem}")
        if m.enc_public == m.mask_public:
            raise RemoteProtocolError(f"client {m.sender} advertised the same key twice")
        if m.enc_public in self._public_keys or m.mask_public in self._public_keys:
            raise RemoteProtocolError(
                f"client {m.sender} advertised a public key another client already uses"
            )
        self._mask_publics[m.sender] = load_public_key(m.mask_public)
        self._public_keys.update((m.enc_public, m.mask_public))
        self._adverts[m.sender] = m

    def key_list(self) -> KeyList:
        """Close round 0: the list of U1's advertisements, to broadcast to every client in U1.

        Raises:
            LocalProtocolError: fewer than ``t`` clients advertised keys, or called twice.
        """
        self._close(_ADVERTISE)
        self._need(len(self._adverts), "advertised keys")
        self._stage = _SHARE
        return KeyList(
            self._config.session_id, tuple(self._adverts[c] for c in sorted(self._adverts))
        )

    def _close(self, stage: int) -> None:
        if self._stage != stage:
            raise LocalProtocolError(
                f"cannot close {_ROUND_NAMES[stage]}: the server is at {self.round}"
            )

    # -- round 1 -----------------------------------------------------------------
    def receive_share_keys(self, msg: ShareKeys | bytes) -> None:
        """Collect a client's encrypted shares (round 1).

        Raises:
            RemoteProtocolError: wrong round, sender not in U1, repeated, ciphertexts not
                addressed to exactly the sender's share holders in U1, or not of the
                exact ciphertext size.
        """
        m = self._accept(msg, ShareKeys, _SHARE, self._adverts, self._shares)
        receivers = [r for r, _ in m.ciphertexts]
        expected = set(self._config.holders(m.sender, tuple(self._adverts))) - {m.sender}
        if len(set(receivers)) != len(receivers) or set(receivers) != expected:
            raise RemoteProtocolError(
                f"client {m.sender} did not address exactly its share holders in U1"
            )
        if any(len(ct) != SHARE_CIPHERTEXT_BYTES for _, ct in m.ciphertexts):
            raise RemoteProtocolError(
                f"client {m.sender} sent share ciphertexts that are not "
                f"{SHARE_CIPHERTEXT_BYTES} bytes"
            )
        self._shares[m.sender] = m

    def share_deliveries(self) -> dict[int, ShareDelivery]:
        """Close round 1: for each client in U2, the ciphertexts addressed to it.

        Raises:
            LocalProtocolError: fewer than ``t`` clients sent shares, or out of order.
        """
        self._close(_SHARE)
        self._need(len(self._shares), "shared their keys")
        inbox: dict[int, list[tuple[int, bytes]]] = {c: [] for c in self._shares}
        for sender in sorted(self._shares):
            for receiver, ct in self._shares[sender].ciphertexts:
                if receiver in inbox:
                    inbox[receiver].append((sender, ct))
        self._stage = _MASK
        sid = self._config.session_id
        return {c: ShareDelivery(sid, c, tuple(items)) for c, items in inbox.items()}

    # -- round 2 -----------------------------------------------------------------
    def receive_masked_input(self, msg: MaskedInput | bytes) -> None:
        """Collect a client's masked input (round 2).

        Raises:
            RemoteProtocolError: wrong round, sender not in U2, repeated, wrong modulus,
                length or range.
        """
        m = self._accept(msg, MaskedInput, _MASK, self._shares, self._inputs)
        cfg = self._config
        vec = m.vector
        if (
            m.modulus_bits != cfg.modulus_bits
            or not isinstance(vec, np.ndarray)
            or vec.dtype != np.uint64
            or vec.shape != (cfg.vector_length,)
        ):
            raise RemoteProtocolError(
                f"masked input from client {m.sender} has the wrong modulus or length"
            )
        if cfg.modulus_bits < 64 and vec.size and int(vec.max()) >> cfg.modulus_bits:
            raise RemoteProtocolError(f"masked input from client {m.sender} is out of range")
        self._inputs[m.sender] = m

    def _close_inputs(self) -> tuple[int, ...]:
        self._close(_MASK)
        self._need(len(self._inputs), "sent masked inputs")
        self._u3 = tuple(sorted(self._inputs))
        self._u3_set = frozenset(self._u3)
        return self._u3

    def consistency_request(self) -> ConsistencyRequest:
        """Close round 2 (active variant): the survivor list U3 for clients to sign.

        Raises:
            LocalProtocolError: not the active variant, or fewer than ``t`` masked inputs.
        """
        if not self._config.active:
            raise LocalProtocolError("the consistency round exists only in the active variant")
        u3 = self._close_inputs()
        self._stage = _CONSISTENCY
        return ConsistencyRequest(self._config.session_id, u3)

    def receive_consistency_check(self, msg: ConsistencyCheck | bytes) -> None:
        """Collect a client's signature over U3 (round 3, active).

        Raises:
            RemoteProtocolError: wrong round, sender not in U3, repeated.
            InvalidSignatureError: the signature does not cover this session's U3.
        """
        m = self._accept(msg, ConsistencyCheck, _CONSISTENCY, self._u3_set, self._consistency)
        cfg = self._config
        verify(
            cfg.verifying_keys[m.sender],
            m.signature,
            consistency_transcript(cfg.session_id, m.sender, self._u3),
            who=m.sender,
        )
        self._consistency[m.sender] = m

    def unmask_request(self) -> UnmaskRequest:
        """Close round 2 (or 3 when active): ask survivors for ``b`` shares of U3 and
        ``s^SK`` shares of the dropped clients U2 minus U3.

        Raises:
            LocalProtocolError: fewer than ``t`` masked inputs (or consistency
                signatures), or out of order.
        """
        cfg = self._config
        if cfg.active:
            self._close(_CONSISTENCY)
            self._need(len(self._consistency), "signed the survivor list")
            sigs = tuple((c, self._consistency[c].signature) for c in sorted(self._consistency))
        else:
            self._close_inputs()
            sigs = ()
        dropped = tuple(sorted(set(self._shares) - set(self._u3)))
        self._unmask = UnmaskRequest(cfg.session_id, self._u3, dropped, sigs)
        self._stage = _UNMASK
        return self._unmask

    # -- round 4 -----------------------------------------------------------------
    def _holder_positions(self, owner: int) -> dict[int, int]:
        """``{holder: share index}`` of ``owner``'s share holders in U1."""
        key = None if self._config.degree is None else owner
        if key not in self._positions:
            holders = self._config.holders(owner, tuple(sorted(self._adverts)))
            self._positions[key] = {h: i + 1 for i, h in enumerate(holders)}
        return self._positions[key]

    def receive_unmask_response(self, msg: UnmaskResponse | bytes) -> None:
        """Collect a client's shares (round 4).

        Every share must be requested (survivors' ``b``, dropped clients' ``s^SK``), from
        an owner the sender holds a share of, at most once per owner, and well-formed
        (60 bytes, values in the field); otherwise the whole response is refused.

        Raises:
            RemoteProtocolError: wrong round, sender outside U3 (U4 when active),
                repeated, shares not requested or not held, malformed shares.
        """
        cfg = self._config
        allowed: Container[int] = self._consistency if cfg.active else self._u3_set
        m = self._accept(msg, UnmaskResponse, _UNMASK, allowed, self._responses)
        assert self._unmask is not None
        survivors, dropped = set(self._unmask.survivors), set(self._unmask.dropped)
        for owners, want in ((m.mask_shares, survivors), (m.key_shares, dropped)):
            names = [o for o, _ in owners]
            if len(set(names)) != len(names) or not set(names) <= want:
                raise RemoteProtocolError(f"client {m.sender} sent shares that were not requested")
            if cfg.degree is None:  # complete graph: every client of U1 holds every share
                cannot_hold = bool(names) and m.sender not in self._holder_positions(names[0])
            else:
                cannot_hold = any(m.sender not in self._holder_positions(o) for o in names)
            if cannot_hold:
                raise RemoteProtocolError(f"client {m.sender} sent a share it cannot hold")
            if first_bad_share([raw for _, raw in owners]) is not None:
                raise RemoteProtocolError(
                    f"client {m.sender} sent a malformed share (not {SHARE_WIRE_BYTES} bytes "
                    "or values outside the field)"
                )
        self._responses[m.sender] = m

    def _share_sets(
        self, owners: list[int], kind: str, every: bool, skip: frozenset[tuple[int, int]]
    ) -> list[list[Share]]:
        """Each owner's shares from the responses (the first ``t`` by sender id, or all
        of them with ``every``), leaving out the ``(owner, sender)`` pairs in ``skip``."""
        t = self._config.threshold
        want = set(owners)
        received: dict[int, list[tuple[int, bytes]]] = {o: [] for o in owners}
        for sender in sorted(self._responses):
            for o, raw in _items(self._responses[sender], kind):
                if o in want and (every or len(received[o]) < t) and (o, sender) not in skip:
                    received[o].append((sender, raw))
        # One bulk Share.many call per share count (all owners share it in a complete
        # graph), then cut back per owner: the per-call cost is paid once, not per owner.
        groups: dict[int, list[tuple[int, int, bytes]]] = {}
        for o in owners:
            got = received[o]
            if len(got) < t:
                raise _TooFewShares(o, len(got))
            position = self._holder_positions(o)
            groups.setdefault(len(position), []).extend(
                (sender, position[sender], raw) for sender, raw in got
            )
        built = {
            count: iter(shares_from_wire(items, threshold=t, share_count=count))
            for count, items in groups.items()
        }
        return [[next(built[len(self._holder_positions(o))]) for _ in received[o]] for o in owners]

    def _secret_ok(self, owner: int, kind: str, secret: bytes) -> bool:
        """A recovered secret must match the binding public value its owner sent before
        any share of it was revealed: a self-mask seed its commitment (ShareKeys), a
        mask key the public key it advertised (AdvertiseKeys).  Shamir's own range check
        is no such check: a wrong share passes it with probability 2^-7 per chunk, and a
        holder can shift the secret by a multiple of its Lagrange coefficient and always
        pass it."""
        if kind == "mask":
            return seed_matches(
                secret,
                self._shares[owner].seed_commitment,
                session_id=self._config.session_id,
                client=owner,
            )
        public = X25519PrivateKey.from_private_bytes(secret).public_key()
        return public.public_bytes(Encoding.Raw, PublicFormat.Raw) == (
            self._adverts[owner].mask_public
        )

    def _reconstruct(
        self, owners: list[int], kind: str, verify: bool, skip: frozenset[tuple[int, int]]
    ) -> list[bytes]:
        """Interpolate and check every owner's secret; raise ``_Unrecovered`` naming the
        owners whose secret fails (``_TooFewShares`` when one lacks shares)."""
        sets = self._share_sets(owners, kind, verify, skip)
        try:
            secrets = shamir_combine_many(sets, verify=verify)
        except (FedCryptoError, ValueError):
            # Find which owners fail: one at a time (only after a failure).
            bad = []
            for o, shares in zip(owners, sets, strict=True):
                try:
                    secret = shamir_combine(shares, verify=verify)
                except (FedCryptoError, ValueError):
                    bad.append(o)
                    continue
                if not self._secret_ok(o, kind, secret):
                    bad.append(o)
            raise _Unrecovered(bad) from None
        bad = [
            o for o, sec in zip(owners, secrets, strict=True) if not self._secret_ok(o, kind, sec)
        ]
        if bad:
            raise _Unrecovered(bad)
        return secrets

    def _find_culprit(
        self,
        owner: int,
        kind: str,
        skip: frozenset[tuple[int, int]],
        strikes: Counter[int],
    ) -> int | None:
        """The responder whose share of ``owner`` is the bad one: leaving it out lets the
        secret pass its checks with every remaining share verified for consistency.  The
        checks end with the binding one (commitment or public key), which only the true
        secret passes, so a wrong guess is never accepted, even when exactly ``t`` shares
        remain and the consistency check has nothing to compare.  ``None`` if no single
        share explains the failure."""
        candidates = [
            r
            for r in sorted(self._responses, key=lambda r: (-strikes[r], r))
            if (owner, r) not in skip
            and any(o == owner for o, _ in _items(self._responses[r], kind))
        ]
        for r in candidates:
            try:
                self._reconstruct([owner], kind, True, skip | {(owner, r)})
            except (_TooFewShares, _Unrecovered):
                continue
            return r
        return None

    def _too_few(
        self, exc: _TooFewShares, kind: str, skip: frozenset[tuple[int, int]]
    ) -> Exception:
        """The error for an owner left with fewer than ``t`` usable shares: the owner's
        fault when holders that answered had none it could use (they could not decrypt
        what it dealt, or what it dealt was inconsistent), else too few holders answered."""
        o, t = exc.owner, self._config.threshold
        holders = self._holder_positions(o)
        unusable = [
            r
            for r, resp in sorted(self._responses.items())
            if r in holders
            and r != o
            and ((o, r) in skip or not any(x == o for x, _ in _items(resp, kind)))
        ]
        what = "self-mask seed" if kind == "mask" else "mask key"
        if unusable:
            return RemoteProtocolError(
                f"only {exc.count} usable shares of client {o}'s {what} (threshold {t}): "
                f"holders {unusable[:8]} had none, so client {o} dealt shares they could "
                "not use"
            )
        return LocalProtocolError(
            f"only {exc.count} shares to recover client {o}'s {what}; threshold is {t}"
        )

    def _recover(
        self, owners: list[int], kind: str, verify: bool, strikes: Counter[int]
    ) -> list[bytes]:
        """Every owner's secret.  A share that breaks a reconstruction is set aside; a
        responder caught with bad shares of two owners has its whole response set aside
        (``strikes`` counts them across both kinds of secret); an owner that needs more
        than :data:`_MAX_BAD_SHARES` shares set aside dealt inconsistent shares."""
        skip: set[tuple[int, int]] = set()
        excluded: Counter[int] = Counter()
        while True:
            frozen = frozenset(skip)
            try:
                return self._reconstruct(owners, kind, verify, frozen)
            except _TooFewShares as exc:
                raise self._too_few(exc, kind, frozen) from None
            except _Unrecovered as exc:
                owner = exc.owners[0]
                culprit = None
                if excluded[owner] < _MAX_BAD_SHARES:
                    culprit = self._find_culprit(owner, kind, frozen, strikes)
                if culprit is None:
                    what = "self-mask seeds" if kind == "mask" else "mask keys"
                    raise RemoteProtocolError(
                        f"the shares of client(s) {exc.owners[:8]} do not reconstruct their "
                        f"{what}: they dealt inconsistent shares (or committed to another "
                        "seed), or several holders returned bad ones"
                    ) from None
                excluded[owner] += 1
                strikes[culprit] += 1
                if strikes[culprit] >= 2:  # bad shares of two owners: it lied, drop it all
                    del self._responses[culprit]
                    self._discarded.append(culprit)
                    skip = {(o, r) for o, r in skip if r != culprit}
                else:
                    skip.add((owner, culprit))

    def aggregate(self, *, verify_shares: bool = False) -> AggregationResult:
        """Close round 4: unmask and return the sum of U3's inputs mod ``2^k``.

        ``sum_u y_u - sum_u PRG(b_u)
        - sum_{v dropped} sum_{u in U3, u ~ v} sign(u, v) PRG(s_{u,v})``.

        Every secret is reconstructed and checked against its owner's binding public
        value (a seed ``b_u`` against the commitment in its ShareKeys, a mask key against
        its advertised public key) before any mask is removed, so the sum returned has
        no mask left in: a wrong share is found and set aside, or the call raises.
        The masks are regenerated on the server's executor (inline without one).

        Args:
            verify_shares: use every share received, not just ``t``, and check that they
                all lie on one polynomial: a bad share is then found even when it would
                not change the result, and its sender's share is set aside.  Costs one
                share parse per received share.  Without it a bad share among the
                first ``t`` is still caught by the checks above (and then searched for
                among all the shares).

        Returns:
            The sum, the clients in it, and the responses set aside because their shares
            broke reconstructions of two owners (``discarded_responses``).

        Raises:
            LocalProtocolError: out of order, fewer than ``t`` responses, or too few
                holders answered to recover some client's secret.
            RemoteProtocolError: some client's secret cannot be recovered because it
                dealt bad shares or committed to another seed, or several holders
                returned bad ones (the error names the clients).
        """
        self._close(_UNMASK)
        self._need(len(self._responses), "answered the unmasking request")
        cfg = self._config
        assert self._unmask is not None
        survivors = list(self._unmask.survivors)
        dropped = list(self._unmask.dropped)
        strikes: Counter[int] = Counter()
        seeds = self._recover(survivors, "mask", verify_shares, strikes)
        keys = self._recover(dropped, "key", verify_shares, strikes)
        survivor_set = set(survivors)
        self_jobs = list(zip(survivors, seeds, strict=True))
        pair_jobs: list[PairJob] = []
        for v, raw in zip(dropped, keys, strict=True):
            peers = [
                (u, self._adverts[u].mask_public) for u in sorted(cfg.neighbors(v) & survivor_set)
            ]
            pair_jobs.append((v, raw, peers))
        acc = MaskAccumulator(cfg.vector_length, cfg.modulus_bits)
        for u in survivors:
            acc.add_vector(self._inputs[u].vector)
        parts = run_recovery(
            self._executor,
            modulus_bits=cfg.modulus_bits,
            length=cfg.vector_length,
            session_id=cfg.session_id,
            self_jobs=self_jobs,
            pair_jobs=pair_jobs,
        )
        for part in parts:
            acc.add_vector(part)
        self._stage = _DONE
        result = acc.result()
        result.setflags(write=False)
        return AggregationResult(
            result, tuple(survivors), cfg.modulus_bits, tuple(sorted(self._discarded))
        )


#: Most shares of one secret set aside before its owner is blamed for dealing them.
_MAX_BAD_SHARES = 2


def _items(resp: UnmaskResponse, kind: str) -> tuple[tuple[int, bytes], ...]:
    """The ``(owner, share)`` pairs of one kind in a response."""
    return resp.mask_shares if kind == "mask" else resp.key_shares
