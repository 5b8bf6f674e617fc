"""Additive secret sharing among ``n`` parties over Z_2^64 or a prime field.

A value array ``x`` (domain elements) is split into ``n`` shares ``x_0 .. x_{n-1}`` with
``x_0 + ... + x_{n-1} = x`` (mod the domain's modulus): the first ``n - 1`` shares are
uniform random (AES-CTR :class:`~fedcrypto._random.VectorRNG`, unbiased) and the last one
is ``x`` minus their sum.  Any ``n - 1`` shares are uniformly distributed and independent
of ``x``; all ``n`` are needed to reconstruct.

Linear operations are local: each party adds or subtracts its shares of two secrets,
multiplies its share by a public integer, and party 0 alone adds a public constant.
Multiplying two secrets needs interaction: see :mod:`fedcrypto.sharing._beaver`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from ..serialization import ObjectType, Reader, Writer, pack, unpack
from ._arrays import (
    MAX_PARTIES,
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
from ._fixedpoint import FixedPoint

__all__ = [
    "AdditiveShare",
    "additive_share",
    "additive_reconstruct",
    "share_fixed_point",
    "reconstruct_fixed_point",
    "MAX_PARTIES",
]

Elements = npt.NDArray[Any]


class AdditiveShare(Immutable):
    """One party's additive share of a secret array.

    Attributes:
        domain: where the values live (:data:`RING64` or a :class:`PrimeField`).
        party: this share's party index, ``0 <= party < parties``.
        parties: the number of parties ``n``.
        values: the share values (read-only numpy array; secret material).

    Shares are immutable; arithmetic returns new shares.  Party 0 is the party that adds
    public constants.  Pickling is refused and ``repr`` hides the values.
    """

    __slots__ = ("_v",)
    _v: tuple[Domain, int, int, Elements]

    def __init__(
        self, values: Elements, *, party: int, parties: int, domain: Domain = RING64
    ) -> None:
        """Wrap validated values as party ``party``'s share.

        Raises:
            InvalidTypeError, InvalidArgumentError: bad party numbers or values.
        """
        check_parties(parties)
        check_party(party, parties)
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        vals = domain.validate(values, "share values")
        check_shape(tuple(vals.shape), "share values")
        self._set(_v=(domain, party, parties, readonly(vals.copy())))

    @classmethod
    def _of(cls, values: Elements, party: int, parties: int, domain: Domain) -> AdditiveShare:
        """A share of values this package just computed (trusted: no re-validation)."""
        return cls._trusted(_v=(domain, party, parties, readonly(values)))

    # ---- attributes ----
    @property
    def domain(self) -> Domain:
        """The share domain."""
        return self._v[0]

    @property
    def party(self) -> int:
        """This party's index (0-based)."""
        return self._v[1]

    @property
    def parties(self) -> int:
        """The number of parties."""
        return self._v[2]

    @property
    def values(self) -> Elements:
        """The share values (read-only)."""
        return self._v[3]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the shared array."""
        return tuple(self._v[3].shape)

    def __repr__(self) -> str:
        return (
            f"AdditiveShare(party={self.party}, parties={self.parties}, "
            f"shape={self.shape}, domain={self.domain!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AdditiveShare):
            return NotImplemented
        if self._v[:3] != other._v[:3] or self.shape != other.shape:
            return False
        a, b = self.values, other.values
        if a.dtype == object or b.dtype == object:
            return bool(np.array_equal(a, b))
        # constant time in the (secret) values
        return hmac.compare_digest(a.tobytes(), b.tobytes())

    __hash__ = None  # type: ignore[assignment]

    # ---- local arithmetic ----
    def _same(self, other: object, op: str) -> AdditiveShare:
        if not isinstance(other, AdditiveShare):
            raise InvalidTypeError(f"can only {op} another AdditiveShare")
        if other.domain != self.domain:
            raise KeyMismatchError(f"cannot {op} shares of different domains")
        if (other.party, other.parties) != (self.party, self.parties):
            raise KeyMismatchError(f"cannot {op} shares held by different parties")
        if other.shape != self.shape:
            raise InvalidArgumentError(
                f"cannot {op} shares of shapes {self.shape} and {other.shape}"
            )
        return other

    def __add__(self, other: AdditiveShare) -> AdditiveShare:
        o = self._same(other, "add")
        return self._wrap(self.domain.add(self.values, o.values))

    def __sub__(self, other: AdditiveShare) -> AdditiveShare:
        o = self._same(other, "subtract")
        return self._wrap(self.domain.sub(self.values, o.values))

    def __neg__(self) -> AdditiveShare:
        return self._wrap(self.domain.neg(self.values))

    def _wrap(self, values: Elements) -> AdditiveShare:
        return AdditiveShare._of(values, self.party, self.parties, self.domain)

    def _public(self, value: object) -> Elements:
        c = self.domain.from_ints(value)
        try:
            np.broadcast_shapes(c.shape, self.shape)
        except ValueError:
            raise InvalidArgumentError(
                f"public value of shape {c.shape} does not broadcast to {self.shape}"
            ) from None
        return c

    def add_public(self, value: npt.ArrayLike) -> AdditiveShare:
        """Share of ``x + c`` for a public integer array ``c`` (only party 0 adds it).

        ``c`` may be negative and broadcasts to the share's shape; encode reals with
        :class:`FixedPoint` first.
        """
        c = self._public(value)
        if self.party != 0:
            return self._wrap(
                np.broadcast_to(self.values, np.broadcast_shapes(c.shape, self.shape)).copy()
            )
        return self._wrap(self.domain.add(self.values, c))

    def sub_public(self, value: npt.ArrayLike) -> AdditiveShare:
        """Share of ``x - c`` for a public integer array ``c`` (only party 0 subtracts it)."""
        c = self._public(value)
        if self.party != 0:
            return self._wrap(
                np.broadcast_to(self.values, np.broadcast_shapes(c.shape, self.shape)).copy()
            )
        return self._wrap(self.domain.sub(self.values, c))

    def mul_public(self, value: npt.ArrayLike) -> AdditiveShare:
        """Share of ``c * x`` (elementwise) for a public integer array ``c`` (all parties multiply).

        For a fixed-point ``c`` the result has ``2f`` fractional bits: truncate it with
        :func:`~fedcrypto.sharing.truncate_local` (2 parties) or a dealer truncation pair.
        """
        c = self._public(value)
        return self._wrap(self.domain.mul(self.values, c))

    # ---- wire format ----
    def to_bytes(self) -> bytes:
        """Serialize in the envelope (type ``ADDITIVE_SHARE``, parameter id = domain id).

        Payload: domain header (``u8 kind``: 1 = Z_2^64; 2 = prime field followed by the
        prime as a length-prefixed big-endian int), ``u16 party``, ``u16 parties``,
        ``u8 ndim``, ``u64`` per dimension, then the elements in C order, each as a
        fixed-width big-endian integer (8 bytes in the ring, 4 for word-size primes,
        ``ceil(bits(p) / 8)`` otherwise).
        """
        w = Writer()
        self.domain.write_header(w)
        w.u16(self.party).u16(self.parties)
        write_shape(w, self.shape)
        self.domain.write(w, self.values.ravel())
        return pack(ObjectType.ADDITIVE_SHARE, w.getvalue(), param=self.domain.param_id)

    @classmethod
    def from_bytes(cls, data: bytes, *, domain: Domain | None = None) -> AdditiveShare:
        """Parse and validate a serialized share.

        Args:
            data: bytes from :meth:`to_bytes`.
            domain: if given, the share must belong to this domain; the domain header is
                then compared with it instead of re-proving the field prime.  Pin the
                domain for bytes from a peer.

        Raises:
            SerializationError: malformed data, wrong domain, bad party numbers, a shape
                beyond the caps or that does not match the payload length, elements out
                of range.
        """
        if domain is not None and not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        env = unpack(
            data,
            ObjectType.ADDITIVE_SHARE,
            expected_param=None if domain is None else domain.param_id,
        )
        r = Reader(env.payload)
        dom = domain_from_reader(r, domain)
        if env.param_id != dom.param_id:
            raise SerializationError("parameter id does not match the share domain")
        party, parties = r.u16(), r.u16()
        if not (2 <= parties and party < parties):
            raise SerializationError("invalid party numbers")
        (shape,) = read_shapes(r, 1)
        count = element_count(shape)
        expect_elements(r, count, dom.element_bytes)
        values = dom.read(r, count).reshape(shape)
        r.finish()
        return cls._of(values, party, parties, dom)


def additive_share(
    values: npt.ArrayLike, *, parties: int, domain: Domain = RING64
) -> list[AdditiveShare]:
    """Split domain elements into ``parties`` additive shares.

    Args:
        values: the secret as domain elements: a uint64 array for Z_2^64 or a word-size
            field, an object array of ints for a big field (integer arrays of other
            dtypes, negatives included, are reduced into the domain).
        parties: ``n >= 2``.
        domain: :data:`RING64` (default) or a :class:`PrimeField`.

    Returns:
        ``n`` shares; share ``i`` is for party ``i``.

    Raises:
        InvalidTypeError, InvalidArgumentError: bad values or party count.
    """
    check_parties(parties)
    if not isinstance(domain, Domain):
        raise InvalidTypeError("domain must be RING64 or a PrimeField")
    x = _as_elements(values, domain)
    check_shape(tuple(x.shape), "values")
    rng = VectorRNG()
    shape = tuple(x.shape)
    out: list[AdditiveShare] = []
    last = x
    for i in range(parties - 1):
        r = domain.random(rng, shape)
        last = domain.sub(last, r) if i == 0 else domain.sub_into(last, r)
        out.append(AdditiveShare._of(r, i, parties, domain))
    out.append(AdditiveShare._of(last, parties - 1, parties, domain))
    return out


def _as_elements(values: npt.ArrayLike, domain: Domain) -> Elements:
    arr = values if isinstance(values, np.ndarray) else np.asarray(values)
    if arr.dtype == np.uint64 and domain.vectorised:
        return domain.validate(arr)
    if arr.dtype == object or np.issubdtype(arr.dtype, np.integer):
        return domain.from_ints(arr)
    raise InvalidTypeError(
        f"expected domain elements (integers), got dtype {arr.dtype}; encode floats with FixedPoint"
    )


def check_share_set(shares: Sequence[AdditiveShare], what: str = "shares") -> AdditiveShare:
    """Check a complete set: one share per party, same domain, party count and shape."""
    if isinstance(shares, (bytes, str)) or not isinstance(shares, Sequence) or not shares:
        raise InvalidTypeError(f"{what}: expected a non-empty sequence of AdditiveShare")
    first = shares[0]
    if not isinstance(first, AdditiveShare):
        raise InvalidTypeError(f"{what}: expected AdditiveShare objects")
    seen = set()
    for s in shares:
        if not isinstance(s, AdditiveShare):
            raise InvalidTypeError(f"{what}: expected AdditiveShare objects")
        if s.domain != first.domain or s.parties != first.parties:
            raise KeyMismatchError(f"{what}: shares of different domains or party counts")
        if s.shape != first.shape:
            raise InvalidArgumentError(f"{what}: shares of different shapes")
        if s.party in seen:
            raise InvalidArgumentError(f"{what}: duplicate share of party {s.party}")
        seen.add(s.party)
    if len(seen) != first.parties:
        raise InvalidArgumentError(
            f"{what}: {len(seen)} of {first.parties} shares given; all are needed"
        )
    return first


def additive_reconstruct(shares: Sequence[AdditiveShare]) -> Elements:
    """Sum all parties' shares: the secret as domain elements.

    Raises:
        InvalidTypeError: not AdditiveShare objects.
        InvalidArgumentError: a missing or duplicate party, or mismatched shapes.
        KeyMismatchError: shares of different domains or party counts.
    """
    first = check_share_set(shares)
    dom = first.domain
    acc = dom.add(shares[0].values, shares[1].values)  # a fresh array
    for s in shares[2:]:
        acc = dom.add_into(acc, s.values)
    return acc


def share_fixed_point(
    values: npt.ArrayLike, *, parties: int, codec: FixedPoint | None = None
) -> list[AdditiveShare]:
    """Encode reals with ``codec`` (default: 16 fractional bits in Z_2^64) and share them.

    Raises:
        EncodingError, EncodingOverflowError: NaN/inf or out-of-range values.
        InvalidTypeError, InvalidArgumentError: bad party count.
    """
    codec = FixedPoint() if codec is None else codec
    check_parties(parties)
    return additive_share(codec.encode(values), parties=parties, domain=codec.domain)


def reconstruct_fixed_point(
    shares: Sequence[AdditiveShare], *, codec: FixedPoint | None = None
) -> npt.NDArray[np.float64]:
    """Reconstruct and decode fixed-point shares to floats (negatives exact).

    Raises:
        KeyMismatchError: the shares' domain is not the codec's (and everything
            :func:`additive_reconstruct` raises).
    """
    codec = FixedPoint() if codec is None else codec
    first = check_share_set(shares)
    if first.domain != codec.domain:
        raise KeyMismatchError("shares and codec use different domains")
    return codec.decode(additive_reconstruct(shares))
