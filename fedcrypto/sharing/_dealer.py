"""The trusted dealer of the Beaver multiplication protocol.

:class:`BeaverDealer` prepares correlated randomness before any input exists: shares of
Beaver triples ``(a, b, c)`` with ``c = a * b`` (elementwise) or ``c = a @ b`` (matrix),
and truncation pairs ``(r, r >> 63, (r mod 2**63) >> f)`` for dealer-assisted
fixed-point truncation.  It sees these values but never the inputs, and must not
collude with any party.  Randomness: one AES-CTR :class:`~fedcrypto._random.VectorRNG`
keyed from ``os.urandom``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import VectorRNG, random_bytes
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._arrays import check_parties, check_shape, readonly
from ._beaver_values import ID_BYTES, TripleShare, TruncationPairShare
from ._domain import RING64, Domain, Ring64

__all__ = ["BeaverDealer"]

Elements = npt.NDArray[Any]
_U64 = np.uint64


class BeaverDealer(Immutable):
    """Trusted dealer of correlated randomness (Beaver triples, truncation pairs).

    The dealer sees the triples but never the inputs; it must not collude with any
    party.  All randomness comes from a fresh AES-CTR :class:`VectorRNG`.

    Args:
        parties: ``n >= 2``.
        domain: :data:`RING64` (default) or a :class:`PrimeField`.
    """

    __slots__ = ("_parties", "_domain", "_rng")
    _parties: int
    _domain: Domain
    _rng: VectorRNG

    def __init__(self, parties: int, *, domain: Domain = RING64) -> None:
        check_parties(parties)
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        self._set(_parties=parties, _domain=domain, _rng=VectorRNG())

    def __repr__(self) -> str:
        return f"BeaverDealer(parties={self._parties}, domain={self._domain!r})"

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
        tid = random_bytes(ID_BYTES)
        return [
            TripleShare._trusted(
                triple_id=tid,
                kind=kind,
                party=i,
                parties=self._parties,
                domain=dom,
                a=readonly(a_sh[i]),
                b=readonly(b_sh[i]),
                c=readonly(c_sh[i]),
            )
            for i in range(self._parties)
        ]

    def triples(self, shape: int | tuple[int, ...]) -> list[TripleShare]:
        """Elementwise triples ``c = a * b`` of the given shape, one share per party.

        Raises:
            InvalidTypeError: bad shape.
            InvalidArgumentError: a shape beyond the caps (:data:`MAX_ELEMENTS` ...).
        """
        s = check_shape(shape, "shape")
        return self._triples("elementwise", s, s)

    def matrix_triples(
        self, x_shape: tuple[int, int], y_shape: tuple[int, int]
    ) -> list[TripleShare]:
        """Matrix triples ``c = a @ b`` for multiplying an ``(m, k)`` by a ``(k, n)`` matrix.

        Raises:
            InvalidTypeError, InvalidArgumentError: shapes not 2-D or not compatible.
        """
        xs = check_shape(x_shape, "x_shape")
        ys = check_shape(y_shape, "y_shape")
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
        s = check_shape(shape, "shape")
        r, r_sh = self._random_shared(s)
        msb = r >> _U64(63)
        trunc = (r & _U64((1 << 63) - 1)) >> _U64(frac_bits)
        msb_sh = self._share(msb)
        trunc_sh = self._share(trunc)
        pid = random_bytes(ID_BYTES)
        return [
            TruncationPairShare._trusted(
                pair_id=pid,
                party=i,
                parties=self._parties,
                frac_bits=frac_bits,
                r=readonly(r_sh[i]),
                r_msb=readonly(msb_sh[i]),
                r_trunc=readonly(trunc_sh[i]),
            )
            for i in range(self._parties)
        ]
