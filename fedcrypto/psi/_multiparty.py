"""Multi-party PSI: one party of an n-party ring, as a sans-I/O state machine.

Parties ``0 .. n-1`` (party 0 is the tool's leader).  ``H`` hashes an identifier into the
group; party ``i`` holds a masking key ``k_i``, a one-time blinding key ``r_i`` and
``c_i = k_i / r_i`` (see :mod:`._mp_group`).  ``K = k_0 k_1 ... k_{n-1}``.

Phase 1, the ring (one fully masked label per item, known only to its owner):

1. Party ``i`` shuffles its items, and sends ``H(x)^{r_i}`` to party ``i+1`` (hop 1).
2. Party ``m`` receiving set ``i`` at hop ``h < n`` validates every element (in the group,
   no duplicates, counts as announced), raises it to ``k_m`` and forwards it to ``m+1``
   (hop ``h+1``); it first shuffles the whole set unless the owner must map labels back
   to its items (the owner learns the intersection and the mode is not ``count``).
3. Back home (hop ``n``) party ``i`` raises each element to ``c_i``: ``v(x) = H(x)^K``.

Every value in transit carries ``r_i``, which only its owner holds, so no party can compare
anything it relays or masks with anything else (``docs/psi-multiparty.md`` gives the
argument).

Phase 2, zero-sharing (only the full intersection opens):

4. Every pair of parties agrees on a seed ``s_ij`` (X25519 of ephemeral keys exchanged in
   :class:`MpKeyShare`).  ``z_i(v) = XOR_{j != i} PRF(s_ij, v)``: the ``z_i(v)`` of all n
   parties XOR to zero, and any proper subset of them looks random without the other seeds.
5. Each party whose table a learner needs encodes ``{v(y): z_j(v(y))}`` for its items into an
   oblivious table (:mod:`._mp_okvs`) and sends it to the learners.
6. A learner decodes every other table at each of its labels; ``z_R(v) XOR (decoded values)``
   is zero exactly when every party holds ``v`` (else random: false match below 2^-128).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from .._random import random_bytes
from ..exceptions import (
    InvalidArgumentError,
    InvalidGroupElementError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from . import _mp_okvs as okvs
from ._commutative import PARALLEL_MIN_ITEMS, PARALLEL_MIN_ITEMS_DH
from ._mp_group import MpKeys, mask_own, mask_peer
from ._mp_messages import (
    OKVS_CELL_BYTES,
    MpKeyShare,
    MpMessage,
    MpOkvsBatch,
    MpRingBatch,
    mp_element_size,
    mp_message_param,
)
from ._mp_settings import MAX_PARTIES, MAX_SET_SIZE, MultipartySettings, mp_session_tag
from ._parallel import map_chunks
from ._party import PsiResult, batch_count, secure_permutation
from ._settings import check_session_id

__all__ = ["MultipartyParty", "MpProgressFn"]

MpProgressFn = Callable[[str, int, int], None]


def _check_sizes(sizes: object) -> list[int]:
    if not isinstance(sizes, Sequence) or isinstance(sizes, (bytes, str)):
        raise InvalidTypeError("sizes must be a sequence of ints")
    out = []
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, int):
            raise InvalidTypeError("every set size must be an int")
        if not 0 <= s <= MAX_SET_SIZE:
            raise InvalidArgumentError(f"set sizes must be between 0 and {MAX_SET_SIZE}")
        out.append(s)
    if not 2 <= len(out) <= MAX_PARTIES:
        raise InvalidArgumentError(f"a multi-party PSI needs 2 to {MAX_PARTIES} parties")
    return out


class MultipartyParty:
    """Party ``index`` of an n-party PSI (see the module docstring for the protocol).

    Drive it like a two-party :class:`PsiParty`: send every message returned by
    :meth:`start` and :meth:`handle` to party ``msg.dest``; pass each message addressed to
    this party (decoded with :func:`decode_mp_message`) to :meth:`handle` until
    :attr:`done`; read :meth:`result`.

    :param settings: the agreed :class:`MultipartySettings` (validated here).
    :param index: this party's index in ``range(len(sizes))``.
    :param items: this party's identifiers, distinct bytes.
    :param sizes: the announced set size of every party (``sizes[index] == len(items)``).
    :param session_id: 32 bytes agreed by all parties.
    :param executor: where the masking runs (any :class:`concurrent.futures.Executor`, e.g.
        :func:`fedcrypto.scale.process_executor`), or None for inline in this process.
        This party's secret key travels with its tasks to the executor's workers; results
        never depend on it.
    :param progress: ``progress(stage, done, total)``; stages ``"masking own"``,
        ``"masking peers'"``, ``"labels"``, ``"tables"``, ``"matching"``.
    :raises InvalidArgumentError: bad settings, index, sizes, session id, or repeated items.
    :raises InvalidTypeError: items that are not bytes.

    :meth:`handle` is the door for peer data: a message out of order, from the wrong party,
    of the wrong size or kind raises :class:`RemoteProtocolError`; an element outside the
    group, a repeated element or an invalid key share :class:`InvalidGroupElementError`.
    Misuse (``start`` twice, ``handle`` before ``start`` or after the end / a failure,
    ``result`` too early) raises :class:`LocalProtocolError`.
    """

    def __init__(
        self,
        settings: MultipartySettings,
        *,
        index: int,
        items: Sequence[bytes],
        sizes: Sequence[int],
        session_id: bytes,
        progress: MpProgressFn | None = None,
        executor: Executor | None = None,
    ) -> None:
        if not isinstance(settings, MultipartySettings):
            raise InvalidTypeError("settings must be a MultipartySettings")
        self._sizes = _check_sizes(sizes)
        n = len(self._sizes)
        settings.validate(n)
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
            raise InvalidArgumentError(f"index must be in [0, {n})")
        if not isinstance(items, Sequence) or isinstance(items, (bytes, str)):
            raise InvalidTypeError("items must be a sequence of bytes")
        if not all(isinstance(x, bytes) for x in items):
            raise InvalidTypeError("every item must be bytes")
        if len(items) != self._sizes[index]:
            raise InvalidArgumentError("len(items) differs from this party's announced size")
        if len(set(items)) != len(items):
            raise InvalidArgumentError("items must be distinct (deduplicate them first)")
        self.settings = settings
        self.index = index
        self.parties = n
        self._items = items
        sid = check_session_id(session_id)
        self._param = mp_message_param(settings, n, sid)
        self._protocol = settings.protocol
        self._group = settings.resolved_group()
        self._keys = MpKeys(self._protocol, self._group)
        self._dst = mp_session_tag(settings, n, sid, "hash-to-group")
        self._seed_tag = mp_session_tag(settings, n, sid, "pair-seed")
        self._okvs_tag = mp_session_tag(settings, n, sid, "okvs")
        self._elem = mp_element_size(settings)
        self._bs = settings.batch_size
        self._learners = settings.learners(n)
        self._learn = index in self._learners
        self._count_mode = settings.reveal == "count"
        self._progress = progress
        if executor is not None and not isinstance(executor, Executor):
            raise InvalidTypeError("executor must be a concurrent.futures.Executor or None")
        self._executor = executor
        self._min_items = PARALLEL_MIN_ITEMS.get(self._group, PARALLEL_MIN_ITEMS_DH)
        self._seed_sk = X25519PrivateKey.from_private_bytes(random_bytes(32))
        self._perm = secure_permutation(len(items))
        # ring state, per origin: batches received, buffered (for shuffling), seen digests
        self._ring_got = [0] * n
        self._ring_buf: list[list[bytes]] = [[] for _ in range(n)]
        self._ring_seen: list[list[bytes]] = [[] for _ in range(n)]
        self._labels: list[bytes] = []
        self._peer_keys: dict[int, bytes] = {}
        self._tables_sent = False
        self._table_got: dict[int, int] = {}
        self._table_nonce: dict[int, int] = {}
        self._table_buf: dict[int, list[bytes]] = {}
        self._started = False
        self._failed = False
        self._result: PsiResult | None = None

    # -- interface ------------------------------------------------------------------
    def start(self) -> list[MpMessage]:
        """The first messages to send (key shares, then this party's blinded set).

        :raises LocalProtocolError: if called twice.
        """
        if self._started:
            raise LocalProtocolError("start() was already called")
        self._started = True
        return self._guard(self._start)

    def handle(self, msg: MpMessage) -> list[MpMessage]:
        """Consume one message addressed to this party; return the messages to send.

        :raises LocalProtocolError: before :meth:`start`, after completion or a failure.
        :raises InvalidTypeError: for something that is not an :class:`MpMessage`.
        :raises RemoteProtocolError: / :raises InvalidGroupElementError: for peer faults.
        """
        if not self._started:
            raise LocalProtocolError("handle() called before start()")
        if self._failed:
            raise LocalProtocolError("this party already failed")
        if self.done:
            raise LocalProtocolError("handle() called after the protocol completed")
        if not isinstance(msg, MpMessage):
            raise InvalidTypeError("handle() expects an MpMessage")
        return self._guard(self._handle, msg)

    @property
    def done(self) -> bool:
        """True once this party has sent and received everything."""
        return self._result is not None

    def result(self) -> PsiResult:
        """What this party learned: ``indices`` (sorted positions in ``items``) and ``count``
        for a learner, ``count`` alone in reveal mode ``count``, both None otherwise.

        :raises LocalProtocolError: before the protocol is complete.
        """
        if self._result is None:
            raise LocalProtocolError("the protocol is not complete")
        return self._result

    def close(self) -> None:
        """Nothing to release: the caller owns the executor (kept so callers can always
        ``close()`` a party, as with the two-party ones; idempotent)."""

    def __reduce__(self) -> Any:
        raise TypeError("PSI parties hold secret keys and cannot be pickled")

    def __repr__(self) -> str:
        return (
            f"MultipartyParty(index={self.index}, parties={self.parties}, "
            f"n={len(self._items)}, done={self.done})"
        )

    # -- helpers ----------------------------------------------------------------------
    def _guard(self, fn: Callable[..., list[MpMessage]], *args: Any) -> list[MpMessage]:
        try:
            out = fn(*args)
        except BaseException:
            self._failed = True
            self.close()
            raise
        if self.done:
            self.close()
        return out

    def _report(self, stage: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)

    def _batches(self, origin: int) -> int:
        return batch_count(self._sizes[origin], self._bs)

    def _batch_len(self, origin: int, i: int) -> int:
        return max(0, min(self._bs, self._sizes[origin] - i * self._bs))

    def _next(self) -> int:
        return (self.index + 1) % self.parties

    def _ring_msgs(self, origin: int, hop: int, data: bytes, first: int) -> list[MpMessage]:
        step = self._bs * self._elem
        total = self._batches(origin)
        count = len(data) // step + (1 if len(data) % step else 0) if data else 1
        return [
            MpRingBatch(
                param=self._param,
                sender=self.index,
                dest=self._next(),
                origin=origin,
                hop=hop,
                index=first + j,
                total=total,
                data=data[j * step : (j + 1) * step],
                elem_size=self._elem,
            )
            for j in range(count)
        ]

    # -- phase 1 ----------------------------------------------------------------------
    def _start(self) -> list[MpMessage]:
        pub = self._seed_sk.public_key().public_bytes_raw()
        out: list[MpMessage] = [
            MpKeyShare(param=self._param, sender=self.index, dest=j, public_key=pub)
            for j in range(self.parties)
            if j != self.index
        ]
        n = len(self._items)
        for b in range(self._batches(self.index)):
            lo, hi = b * self._bs, b * self._bs + self._batch_len(self.index, b)
            chunk = [self._items[int(j)] for j in self._perm[lo:hi]]
            data = b"".join(
                map_chunks(
                    self._executor,
                    mask_own,
                    chunk,
                    self._protocol,
                    self._group,
                    self._keys.blind,
                    self._dst,
                    min_items=self._min_items,
                )
            )
            out += self._ring_msgs(self.index, 1, data, b)
            self._report("masking own", hi, n)
        return out

    def _handle(self, msg: MpMessage) -> list[MpMessage]:
        if msg.param != self._param:
            raise RemoteProtocolError("message belongs to another session or suite")
        if msg.dest != self.index:
            raise RemoteProtocolError(f"message for party {msg.dest} delivered to {self.index}")
        if isinstance(msg, MpKeyShare):
            out = self._on_key(msg)
        elif isinstance(msg, MpRingBatch):
            out = self._on_ring(msg)
        elif isinstance(msg, MpOkvsBatch):
            out = self._on_table(msg)
        else:  # pragma: no cover - decode_mp_message only builds the three kinds
            raise RemoteProtocolError(f"unexpected {type(msg).__name__}")
        out += self._maybe_send_table()
        self._maybe_finish()
        return out

    def _on_key(self, msg: MpKeyShare) -> list[MpMessage]:
        if msg.sender in self._peer_keys:
            raise RemoteProtocolError(f"party {msg.sender} sent two key shares")
        try:
            shared = self._seed_sk.exchange(X25519PublicKey.from_public_bytes(msg.public_key))
        except ValueError:
            raise InvalidGroupElementError(
                f"party {msg.sender} sent a low-order X25519 key share"
            ) from None
        lo, hi = sorted((self.index, msg.sender))
        self._peer_keys[msg.sender] = hashlib.blake2b(
            shared,
            key=hashlib.sha256(self._seed_tag).digest(),
            person=b"fc-mpsi-seed",
            salt=lo.to_bytes(2, "big") + hi.to_bytes(2, "big") + bytes(12),
            digest_size=32,
        ).digest()
        return []

    def _on_ring(self, msg: MpRingBatch) -> list[MpMessage]:
        n, o = self.parties, msg.origin
        hop = (self.index - o) % n or n
        if msg.hop != hop or msg.sender != (self.index - 1) % n:
            raise RemoteProtocolError(
                f"ring batch of party {o}'s set at hop {msg.hop} from party {msg.sender}: "
                f"party {self.index} expects it at hop {hop} from party {(self.index - 1) % n}"
            )
        i = self._ring_got[o]
        if msg.index != i or msg.total != self._batches(o):
            raise RemoteProtocolError(
                f"batch {msg.index}/{msg.total} of party {o}'s set out of order "
                f"(expected {i}/{self._batches(o)})"
            )
        if msg.count != self._batch_len(o, i):
            raise RemoteProtocolError(
                f"batch {i} of party {o}'s set holds {msg.count} elements, "
                f"expected {self._batch_len(o, i)} (announced size {self._sizes[o]})"
            )
        self._ring_got[o] += 1
        last = self._ring_got[o] == self._batches(o)
        self._ring_seen[o].append(_digests(msg.data, self._elem))
        if last:
            _check_distinct(self._ring_seen[o], o, msg.sender)
            self._ring_seen[o] = []
        key = self._keys.home if o == self.index else self._keys.mask
        try:
            masked = b"".join(
                map_chunks(
                    self._executor,
                    mask_peer,
                    _split(msg.data, self._elem),
                    self._protocol,
                    self._group,
                    key,
                    min_items=self._min_items,
                )
            )
        except InvalidGroupElementError as exc:
            raise InvalidGroupElementError(
                f"party {msg.sender} sent an invalid element of party {o}'s set: {exc}"
            ) from None
        done = min(self._ring_got[o] * self._bs, self._sizes[o])
        if o == self.index:
            self._labels.append(masked)
            self._report("labels", done, self._sizes[o])
            return []
        self._report("masking peers'", done, self._sizes[o])
        if not self._shuffles(o):
            return self._ring_msgs(o, hop + 1, masked, i)
        self._ring_buf[o].append(masked)
        if not last:
            return []
        all_el = np.frombuffer(b"".join(self._ring_buf[o]), dtype=f"V{self._elem}")
        self._ring_buf[o] = []
        shuffled = all_el[secure_permutation(all_el.size)].tobytes()
        return self._ring_msgs(o, hop + 1, shuffled, 0)

    def _shuffles(self, origin: int) -> bool:
        """Whether this party shuffles the set of ``origin`` before forwarding it."""
        return self._count_mode or origin not in self._learners

    # -- phase 2 ----------------------------------------------------------------------
    def _own_labels(self) -> list[bytes]:
        return _split(b"".join(self._labels), self._elem)

    def _zero_share(self, labels: Sequence[bytes]) -> npt.NDArray[np.uint64]:
        acc = np.zeros((len(labels), 2), dtype=np.uint64)
        for j in sorted(self._peer_keys):
            acc ^= okvs.prf_many(labels, self._peer_keys[j])
        return acc

    def _phase1_done(self) -> bool:
        return len(self._peer_keys) == self.parties - 1 and self._ring_got[
            self.index
        ] == self._batches(self.index)

    def _maybe_send_table(self) -> list[MpMessage]:
        if self._tables_sent or not self._phase1_done():
            return []
        self._tables_sent = True
        dests = [j for j in self._learners if j != self.index]
        if not dests:
            return []
        labels = self._own_labels()
        values = self._zero_share(labels).tobytes()
        cells = okvs.table_cells(len(labels))
        self._report("tables", 0, 1)
        for nonce in range(okvs.MAX_NONCE):
            table = okvs.encode(
                okvs.positions(labels, cells, self._okvs_key(self.index, nonce)), values, cells
            )
            if table is not None:
                break
        else:  # pragma: no cover - probability below 2^-64
            raise LocalProtocolError("could not build the oblivious table")
        self._report("tables", 1, 1)
        step = self._bs * OKVS_CELL_BYTES
        total = batch_count(cells, self._bs)
        return [
            MpOkvsBatch(
                param=self._param,
                sender=self.index,
                dest=d,
                nonce=nonce,
                cells=cells,
                index=b,
                total=total,
                data=table[b * step : (b + 1) * step],
            )
            for d in dests
            for b in range(total)
        ]

    def _okvs_key(self, owner: int, nonce: int) -> bytes:
        h = hashlib.sha256(self._okvs_tag + owner.to_bytes(2, "big") + nonce.to_bytes(4, "big"))
        return h.digest()

    def _on_table(self, msg: MpOkvsBatch) -> list[MpMessage]:
        s = msg.sender
        if not self._learn:
            raise RemoteProtocolError(
                f"party {s} sent a table to party {self.index}, which does not learn"
            )
        cells = okvs.table_cells(self._sizes[s])
        total = batch_count(cells, self._bs)
        got = self._table_got.get(s, 0)
        if msg.cells != cells or msg.total != total or msg.index != got:
            raise RemoteProtocolError(
                f"table batch {msg.index}/{msg.total} of {msg.cells} cells from party {s}: "
                f"expected {got}/{total} of {cells} cells (announced size {self._sizes[s]})"
            )
        if msg.nonce >= okvs.MAX_NONCE or self._table_nonce.setdefault(s, msg.nonce) != msg.nonce:
            raise RemoteProtocolError(f"party {s} changed or overran its table nonce")
        if msg.count != max(0, min(self._bs, cells - got * self._bs)):
            raise RemoteProtocolError(f"table batch {got} from party {s} has the wrong length")
        self._table_got[s] = got + 1
        self._table_buf.setdefault(s, []).append(msg.data)
        return []

    def _maybe_finish(self) -> None:
        if not self._tables_sent:
            return
        others = [o for o in range(self.parties) if o != self.index]
        if any(self._ring_got[o] < self._batches(o) for o in others):
            return
        if not self._learn:
            self._result = PsiResult(indices=None, count=None)
            return
        senders = [j for j in others]
        cells_total = {j: batch_count(okvs.table_cells(self._sizes[j]), self._bs) for j in senders}
        if any(self._table_got.get(j, 0) < cells_total[j] for j in senders):
            return
        self._report("matching", 0, 1)
        labels = self._own_labels()
        acc = self._zero_share(labels)
        for j in senders:
            table = np.frombuffer(b"".join(self._table_buf.pop(j)), dtype="<u8").reshape(-1, 2)
            cells = okvs.table_cells(self._sizes[j])
            acc ^= okvs.decode(
                table, okvs.positions(labels, cells, self._okvs_key(j, self._table_nonce[j]))
            )
        hit = np.flatnonzero((acc[:, 0] == 0) & (acc[:, 1] == 0))
        self._report("matching", 1, 1)
        if self._count_mode:
            self._result = PsiResult(indices=None, count=int(hit.size))
        else:
            idx = np.sort(self._perm[hit]).astype(np.int64)
            self._result = PsiResult(indices=idx, count=int(idx.size))


def _split(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def _digests(data: bytes, size: int) -> bytes:
    """16-byte BLAKE2b digests of each element (to find repeats across batches cheaply)."""
    b2 = hashlib.blake2b
    return b"".join(
        b2(data[i : i + size], digest_size=16).digest() for i in range(0, len(data), size)
    )


def _check_distinct(parts: list[bytes], origin: int, sender: int) -> None:
    arr = np.frombuffer(b"".join(parts), dtype="V16")
    if np.unique(arr).size != arr.size:
        raise InvalidGroupElementError(
            f"party {origin}'s set, as sent by party {sender}, holds a repeated element"
        )
