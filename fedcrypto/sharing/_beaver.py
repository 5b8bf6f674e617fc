"""Beaver-triple multiplication of additively shared values, with fixed-point truncation.

The protocol state machines; the values they exchange live in :mod:`._beaver_values`,
the dealer in :mod:`._dealer`, the in-process runner in :mod:`._runner`.

Errors: a message that a peer got wrong (a missing, duplicate, foreign, malformed or
altered opening) raises :class:`~fedcrypto.exceptions.RemoteProtocolError` from
``receive``; calling the methods out of order, reading a result too early or reusing a
triple raises :class:`~fedcrypto.exceptions.LocalProtocolError`.

Threat model: ``n`` semi-honest parties and a trusted dealer (a third party that does
not collude with any party) who hands out correlated randomness before the inputs are
known.  Parties are sans-I/O state machines (:class:`BeaverMultiplication`): they take
typed messages in and give typed messages out; the host moves the messages.

Multiplication (Beaver, CRYPTO'91).  The dealer gives party ``i`` shares ``a_i, b_i, c_i``
of random ``a, b`` and ``c = a * b`` (elementwise) or ``c = a @ b`` (matrix triple).
To multiply shared ``x`` and ``y``:

1. *open*: party ``i`` broadcasts ``d_i = x_i - a_i`` and ``e_i = y_i - b_i``;
2. *combine*: everybody sums ``d = x - a`` and ``e = y - b`` (uniformly random, so they
   reveal nothing) and party ``i`` sets ``z_i = c_i + d * b_i + e * a_i`` (party 0 also adds
   ``d * e``).  Then ``sum z_i = (d + a)(e + b) = x * y``.

Fixed-point truncation (ring Z_2^64 only).  The product of two encodings with ``f``
fractional bits has ``2f``; it is divided by ``2**f``:

* **Local truncation, 2 parties** (SecureML, Mohassel-Zhang S&P'17): party 0 replaces
  ``z_0`` by ``z_0 >> f`` (arithmetic shift), party 1 replaces ``z_1`` by
  ``-((-z_1) >> f)``.  No communication.  If ``|z| < 2**l`` the result is ``floor(z / 2**f)``
  or that plus one (error at most 1 ulp) with probability at least ``1 - 2**(l + 1 - 64)``;
  otherwise it is off by about ``2**(64 - f)`` (a wrong, huge value).  For f = 16 and
  products ``|x * y| < 2**8`` (l = 40) the failure probability is ``2**-23`` per element.
* **Dealer-assisted truncation, any number of parties** (exact; after Escudero et al.,
  CRYPTO'20, probabilistic truncation with the top bit of the mask).  The dealer also
  gives shares of a uniform ``r`` in Z_2^64, of its top bit ``r_63`` and of
  ``r' = (r mod 2**63) >> f``.  Parties shift ``z' = z + 2**62`` (needs ``|z| < 2**62``,
  i.e. ``|x * y| < 2**(62 - 2f)``), open ``c = z' + r mod 2**64`` (uniform: reveals
  nothing) and compute locally ``b = c_63 XOR r_63`` (linear in the shares of ``r_63``
  because ``c_63`` is public) and ``z >> f = (c mod 2**63) >> f - r' + b * 2**(63 - f)
  - 2**(62 - f)``.  The result is ``floor(z / 2**f)`` or that plus one -- error at most
  1 ulp, always.  Costs one extra round (the opening of ``c``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    LocalProtocolError,
    RemoteProtocolError,
)
from ._additive import AdditiveShare
from ._arrays import check_parties, check_party
from ._beaver_values import Opening, TripleShare, TruncationPairShare
from ._domain import Ring64
from ._fixedpoint import FixedPoint

__all__ = [
    "BeaverMultiplication",
    "BeaverParty",
    "DealerTruncation",
    "truncate_local",
]

Elements = npt.NDArray[Any]
_U64 = np.uint64


def truncate_local(share: AdditiveShare, frac_bits: int) -> AdditiveShare:
    """SecureML local truncation of a 2-party Z_2^64 share by ``frac_bits`` bits.

    Party 0 computes ``z_0 >> f`` (arithmetic), party 1 computes ``-((-z_1) >> f)``.
    If ``|z| < 2**l`` the two results sum to ``floor(z / 2**f)`` or that plus one with
    probability at least ``1 - 2**(l + 1 - 64)`` over the sharing; see the module docs.

    Raises:
        InvalidArgumentError: not a 2-party ring share, or bad ``frac_bits``.
    """
    if not isinstance(share, AdditiveShare):
        raise InvalidTypeError("expected an AdditiveShare")
    if share.parties != 2 or not isinstance(share.domain, Ring64):
        raise InvalidArgumentError("local truncation needs 2 parties over Z_2^64")
    if not isinstance(frac_bits, int) or isinstance(frac_bits, bool) or not 0 <= frac_bits <= 62:
        raise InvalidArgumentError("frac_bits must be between 0 and 62")
    return AdditiveShare._of(
        _truncate_local_values(share.values, share.party, frac_bits), share.party, 2, share.domain
    )


def _truncate_local_values(z: Elements, party: int, f: int, *, inplace: bool = False) -> Elements:
    sh = np.int64(f)
    out = z if inplace else np.empty_like(z)
    if party == 0:
        np.right_shift(z.view(np.int64), sh, out=out.view(np.int64))
        return out
    np.negative(z, out=out)
    np.right_shift(out.view(np.int64), sh, out=out.view(np.int64))
    return np.negative(out, out=out)


def _collect(openings: Sequence[Opening], kind: str, op_id: bytes, mine: Opening) -> list[Opening]:
    """Check a round's openings against this party's own ``mine``; return them by party."""
    if isinstance(openings, (bytes, str)) or not isinstance(openings, Sequence):
        raise InvalidTypeError("openings must be a sequence of Opening")
    by_party: dict[int, Opening] = {}
    for o in openings:
        if not isinstance(o, Opening):
            raise InvalidTypeError("openings must be Opening objects")
        if o.kind != kind:
            raise RemoteProtocolError(f"expected {kind} openings, got a {o.kind} opening")
        if o.op_id != op_id:
            raise RemoteProtocolError("an opening belongs to a different multiplication")
        if o.parties != mine.parties or o.domain != mine.domain:
            raise RemoteProtocolError("an opening has a different party count or domain")
        if o.party in by_party:
            raise RemoteProtocolError(f"two openings from party {o.party}")
        by_party[o.party] = o
    if len(by_party) != mine.parties:
        missing = sorted(set(range(mine.parties)) - set(by_party))
        raise RemoteProtocolError(f"missing openings from parties {missing}")
    own = by_party[mine.party]
    for got, want in zip(own.arrays, mine.arrays, strict=True):
        if got is want:  # delivered in memory: the very object this party sent
            continue
        if got.shape != want.shape or not np.array_equal(got, want):
            raise RemoteProtocolError("this party's own opening was altered")
    ordered = [by_party[i] for i in range(mine.parties)]
    for o in ordered:
        for got, want in zip(o.arrays, mine.arrays, strict=True):
            if got.shape != want.shape:
                raise RemoteProtocolError(f"party {o.party} sent an opening of the wrong shape")
    return ordered


def _mask_for_truncation(z: Elements, party: int, pair: TruncationPairShare) -> Elements:
    """``z_i (+ 2**62 for party 0) + r_i``, in place on the fresh array ``z``."""
    if party == 0:
        np.add(z, _U64(1 << 62), out=z)
    return np.add(z, pair.r, out=z)


def _truncated_share(ordered: list[Opening], party: int, pair: TruncationPairShare) -> Elements:
    """Party ``party``'s share of ``floor(z / 2**f)`` (+0 or 1) from the opened ``c``."""
    f = pair.frac_bits
    c = np.add(ordered[0].arrays[0], ordered[1].arrays[0], dtype=_U64)
    for o in ordered[2:]:
        np.add(c, o.arrays[0], out=c)
    top = c >> _U64(63)
    # b = c_63 XOR r_63, linear in the shares of r_63 because c_63 is public.
    own = _U64(1) if party == 0 else _U64(0)
    b = np.where(top == _U64(1), np.subtract(own, pair.r_msb, dtype=_U64), pair.r_msb)
    res = np.left_shift(b, _U64(63 - f))
    np.subtract(res, pair.r_trunc, out=res)
    if party == 0:
        low = (c & _U64((1 << 63) - 1)) >> _U64(f)
        np.add(res, low, out=res)
        np.subtract(res, _U64(1 << (62 - f)), out=res)
    return res


