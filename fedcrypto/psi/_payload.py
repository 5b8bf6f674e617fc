"""Payload transfer: the side that learns the intersection also gets the peer's payload for
exactly the matched rows (PSI with associated data), over an ECDH OPRF (:mod:`._oprf`).

The **sender** ``S`` holds IDs with a payload (bytes) each and a per-run OPRF key ``k``; the
**receiver** ``R`` holds IDs and learns the intersection.

0. ``S`` announces itself with an empty acknowledgement (two senders notice at once).
1. ``R`` blinds its IDs (``x(r * H(x))``, :class:`MaskedBatch`); ``S`` evaluates them in order
   (``x(k * B)``, :class:`EvaluatedBatch`); ``R`` unblinds: ``F(x) = x(k * H(x))`` — the
   doubly-masked element with ``R``'s mask removed.
2. ``S`` sends its rows in a random order (:class:`PayloadBatch`): for each row the tag
   ``T(F(y))`` (keyed BLAKE2b-128) and the payload encrypted with AES-256-GCM under
   ``HKDF-SHA256(F(y))`` (salt and info bind the session and suite; associated data: the tag).
3. ``R`` matches its tags ``T(F(x))`` against ``S``'s and decrypts the matched payloads.  For an
   unmatched row ``R`` would need ``F(y)`` for a ``y`` it never queried: without ``k`` that
   value is pseudo-random (one-more Diffie-Hellman), so the key and the payload stay hidden.
4. Reveal ``both``: ``R`` returns the positions in ``S``'s row stream that matched
   (:class:`PayloadPositions`), so ``S`` learns the intersection too (semi-honest).

A payload that fails authentication is a :class:`RemoteProtocolError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..exceptions import InvalidArgumentError, InvalidTypeError, RemoteProtocolError
from . import _oprf
from ._ecdh import tag_many
from ._join import InMemoryJoin
from ._messages import MaskedBatch, PsiMessage, TagReply, element_size
from ._party import ProgressFn, PsiParty, PsiResult, batch_count, secure_permutation
from ._payload_messages import (
    GCM_TAG_BYTES,
    MAX_PAYLOAD_BYTES,
    EvaluatedBatch,
    PayloadBatch,
    PayloadPositions,
)
from ._settings import ROLES, TAG_BYTES, PsiSettings, check_session_id, session_tag

__all__ = ["PayloadParty", "PayloadOutcome", "create_payload_party", "PAYLOAD_BATCH_BYTES"]

_WINDOW = 2
#: Target size of one PayloadBatch frame.
PAYLOAD_BATCH_BYTES = 8 << 20
_NONCE = bytes(12)  # every key encrypts exactly one payload


@dataclass(frozen=True)
class PayloadOutcome(PsiResult):
    """What one side of a payload transfer learned (a :class:`PsiResult`).

    :ivar indices: sorted positions of this side's matched items, when it learns the
        intersection (the receiver always; the sender with reveal ``both``), else None.
    :ivar payloads: receiver: the sender's payload of each matched item, aligned with
        ``indices``; sender: None.
    """

    payloads: tuple[bytes, ...] | None = None


class PayloadParty(PsiParty):
    """One side of a payload transfer (see the module docstring; decode the peer's bytes
    with :func:`decode_payload_message`)."""

    def __init__(self, settings: PsiSettings, *, payloads: Sequence[bytes] | None, **kw: Any):
        super().__init__(settings, **kw)
        self._group = settings.resolved_group()
        self._sender = payloads is not None
        self._payloads = payloads
        self._dst = session_tag(settings, self._session_id, "payload-hash-to-group")
        self._tag_key = hashlib.sha256(
            session_tag(settings, self._session_id, "payload-tag")
        ).digest()
        self._salt = hashlib.sha256(session_tag(settings, self._session_id, "payload-key")).digest()
        self._elem = element_size(settings, "element")
        self._bs = settings.batch_size
        recv_role = self.peer_role if self._sender else self.role
        self._both = settings.reveal == "both"
        if settings.reveal not in (recv_role, "both"):
            raise InvalidArgumentError(
                "payloads go to the side that learns the intersection: reveal must name the "
                "receiver (or both)"
            )
        self._acks = 0
        self._next_send = 0
        if self._sender:
            self._key = _oprf.new_key(self._group)
            self._perm = secure_permutation(self.n)
            self._bounds = self._plan_batches()
            self._peer_in = 0
            self._peer_batches = batch_count(self.peer_size, self._bs)
            self._positions: list[np.ndarray] = []
            self._pos_total: int | None = None
        else:
            self._blind, self._unblind = _oprf.new_blind(self._group)
            self._announced = False
            self._my_batches = batch_count(self.n, self._bs)
            self._evaluated = 0
            self._tag_index: dict[bytes, int] = {}
            self._prf = bytearray(32 * self.n)
            self._payload_in = 0
            self._payload_rows = 0
            self._payload_total: int | None = None
            self._matched: list[tuple[int, bytes]] = []
            self._match_pos: list[int] = []

    # -- shared ------------------------------------------------------------------------
    def _key_for(self, prf: bytes) -> AESGCM:
        hk = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=self._salt,
            info=b"fedcrypto-psi-payload-v1:" + self.settings.suite_id(),
        )
        return AESGCM(hk.derive(prf))

    def _start(self) -> list[PsiMessage]:
        if self._sender:
            # an empty acknowledgement announces the sender: two senders notice at once
            return [TagReply(param=self._param, index=0, total=0, data=b"", elem_size=TAG_BYTES)]
        out: list[PsiMessage] = []
        for _ in range(_WINDOW):
            out += self._next_blinded()
        return out

    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:
        if self._sender:
            if isinstance(msg, MaskedBatch):
                return self._on_blinded(msg)
            if isinstance(msg, TagReply):
                if self._next_send == 0:
                    raise RemoteProtocolError("both sides send payloads: exactly one side does")
                return self._on_ack(msg)
            if isinstance(msg, PayloadPositions):
                return self._on_positions(msg)
            if isinstance(msg, PayloadBatch):
                raise RemoteProtocolError("both sides send payloads: exactly one side does")
        else:
            if not self._announced:
                if isinstance(msg, TagReply) and msg.count == 0 and msg.index == 0:
                    self._announced = True
                    return []
                if isinstance(msg, MaskedBatch):
                    raise RemoteProtocolError("neither side sends payloads: exactly one side does")
                raise RemoteProtocolError("the peer did not start as the payload sender")
            if isinstance(msg, EvaluatedBatch):
                return self._on_evaluated(msg)
            if isinstance(msg, PayloadBatch):
                return self._on_payloads(msg)
            if isinstance(msg, MaskedBatch):
                raise RemoteProtocolError("neither side sends payloads: exactly one side does")
        raise RemoteProtocolError(f"unexpected {type(msg).__name__} in payload transfer")

    # -- receiver ----------------------------------------------------------------------
    def _next_blinded(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= self._my_batches or i - self._evaluated >= _WINDOW:
            return []
        self._next_send += 1
        lo, hi = i * self._bs, min(self.n, (i + 1) * self._bs)
        data = _oprf.blind(list(self._items[lo:hi]), self._group, self._blind, self._dst)
        self._report("blinding", hi, self.n)
        return [
            MaskedBatch(
                param=self._param, index=i, total=self._my_batches, data=data, elem_size=self._elem
            )
        ]

    def _on_evaluated(self, msg: EvaluatedBatch) -> list[PsiMessage]:
        i = self._evaluated
        if i >= self._next_send or msg.index != i or msg.total != self._my_batches:
            raise RemoteProtocolError(f"evaluated batch {msg.index} out of order (expected {i})")
        lo, hi = i * self._bs, min(self.n, (i + 1) * self._bs)
        if msg.count != hi - lo:
            raise RemoteProtocolError(
                f"evaluated batch {i} holds {msg.count} elements, expected {hi - lo}"
            )
        prf = _oprf.unblind(msg.elements(), self._group, self._unblind)
        self._prf[32 * lo : 32 * hi] = prf
        tags = tag_many([prf[j : j + 32] for j in range(0, len(prf), 32)], self._tag_key)
        for j in range(hi - lo):
            self._tag_index.setdefault(tags[j * TAG_BYTES : (j + 1) * TAG_BYTES], lo + j)
        self._evaluated += 1
        return self._next_blinded()

    def _on_payloads(self, msg: PayloadBatch) -> list[PsiMessage]:
        if self._evaluated < self._my_batches:
            raise RemoteProtocolError("payloads before every evaluation arrived")
        j = self._payload_in
        if self._payload_total is None:
            limit = max(1, self.peer_size)
            if not 1 <= msg.total <= limit:
                raise RemoteProtocolError(f"the peer announces {msg.total} payload batches")
            self._payload_total = msg.total
        if j >= self._payload_total or msg.index != j or msg.total != self._payload_total:
            raise RemoteProtocolError(f"payload batch {msg.index} out of order (expected {j})")
        if self._payload_rows + msg.count > self.peer_size or (
            msg.count == 0 and self.peer_size > 0
        ):
            raise RemoteProtocolError("the peer sends more payload rows than its set size")
        for r in range(msg.count):
            tag = msg.tags[r * TAG_BYTES : (r + 1) * TAG_BYTES]
            idx = self._tag_index.get(tag)
            if idx is None:
                continue
            prf = bytes(self._prf[32 * idx : 32 * idx + 32])
            try:
                plain = self._key_for(prf).decrypt(_NONCE, msg.ciphertexts[r], tag + self._param)
            except InvalidTag:
                raise RemoteProtocolError(
                    "a payload of a matched row failed authentication"
                ) from None
            self._matched.append((idx, plain))
            self._match_pos.append(self._payload_rows + r)
        self._payload_rows += msg.count
        self._payload_in += 1
        self._report("receiving payloads", self._payload_rows, self.peer_size)
        out: list[PsiMessage] = [
            TagReply(param=self._param, index=j, total=j, data=b"", elem_size=TAG_BYTES)
        ]
        if self._payload_in == self._payload_total:
            if self._payload_rows != self.peer_size:
                raise RemoteProtocolError(
                    f"the peer sent {self._payload_rows} payload rows, its set has {self.peer_size}"
                )
            if len({i for i, _ in self._matched}) != len(self._matched):
                raise RemoteProtocolError("two of the peer's rows matched the same item")
            if self._both:
                out += self._position_batches()
            self._matched.sort()
            found = np.asarray([i for i, _ in self._matched], dtype=np.int64)
            self._result = PayloadOutcome(
                indices=found,
                count=len(self._matched),
                payloads=tuple(p for _, p in self._matched),
            )
        return out

    def _position_batches(self) -> list[PsiMessage]:
        pos = np.asarray(sorted(self._match_pos), dtype=">u8").tobytes()
        total = batch_count(len(self._match_pos), self._bs)
        step = 8 * self._bs
        return [
            PayloadPositions(
                param=self._param,
                index=j,
                total=total,
                data=pos[j * step : (j + 1) * step],
                elem_size=8,
            )
            for j in range(total)
        ]

    # -- sender ------------------------------------------------------------------------
    def _plan_batches(self) -> list[tuple[int, int]]:
        assert self._payloads is not None
        bounds: list[tuple[int, int]] = []
        lo, size = 0, 0
        for pos in range(self.n):
            row = TAG_BYTES + 4 + GCM_TAG_BYTES + len(self._payloads[int(self._perm[pos])])
            if pos > lo and (pos - lo >= self._bs or size + row > PAYLOAD_BATCH_BYTES):
                bounds.append((lo, pos))
                lo, size = pos, 0
            size += row
        bounds.append((lo, self.n))
        return bounds

    def _on_blinded(self, msg: MaskedBatch) -> list[PsiMessage]:
        i = self._peer_in
        if i >= self._peer_batches or msg.index != i or msg.total != self._peer_batches:
            raise RemoteProtocolError(f"blinded batch {msg.index} out of order (expected {i})")
        expected = max(0, min(self._bs, self.peer_size - i * self._bs))
        if msg.count != expected:
            raise RemoteProtocolError(
                f"blinded batch {i} holds {msg.count} elements, expected {expected}"
            )
        data = _oprf.evaluate(msg.elements(), self._group, self._key)
        self._peer_in += 1
        out: list[PsiMessage] = [
            EvaluatedBatch(
                param=self._param,
                index=i,
                total=self._peer_batches,
                data=data,
                elem_size=self._elem,
            )
        ]
        if self._peer_in == self._peer_batches:
            for _ in range(_WINDOW):
                out += self._next_payloads()
        self._check_sender_done()
        return out

    def _next_payloads(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= len(self._bounds) or i - self._acks >= _WINDOW:
            return []
        assert self._payloads is not None
        self._next_send += 1
        lo, hi = self._bounds[i]
        rows = [int(j) for j in self._perm[lo:hi]]
        prf = _oprf.evaluate_own([self._items[j] for j in rows], self._group, self._key, self._dst)
        values = [prf[k : k + 32] for k in range(0, len(prf), 32)]
        tags = tag_many(values, self._tag_key)
        cts = []
        for k, j in enumerate(rows):
            tag = tags[k * TAG_BYTES : (k + 1) * TAG_BYTES]
            cts.append(
                self._key_for(values[k]).encrypt(_NONCE, self._payloads[j], tag + self._param)
            )
        self._report("encrypting payloads", hi, self.n)
        return [
            PayloadBatch(
                param=self._param,
                index=i,
                total=len(self._bounds),
                tags=tags,
                ciphertexts=tuple(cts),
            )
        ]

    def _on_ack(self, msg: TagReply) -> list[PsiMessage]:
        if self._acks >= self._next_send or msg.index != self._acks or msg.count:
            raise RemoteProtocolError(f"acknowledgement of payload batch {msg.index} out of order")
        self._acks += 1
        out = self._next_payloads()
        self._check_sender_done()
        return out

    def _on_positions(self, msg: PayloadPositions) -> list[PsiMessage]:
        if not self._both:
            raise RemoteProtocolError("match positions are only sent with reveal 'both'")
        if self._acks < len(self._bounds):
            raise RemoteProtocolError("match positions before every payload was acknowledged")
        j = len(self._positions)
        if self._pos_total is None:
            if not 1 <= msg.total <= batch_count(min(self.n, self.peer_size), self._bs):
                raise RemoteProtocolError(f"the peer announces {msg.total} position batches")
            self._pos_total = msg.total
        if msg.index != j or msg.total != self._pos_total:
            raise RemoteProtocolError(f"position batch {msg.index} out of order")
        self._positions.append(msg.positions())
        self._check_sender_done()
        return []

    def _check_sender_done(self) -> None:
        if self._peer_in < self._peer_batches or self._acks < len(self._bounds):
            return
        if not self._both:
            self._result = PayloadOutcome(indices=None, count=None)
            return
        if self._pos_total is None or len(self._positions) < self._pos_total:
            return
        pos = np.concatenate(self._positions) if self._positions else np.empty(0, np.int64)
        if len(pos) > min(self.n, self.peer_size):
            raise RemoteProtocolError("the peer reports more matches than the smaller set")
        if len(pos) and (pos[0] < 0 or pos[-1] >= self.n or np.any(np.diff(pos) <= 0)):
            raise RemoteProtocolError("match positions out of range or not increasing")
        idx = np.sort(self._perm[pos]).astype(np.int64)
        self._result = PayloadOutcome(indices=idx, count=len(idx))

    def result(self) -> PayloadOutcome:
        """What this side learned (a :class:`PayloadOutcome`).

        :raises LocalProtocolError: before the protocol is complete.
        """
        res = super().result()
        assert isinstance(res, PayloadOutcome)
        return res


def create_payload_party(
    settings: PsiSettings,
    *,
    role: str,
    items: Sequence[bytes],
    peer_size: int,
    session_id: bytes,
    payloads: Sequence[bytes] | None = None,
    progress: ProgressFn | None = None,
) -> PayloadParty:
    """Create this side of a payload transfer (ECDH only; ``settings.compute`` is
    ``"intersection"``).

    The side that passes ``payloads`` (one ``bytes`` per item, at most 64 KiB each) is the
    sender; ``settings.reveal`` must name the other side (the receiver, which learns the
    intersection and the matched payloads) or ``both`` (the sender learns the intersection
    too, not the receiver's data).

    :raises InvalidArgumentError: another protocol or compute mode, a reveal mode that does
        not name the receiver, too large a payload, sizes or role out of range.
    :raises InvalidTypeError: items or payloads that are not bytes.
    """
    if not isinstance(settings, PsiSettings):
        raise InvalidTypeError("settings must be a PsiSettings")
    settings.validate()
    if settings.protocol != "ecdh" or settings.compute != "intersection":
        raise InvalidArgumentError(
            "payload transfer runs over protocol 'ecdh' (compute intersection)"
        )
    if settings.buckets != 1:
        raise InvalidArgumentError("payload transfer runs as one session: use buckets=1")
    if role not in ROLES:
        raise InvalidArgumentError(f"role must be one of {', '.join(ROLES)}")
    session_id = check_session_id(session_id)
    if isinstance(peer_size, bool) or not isinstance(peer_size, int) or peer_size < 0:
        raise InvalidArgumentError("peer_size must be a non-negative int")
    if not isinstance(items, Sequence) or not all(isinstance(x, bytes) for x in items):
        raise InvalidTypeError("items must be a sequence of bytes")
    if payloads is not None:
        if not isinstance(payloads, Sequence) or len(payloads) != len(items):
            raise InvalidArgumentError("one payload per item")
        for i, p in enumerate(payloads):
            if not isinstance(p, bytes):
                raise InvalidTypeError(f"payload {i} is not bytes")
            if len(p) > MAX_PAYLOAD_BYTES:
                raise InvalidArgumentError(f"payload {i} exceeds {MAX_PAYLOAD_BYTES} bytes")
    return PayloadParty(
        settings,
        payloads=payloads,
        role=role,
        items=items,
        peer_size=peer_size,
        session_id=session_id,
        executor=None,  # runs inline: its per-item work is one scalar multiplication
        join=InMemoryJoin(),
        progress=progress,
    )
