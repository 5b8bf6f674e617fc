"""Beaver-triple multiplication of additively shared values, with fixed-point truncation.

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

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from .._random import VectorRNG, random_bytes
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    ProtocolError,
    SerializationError,
)
from ..serialization import PARAM_ID_BYTES, ObjectType, Reader, Writer, pack, unpack
from ._additive import (
    AdditiveShare,
    additive_share,
    check_parties,
    check_share_set,
    read_shape,
    readonly,
    reconstruct_fixed_point,
    write_shape,
)
from ._domain import RING64, Domain, Ring64, domain_from_reader
from ._fixedpoint import FixedPoint

__all__ = [
    "TripleShare",
    "TruncationPairShare",
    "Opening",
    "BeaverDealer",
    "BeaverMultiplication",
    "BeaverParty",
    "DealerTruncation",
    "truncate_local",
    "run_multiplication",
    "secure_multiply",
]

Elements = npt.NDArray[Any]
_ID = PARAM_ID_BYTES
_ELEMENTWISE, _MATRIX = 1, 2
_KIND_NAMES = {_ELEMENTWISE: "elementwise", _MATRIX: "matrix"}
_OPEN_BEAVER, _OPEN_TRUNC = 1, 2
_U64 = np.uint64


def _shape_tuple(shape: object, what: str) -> tuple[int, ...]:
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidTypeError(f"{what} must be a tuple of non-negative ints")
    return shape


def _check_id(value: object, what: str) -> bytes:
    if not isinstance(value, bytes) or len(value) != _ID:
        raise InvalidArgumentError(f"{what} must be {_ID} bytes")
    return value


class _Frozen:
    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError(f"{type(self).__name__} cannot be pickled; use to_bytes()")


def _set(obj: object, **fields: object) -> None:
    for k, v in fields.items():
        object.__setattr__(obj, k, v)


# --------------------------------------------------------------------------- values


class TripleShare(_Frozen):
    """Party ``party``'s share of a Beaver triple ``(a, b, c)``.

    ``kind`` is ``"elementwise"`` (``c = a * b``, all of one shape) or ``"matrix"``
    (``c = a @ b`` with ``a`` of shape ``(m, k)`` and ``b`` of shape ``(k, n)``).
    ``triple_id`` (16 random bytes, the same for all parties) binds the openings of
    the multiplication that consumes it.  Secret material: not shown in ``repr``, not
    picklable.  Use each triple for exactly one multiplication.
    """

    __slots__ = ("triple_id", "kind", "party", "parties", "domain", "a", "b", "c")
    triple_id: bytes
    kind: str
    party: int
    parties: int
    domain: Domain
    a: Elements
    b: Elements
    c: Elements

    def __init__(
        self,
        *,
        triple_id: bytes,
        kind: str,
        party: int,
        parties: int,
        domain: Domain,
        a: Elements,
        b: Elements,
        c: Elements,
    ) -> None:
        """Build a triple share (validated).  Normally produced by :class:`BeaverDealer`."""
        check_parties(parties)
        if not isinstance(party, int) or isinstance(party, bool) or not 0 <= party < parties:
            raise InvalidArgumentError("party out of range")
        if kind not in ("elementwise", "matrix"):
            raise InvalidArgumentError("kind must be 'elementwise' or 'matrix'")
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        a = domain.validate(a, "a")
        b = domain.validate(b, "b")
        c = domain.validate(c, "c")
        if kind == "elementwise":
            if not a.shape == b.shape == c.shape:
                raise InvalidArgumentError("elementwise triple arrays must have one shape")
        elif not (
            a.ndim == b.ndim == c.ndim == 2
            and a.shape[1] == b.shape[0]
            and c.shape == (a.shape[0], b.shape[1])
        ):
            raise InvalidArgumentError("matrix triple shapes must be (m, k), (k, n), (m, n)")
        _set(
            self,
            triple_id=_check_id(triple_id, "triple_id"),
            kind=kind,
            party=party,
            parties=parties,
            domain=domain,
            a=readonly(a.copy()),
            b=readonly(b.copy()),
            c=readonly(c.copy()),
        )

    def __repr__(self) -> str:
        return (
            f"TripleShare(kind={self.kind!r}, party={self.party}, parties={self.parties}, "
            f"a_shape={self.a.shape}, b_shape={self.b.shape}, domain={self.domain!r})"
        )

    def to_bytes(self) -> bytes:
        """Envelope ``BEAVER_TRIPLE_SHARE`` (param id = triple id).

        Payload: domain header, ``u8 kind`` (1 elementwise, 2 matrix), ``u16 party``,
        ``u16 parties``, the shapes of ``a``, ``b``, ``c`` (``u8 ndim`` + ``u64`` dims),
        then the elements of ``a``, ``b``, ``c`` (fixed width, big-endian, C order).
        """
        w = Writer()
        self.domain.write_header(w)
        w.u8(_ELEMENTWISE if self.kind == "elementwise" else _MATRIX)
        w.u16(self.party).u16(self.parties)
        for arr in (self.a, self.b, self.c):
            write_shape(w, arr.shape)
        for arr in (self.a, self.b, self.c):
            self.domain.write(w, arr.ravel())
        return pack(ObjectType.BEAVER_TRIPLE_SHARE, w.getvalue(), param=self.triple_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> TripleShare:
        """Parse and validate a serialized triple share.

        Raises:
            SerializationError: anything malformed or inconsistent.
        """
        env = unpack(data, ObjectType.BEAVER_TRIPLE_SHARE)
        r = Reader(env.payload)
        dom = domain_from_reader(r)
        kind = _KIND_NAMES.get(r.u8())
        if kind is None:
            raise SerializationError("unknown triple kind")
        party, parties = r.u16(), r.u16()
        shapes = [read_shape(r, r.remaining()) for _ in range(3)]
        arrays = [dom.read(r, int(np.prod(s, dtype=np.int64))).reshape(s) for s in shapes]
        r.finish()
        try:
            return cls(
                triple_id=env.param_id,
                kind=kind,
                party=party,
                parties=parties,
                domain=dom,
                a=arrays[0],
                b=arrays[1],
                c=arrays[2],
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid triple share: {exc}") from None


class TruncationPairShare(_Frozen):
    """Party ``party``'s share of a dealer truncation pair (ring Z_2^64 only).

    Holds shares of a uniform ``r``, of its top bit ``r_msb = r >> 63`` and of
    ``r_trunc = (r mod 2**63) >> frac_bits``; see the module docs for the protocol.
    Secret material: not shown in ``repr``, not picklable.  Use each pair once.
    """

    __slots__ = ("pair_id", "party", "parties", "frac_bits", "r", "r_msb", "r_trunc")
    pair_id: bytes
    party: int
    parties: int
    frac_bits: int
    r: Elements
    r_msb: Elements
    r_trunc: Elements

    def __init__(
        self,
        *,
        pair_id: bytes,
        party: int,
        parties: int,
        frac_bits: int,
        r: Elements,
        r_msb: Elements,
        r_trunc: Elements,
    ) -> None:
        """Build a truncation pair share (validated).  Normally made by :class:`BeaverDealer`."""
        check_parties(parties)
        if not isinstance(party, int) or isinstance(party, bool) or not 0 <= party < parties:
            raise InvalidArgumentError("party out of range")
        if not isinstance(frac_bits, int) or not 0 < frac_bits <= 40:
            raise InvalidArgumentError("frac_bits must be between 1 and 40")
        arrs = [
            RING64.validate(v, n) for v, n in ((r, "r"), (r_msb, "r_msb"), (r_trunc, "r_trunc"))
        ]
        if not arrs[0].shape == arrs[1].shape == arrs[2].shape:
            raise InvalidArgumentError("truncation pair arrays must have one shape")
        _set(
            self,
            pair_id=_check_id(pair_id, "pair_id"),
            party=party,
            parties=parties,
            frac_bits=frac_bits,
            r=readonly(arrs[0].copy()),
            r_msb=readonly(arrs[1].copy()),
            r_trunc=readonly(arrs[2].copy()),
        )

    def __repr__(self) -> str:
        return (
            f"TruncationPairShare(party={self.party}, parties={self.parties}, "
            f"frac_bits={self.frac_bits}, shape={self.r.shape})"
        )

    def to_bytes(self) -> bytes:
        """Envelope ``TRUNCATION_PAIR_SHARE`` (param id = pair id).

        Payload: ``u16 party``, ``u16 parties``, ``u8 frac_bits``, shape (``u8 ndim`` +
        ``u64`` dims), then ``r``, ``r_msb``, ``r_trunc`` as ``u64`` big-endian, C order.
        """
        w = Writer().u16(self.party).u16(self.parties).u8(self.frac_bits)
        write_shape(w, self.r.shape)
        for arr in (self.r, self.r_msb, self.r_trunc):
            RING64.write(w, arr.ravel())
        return pack(ObjectType.TRUNCATION_PAIR_SHARE, w.getvalue(), param=self.pair_id)

    @classmethod
    def from_bytes(cls, data: bytes) -> TruncationPairShare:
        """Parse and validate a serialized truncation pair share.

        Raises:
            SerializationError: anything malformed or inconsistent.
        """
        env = unpack(data, ObjectType.TRUNCATION_PAIR_SHARE)
        r = Reader(env.payload)
        party, parties, f = r.u16(), r.u16(), r.u8()
        shape = read_shape(r, r.remaining())
        count = int(np.prod(shape, dtype=np.int64))
        arrays = [RING64.read(r, count).reshape(shape) for _ in range(3)]
        r.finish()
        try:
            return cls(
                pair_id=env.param_id,
                party=party,
                parties=parties,
                frac_bits=f,
                r=arrays[0],
                r_msb=arrays[1],
                r_trunc=arrays[2],
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid truncation pair share: {exc}") from None


class Opening(_Frozen):
    """A broadcast message: one party's masked values for a multiplication round.

    ``kind`` is ``"beaver"`` (arrays ``(d_i, e_i)``) or ``"truncation"`` (array ``(c_i,)``);
    ``op_id`` is the triple id (resp. truncation pair id) the round belongs to.  The
    contents are uniformly random masks of the secrets, so they are public.
    """

    __slots__ = ("op_id", "kind", "party", "parties", "domain", "arrays")
    op_id: bytes
    kind: str
    party: int
    parties: int
    domain: Domain
    arrays: tuple[Elements, ...]

    def __init__(
        self,
        *,
        op_id: bytes,
        kind: str,
        party: int,
        parties: int,
        domain: Domain,
        arrays: tuple[Elements, ...],
    ) -> None:
        """Build an opening message (validated)."""
        check_parties(parties)
        if not isinstance(party, int) or isinstance(party, bool) or not 0 <= party < parties:
            raise InvalidArgumentError("party out of range")
        want = {"beaver": 2, "truncation": 1}.get(kind)
        if want is None:
            raise InvalidArgumentError("kind must be 'beaver' or 'truncation'")
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        if not isinstance(arrays, tuple) or len(arrays) != want:
            raise InvalidArgumentError(f"a {kind} opening carries {want} arrays")
        checked = tuple(readonly(domain.validate(a, "opening").copy()) for a in arrays)
        _set(
            self,
            op_id=_check_id(op_id, "op_id"),
            kind=kind,
            party=party,
            parties=parties,
            domain=domain,
            arrays=checked,
        )

    @classmethod
    def _trusted(
        cls,
        op_id: bytes,
        kind: str,
        party: int,
        parties: int,
        domain: Domain,
        arrays: tuple[Elements, ...],
    ) -> Opening:
        o = object.__new__(cls)
        _set(
            o,
            op_id=op_id,
            kind=kind,
            party=party,
            parties=parties,
            domain=domain,
            arrays=tuple(readonly(a) for a in arrays),
        )
        return o

    def __repr__(self) -> str:
        return (
            f"Opening(kind={self.kind!r}, party={self.party}, parties={self.parties}, "
            f"shapes={[a.shape for a in self.arrays]})"
        )

    def to_bytes(self) -> bytes:
        """Envelope ``BEAVER_OPENING`` (param id = op id).

        Payload: domain header, ``u8 kind`` (1 beaver, 2 truncation), ``u16 party``,
        ``u16 parties``, ``u8 count``, each array's shape (``u8 ndim`` + ``u64`` dims),
        then the elements of each array (fixed width, big-endian, C order).
        """
        w = Writer()
        self.domain.write_header(w)
        w.u8(_OPEN_BEAVER if self.kind == "beaver" else _OPEN_TRUNC)
        w.u16(self.party).u16(self.parties).u8(len(self.arrays))
        for a in self.arrays:
            write_shape(w, a.shape)
        for a in self.arrays:
            self.domain.write(w, a.ravel())
        return pack(ObjectType.BEAVER_OPENING, w.getvalue(), param=self.op_id)

    @classmethod
    def from_bytes(cls, data: bytes, *, expected_op_id: bytes | None = None) -> Opening:
        """Parse and validate an opening message.

        Raises:
            SerializationError: anything malformed, or a different op id than expected.
        """
        env = unpack(data, ObjectType.BEAVER_OPENING, expected_param=expected_op_id)
        r = Reader(env.payload)
        dom = domain_from_reader(r)
        kind = {_OPEN_BEAVER: "beaver", _OPEN_TRUNC: "truncation"}.get(r.u8())
        if kind is None:
            raise SerializationError("unknown opening kind")
        party, parties, count = r.u16(), r.u16(), r.u8()
        if count > 2:
            raise SerializationError("too many arrays in an opening")
        shapes = [read_shape(r, r.remaining()) for _ in range(count)]
        arrays = tuple(dom.read(r, int(np.prod(s, dtype=np.int64))).reshape(s) for s in shapes)
        r.finish()
        try:
            return cls(
                op_id=env.param_id,
                kind=kind,
                party=party,
                parties=parties,
                domain=dom,
                arrays=arrays,
            )
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid opening: {exc}") from None


# --------------------------------------------------------------------------- dealer


class BeaverDealer:
    """Trusted dealer of correlated randomness (Beaver triples, truncation pairs).

    The dealer sees the triples but never the inputs; it must not collude with any
    party.  All randomness comes from a fresh AES-CTR :class:`VectorRNG`.

    Args:
        parties: ``n >= 2``.
        domain: :data:`RING64` (default) or a :class:`PrimeField`.
    """

    __slots__ = ("_parties", "_domain", "_rng")

    def __init__(self, parties: int, *, domain: Domain = RING64) -> None:
        check_parties(parties)
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        self._parties = parties
        self._domain = domain
        self._rng = VectorRNG()

    def __repr__(self) -> str:
        return f"BeaverDealer(parties={self._parties}, domain={self._domain!r})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("BeaverDealer holds a secret generator and cannot be pickled")

    @property
    def parties(self) -> int:
        """The number of parties."""
        return self._parties

    @property
    def domain(self) -> Domain:
        """The domain of the triples."""
        return self._domain

    def _random_shared(self, shape: tuple[int, ...]) -> tuple[Elements, list[Elements]]:
        """Uniform shares of a uniform value: (value, shares)."""
        dom = self._domain
        shares = [dom.random(self._rng, shape) for _ in range(self._parties)]
        value = dom.add(shares[0], shares[1])
        for s in shares[2:]:
            value = dom.add_into(value, s)
        return value, shares

    def _share(self, value: Elements) -> list[Elements]:
        dom = self._domain
        out = [dom.random(self._rng, value.shape) for _ in range(self._parties - 1)]
        last = value
        for i, s in enumerate(out):
            last = dom.sub(last, s) if i == 0 else dom.sub_into(last, s)
        out.append(last)
        return out

    def _triples(
        self, kind: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]
    ) -> list[TripleShare]:
        dom = self._domain
        a, a_sh = self._random_shared(a_shape)
        b, b_sh = self._random_shared(b_shape)
        c = dom.mul(a, b) if kind == "elementwise" else dom.matmul(a, b)
        c_sh = self._share(c)
        tid = random_bytes(_ID)
        out = []
        for i in range(self._parties):
            t = object.__new__(TripleShare)
            _set(
                t,
                triple_id=tid,
                kind=kind,
                party=i,
                parties=self._parties,
                domain=dom,
                a=readonly(a_sh[i]),
                b=readonly(b_sh[i]),
                c=readonly(c_sh[i]),
            )
            out.append(t)
        return out

    def triples(self, shape: int | tuple[int, ...]) -> list[TripleShare]:
        """Elementwise triples ``c = a * b`` of the given shape, one share per party.

        Raises:
            InvalidTypeError: bad shape.
        """
        s = _shape_tuple(shape, "shape")
        return self._triples("elementwise", s, s)

    def matrix_triples(
        self, x_shape: tuple[int, int], y_shape: tuple[int, int]
    ) -> list[TripleShare]:
        """Matrix triples ``c = a @ b`` for multiplying an ``(m, k)`` by a ``(k, n)`` matrix.

        Raises:
            InvalidTypeError, InvalidArgumentError: shapes not 2-D or not compatible.
        """
        xs = _shape_tuple(x_shape, "x_shape")
        ys = _shape_tuple(y_shape, "y_shape")
        if len(xs) != 2 or len(ys) != 2 or xs[1] != ys[0]:
            raise InvalidArgumentError("matrix triples need shapes (m, k) and (k, n)")
        return self._triples("matrix", xs, ys)

    def truncation_pairs(
        self, shape: int | tuple[int, ...], *, frac_bits: int = 16
    ) -> list[TruncationPairShare]:
        """Shares of ``(r, r >> 63, (r mod 2**63) >> frac_bits)`` for dealer-assisted truncation.

        Raises:
            InvalidArgumentError: the dealer's domain is not Z_2^64, or bad ``frac_bits``.
        """
        if not isinstance(self._domain, Ring64):
            raise InvalidArgumentError("truncation pairs exist for the ring Z_2^64 only")
        if not isinstance(frac_bits, int) or isinstance(frac_bits, bool) or not 0 < frac_bits <= 40:
            raise InvalidArgumentError("frac_bits must be between 1 and 40")
        s = _shape_tuple(shape, "shape")
        r, r_sh = self._random_shared(s)
        msb = r >> _U64(63)
        trunc = (r & _U64((1 << 63) - 1)) >> _U64(frac_bits)
        msb_sh = self._share(msb)
        trunc_sh = self._share(trunc)
        pid = random_bytes(_ID)
        out = []
        for i in range(self._parties):
            p = object.__new__(TruncationPairShare)
            _set(
                p,
                pair_id=pid,
                party=i,
                parties=self._parties,
                frac_bits=frac_bits,
                r=readonly(r_sh[i]),
                r_msb=readonly(msb_sh[i]),
                r_trunc=readonly(trunc_sh[i]),
            )
            out.append(p)
        return out


# --------------------------------------------------------------------------- protocol


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
    return AdditiveShare._trusted(
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
            raise ProtocolError(f"expected {kind} openings, got a {o.kind} opening")
        if o.op_id != op_id:
            raise ProtocolError("an opening belongs to a different multiplication")
        if o.parties != mine.parties or o.domain != mine.domain:
            raise ProtocolError("an opening has a different party count or domain")
        if o.party in by_party:
            raise ProtocolError(f"two openings from party {o.party}")
        by_party[o.party] = o
    if len(by_party) != mine.parties:
        missing = sorted(set(range(mine.parties)) - set(by_party))
        raise ProtocolError(f"missing openings from parties {missing}")
    own = by_party[mine.party]
    for got, want in zip(own.arrays, mine.arrays, strict=True):
        if got is want:  # delivered in memory: the very object this party sent
            continue
        if got.shape != want.shape or not np.array_equal(got, want):
            raise ProtocolError("this party's own opening was altered")
    ordered = [by_party[i] for i in range(mine.parties)]
    for o in ordered:
        for got, want in zip(o.arrays, mine.arrays, strict=True):
            if got.shape != want.shape:
                raise ProtocolError(f"party {o.party} sent an opening of the wrong shape")
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
            ProtocolError: the protocol has not finished.
        """
        if self._result is None:
            raise ProtocolError("the multiplication has not finished")
        return self._result

    def open(self) -> Opening:
        """Round 1: this party's masked operands ``(x_i - a_i, y_i - b_i)`` to broadcast.

        Raises:
            ProtocolError: called twice.
        """
        if self._state != _OPENED:
            raise ProtocolError("open() was already called")
        t, dom = self._t, self._t.domain
        d = dom.sub(self._x.values, t.a)
        e = dom.sub(self._y.values, t.b)
        self._mine = Opening._trusted(t.triple_id, "beaver", t.party, t.parties, dom, (d, e))
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
            ProtocolError: out of order, missing/duplicate/foreign/malformed openings.
        """
        if self._state == _WAIT_BEAVER:
            return self._combine(openings)
        if self._state == _WAIT_TRUNC:
            self._finish_truncation(openings)
            return None
        raise ProtocolError("receive() called out of order")

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
        self._mine = Opening._trusted(pair.pair_id, "truncation", t.party, t.parties, dom, (c_i,))
        self._state = _WAIT_TRUNC
        return self._mine

    def _finish_truncation(self, openings: Sequence[Opening]) -> None:
        pair = self._pair
        assert pair is not None
        ordered = self._check_openings(openings, "truncation", pair.pair_id)
        self._finish(_truncated_share(ordered, self._t.party, pair))

    def _finish(self, z: Elements) -> None:
        t = self._t
        self._result = AdditiveShare._trusted(z, t.party, t.parties, t.domain)
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
            ProtocolError: called twice.
        """
        if self._mine is not None or self._result is not None:
            raise ProtocolError("open() was already called")
        s = self._share
        c_i = _mask_for_truncation(s.values.copy(), s.party, self._pair)
        self._mine = Opening._trusted(
            self._pair.pair_id, "truncation", s.party, s.parties, s.domain, (c_i,)
        )
        return self._mine

    def receive(self, openings: Sequence[Opening]) -> None:
        """Combine all parties' truncation openings (own included).

        Raises:
            ProtocolError: out of order, or missing/duplicate/foreign/malformed openings.
        """
        if self._mine is None:
            raise ProtocolError("receive() called out of order")
        ordered = _collect(openings, "truncation", self._pair.pair_id, self._mine)
        s = self._share
        self._result = AdditiveShare._trusted(
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
            ProtocolError: the protocol has not finished.
        """
        if self._result is None:
            raise ProtocolError("the truncation has not finished")
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
        if not isinstance(party, int) or isinstance(party, bool) or not 0 <= party < parties:
            raise InvalidArgumentError("party out of range")
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
            ProtocolError: the triple or truncation pair was already used by this party.
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
            raise ProtocolError("refusing to reuse a Beaver triple or truncation pair")
        op = BeaverMultiplication(
            x, y, triple, fixed_point=fixed_point, truncation_pair=truncation_pair
        )
        self._used.update(ids)
        return op


# --------------------------------------------------------------------------- in-process runner


def _deliver(msgs: list[Opening], serialize: bool) -> list[Opening]:
    if not serialize:
        return msgs
    return [Opening.from_bytes(m.to_bytes(), expected_op_id=m.op_id) for m in msgs]


def run_multiplication(
    x_shares: Sequence[AdditiveShare],
    y_shares: Sequence[AdditiveShare],
    triples: Sequence[TripleShare],
    *,
    fixed_point: FixedPoint | None = None,
    truncation_pairs: Sequence[TruncationPairShare] | None = None,
    serialize: bool = False,
    concurrent: bool = False,
) -> list[AdditiveShare]:
    """Run one Beaver multiplication among all parties in this process.

    Each party is a :class:`BeaverMultiplication`; messages are broadcast in memory (or,
    with ``serialize=True``, through their byte encoding, as a network would carry them).

    Args:
        x_shares, y_shares: every party's operand shares.
        triples: every party's triple share (one triple).
        fixed_point, truncation_pairs: as for :class:`BeaverMultiplication`.
        serialize: pass every message through ``to_bytes`` / ``from_bytes``.
        concurrent: run the parties' local steps in a thread pool (one thread per party,
            as if on separate machines; numpy releases the GIL) instead of one after
            the other.  Results are identical.

    Returns:
        Every party's share of the product (party order).

    Raises:
        Everything :class:`BeaverMultiplication` raises.
    """
    first = check_share_set(x_shares, "x_shares")
    check_share_set(y_shares, "y_shares")
    n = first.parties
    xs = sorted(x_shares, key=lambda s: s.party)
    ys = sorted(y_shares, key=lambda s: s.party)
    ts = sorted(triples, key=lambda s: s.party)
    ps = sorted(truncation_pairs, key=lambda s: s.party) if truncation_pairs is not None else None
    if len(ts) != n or (ps is not None and len(ps) != n):
        raise InvalidArgumentError("one triple (and truncation pair) per party is needed")
    ops = [
        BeaverMultiplication(
            xs[i],
            ys[i],
            ts[i],
            fixed_point=fixed_point,
            truncation_pair=None if ps is None else ps[i],
        )
        for i in range(n)
    ]
    if concurrent:
        with ThreadPoolExecutor(max_workers=n) as pool:
            return _drive(ops, serialize, pool.map)
    return _drive(ops, serialize, map)


def _drive(
    ops: list[BeaverMultiplication], serialize: bool, mapper: Callable[..., Iterable[Any]]
) -> list[AdditiveShare]:
    msgs = _deliver(list(mapper(lambda op: op.open(), ops)), serialize)
    replies = list(mapper(lambda op: op.receive(msgs), ops))
    if replies[0] is not None:
        second = _deliver([m for m in replies if m is not None], serialize)
        list(mapper(lambda op: op.receive(second), ops))
    return [op.result for op in ops]


def secure_multiply(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    *,
    parties: int = 2,
    frac_bits: int = 16,
    matrix: bool = False,
    dealer_truncation: bool | None = None,
) -> npt.NDArray[np.float64]:
    """A full in-process computation: share two real arrays, multiply them, reveal.

    Encodes ``x`` and ``y`` with ``frac_bits`` fractional bits in Z_2^64, shares them among
    ``parties``, obtains a triple (and truncation pairs when needed) from a dealer, runs
    the protocol with every message serialized, then reconstructs and decodes ``x * y``
    (or ``x @ y`` with ``matrix=True``).

    Args:
        dealer_truncation: ``None`` picks local truncation for 2 parties and the dealer
            method otherwise; ``True`` forces the dealer method.

    Returns:
        The product as floats (within the documented truncation error).
    """
    codec = FixedPoint(frac_bits)
    xs = additive_share(codec.encode(x), parties=parties)
    ys = additive_share(codec.encode(y), parties=parties)
    dealer = BeaverDealer(parties)
    if matrix:
        if xs[0].values.ndim != 2 or ys[0].values.ndim != 2:
            raise InvalidArgumentError("matrix products need 2-D operands")
        triples = dealer.matrix_triples(xs[0].shape, ys[0].shape)  # type: ignore[arg-type]
    else:
        if xs[0].shape != ys[0].shape:
            raise InvalidArgumentError("elementwise products need operands of one shape")
        triples = dealer.triples(xs[0].shape)
    use_dealer = parties > 2 if dealer_truncation is None else dealer_truncation
    pairs = dealer.truncation_pairs(triples[0].c.shape, frac_bits=frac_bits) if use_dealer else None
    product = run_multiplication(
        xs, ys, triples, fixed_point=codec, truncation_pairs=pairs, serialize=True
    )
    return reconstruct_fixed_point(product, codec=codec)
