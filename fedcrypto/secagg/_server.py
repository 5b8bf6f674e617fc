"""The server side of Bonawitz et al. secure aggregation (CCS 2017, Fig. 4), sans-I/O.

For each round the server ``receive_*``s the clients' messages (objects or bytes;
each is validated: session, round, registered sender who took part in the previous
round, no repeat, signature in active mode) and then closes the round with the
method that builds the next broadcast.  Closing a round with fewer than ``t``
clients raises :class:`~fedcrypto.exceptions.ProtocolError`.

Dropout recovery (round 4): for each client ``v`` in U2 that sent no masked input,
the server reconstructs its mask key ``s_v^SK`` from ``t`` shares and regenerates
the pairwise masks ``PRG(s_{u,v})`` for every surviving neighbour ``u``; for every
survivor ``u`` it reconstructs ``b_u`` and removes ``PRG(b_u)``.  All masks are
AES-CTR keystreams accumulated in wrapping machine words (see ``_masking``).
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Container
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..exceptions import (
    FedCryptoError,
    InvalidArgumentError,
    InvalidTypeError,
    ProtocolError,
    SerializationError,
)
from ..sharing import Share, shamir_combine_many
from ._config import SecAggConfig
from ._crypto import agree, load_public_key, verify
from ._masking import MaskAccumulator, pairwise_mask_key, self_mask_key
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
from ._shares import shares_from_wire

__all__ = ["SecAggServer", "AggregationResult"]

M = TypeVar("M", bound=Message)

_ADVERTISE, _SHARE, _MASK, _CONSISTENCY, _UNMASK, _DONE = range(6)
_ROUND_NAMES = ("advertise_keys", "share_keys", "masked_input", "consistency", "unmasking", "done")


@dataclass(frozen=True, eq=False)
class AggregationResult:
    """The outcome of a session.

    Attributes:
        aggregate: ``sum of x_u over included clients mod 2^k`` (uint64, read-only).
        included: sorted ids of the clients whose inputs are in the sum (U3).
        modulus_bits: ``k``.
    """

    aggregate: npt.NDArray[np.uint64]
    included: tuple[int, ...]
    modulus_bits: int


class SecAggServer:
    """The aggregation server of one session (honest-but-curious or active variant).

    Args:
        config: the session parameters (identical at every party).

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
        "_inputs",
        "_mask_publics",
        "_responses",
        "_shares",
        "_stage",
        "_u3",
        "_u3_set",
        "_unmask",
    )

    def __init__(self, config: SecAggConfig) -> None:
        if not isinstance(config, SecAggConfig):
            raise InvalidTypeError("config must be a SecAggConfig")
        self._config = config
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
                raise ProtocolError(f"malformed {cls.__name__}: {exc}") from None
        elif not isinstance(msg, cls):
            raise InvalidTypeError(
                f"expected {cls.__name__} or its bytes, got {type(msg).__name__}"
            )
        elif msg.session_id != cfg.session_id:
            raise ProtocolError(f"{cls.__name__} belongs to another session")
        if self._stage != stage:
            raise ProtocolError(
                f"{cls.__name__} arrived while collecting {self.round}: late, early or replayed"
            )
        sender: int = msg.sender  # type: ignore[attr-defined]
        if sender not in previous:
            raise ProtocolError(
                f"{cls.__name__} from client {sender}, which is not in the previous round's set"
            )
        if sender in seen:
            raise ProtocolError(f"repeated {cls.__name__} from client {sender} (replay)")
        if cfg.active and not isinstance(msg, ConsistencyCheck):
            verify(cfg.verifying_keys[sender], msg.signature, msg.signed_transcript(), who=sender)  # type: ignore[attr-defined]
        return msg

    def _need(self, count: int, what: str) -> None:
        if count < self._config.threshold:
            raise ProtocolError(
                f"only {count} clients {what}; "
                f"at least threshold = {self._config.threshold} are needed"
            )

    # -- round 0 -----------------------------------------------------------------
    def receive_advertise_keys(self, msg: AdvertiseKeys | bytes) -> None:
        """Collect a client's AdvertiseKeys (round 0).

        Raises:
            ProtocolError: wrong round, unknown or repeated sender, bad key encoding.
            InvalidSignatureError: bad signature (active).
        """
        m = self._accept(msg, AdvertiseKeys, _ADVERTISE, self._config.client_set, self._adverts)
        try:
            mask_pk = load_public_key(m.mask_public)
            load_public_key(m.enc_public)
        except FedCryptoError as exc:
            raise ProtocolError(f"bad public key from client {m.sender}: {exc}") from None
        self._mask_publics[m.sender] = mask_pk
        self._adverts[m.sender] = m

    def key_list(self) -> KeyList:
        """Close round 0: the list of U1's advertisements, to broadcast to every client in U1.

        Raises:
            ProtocolError: fewer than ``t`` clients advertised keys, or called twice.
        """
        self._close(_ADVERTISE)
        self._need(len(self._adverts), "advertised keys")
        self._stage = _SHARE
        return KeyList(
            self._config.session_id, tuple(self._adverts[c] for c in sorted(self._adverts))
        )

    def _close(self, stage: int) -> None:
        if self._stage != stage:
            raise ProtocolError(
                f"cannot close {_ROUND_NAMES[stage]}: the server is at {self.round}"
            )

    # -- round 1 -----------------------------------------------------------------
    def receive_share_keys(self, msg: ShareKeys | bytes) -> None:
        """Collect a client's encrypted shares (round 1).

        Raises:
            ProtocolError: wrong round, sender not in U1, repeated, or ciphertexts not
                addressed to exactly the sender's share holders in U1.
        """
        m = self._accept(msg, ShareKeys, _SHARE, self._adverts, self._shares)
        receivers = [r for r, _ in m.ciphertexts]
        expected = set(self._config.holders(m.sender, tuple(self._adverts))) - {m.sender}
        if len(set(receivers)) != len(receivers) or set(receivers) != expected:
            raise ProtocolError(
                f"client {m.sender} did not address exactly its share holders in U1"
            )
        self._shares[m.sender] = m

    def share_deliveries(self) -> dict[int, ShareDelivery]:
        """Close round 1: for each client in U2, the ciphertexts addressed to it.

        Raises:
            ProtocolError: fewer than ``t`` clients sent shares.
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
            ProtocolError: wrong round, sender not in U2, repeated, wrong modulus or length.
        """
        m = self._accept(msg, MaskedInput, _MASK, self._shares, self._inputs)
        cfg = self._config
        if m.modulus_bits != cfg.modulus_bits or m.vector.shape != (cfg.vector_length,):
            raise ProtocolError(
                f"masked input from client {m.sender} has the wrong modulus or length"
            )
        if cfg.modulus_bits < 64 and m.vector.size and int(m.vector.max()) >> cfg.modulus_bits:
            raise ProtocolError(f"masked input from client {m.sender} is out of range")
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
            ProtocolError: not the active variant, or fewer than ``t`` masked inputs.
        """
        if not self._config.active:
            raise ProtocolError("the consistency round exists only in the active variant")
        u3 = self._close_inputs()
        self._stage = _CONSISTENCY
        return ConsistencyRequest(self._config.session_id, u3)

    def receive_consistency_check(self, msg: ConsistencyCheck | bytes) -> None:
        """Collect a client's signature over U3 (round 3, active).

        Raises:
            ProtocolError: wrong round, sender not in U3, repeated.
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
            ProtocolError: fewer than ``t`` masked inputs (or consistency signatures).
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
    def receive_unmask_response(self, msg: UnmaskResponse | bytes) -> None:
        """Collect a client's shares (round 4).

        Raises:
            ProtocolError: wrong round, sender outside U3 (U4 when active), repeated,
                shares of owners not requested, malformed shares.
        """
        cfg = self._config
        allowed: Container[int] = self._consistency if cfg.active else self._u3_set
        m = self._accept(msg, UnmaskResponse, _UNMASK, allowed, self._responses)
        assert self._unmask is not None
        survivors, dropped = set(self._unmask.survivors), set(self._unmask.dropped)
        for owners, want in ((m.mask_shares, survivors), (m.key_shares, dropped)):
            names = [o for o, _ in owners]
            if len(set(names)) != len(names) or not set(names) <= want:
                raise ProtocolError(f"client {m.sender} sent shares that were not requested")
        self._responses[m.sender] = m

    def _combine(self, owners: list[int], kind: str, verify: bool) -> list[bytes]:
        """Rebuild the first ``t`` shares received for each owner (all of them when
        ``verify``) and interpolate them all."""
        cfg = self._config
        t = cfg.threshold
        want = set(owners)
        received: dict[int, list[tuple[int, bytes]]] = {o: [] for o in owners}
        for sender in sorted(self._responses):
            resp = self._responses[sender]
            for o, raw in resp.mask_shares if kind == "mask" else resp.key_shares:
                if o in want and (verify or len(received[o]) < t):
                    received[o].append((sender, raw))
        u1 = tuple(sorted(self._adverts))
        cache: dict[int | None, dict[int, int]] = {}
        sets: list[list[Share]] = []
        for o in owners:
            got = received[o]
            if len(got) < t:
                raise ProtocolError(
                    f"only {len(got)} shares to recover client {o}'s {kind} secret; "
                    f"threshold is {t}"
                )
            key = None if cfg.degree is None else o
            if key not in cache:
                holders = cfg.holders(o, u1)
                cache[key] = {h: i + 1 for i, h in enumerate(holders)}
            position = cache[key]
            count = len(position)
            for sender, _ in got:
                if sender not in position:
                    raise ProtocolError(f"client {sender} sent a share it cannot hold")
            shares = shares_from_wire(
                [(sender, position[sender], raw) for sender, raw in got],
                threshold=t,
                share_count=count,
            )
            sets.append(shares)
        try:
            return shamir_combine_many(sets, verify=verify)
        except (FedCryptoError, ValueError) as exc:
            raise ProtocolError(f"share reconstruction failed: {exc}") from None

    def aggregate(
        self, *, workers: int | None = None, verify_shares: bool = False
    ) -> AggregationResult:
        """Close round 4: unmask and return the sum of U3's inputs mod ``2^k``.

        ``sum_u y_u - sum_u PRG(b_u)
        - sum_{v dropped} sum_{u in U3, u ~ v} sign(u, v) PRG(s_{u,v})``.

        Args:
            workers: processes used to regenerate masks (AES-CTR and X25519 in the
                ``cryptography`` package hold the GIL, so threads would not help).
                ``None``: all cores when the work is large enough to pay for a fork,
                else 1.  Workers are forked children of this process; the recovered
                secrets reach them through a local pipe and they exit at once.
            verify_shares: use every share received, not just ``t``, and check that they
                all lie on one polynomial: a client that dealt or returned an inconsistent
                share is then detected for certain (``ProtocolError``) whenever more than
                ``t`` holders answered.  Costs one share parse per received share.

        Raises:
            ProtocolError: fewer than ``t`` responses, too few shares for some client,
                a reconstructed key that does not match its advertised public key.
        """
        self._close(_UNMASK)
        self._need(len(self._responses), "answered the unmasking request")
        cfg = self._config
        assert self._unmask is not None
        survivors = list(self._unmask.survivors)
        dropped = list(self._unmask.dropped)
        seeds = self._combine(survivors, "mask", verify_shares)
        keys = self._combine(dropped, "key", verify_shares)
        survivor_set = set(survivors)
        self_jobs = list(zip(survivors, seeds, strict=True))
        pair_jobs: list[tuple[int, bytes, list[tuple[int, bytes]]]] = []
        for v, raw in zip(dropped, keys, strict=True):
            sk = X25519PrivateKey.from_private_bytes(raw)
            advertised = self._adverts[v].mask_public
            if sk.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != advertised:
                raise ProtocolError(
                    f"recovered mask key of client {v} does not match its public key"
                )
            peers = [
                (u, self._adverts[u].mask_public) for u in sorted(cfg.neighbors(v) & survivor_set)
            ]
            pair_jobs.append((v, raw, peers))
        acc = MaskAccumulator(cfg.vector_length, cfg.modulus_bits)
        for u in survivors:
            acc.add_vector(self._inputs[u].vector)
        for part in _run_recovery(cfg, self_jobs, pair_jobs, workers):
            acc.add_vector(part)
        self._stage = _DONE
        result = acc.result()
        result.setflags(write=False)
        return AggregationResult(result, tuple(survivors), cfg.modulus_bits)