_BLOCK = 1 << 15  # elements per cache block in the ring combine step


def _combine_ring_elementwise(
    ordered: list[Opening], t: TripleShare, local_f: int | None
) -> Elements:
    """``z_i = c_i + d*b_i + e*a_i (+ d*e for party 0)`` over Z_2^64, block by block.

    ``d`` and ``e`` are the sums of all parties' openings.  Working on blocks of 32768
    elements keeps every intermediate in cache (one read of each input, one write of
    ``z``); with ``local_f`` the 2-party local truncation is applied in the same pass.
    """
    size = t.c.size
    ds = [o.arrays[0].reshape(-1) for o in ordered]
    es = [o.arrays[1].reshape(-1) for o in ordered]
    a, b, c = t.a.reshape(-1), t.b.reshape(-1), t.c.reshape(-1)
    z = np.empty(size, dtype=_U64)
    bd = np.empty(_BLOCK, dtype=_U64)
    be = np.empty(_BLOCK, dtype=_U64)
    party0 = t.party == 0
    for lo in range(0, size, _BLOCK):
        hi = min(lo + _BLOCK, size)
        sl = slice(lo, hi)
        d, e, zb = bd[: hi - lo], be[: hi - lo], z[sl]
        np.add(ds[0][sl], ds[1][sl], out=d)
        np.add(es[0][sl], es[1][sl], out=e)
        for k in range(2, len(ds)):
            np.add(d, ds[k][sl], out=d)
            np.add(e, es[k][sl], out=e)
        np.multiply(d, b[sl], out=zb)
        np.add(zb, c[sl], out=zb)
        if party0:
            np.multiply(d, e, out=d)
            np.add(zb, d, out=zb)
        np.multiply(e, a[sl], out=e)
        np.add(zb, e, out=zb)
        if local_f is not None:
            _truncate_local_values(zb, t.party, local_f, inplace=True)
    return z.reshape(t.c.shape)


