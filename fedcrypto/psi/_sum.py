"""Intersection-sum with cardinality (Ion et al., EuroS&P 2020), ECDH/DH + Paillier.

Two sides: the **value holder** ``V`` (IDs and integer value columns, and a fresh Paillier
key) and the **matcher** ``M`` (IDs only).  ``H`` hashes into the group; ``k_V``, ``k_M`` are
secret scalars; ``T`` is the keyed 128-bit tag of :mod:`._commutative`.

1. ``M`` streams ``H(w)^{k_M}`` for its IDs (:class:`MaskedBatch`); ``V`` acknowledges each
   batch, keeps ``T(H(w)^{k_M k_V})``, and once all are in sends them back in a fresh random
   order (:class:`ShuffledTags`): ``M`` gets the set of its double-masked tags but cannot
   link them to its IDs.
2. ``V`` sends its Paillier public key and the packing layout (:class:`SumKey`), then its
   rows in a random order: ``H(v)^{k_V}`` with the Paillier encryption of the packed values
   (:class:`ValueBatch`, window of two, acknowledged by ``M``).
3. ``M`` computes ``T(H(v)^{k_V k_M})`` for each row, keeps the rows whose tag is in its set,
   multiplies their ciphertexts (a homomorphic sum), re-randomizes, and sends the result
   (:class:`SumResult`): with the intersection size when ``V`` learns the result; with a
   statistical mask added when only ``M`` learns it; nothing when ``|∩| < threshold`` and
   ``V`` learns (``M`` learns, but alone, sends an encryption of its mask instead so ``V``
   cannot tell).
4. ``V`` decrypts.  When ``M`` learns the sums, ``V`` returns the plaintexts
   (:class:`SumOpening`) and ``M`` removes its mask.

Who learns what: the matcher always learns ``|∩|`` (it sees which of ``V``'s rows match, not
which of its own IDs or ``V``'s IDs they are); the sides named by ``reveal`` learn ``|∩|``
and the column sums (or only ``|∩|`` below the threshold).  Semi-honest model, as in the
paper: a malicious matcher can sum any subset of ``V``'s rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._random import randbelow
from ..exceptions import (
    EncodingOverflowError,
    FedCryptoError,
    InvalidArgumentError,
    InvalidTypeError,
    RemoteProtocolError,
)
from ..paillier import (
    EncryptedVector,
    PaillierPrivateKey,
    PaillierPublicKey,
    concatenate,
    generate_private_key,
)
from . import _dh, _ecdh
from ._commutative import PARALLEL_MIN_ITEMS, PARALLEL_MIN_ITEMS_DH, mask_own, mask_peer
from ._join import InMemoryJoin
from ._messages import MaskedBatch, PsiMessage, ShuffledTags, TagReply, element_size
from ._parallel import map_chunks
from ._party import ProgressFn, PsiParty, PsiResult, batch_count, secure_permutation
from ._settings import ROLES, TAG_BYTES, PsiSettings, check_session_id, session_tag
from ._sum_layout import SumLayout, check_values, plan_layout
from ._sum_messages import SumKey, SumOpening, SumResult, ValueBatch

__all__ = [
    "SumParty",
    "SumOutcome",
    "create_sum_party",
    "DEFAULT_VALUE_BITS",
    "DEFAULT_SUM_KEY_SIZE",
    "VALUE_BATCH_BYTES",
]

_WINDOW = 2
#: Default width of each value (signed two's complement range).
DEFAULT_VALUE_BITS = 48
#: Default Paillier modulus size of the value holder's per-run key (as in the paper).
DEFAULT_SUM_KEY_SIZE = 2048
#: Target size of one ValueBatch frame; the row count per batch follows from it.
VALUE_BATCH_BYTES = 8 << 20


@dataclass(frozen=True)
class SumOutcome(PsiResult):
    """What one side of an intersection-sum learned (a :class:`PsiResult`; ``indices`` is
    always None: nobody learns which IDs matched).

    :ivar count: ``|∩|`` when this side learns it (the matcher always does), else None.
    :ivar sums: the column sums over the intersection (in column order) when this side
        learns them and ``|∩| >= threshold``, else None.
    :ivar below_threshold: True when this side learns the result and ``|∩| < threshold``.
    :ivar value_holder: True on the side that supplied the values.
    :ivar labels: the value holder's column names (as it chose to send them; from the
        peer on the matcher: sanitize before display), or ``()``.
    """

    sums: tuple[int, ...] | None = None
    below_threshold: bool = False
    value_holder: bool = False
    labels: tuple[str, ...] = ()


def _rows_per_batch(settings: PsiSettings, elem: int, layout: SumLayout, ct_bytes: int) -> int:
    row = elem + layout.ciphertexts * ct_bytes
    return max(1, min(settings.batch_size, VALUE_BATCH_BYTES // row))


class SumParty(PsiParty):
    """One side of an intersection-sum run (see the module docstring; drive it like any
    :class:`PsiParty`, decoding peer bytes with :func:`decode_sum_message`).

    :meth:`result` returns a :class:`SumOutcome`.  Peer errors (a ciphertext out of range
    or not invertible, counts other than announced, a sum no honest run can produce, both
    or neither side holding values) raise :class:`RemoteProtocolError` subclasses.
    """

    def __init__(
        self,
        settings: PsiSettings,
        *,
        values: np.ndarray | None,
        layout: SumLayout | None,
        private_key: PaillierPrivateKey | None,
        unsafe_allow_small_keys: bool,
        labels: tuple[str, ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(settings, **kwargs)
        self._protocol = settings.protocol
        self._group = settings.resolved_group()
        self._secret: Any = (
            _dh.new_exponent(self._group)
            if self._protocol == "dh"
            else _ecdh.new_scalar(self._group)
        )
        self._dst = session_tag(settings, self._session_id, "hash-to-group")
        self._tag_key = hashlib.sha256(session_tag(settings, self._session_id, "tag")).digest()
        self._elem = element_size(settings, "element")
        self._bs = settings.batch_size
        self._holder = values is not None
        self._values = values
        self._layout = layout
        self._sk = private_key
        self._small = unsafe_allow_small_keys
        self._labels = labels
        holder_role = self.role if self._holder else self.peer_role
        matcher_role = self.peer_role if self._holder else self.role
        self._holder_learns = settings.reveal in (holder_role, "both")
        self._matcher_learns = settings.reveal in (matcher_role, "both")
        self._min_items = PARALLEL_MIN_ITEMS.get(self._group, PARALLEL_MIN_ITEMS_DH)
        # matcher state
        self._perm = secure_permutation(self.n)
        self._next_send = 0
        self._acks = 0
        self._pk: PaillierPublicKey | None = None
        self._peer_layout: SumLayout | None = None
        self._tagset: set[bytes] = set()
        self._shuffled = 0
        self._values_in = 0
        self._value_batches = 0
        self._rows_per = 0
        self._matches = 0
        self._acc: EncryptedVector | None = None
        self._mask: list[int] | None = None
        self._awaiting_opening = False
        self._below = False
        self._result_sent = False
        # value-holder state
        self._peer_in = 0
        self._tag_buf: list[bytes] = []
        self._my_masked_batches = batch_count(self.n, self._bs)
        self._peer_masked_batches = batch_count(self.peer_size, self._bs)

    # -- helpers ---------------------------------------------------------------------------
    def _len(self, total: int, i: int, size: int) -> int:
        return max(0, min(size, total - i * size))

    # -- start -----------------------------------------------------------------------------
    def _start(self) -> list[PsiMessage]:
        if self._holder:
            assert self._sk is not None and self._layout is not None
            pk = self._sk.public_key()
            self._pk = pk
            self._rows_per = _rows_per_batch(
                self.settings, self._elem, self._layout, pk.ciphertext_bytes
            )
            self._value_batches = batch_count(self.n, self._rows_per)
            return [
                SumKey(
                    param=self._param,
                    layout=self._layout,
                    rows=self.n,
                    public_key=pk.to_bytes(),
                    labels=self._labels,
                )
            ]
        out: list[PsiMessage] = []
        for _ in range(_WINDOW):
            out += self._next_masked()
        return out

    def _next_masked(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= self._my_masked_batches or i - self._acks >= _WINDOW:
            return []
        self._next_send += 1
        lo = i * self._bs
        hi = lo + self._len(self.n, i, self._bs)
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
        self._report("masking own", hi, self.n)
        return [
            MaskedBatch(
                param=self._param,
                index=i,
                total=self._my_masked_batches,
                data=data,
                elem_size=self._elem,
            )
        ]

    # -- dispatch --------------------------------------------------------------------------
    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:
        try:
            if self._holder:
                return self._holder_handle(msg)
            return self._matcher_handle(msg)
        except (EncodingOverflowError, InvalidArgumentError, InvalidTypeError) as exc:
            # raised while using the peer's data (its key, ciphertexts, sums)
            raise RemoteProtocolError(f"the peer's data is unusable: {exc}") from None

    # -- value holder ----------------------------------------------------------------------
    def _holder_handle(self, msg: PsiMessage) -> list[PsiMessage]:
        if isinstance(msg, SumKey):
            raise RemoteProtocolError(
                "both sides hold values: exactly one side of an intersection-sum supplies them"
            )
        if isinstance(msg, MaskedBatch):
            return self._on_peer_masked(msg)
        if isinstance(msg, TagReply):
            return self._on_value_ack(msg)
        if isinstance(msg, SumResult):
            return self._on_sum_result(msg)
        raise RemoteProtocolError(f"unexpected {type(msg).__name__} for the value holder")

    def _on_peer_masked(self, msg: MaskedBatch) -> list[PsiMessage]:
        i = self._peer_in
        total = self._peer_masked_batches
        if i >= total or msg.index != i or msg.total != total:
            raise RemoteProtocolError(f"masked batch {msg.index}/{msg.total} out of order")
        if msg.count != self._len(self.peer_size, i, self._bs):
            raise RemoteProtocolError(
                f"masked batch {i} holds {msg.count} elements, not as announced"
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
        self._peer_in += 1
        self._report(
            "masking peer's", min(self._peer_in * self._bs, self.peer_size), self.peer_size
        )
        self._tag_buf.append(tags)
        out: list[PsiMessage] = [
            TagReply(param=self._param, index=i, total=i, data=b"", elem_size=TAG_BYTES)
        ]
        if self._peer_in == total:
            out += self._shuffled_tags()
            for _ in range(_WINDOW):
                out += self._next_values()
        return out

    def _shuffled_tags(self) -> list[PsiMessage]:
        tags = np.frombuffer(b"".join(self._tag_buf), dtype=f"V{TAG_BYTES}")
        self._tag_buf = []
        data = tags[secure_permutation(tags.size)].tobytes()
        step = self._bs * TAG_BYTES
        total = self._peer_masked_batches
        return [
            ShuffledTags(
                param=self._param,
                index=j,
                total=total,
                data=data[j * step : (j + 1) * step],
                elem_size=TAG_BYTES,
            )
            for j in range(total)
        ]

    def _next_values(self) -> list[PsiMessage]:
        i = self._next_send
        if i >= self._value_batches or i - self._acks >= _WINDOW:
            return []
        assert self._sk is not None and self._layout is not None and self._values is not None
        self._next_send += 1
        lo = i * self._rows_per
        hi = lo + self._len(self.n, i, self._rows_per)
        rows = self._perm[lo:hi]
        chunk = [self._items[int(j)] for j in rows]
        elements = b"".join(
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
        plain = self._layout.pack(self._values[rows])
        # the key owner encrypts with CRT randomizers (several times faster than public-key
        # encryption; same distribution)
        ev = self._sk.encrypt(plain) if plain else None
        cts = ev.to_bytes() if ev is not None else b""
        self._report("encrypting values", hi, self.n)
        return [
            ValueBatch(
                param=self._param,
                index=i,
                total=self._value_batches,
                elements=elements,
                elem_size=self._elem,
                ciphertexts=cts,
            )
        ]

    def _on_value_ack(self, msg: TagReply) -> list[PsiMessage]:
        if self._acks >= self._next_send or msg.index != self._acks or msg.count:
            raise RemoteProtocolError(f"acknowledgement of value batch {msg.index} out of order")
        self._acks += 1
        return self._next_values()

    def _on_sum_result(self, msg: SumResult) -> list[PsiMessage]:
        if self._acks < self._value_batches or self._peer_in < self._peer_masked_batches:
            raise RemoteProtocolError("sum result before every value batch was acknowledged")
        assert self._sk is not None and self._layout is not None and self._pk is not None
        lay = self._layout
        if msg.has_count != self._holder_learns:
            raise RemoteProtocolError("the sum result does not match the agreed reveal mode")
        count: int | None = None
        below = False
        if self._holder_learns:
            count = msg.count
            if count > min(self.n, self.peer_size):
                raise RemoteProtocolError(
                    f"the peer reports {count} matches, more than the smaller set"
                )
            below = count < self.settings.threshold
            if msg.below_threshold != below:
                raise RemoteProtocolError("the peer's threshold flag contradicts its count")
        elif msg.below_threshold or msg.count:
            raise RemoteProtocolError("the peer sent a count this side must not learn")
        if below:
            if msg.ciphertexts:
                raise RemoteProtocolError("the peer sent sums below the threshold")
            self._finish_sum(count, None, below=True)
            return []
        plain = self._decrypt(msg.ciphertexts, lay.ciphertexts)
        sums = None
        if self._holder_learns:
            assert count is not None
            sums = lay.unpack(plain, count)
        else:
            bound = 1 << (lay.mask_bits + 1)
            if any(not 0 <= p < bound for p in plain):
                raise RemoteProtocolError("the peer's masked sum is out of range")
        self._finish_sum(count, sums, below=False)
        if not self._matcher_learns:
            return []
        nbytes = (self._pk.n.bit_length() + 7) // 8
        return [SumOpening(param=self._param, plaintexts=tuple(plain), nbytes=nbytes)]

    def _decrypt(self, data: bytes, expected: int) -> list[int]:
        assert self._sk is not None and self._pk is not None
        try:
            ev = EncryptedVector.from_bytes(data, self._pk)
        except FedCryptoError as exc:
            raise RemoteProtocolError(f"the peer sent an invalid sum ciphertext: {exc}") from None
        if len(ev) != expected or ev.encoding.is_float:
            raise RemoteProtocolError(
                f"the peer sent {len(ev)} sum ciphertexts, expected {expected}"
            )
        try:
            plain = [int(x) for x in self._sk.decrypt(ev).tolist()]
        except EncodingOverflowError:
            raise RemoteProtocolError("the peer's sum ciphertext decrypts out of range") from None
        if any(p < 0 for p in plain):
            raise RemoteProtocolError("the peer's sum ciphertext decrypts out of range")
        return plain

    # -- matcher ---------------------------------------------------------------------------
    def _matcher_handle(self, msg: PsiMessage) -> list[PsiMessage]:
        if isinstance(msg, SumKey):
            return self._on_key(msg)
        if self._pk is None:
            if isinstance(msg, MaskedBatch):
                raise RemoteProtocolError(
                    "neither side holds values: one side of an intersection-sum must supply them"
                )
            raise RemoteProtocolError(f"{type(msg).__name__} before the peer's key")
        if isinstance(msg, TagReply):
            if self._acks >= self._next_send or msg.index != self._acks or msg.count:
                raise RemoteProtocolError(f"acknowledgement of batch {msg.index} out of order")
            self._acks += 1
            out = self._next_masked()
        elif isinstance(msg, ShuffledTags):
            out = self._on_shuffled(msg)
        elif isinstance(msg, ValueBatch):
            out = self._on_values(msg)
        elif isinstance(msg, SumOpening):
            out = self._on_opening(msg)
        else:
            raise RemoteProtocolError(f"unexpected {type(msg).__name__} for the matcher")
        return out + self._maybe_send_result()

    def _on_key(self, msg: SumKey) -> list[PsiMessage]:
        if self._pk is not None:
            raise RemoteProtocolError("the peer sent its key twice")
        if msg.rows != self.peer_size:
            raise RemoteProtocolError(
                f"the peer's key announces {msg.rows} rows, its hello {self.peer_size}"
            )
        try:
            pk = PaillierPublicKey.from_bytes(msg.public_key, unsafe_allow_small_keys=self._small)
        except FedCryptoError as exc:
            raise RemoteProtocolError(f"the peer's Paillier key is unacceptable: {exc}") from None
        msg.layout.check(pk.n.bit_length(), self.peer_size)
        self._pk = pk
        self._peer_layout = msg.layout
        self._labels = msg.labels
        self._rows_per = _rows_per_batch(self.settings, self._elem, msg.layout, pk.ciphertext_bytes)
        self._value_batches = batch_count(self.peer_size, self._rows_per)
        return []

    def _on_shuffled(self, msg: ShuffledTags) -> list[PsiMessage]:
        j = self._shuffled
        total = self._my_masked_batches
        if self._acks < total or j >= total or msg.index != j or msg.total != total:
            raise RemoteProtocolError(f"shuffled tag batch {msg.index} out of order")
        if msg.count != self._len(self.n, j, self._bs):
            raise RemoteProtocolError(
                f"shuffled tag batch {j} holds {msg.count} tags, not {self.n}"
            )
        self._tagset.update(msg.elements())
        self._shuffled += 1
        return []

    def _on_values(self, msg: ValueBatch) -> list[PsiMessage]:
        assert self._pk is not None and self._peer_layout is not None
        i = self._values_in
        if self._shuffled < self._my_masked_batches:
            raise RemoteProtocolError("value batch before the shuffled tags")
        if i >= self._value_batches or msg.index != i or msg.total != self._value_batches:
            raise RemoteProtocolError(f"value batch {msg.index}/{msg.total} out of order")
        rows = self._len(self.peer_size, i, self._rows_per)
        if msg.count != rows:
            raise RemoteProtocolError(f"value batch {i} holds {msg.count} rows, expected {rows}")
        per = self._peer_layout.ciphertexts
        if rows:
            try:
                ev = EncryptedVector.from_bytes(msg.ciphertexts, self._pk)
            except FedCryptoError as exc:
                raise RemoteProtocolError(
                    f"the peer sent invalid value ciphertexts: {exc}"
                ) from None
            if len(ev) != rows * per or ev.encoding.is_float:
                raise RemoteProtocolError(
                    f"value batch {i} holds {len(ev)} ciphertexts, expected {rows * per}"
                )
            tags = b"".join(
                map_chunks(
                    self._executor,
                    mask_peer,
                    msg.element_list(),
                    self._protocol,
                    self._group,
                    self._secret,
                    self._tag_key,
                    min_items=self._min_items,
                )
            )
            hit = [
                r for r in range(rows) if tags[r * TAG_BYTES : (r + 1) * TAG_BYTES] in self._tagset
            ]
            if hit:
                idx = np.asarray(hit, dtype=np.int64) * per
                part = concatenate([ev[idx + k].sum() for k in range(per)])
                self._acc = part if self._acc is None else self._acc + part
                self._matches += len(hit)
        elif msg.ciphertexts:
            raise RemoteProtocolError(f"value batch {i} has ciphertexts but no rows")
        self._values_in += 1
        self._report(
            "summing", min(self._values_in * self._rows_per, self.peer_size), self.peer_size
        )
        return [TagReply(param=self._param, index=i, total=i, data=b"", elem_size=TAG_BYTES)]

    def _maybe_send_result(self) -> list[PsiMessage]:
        if (
            self._result_sent
            or self._pk is None
            or self._values_in < self._value_batches
            or self._acks < self._my_masked_batches
        ):
            return []
        assert self._peer_layout is not None
        self._result_sent = True
        pk, lay, m = self._pk, self._peer_layout, self._matches
        ok = m >= self.settings.threshold
        acc = self._acc if self._acc is not None else pk.encrypt([0] * lay.ciphertexts)
        if self._matcher_learns and not self._holder_learns:
            # The value holder decrypts for us: hide the sums (and whether the threshold was
            # met) behind a statistical mask.
            self._mask = [randbelow(1 << lay.mask_bits) for _ in range(lay.ciphertexts)]
            body = (acc + self._mask) if ok else pk.encrypt(self._mask)
            self._awaiting_opening = True
            self._below = not ok
            return [
                SumResult(
                    param=self._param,
                    has_count=False,
                    below_threshold=False,
                    count=0,
                    ciphertexts=body.to_bytes(),
                )
            ]
        cts = acc.rerandomize().to_bytes() if ok else b""
        self._below = not ok
        self._awaiting_opening = self._matcher_learns and ok
        msg = SumResult(
            param=self._param, has_count=True, below_threshold=not ok, count=m, ciphertexts=cts
        )
        if not self._awaiting_opening:
            self._finish_sum(m, None, below=(not ok) and self._matcher_learns)
        return [msg]

    def _on_opening(self, msg: SumOpening) -> list[PsiMessage]:
        if not self._awaiting_opening:
            raise RemoteProtocolError("unexpected SumOpening")
        assert self._peer_layout is not None
        lay = self._peer_layout
        plain = list(msg.plaintexts)
        if len(plain) != lay.ciphertexts:
            raise RemoteProtocolError("the peer's opening has the wrong number of sums")
        self._awaiting_opening = False
        if self._mask is not None:
            plain = [p - r for p, r in zip(plain, self._mask, strict=True)]
            self._mask = None
        if self._below:
            self._finish_sum(self._matches, None, below=True)
        else:
            self._finish_sum(self._matches, lay.unpack(plain, self._matches), below=False)
        return []

    # -- results ---------------------------------------------------------------------------
    def _finish_sum(self, count: int | None, sums: tuple[int, ...] | None, *, below: bool) -> None:
        if not self._holder:
            count = self._matches  # the matcher always learns the cardinality
        self._result = SumOutcome(
            indices=None,
            count=count,
            sums=sums,
            below_threshold=below,
            value_holder=self._holder,
            labels=self._labels,
        )

    def result(self) -> SumOutcome:
        """What this side learned (a :class:`SumOutcome`).

        :raises LocalProtocolError: before the protocol is complete.
        """
        res = super().result()
        assert isinstance(res, SumOutcome)
        return res

    def _close(self) -> None:
        """Nothing to release: the caller owns the executor."""


def create_sum_party(
    settings: PsiSettings,
    *,
    role: str,
    items: Sequence[bytes],
    peer_size: int,
    session_id: bytes,
    values: Any = None,
    value_bits: int = DEFAULT_VALUE_BITS,
    private_key: PaillierPrivateKey | None = None,
    key_size: int = DEFAULT_SUM_KEY_SIZE,
    unsafe_allow_small_keys: bool = False,
    column_names: Sequence[str] = (),
    progress: ProgressFn | None = None,
    executor: Executor | None = None,
) -> SumParty:
    """Create this side of an intersection-sum run (``PsiSettings(compute="sum")``).

    Exactly one side passes ``values``: it becomes the value holder, the other the matcher.
    ``settings.reveal`` names who learns ``|∩|`` and the column sums (``listener``,
    ``connector`` or ``both``); the matcher learns ``|∩|`` in every case.

    :param items: this side's identifiers, normalized and deduplicated.
    :param peer_size: the number of items the peer announced.
    :param session_id: 32 bytes agreed in the handshake.
    :param values: value holder only: one integer per item (1-D), or a ``(len(items),
        columns)`` table; each value in ``[-2^(value_bits-1), 2^(value_bits-1))``.
    :param value_bits: the signed width of every value (default 48).
    :param private_key: value holder only: a Paillier key to use (default: a fresh
        ``key_size``-bit key for this run).
    :param key_size: bits of the fresh Paillier key (default 2048).
    :param unsafe_allow_small_keys: accept (matcher) or make (holder) Paillier keys below
        2048 bits: tests only.
    :param column_names: value holder only, optional: a name per value column, sent to
        the matcher in the clear (each at most 255 UTF-8 bytes).
    :param progress: ``progress(phase, done, total)`` callback.
    :param executor: where the hashing and masking run (any
        :class:`concurrent.futures.Executor`), or None for inline; never changes a result.
    :returns: a :class:`SumParty`.
    :raises InvalidArgumentError: bad settings, role or sizes, values that are out of range
        (the message names the row and column) or do not fit the Paillier plaintext.
    :raises InvalidTypeError: items that are not bytes, values that are not integers.
    """
    if not isinstance(settings, PsiSettings):
        raise InvalidTypeError("settings must be a PsiSettings")
    settings.validate()
    if settings.compute != "sum":
        raise InvalidArgumentError("create_sum_party needs PsiSettings(compute='sum')")
    if role not in ROLES:
        raise InvalidArgumentError(f"role must be one of {', '.join(ROLES)}")
    session_id = check_session_id(session_id)
    if isinstance(peer_size, bool) or not isinstance(peer_size, int):
        raise InvalidTypeError("peer_size must be an int")
    if peer_size < 0:
        raise InvalidArgumentError("peer_size must be non-negative")
    if not isinstance(items, Sequence) or isinstance(items, (bytes, str)):
        raise InvalidTypeError("items must be a sequence of bytes")
    if not all(isinstance(x, bytes) for x in items):
        raise InvalidTypeError("every item must be bytes")
    table: np.ndarray | None = None
    layout: SumLayout | None = None
    if values is not None:
        if isinstance(value_bits, bool) or not isinstance(value_bits, int):
            raise InvalidTypeError("value_bits must be an int")
        if not 1 <= value_bits <= 1024:
            raise InvalidArgumentError("value_bits must be between 1 and 1024")
        table = check_values(values, len(items), value_bits)
        if private_key is None:
            private_key = generate_private_key(
                key_size, unsafe_allow_small_keys=unsafe_allow_small_keys
            )
        elif not isinstance(private_key, PaillierPrivateKey):
            raise InvalidTypeError("private_key must be a PaillierPrivateKey")
        bits = private_key.public_key().n.bit_length()
        layout = plan_layout(table.shape[1], value_bits, max(1, len(items)), bits)
    elif private_key is not None:
        raise InvalidArgumentError("private_key is only used by the side that holds values")
    labels = tuple(column_names)
    if labels and (table is None or len(labels) != table.shape[1]):
        raise InvalidArgumentError("column_names: one name per value column (value holder only)")
    if not all(isinstance(x, str) and len(x.encode("utf-8")) <= 255 for x in labels):
        raise InvalidArgumentError("column_names must be strings of at most 255 UTF-8 bytes")
    return SumParty(
        settings,
        values=table,
        layout=layout,
        private_key=private_key,
        unsafe_allow_small_keys=unsafe_allow_small_keys,
        labels=labels,
        role=role,
        items=items,
        peer_size=peer_size,
        session_id=session_id,
        executor=executor,
        join=InMemoryJoin(),
        progress=progress,
    )