_Job = tuple[list[tuple[int, bytes]], list[tuple[int, bytes, list[tuple[int, bytes]]]]]
#: Below this many mask words to regenerate, forking is not worth it.
_PARALLEL_MIN_WORDS = 1 << 25


def _recover_masks(
    modulus_bits: int, length: int, session_id: bytes, job: _Job
) -> npt.NDArray[np.unsignedinteger]:
    """Minus the self masks and the dropped clients' pairwise masks of one job, in words."""
    self_jobs, pair_jobs = job
    acc = MaskAccumulator(length, modulus_bits)
    for u, seed in self_jobs:
        acc.add(self_mask_key(seed, session_id=session_id, u=u, modulus_bits=modulus_bits), -1)
    parsed: dict[int, X25519PublicKey] = {}  # each survivor's key serves every dropped peer
    for v, raw, peers in pair_jobs:
        sk = X25519PrivateKey.from_private_bytes(raw)
        for u, pk in peers:
            if u not in parsed:
                parsed[u] = load_public_key(pk)
            secret = agree(sk, parsed[u])
            key = pairwise_mask_key(
                secret, session_id=session_id, u=u, v=v, modulus_bits=modulus_bits
            )
            # y_u contains +PRG if u < v and -PRG otherwise: remove it.
            acc.add(key, -1 if u < v else 1)
    return acc.words()