_OPENED, _WAIT_BEAVER, _WAIT_TRUNC, _DONE = range(4)


class BeaverMultiplication:
    """One party's side of one Beaver multiplication (sans-I/O, single use).

    Flow: :meth:`open` gives this party's :class:`Opening` to broadcast; feed all
    parties' openings (this party's included) to :meth:`receive`.  It returns ``None``
    when the product share is ready in :attr:`result`, or a truncation
    :class:`Opening` to broadcast when dealer-assisted truncation needs a second round;
    then :meth:`receive` the truncation openings.

    Args:
        x, y: this party's shares of the operands (same domain, party and party count).
        triple: this party's share of a fresh triple of the matching kind and shape.
        fixed_point: when given (ring only), the operands are fixed-point encodings with
            ``fixed_point.frac_bits`` fractional bits and the product is truncated back.
        truncation_pair: this party's share of a dealer truncation pair (required for
            fixed-point products with more than 2 parties; with 2 parties it selects the
            exact dealer method instead of local truncation).

    Raises:
        InvalidTypeError, InvalidArgumentError, KeyMismatchError: inconsistent inputs.
    """

    __slots__ = ("_x", "_y", "_t", "_f", "_pair", "_state", "_mine", "_z", "_result")

    def __init__(
        self,
        x: AdditiveShare,
        y: AdditiveShare,
        triple: TripleShare,
        *,
        fixed_point: FixedPoint | None = None,
        truncation_pair: TruncationPairShare | None = None,
    ) -> None:
        for v, n in ((x, "x"), (y, "y")):
            if not isinstance(v, AdditiveShare):
                raise InvalidTypeError(f"{n} must be an AdditiveShare")
        if not isinstance(triple, TripleShare):
            raise InvalidTypeError("triple must be a TripleShare")
        who = (triple.party, triple.parties)
        if (x.party, x.parties) != who or (y.party, y.parties) != who:
            raise KeyMismatchError("operands and triple belong to different parties")
        if x.domain != triple.domain or y.domain != triple.domain:
            raise KeyMismatchError("operands and triple use different domains")
        if x.shape != triple.a.shape or y.shape != triple.b.shape:
            raise InvalidArgumentError(
                f"operand shapes {x.shape}, {y.shape} do not fit the {triple.kind} triple "
                f"({triple.a.shape}, {triple.b.shape})"
            )
        f: int | None = None
        if fixed_point is not None:
            if not isinstance(fixed_point, FixedPoint):
                raise InvalidTypeError("fixed_point must be a FixedPoint")
            if not isinstance(triple.domain, Ring64) or fixed_point.domain != triple.domain:
                raise InvalidArgumentError("fixed-point multiplication needs the ring Z_2^64")
            f = fixed_point.frac_bits
            if truncation_pair is None and triple.parties != 2:
                raise InvalidArgumentError(
                    "fixed-point products among more than 2 parties need a truncation pair"
                )
        if truncation_pair is not None:
            if not isinstance(truncation_pair, TruncationPairShare):
                raise InvalidTypeError("truncation_pair must be a TruncationPairShare")
            if f is None:
                raise InvalidArgumentError("a truncation pair needs fixed_point")
            if (truncation_pair.party, truncation_pair.parties) != who:
                raise KeyMismatchError("truncation pair belongs to a different party")
            if truncation_pair.frac_bits != f:
                raise InvalidArgumentError("truncation pair made for other fractional bits")
            if truncation_pair.r.shape != triple.c.shape:
                raise InvalidArgumentError("truncation pair shape does not match the product")
            if truncation_pair.pair_id == triple.triple_id:
                raise InvalidArgumentError("truncation pair and triple share one id")
        self._x, self._y, self._t, self._f, self._pair = x, y, triple, f, truncation_pair
        self._state = _OPENED
        self._mine: Opening | None = None
        self._z: Elements | None = None
        self._result: AdditiveShare | None = None

    def __repr__(self) -> str:
        names = {_OPENED: "ready", _WAIT_BEAVER: "opened", _WAIT_TRUNC: "truncating", _DONE: "done"}
        return f"BeaverMultiplication(party={self._t.party}, state={names[self._state]!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("BeaverMultiplication holds secret state and cannot be pickled")

    @property
    def done(self) -> bool:
        """Whether :attr:`result` is available."""
        return self._state == _DONE

    @property
    def result(self) -> AdditiveShare:
        """This party's share of the product.

        Raises:
            LocalProtocolError: the protocol has not finished.
        """
        if self._result is None:
            raise LocalProtocolError("the multiplication has not finished")
        return self._result

    def open(self) -> Opening:
        """Round 1: this party's masked operands ``(x_i - a_i, y_i - b_i)`` to broadcast.

        Raises:
            LocalProtocolError: called twice.
        """
        if self._state != _OPENED:
            raise LocalProtocolError("open() was already called")
        t, dom = self._t, self._t.domain
        d = dom.sub(self._x.values, t.a)
        e = dom.sub(self._y.values, t.b)
        self._mine = Opening._of(t.triple_id, "beaver", t.party, t.parties, dom, (d, e))
        self._state = _WAIT_BEAVER
        return self._mine

    def _check_openings(
        self, openings: Sequence[Opening], kind: str, op_id: bytes
    ) -> list[Opening]:
        assert self._mine is not None
        return _collect(openings, kind, op_id, self._mine)

    def receive(self, openings: Sequence[Opening]) -> Opening | None:
        """Round 2 (and 3): combine all parties' openings.

        Args:
            openings: one :class:`Opening` per party (this party's own included), any order.

        Returns:
            ``None`` when :attr:`result` is ready; a truncation :class:`Opening` to
            broadcast when dealer-assisted truncation needs another round.

        Raises:
            LocalProtocolError: called before :meth:`open` or after the result is ready.
            RemoteProtocolError: a missing, duplicate, foreign (other triple, party count
                or domain), wrongly shaped or altered opening.
            InvalidTypeError: ``openings`` is not a sequence of :class:`Opening`.
        """
        if self._state == _WAIT_BEAVER:
            return self._combine(openings)
        if self._state == _WAIT_TRUNC:
            self._finish_truncation(openings)
            return None
        raise LocalProtocolError("receive() called out of order")

    def _combine(self, openings: Sequence[Opening]) -> Opening | None:
        t, dom = self._t, self._t.domain
        ordered = self._check_openings(openings, "beaver", t.triple_id)
        local_f = self._f if (self._f is not None and self._pair is None) else None
        if t.kind == "elementwise" and isinstance(dom, Ring64):
            z = _combine_ring_elementwise(ordered, t, local_f)
            if local_f is not None:  # already truncated inside the blocks
                self._finish(z)
                return None
        else:
            d = dom.add(ordered[0].arrays[0], ordered[1].arrays[0])
            e = dom.add(ordered[0].arrays[1], ordered[1].arrays[1])
            for o in ordered[2:]:
                d = dom.add_into(d, o.arrays[0])
                e = dom.add_into(e, o.arrays[1])
            if t.kind == "elementwise":
                z = dom.add(t.c, dom.mul(d, t.b))
                z = dom.add_into(z, dom.mul(e, t.a))
                if t.party == 0:
                    z = dom.add_into(z, dom.mul(d, e))
            else:
                z = dom.add(t.c, dom.matmul(d, t.b))
                z = dom.add_into(z, dom.matmul(t.a, e))
                if t.party == 0:
                    z = dom.add_into(z, dom.matmul(d, e))
        if self._f is None:
            self._finish(z)
            return None
        if self._pair is None:  # two parties, local truncation
            self._finish(_truncate_local_values(z, t.party, self._f, inplace=True))
            return None
        pair = self._pair
        c_i = _mask_for_truncation(z, t.party, pair)
        self._mine = Opening._of(pair.pair_id, "truncation", t.party, t.parties, dom, (c_i,))
        self._state = _WAIT_TRUNC
        return self._mine

    def _finish_truncation(self, openings: Sequence[Opening]) -> None:
        pair = self._pair
        assert pair is not None
        ordered = self._check_openings(openings, "truncation", pair.pair_id)
        self._finish(_truncated_share(ordered, self._t.party, pair))

    def _finish(self, z: Elements) -> None:
        t = self._t
        self._result = AdditiveShare._of(z, t.party, t.parties, t.domain)
        self._state = _DONE
        self._mine = None


