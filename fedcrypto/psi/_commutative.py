"""ECDH and DH PSI: double masking with commutative exponentiation.

Each party ``P`` has a secret scalar ``k_P``; ``H`` hashes an identifier into the group.

1. Each party shuffles its items (secret permutation) and streams ``H(x)^{k_P}`` in that
   order as :class:`MaskedBatch` messages (window of two unanswered batches).
2. On each peer batch it checks every element is in the group, computes
   ``(H(y)^{k_Q})^{k_P}`` and the 128-bit tag ``T = BLAKE2b-128_key(value)``, and answers
   with a :class:`TagReply`: the tags in the peer's order if the peer learns the
   intersection (reveal ``both`` or the peer's role), else an empty acknowledgement.
   The acknowledgement releases the peer's next batch (flow control, no deadlock).
3. Reveal ``count``: replies are empty; once all peer batches are in, the party sends the
   peer's tags back in a fresh random order (:class:`ShuffledTags`), so the peer can count
   matches but not link them to its items.
4. A learning party matches the tags of its own items (from the replies, mapped back
   through its permutation) against the tags it computed for the peer's items
   (:class:`~._join.TagJoin`, out of core past the memory budget).

A party that must not learn the intersection receives only first-stage values of the
peer (``H(y)^{k_Q}``, pseudo-random under DDH) and acknowledgements.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..exceptions import RemoteProtocolError
from . import _dh, _ecdh
from ._join import TagJoin
from ._messages import MaskedBatch, PsiMessage, ShuffledTags, TagReply, element_size
from ._parallel import map_chunks
from ._party import PsiParty, batch_count, secure_permutation
from ._seeded import purpose_rng, seeded_secret
from ._settings import TAG_BYTES, PsiSettings, session_tag

__all__ = ["CommutativeParty"]

_WINDOW = 2
#: Smallest batch worth spreading over worker processes (about 0.3 s of work on one core).
PARALLEL_MIN_ITEMS = {"curve25519": 2048, "p256": 1024}
PARALLEL_MIN_ITEMS_DH = 128


def mask_own(items: Sequence[bytes], protocol: str, group: str, secret: Any, dst: bytes) -> bytes:
    if protocol == "dh":
        return _dh.dh_mask_own(items, secret, group, dst)
    if group == "curve25519":
        return _ecdh.x25519_mask_own(items, secret, dst)
    return _ecdh.p256_mask_own(items, secret, dst)


def mask_peer(
    elements: Sequence[bytes], protocol: str, group: str, secret: Any, tag_key: bytes | None
) -> bytes:
    if protocol == "dh":
        return _dh.dh_mask_peer(elements, secret, group, tag_key)
    if group == "curve25519":
        return _ecdh.x25519_mask_peer(elements, secret, tag_key)
    return _ecdh.p256_mask_peer(elements, secret, tag_key)


class CommutativeParty(PsiParty):
    """ECDH / DH PSI party (see the module docstring for the message flow)."""

    def __init__(
        self, settings: PsiSettings, *, rng_seed: bytes | None = None, **kwargs: Any
    ) -> None:
        super().__init__(settings, **kwargs)
        self._protocol = settings.protocol
        self._group = settings.resolved_group()
        # rng_seed: a resumable partitioned run derives this bucket's randomness (see _seeded)
        self._rng_seed = rng_seed
        if rng_seed is not None:
            self._secret: Any = seeded_secret(self._protocol, self._group, rng_seed)
        elif self._protocol == "dh":
            self._secret = _dh.new_exponent(self._group)
        else:
            self._secret = _ecdh.new_scalar(self._group)
        self._dst = session_tag(settings, self._session_id, "hash-to-group")
        self._tag_key = hashlib.sha256(session_tag(settings, self._session_id, "tag")).digest()
        self._elem = element_size(settings, "element")
        bs = settings.batch_size
        self._bs = bs
        self._count_mode = settings.reveal == "count"
        self._learn_me = settings.reveal in (self.role, "both", "count")
        self._learn_peer = settings.reveal in (self.peer_role, "both", "count")
        self._my_batches = batch_count(self.n, bs)
        self._peer_batches = batch_count(self.peer_size, bs)
        self._perm = secure_permutation(
            self.n, purpose_rng(rng_seed, "permutation") if rng_seed is not None else None
        )
        self._next_send = 0
        self._replies = 0
        self._peer_received = 0
        self._shuffled_received = 0
        self._shuffle_buf: list[bytes] = []
        self._min_items = PARALLEL_MIN_ITEMS.get(self._group, PARALLEL_MIN_ITEMS_DH)
        self._join: TagJoin | None = (
            self._join_provider.new_join(self.peer_size, self.n, want_ref_positions=False)
            if self._learn_me
            else None
        )

    # -- sizes -------------------------------------------------------------------------
    def _my_batch_len(self, i: int) -> int:
        return max(0, min(self._bs, self.n - i * self._bs))

    def _peer_batch_len(self, i: int) -> int:
        return max(0, min(self._bs, self.peer_size - i * self._bs))

    # -- outgoing ----------------------------------------------------------------------
    def _next_masked(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= self._my_batches or i - self._replies >= _WINDOW:
            return []
        self._next_send += 1
        lo, hi = i * self._bs, i * self._bs + self._my_batch_len(i)
        chunk = [self._items[int(j)] for j in self._perm[lo:hi]]
        data = b"".join(
            map_chunks(
                self._executor,
                mask_own,
                chunk,
                self._protocol,
                self._group,
                self._secret,
                self._dst,
                min_items=self._min_items,
            )
        )
        self._report("hashing", hi, self.n)
        self._report("masking own", hi, self.n)
        return [
            MaskedBatch(
                param=self._param, index=i, total=self._my_batches, data=data, elem_size=self._elem
            )
        ]

    def _start(self) -> list[PsiMessage]:
        out: list[PsiMessage] = []
        for _ in range(_WINDOW):
            out += self._next_masked()
        return out

    # -- incoming ----------------------------------------------------------------------
    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:
        if isinstance(msg, MaskedBatch):
            out = self._on_masked(msg)
        elif isinstance(msg, TagReply):
            out = self._on_reply(msg)
        elif isinstance(msg, ShuffledTags):
            out = self._on_shuffled(msg)
        else:
            raise RemoteProtocolError(
                f"unexpected {type(msg).__name__} in the {self._protocol} protocol"
            )
        self._maybe_finish()
        return out

    def _on_masked(self, msg: MaskedBatch) -> list[PsiMessage]:
        i = self._peer_received
        if i >= self._peer_batches:
            raise RemoteProtocolError(
                "peer sent more masked batches than its announced size allows"
            )
        if msg.index != i or msg.total != self._peer_batches:
            raise RemoteProtocolError(
                f"masked batch {msg.index}/{msg.total} out of order "
                f"(expected {i}/{self._peer_batches})"
            )
        if msg.count != self._peer_batch_len(i):
            raise RemoteProtocolError(
                f"masked batch {i} holds {msg.count} elements, expected {self._peer_batch_len(i)}"
            )
        tags = b"".join(
            map_chunks(
                self._executor,
                mask_peer,
                msg.elements(),
                self._protocol,
                self._group,
                self._secret,
                self._tag_key,
                min_items=self._min_items,
            )
        )
        self._peer_received += 1
        self._report(
            "masking peer's", min(self._peer_received * self._bs, self.peer_size), self.peer_size
        )
        if self._join is not None:
            self._join.add_ref(tags)
        out: list[PsiMessage] = []
        if self._count_mode:
            self._shuffle_buf.append(tags)
            out.append(TagReply(param=self._param, index=i, total=i, data=b"", elem_size=TAG_BYTES))
            if self._peer_received == self._peer_batches:
                out += self._shuffled_batches()
        else:
            data = tags if self._learn_peer else b""
            out.append(
                TagReply(param=self._param, index=i, total=i, data=data, elem_size=TAG_BYTES)
            )
        return out

    def _shuffled_batches(self) -> list[PsiMessage]:
        all_tags = np.frombuffer(b"".join(self._shuffle_buf), dtype=f"V{TAG_BYTES}")
        self._shuffle_buf = []
        rng = purpose_rng(self._rng_seed, "shuffle") if self._rng_seed is not None else None
        shuffled = all_tags[secure_permutation(all_tags.size, rng)].tobytes()
        total = self._peer_batches
        step = self._bs * TAG_BYTES
        return [
            ShuffledTags(
                param=self._param,
                index=j,
                total=total,
                data=shuffled[j * step : (j + 1) * step],
                elem_size=TAG_BYTES,
            )
            for j in range(total)
        ]

    def _on_reply(self, msg: TagReply) -> list[PsiMessage]:
        i = self._replies
        if i >= self._next_send or msg.index != i:
            raise RemoteProtocolError(f"reply to batch {msg.index} out of order (expected {i})")
        expected = self._my_batch_len(i) if (self._learn_me and not self._count_mode) else 0
        if msg.count != expected:
            raise RemoteProtocolError(
                f"reply to batch {i} holds {msg.count} tags, expected {expected}"
            )
        if expected:
            assert self._join is not None
            lo = i * self._bs
            self._join.add_probe(msg.data, self._perm[lo : lo + expected])
        self._replies += 1
        return self._next_masked()

    def _on_shuffled(self, msg: ShuffledTags) -> list[PsiMessage]:
        j = self._shuffled_received
        if not self._count_mode:
            raise RemoteProtocolError("shuffled tags are only sent in reveal mode 'count'")
        if j >= self._my_batches or msg.index != j or msg.total != self._my_batches:
            raise RemoteProtocolError(f"shuffled tag batch {msg.index} out of order (expected {j})")
        if msg.count != self._my_batch_len(j):
            raise RemoteProtocolError(
                f"shuffled tag batch {j} holds {msg.count} tags, expected {self._my_batch_len(j)}"
            )
        assert self._join is not None
        self._join.add_probe(msg.data, np.full(msg.count, -1, dtype=np.int64))
        self._shuffled_received += 1
        return []

    def _maybe_finish(self) -> None:
        if (
            self._replies < self._my_batches
            or self._peer_received < self._peer_batches
            or (self._count_mode and self._shuffled_received < self._my_batches)
        ):
            return
        if self._join is None:
            self._finish(None, None)
            return
        self._report("matching", 0, 1)
        res = self._join.finish()
        self._report("matching", 1, 1)
        if self._count_mode:
            self._finish(None, int(res.probe.size))
        else:
            self._finish(res.probe, int(res.probe.size))

    def _close(self) -> None:
        if self._join is not None:
            self._join.close()