def _split_jobs(
    self_jobs: list[tuple[int, bytes]],
    pair_jobs: list[tuple[int, bytes, list[tuple[int, bytes]]]],
    parts: int,
) -> list[_Job]:
    """Cut the work into ``parts`` jobs of (nearly) equal numbers of mask expansions."""
    units: list[tuple[int, bytes, tuple[int, bytes] | None]] = [(u, s, None) for u, s in self_jobs]
    for v, raw, peers in pair_jobs:
        units.extend((v, raw, p) for p in peers)
    size = max(1, -(-len(units) // parts))
    jobs: list[_Job] = []
    for start in range(0, len(units), size):
        selfs: list[tuple[int, bytes]] = []
        grouped: dict[int, tuple[int, bytes, list[tuple[int, bytes]]]] = {}
        for owner, secret, peer in units[start : start + size]:
            if peer is None:
                selfs.append((owner, secret))
            else:
                grouped.setdefault(owner, (owner, secret, []))[2].append(peer)
        jobs.append((selfs, list(grouped.values())))
    return jobs


def _run_recovery(
    cfg: SecAggConfig,
    self_jobs: list[tuple[int, bytes]],
    pair_jobs: list[tuple[int, bytes, list[tuple[int, bytes]]]],
    workers: int | None,
) -> list[npt.NDArray[np.unsignedinteger]]:
    expansions = len(self_jobs) + sum(len(p) for _, _, p in pair_jobs)
    if workers is None:
        big = expansions * cfg.vector_length >= _PARALLEL_MIN_WORDS
        workers = (os.cpu_count() or 1) if big else 1
    if not isinstance(workers, int) or workers < 1:
        raise InvalidArgumentError("workers must be a positive integer")
    workers = min(workers, max(1, expansions))
    args = (cfg.modulus_bits, cfg.vector_length, cfg.session_id)
    if workers == 1 or "fork" not in mp.get_all_start_methods():
        return [_recover_masks(*args, (self_jobs, pair_jobs))]
    jobs = _split_jobs(self_jobs, pair_jobs, workers)
    if len(jobs) == 1:
        return [_recover_masks(*args, jobs[0])]
    try:
        pool = ProcessPoolExecutor(max_workers=len(jobs) - 1, mp_context=mp.get_context("fork"))
    except (OSError, ValueError):  # no processes available here: stay serial
        return [_recover_masks(*args, job) for job in jobs]
    with pool:
        futures = [pool.submit(_recover_masks, *args, job) for job in jobs[1:]]
        parts = [_recover_masks(*args, jobs[0])]
        for job, fut in zip(jobs[1:], futures, strict=True):
            try:
                parts.append(fut.result())
            except BrokenProcessPool:  # a worker died (e.g. killed): redo its share here
                parts.append(_recover_masks(*args, job))
    return parts