class DealerTruncation:
    """One party's side of a dealer-assisted truncation of a Z_2^64 share (sans-I/O, single use).

    Divides a shared ``z`` by ``2**f`` (``floor``, error at most 1 ulp, exact for every
    ``|z| < 2**62``) for any number of parties, e.g. after ``mul_public`` by a
    fixed-point constant.  :meth:`open` gives the :class:`Opening` to broadcast;
    :meth:`receive` takes all parties' openings and makes :attr:`result` available.

    Args:
        share: this party's share of ``z`` (ring Z_2^64).
        pair: this party's share of a fresh truncation pair of the same shape
            (``pair.frac_bits`` is the number of bits removed).

    Raises:
        InvalidTypeError, InvalidArgumentError, KeyMismatchError: inconsistent inputs.
    """

    __slots__ = ("_share", "_pair", "_mine", "_result")

    def __init__(self, share: AdditiveShare, pair: TruncationPairShare) -> None:
        if not isinstance(share, AdditiveShare) or not isinstance(share.domain, Ring64):
            raise InvalidTypeError("share must be an AdditiveShare over Z_2^64")
        if not isinstance(pair, TruncationPairShare):
            raise InvalidTypeError("pair must be a TruncationPairShare")
        if (pair.party, pair.parties) != (share.party, share.parties):
            raise KeyMismatchError("truncation pair belongs to a different party")
        if pair.r.shape != share.shape:
            raise InvalidArgumentError("truncation pair shape does not match the share")
        self._share, self._pair = share, pair
        self._mine: Opening | None = None
        self._result: AdditiveShare | None = None

    def __repr__(self) -> str:
        return f"DealerTruncation(party={self._share.party}, done={self._result is not None})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("DealerTruncation holds secret state and cannot be pickled")

    def open(self) -> Opening:
        """The masked value ``z_i (+ 2**62) + r_i`` to broadcast.

        Raises:
            LocalProtocolError: called twice.
        """
        if self._mine is not None or self._result is not None:
            raise LocalProtocolError("open() was already called")
        s = self._share
        c_i = _mask_for_truncation(s.values.copy(), s.party, self._pair)
        self._mine = Opening._of(
            self._pair.pair_id, "truncation", s.party, s.parties, s.domain, (c_i,)
        )
        return self._mine

    def receive(self, openings: Sequence[Opening]) -> None:
        """Combine all parties' truncation openings (own included).

        Raises:
            LocalProtocolError: called before :meth:`open` or twice.
            RemoteProtocolError: a missing, duplicate, foreign or malformed opening.
        """
        if self._mine is None:
            raise LocalProtocolError("receive() called out of order")
        ordered = _collect(openings, "truncation", self._pair.pair_id, self._mine)
        s = self._share
        self._result = AdditiveShare._of(
            _truncated_share(ordered, s.party, self._pair), s.party, s.parties, s.domain
        )
        self._mine = None

    @property
    def done(self) -> bool:
        """Whether :attr:`result` is available."""
        return self._result is not None

    @property
    def result(self) -> AdditiveShare:
        """This party's share of the truncated value.

        Raises:
            LocalProtocolError: the protocol has not finished.
        """
        if self._result is None:
            raise LocalProtocolError("the truncation has not finished")
        return self._result


