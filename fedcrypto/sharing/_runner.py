"""Run a Beaver multiplication among all parties in this process (tests, demos, benchmarks).

Each party is a :class:`~fedcrypto.sharing.BeaverMultiplication`; the runner plays the
network: it broadcasts every party's :class:`~fedcrypto.sharing.Opening` to all parties,
in memory or through the wire format.  An ``Executor``-style ``concurrent`` option runs
the parties' local steps on threads, as if they were on separate machines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from ..exceptions import InvalidArgumentError
from ._additive import (
    AdditiveShare,
    additive_share,
    check_share_set,
    reconstruct_fixed_point,
)
from ._beaver import BeaverMultiplication
from ._beaver_values import Opening, TripleShare, TruncationPairShare
from ._dealer import BeaverDealer
from ._fixedpoint import FixedPoint

__all__ = ["run_multiplication", "secure_multiply"]


def _deliver(msgs: list[Opening], serialize: bool) -> list[Opening]:
    """Broadcast in memory, or through the wire format with the op id and domain pinned."""
    if not serialize:
        return msgs
    return [Opening.from_bytes(m.to_bytes(), expected_op_id=m.op_id, domain=m.domain) for m in msgs]


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
