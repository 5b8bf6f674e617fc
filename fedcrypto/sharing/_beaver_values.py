"""Beaver triples, truncation pairs and openings: the values of the multiplication
protocol and their wire formats.

* :class:`TripleShare` -- a party's share of a triple ``(a, b, c = a * b or a @ b)``;
* :class:`TruncationPairShare` -- a party's share of ``(r, r >> 63, (r mod 2**63) >> f)``;
* :class:`Opening` -- the message a party broadcasts: masked values, uniformly random.

All three are immutable, refuse pickling and serialize through the fedcrypto envelope;
``from_bytes`` checks every shape against the caps of :mod:`._arrays` and against the
payload length before allocating anything.  The dealer (:mod:`._dealer`) makes triples
and pairs; the protocol (:mod:`._beaver`) consumes them and exchanges openings.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from ..serialization import PARAM_ID_BYTES, ObjectType, Reader, Writer, pack, unpack
from ._arrays import (
    check_parties,
    check_party,
    check_shape,
    element_count,
    expect_elements,
    read_shapes,
    readonly,
    write_shape,
)
from ._domain import RING64, Domain, domain_from_reader

__all__ = ["TripleShare", "TruncationPairShare", "Opening", "ID_BYTES", "check_id"]

Elements = npt.NDArray[Any]
#: Bytes of a triple, truncation pair or opening id.
ID_BYTES = PARAM_ID_BYTES
_ELEMENTWISE, _MATRIX = 1, 2
_KIND_NAMES = {_ELEMENTWISE: "elementwise", _MATRIX: "matrix"}
_OPEN_BEAVER, _OPEN_TRUNC = 1, 2


def check_id(value: object, what: str) -> bytes:
    """Validate a 16-byte triple / pair / op id."""
    if not isinstance(value, bytes) or len(value) != ID_BYTES:
        raise InvalidArgumentError(f"{what} must be {ID_BYTES} bytes")
    return value


class TripleShare(Immutable):
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
        check_party(party, parties)
        if kind not in ("elementwise", "matrix"):
            raise InvalidArgumentError("kind must be 'elementwise' or 'matrix'")
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        a = domain.validate(a, "a")
        b = domain.validate(b, "b")
        c = domain.validate(c, "c")
        for arr, name in ((a, "a"), (b, "b"), (c, "c")):
            check_shape(tuple(arr.shape), name)
        if kind == "elementwise":
            if not a.shape == b.shape == c.shape:
                raise InvalidArgumentError("elementwise triple arrays must have one shape")
        elif not (
            a.ndim == b.ndim == c.ndim == 2
            and a.shape[1] == b.shape[0]
            and c.shape == (a.shape[0], b.shape[1])
        ):
            raise InvalidArgumentError("matrix triple shapes must be (m, k), (k, n), (m, n)")
        self._set(
            triple_id=check_id(triple_id, "triple_id"),
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
    def from_bytes(cls, data: bytes, *, domain: Domain | None = None) -> TripleShare:
        """Parse and validate a serialized triple share.

        Args:
            data: bytes from :meth:`to_bytes`.
            domain: if given, the triple must belong to this domain (compared, not
                re-proved; pin it for bytes from outside).

        Raises:
            SerializationError: anything malformed or inconsistent, a shape beyond the
                caps or not matching the payload length, another domain than ``domain``.
        """
        env = unpack(data, ObjectType.BEAVER_TRIPLE_SHARE)
        r = Reader(env.payload)
        dom = domain_from_reader(r, domain)
        kind = _KIND_NAMES.get(r.u8())
        if kind is None:
            raise SerializationError("unknown triple kind")
        party, parties = r.u16(), r.u16()
        shapes = read_shapes(r, 3)
        counts = [element_count(s) for s in shapes]
        expect_elements(r, sum(counts), dom.element_bytes)
        arrays = [dom.read(r, n).reshape(s) for n, s in zip(counts, shapes, strict=True)]
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


class TruncationPairShare(Immutable):
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
        check_party(party, parties)
        if not isinstance(frac_bits, int) or isinstance(frac_bits, bool) or not 0 < frac_bits <= 40:
            raise InvalidArgumentError("frac_bits must be between 1 and 40")
        arrs = [
            RING64.validate(v, n) for v, n in ((r, "r"), (r_msb, "r_msb"), (r_trunc, "r_trunc"))
        ]
        if not arrs[0].shape == arrs[1].shape == arrs[2].shape:
            raise InvalidArgumentError("truncation pair arrays must have one shape")
        check_shape(tuple(arrs[0].shape), "truncation pair")
        self._set(
            pair_id=check_id(pair_id, "pair_id"),
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
        (shape,) = read_shapes(r, 1)
        count = element_count(shape)
        expect_elements(r, 3 * count, RING64.element_bytes)
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


class Opening(Immutable):
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
        check_party(party, parties)
        want = {"beaver": 2, "truncation": 1}.get(kind)
        if want is None:
            raise InvalidArgumentError("kind must be 'beaver' or 'truncation'")
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        if not isinstance(arrays, tuple) or len(arrays) != want:
            raise InvalidArgumentError(f"a {kind} opening carries {want} arrays")
        checked = tuple(readonly(domain.validate(a, "opening").copy()) for a in arrays)
        for a in checked:
            check_shape(tuple(a.shape), "opening")
        self._set(
            op_id=check_id(op_id, "op_id"),
            kind=kind,
            party=party,
            parties=parties,
            domain=domain,
            arrays=checked,
        )

    @classmethod
    def _of(
        cls,
        op_id: bytes,
        kind: str,
        party: int,
        parties: int,
        domain: Domain,
        arrays: tuple[Elements, ...],
    ) -> Opening:
        """An opening of arrays this package just computed (trusted: no re-validation)."""
        return cls._trusted(
            op_id=op_id,
            kind=kind,
            party=party,
            parties=parties,
            domain=domain,
            arrays=tuple(readonly(a) for a in arrays),
        )

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
    def from_bytes(
        cls,
        data: bytes,
        *,
        expected_op_id: bytes | None = None,
        domain: Domain | None = None,
    ) -> Opening:
        """Parse and validate an opening message (a peer's broadcast).

        Args:
            data: bytes from :meth:`to_bytes`.
            expected_op_id: if given, the opening must belong to this triple / pair id.
            domain: if given, the opening must belong to this domain (compared, not
                re-proved; pin it for bytes from a peer).

        Raises:
            SerializationError: anything malformed, a shape beyond the caps or not
                matching the payload length, a different op id or domain than expected.
        """
        env = unpack(data, ObjectType.BEAVER_OPENING, expected_param=expected_op_id)
        r = Reader(env.payload)
        dom = domain_from_reader(r, domain)
        kind = {_OPEN_BEAVER: "beaver", _OPEN_TRUNC: "truncation"}.get(r.u8())
        if kind is None:
            raise SerializationError("unknown opening kind")
        party, parties, count = r.u16(), r.u16(), r.u8()
        if count > 2:
            raise SerializationError("too many arrays in an opening")
        shapes = read_shapes(r, count)
        counts = [element_count(s) for s in shapes]
        expect_elements(r, sum(counts), dom.element_bytes)
        arrays = tuple(dom.read(r, n).reshape(s) for n, s in zip(counts, shapes, strict=True))
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
