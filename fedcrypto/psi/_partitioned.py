"""Partitioned PSI: one padded sub-session per bucket, several buckets in flight.

Both parties split their items into ``B = settings.buckets`` buckets with a session-keyed
HMAC and pad every bucket with dummies to one public size (:mod:`._buckets` has the maths,
the bound and the abort-and-rekey rule).  Bucket ``b`` is then a complete, independent PSI
session (same protocol, group and reveal mode; its own derived session id, fresh secret
scalar and permutation) whose messages travel as :class:`BucketMessage` frames tagged with
``b``.  The intersection is the union of the buckets' intersections, mapped back to
positions in this party's input (dummies never match).

Scheduling, identical on both sides so neither can make the other hold many buckets:
buckets open in order, at most :data:`BUCKET_WINDOW` unfinished ones at a time counted from
the lowest unfinished bucket ``L``.  A peer message for a bucket not yet open opens it (and
every bucket below it) when it is below ``L + 2 * BUCKET_WINDOW`` (the most a correct peer
can be ahead, since it finishes a bucket only after this side has opened it); further ahead
it is a :class:`~fedcrypto.exceptions.RemoteProtocolError`, as is a message for a finished
bucket.  Each sub-session's work runs as chunks on the caller's executor.

Resume: ``finished`` gives results of buckets both sides completed in an earlier run of the
*same* session (same session id, settings, inputs: the caller checks); they are not run
again, and ``on_bucket_done`` lets the caller checkpoint each newly finished bucket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import BucketOverflowError, RemoteProtocolError
from ..hazmat.rsa_blind import RsaBlindKey
from ._buckets import (
    DUMMY_BYTES,
    assign_buckets,
    bucket_key,
    bucket_session_id,
    dummy_items,
    padded_bucket_size,
)
from ._messages import BucketMessage, PsiMessage
from ._party import PsiParty, PsiResult
from ._rsa import SESSION_KEY_PRIMES, signer_role
from ._seeded import bucket_seed, purpose_rng
from ._settings import PsiSettings
from ._single import single_party

__all__ = ["PartitionedParty", "BUCKET_WINDOW", "BucketDoneFn"]

#: Buckets a party keeps open at once (each holds one bucket's items and join).
BUCKET_WINDOW = 2

BucketDoneFn = Callable[[int, PsiResult], None]


class PartitionedParty(PsiParty):
    """One side of a partitioned PSI run (``settings.buckets > 1``); made by
    :func:`~fedcrypto.psi.create_party`.  Same interface as every :class:`PsiParty`:
    messages are :class:`BucketMessage`.

    :attr:`buckets_done` / :attr:`buckets_total` give the progress; the ``progress``
    callback receives the phase ``"buckets"``.

    :raises BucketOverflowError: from the constructor, when one of this party's buckets
        exceeds the padded size (negligible probability; re-run with a new session).
    """

    def __init__(
        self,
        settings: PsiSettings,
        *,
        rsa_key: RsaBlindKey | None = None,
        finished: Mapping[int, PsiResult] | None = None,
        on_bucket_done: BucketDoneFn | None = None,
        randomness_seed: bytes | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self._seed = randomness_seed
        B = settings.buckets
        self._B = B
        self._sub_settings = settings.single_bucket()
        assign = assign_buckets(
            self._items, bucket_key(settings, self._session_id), B, self._executor
        )
        counts = np.bincount(assign, minlength=B) if assign.size else np.zeros(B, np.int64)
        self._my_size = padded_bucket_size(self.n, B)
        self._peer_bucket_size = padded_bucket_size(self.peer_size, B)
        if counts.size and int(counts.max()) > self._my_size:
            raise BucketOverflowError(
                f"a bucket holds {int(counts.max())} IDs, more than its padded size "
                f"{self._my_size} (probability below 2^-40 for distinct inputs); "
                "nothing was sent: re-run, a new session re-keys the buckets"
            )
        self._order = np.argsort(assign, kind="stable").astype(np.int64)
        self._bounds = np.concatenate(([0], np.cumsum(counts))).astype(np.int64)
        if (
            settings.protocol == "rsa"
            and self.role == signer_role(settings.reveal)
            and rsa_key is None
        ):
            # one signing key for the whole run (a key per bucket would cost a key generation
            # per bucket and protect nothing more: every bucket has its own session id)
            rsa_key = RsaBlindKey.generate(
                int(settings.resolved_group()[3:]), primes=SESSION_KEY_PRIMES
            )
        self._rsa_key = rsa_key
        self._on_done = on_bucket_done
        self._results: dict[int, PsiResult] = dict(finished or {})
        self._active: dict[int, PsiParty] = {}
        self._next_open = 0
        self._lowest = 0
        self._advance_lowest()

    # -- progress ------------------------------------------------------------------------
    @property
    def buckets_total(self) -> int:
        """Number of buckets of the run."""
        return self._B

    @property
    def buckets_done(self) -> int:
        """Buckets finished so far (including those resumed from a checkpoint)."""
        return len(self._results)

    @property
    def bucket_size(self) -> int:
        """The public padded size of each of this party's buckets."""
        return self._my_size

    # -- buckets -------------------------------------------------------------------------
    def _bucket_positions(self, b: int) -> npt.NDArray[np.int64]:
        return self._order[self._bounds[b] : self._bounds[b + 1]]

    def _advance_lowest(self) -> None:
        while self._lowest < self._B and self._lowest in self._results:
            self._lowest += 1
        self._next_open = max(self._next_open, self._lowest)

    def _open(self, b: int) -> list[PsiMessage]:
        pos = self._bucket_positions(b)
        items = [self._items[int(i)] for i in pos]
        extra: dict[str, Any] = {}
        if self._seed is None:
            items += dummy_items(self._my_size - len(items))
        else:
            seed = bucket_seed(self._seed, b)
            raw = purpose_rng(seed, "dummies").bytes(DUMMY_BYTES * (self._my_size - len(items)))
            items += [raw[i : i + DUMMY_BYTES] for i in range(0, len(raw), DUMMY_BYTES)]
            extra["rng_seed"] = seed
        sub = single_party(
            self._sub_settings,
            rsa_key=self._rsa_key,
            role=self.role,
            items=items,
            peer_size=self._peer_bucket_size,
            session_id=bucket_session_id(self._session_id, self._B, b),
            executor=self._executor,
            join=self._join_provider,
            progress=None,
            **extra,
        )
        self._active[b] = sub
        return self._wrap(b, sub.start())

    def _open_up_to(self, limit: int) -> list[PsiMessage]:
        out: list[PsiMessage] = []
        while self._next_open < min(limit, self._B):
            b = self._next_open
            self._next_open += 1
            if b not in self._results:
                out += self._open(b)
        return out

    def _wrap(self, b: int, msgs: Sequence[PsiMessage]) -> list[PsiMessage]:
        return [BucketMessage(param=self._param, bucket=b, inner=m) for m in msgs]

    def _bucket_finished(self, b: int, sub: PsiParty) -> None:
        res = sub.result()
        sub.close()
        del self._active[b]
        pos = self._bucket_positions(b)
        indices = None
        if res.indices is not None:
            real = res.indices[res.indices < pos.size]
            indices = np.sort(pos[real]).astype(np.int64)
        count = int(indices.size) if indices is not None else res.count
        mapped = PsiResult(indices=indices, count=count)
        self._results[b] = mapped
        if self._on_done is not None:
            self._on_done(b, mapped)
        self._advance_lowest()
        self._report("buckets", len(self._results), self._B)

    # -- PsiParty hooks ------------------------------------------------------------------
    def _start(self) -> list[PsiMessage]:
        out = self._open_up_to(self._lowest + BUCKET_WINDOW)
        self._maybe_finish()
        return out

    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:
        if not isinstance(msg, BucketMessage):
            raise RemoteProtocolError(
                f"expected a bucket frame in a partitioned run, got {type(msg).__name__}"
            )
        b = msg.bucket
        if b in self._results:
            raise RemoteProtocolError(f"message for bucket {b}, which is already finished")
        out: list[PsiMessage] = []
        if b not in self._active:
            if b >= self._lowest + 2 * BUCKET_WINDOW:
                raise RemoteProtocolError(
                    f"message for bucket {b}, too far ahead of bucket {self._lowest}"
                )
            out += self._open_up_to(b + 1)
        sub = self._active[b]
        out += self._wrap(b, sub.handle(msg.inner))
        if sub.done:
            self._bucket_finished(b, sub)
            out += self._open_up_to(self._lowest + BUCKET_WINDOW)
        self._maybe_finish()
        return out

    def _maybe_finish(self) -> None:
        if len(self._results) < self._B:
            return
        parts = [self._results[b] for b in range(self._B)]
        if all(r.indices is not None for r in parts):
            idx = np.sort(np.concatenate([r.indices for r in parts if r.indices is not None]))
            self._finish(idx.astype(np.int64), int(idx.size))
        elif all(r.count is not None for r in parts):
            self._finish(None, sum(int(r.count) for r in parts if r.count is not None))
        else:
            self._finish(None, None)

    def _close(self) -> None:
        for sub in self._active.values():
            sub.close()
        self._active.clear()