class BeaverParty:
    """A party's multiplication factory that refuses to reuse a triple or truncation pair.

    Reusing a triple for two multiplications reveals the difference of the operands;
    :meth:`multiply` remembers the ids it has consumed (per ``BeaverParty`` object).

    Args:
        party: this party's index; parties: ``n``.
    """

    __slots__ = ("_party", "_parties", "_used")

    def __init__(self, party: int, parties: int) -> None:
        check_parties(parties)
        check_party(party, parties)
        self._party, self._parties = party, parties
        self._used: set[bytes] = set()

    def __repr__(self) -> str:
        return f"BeaverParty(party={self._party}, parties={self._parties}, used={len(self._used)})"

    def multiply(
        self,
        x: AdditiveShare,
        y: AdditiveShare,
        triple: TripleShare,
        *,
        fixed_point: FixedPoint | None = None,
        truncation_pair: TruncationPairShare | None = None,
    ) -> BeaverMultiplication:
        """Start a multiplication (see :class:`BeaverMultiplication`).

        Raises:
            LocalProtocolError: the triple or truncation pair was already used by this party.
            KeyMismatchError: the triple belongs to another party.
        """
        if not isinstance(triple, TripleShare):
            raise InvalidTypeError("triple must be a TripleShare")
        if (triple.party, triple.parties) != (self._party, self._parties):
            raise KeyMismatchError("the triple belongs to a different party")
        ids = [triple.triple_id] + (
            [truncation_pair.pair_id] if truncation_pair is not None else []
        )
        if any(i in self._used for i in ids):
            raise LocalProtocolError("refusing to reuse a Beaver triple or truncation pair")
        op = BeaverMultiplication(
            x, y, triple, fixed_point=fixed_point, truncation_pair=truncation_pair
        )
        self._used.update(ids)
        return op
