"""SecAgg+ communication graph: a Harary graph on a random permutation (Bell et al., CCS 2020).

In SecAgg+ each client masks with, and secret-shares to, only its ``k`` neighbours
instead of all ``n - 1`` other clients, so client cost falls from ``O(n L)`` to
``O(k L)`` and server cost from ``O(n^2 L)`` (dropout recovery) to ``O(n k L)``.

Graph: place the clients on a cycle in the order of a uniformly random
permutation ``pi``; connect every client to the ``k/2`` clients on each side
(the Harary graph ``H_{k,n}`` with even ``k``).  The permutation is derived from
the session id (AES-CTR keyed by HKDF(session id)), so every party computes the
same graph with no extra message.  ``k >= n - 1`` gives the complete graph,
i.e. plain Bonawitz.

Degree rule (:func:`secagg_plus_parameters`): Bell et al. show that ``k = O(log n)``
suffices for the graph restricted to honest surviving clients to stay connected
and for every neighbourhood to keep an honest majority, with constants depending
on the tolerated corrupt fraction ``gamma`` and dropout fraction ``delta``.  We use
the simple, conservative rule::

    k = min(n - 1, 2 * ceil(2 * log2(n)))    (even; 36 for n = 500, 28 for n = 100)
    t = floor((k + 1) / 2) + 1                (strict majority of the k + 1 share holders)

A client's secrets are shared among its ``k + 1`` holders (its neighbours and
itself) with threshold ``t``; a strict majority threshold is what keeps the
server from obtaining both the self-mask share and the key share of a client
(see docs/secagg.md for the dropout tolerance this implies).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import InvalidArgumentError

__all__ = ["secagg_plus_parameters", "neighbor_map", "HararyGraph"]


def secagg_plus_parameters(num_clients: int) -> tuple[int, int]:
    """The documented SecAgg+ rule: ``(degree k, threshold t)`` for ``num_clients`` clients.

    ``k = min(n - 1, 2 * ceil(2 * log2 n))`` and ``t = floor((k + 1) / 2) + 1``.

    Raises:
        InvalidArgumentError: fewer than 2 clients.
    """
    if not isinstance(num_clients, int) or num_clients < 2:
        raise InvalidArgumentError("SecAgg+ needs at least 2 clients")
    k = min(num_clients - 1, 2 * math.ceil(2 * math.log2(num_clients)))
    return k, (k + 1) // 2 + 1


def _permutation(session_id: bytes, n: int) -> list[int]:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=session_id, info=b"fedcrypto/secagg/v1/graph"
    ).derive(b"secagg+ harary permutation")
    # Sorting by 64-bit AES-CTR words gives a uniform permutation up to ties (stable order
    # breaks the ~n^2 / 2^65 probable ties deterministically, so every party agrees).
    keys = VectorRNG(key).uint64(n)
    return [int(i) for i in np.argsort(keys, kind="stable")]


class HararyGraph(Immutable):
    """The SecAgg+ graph in ``O(n)`` memory: the clients in permutation order.

    :meth:`neighbors` computes a client's ``k`` neighbours on demand (``O(k)``), so a
    session of ``n`` clients never stores ``n * k`` ids (a peer-supplied configuration
    could otherwise cost memory quadratic in its size).
    """

    __slots__ = ("_order", "_position", "_half")
    _order: tuple[int, ...]
    _position: dict[int, int]
    _half: int

    def __init__(self, client_ids: Sequence[int], degree: int, session_id: bytes) -> None:
        ids = sorted(client_ids)
        n = len(ids)
        if degree < 2 or degree % 2 or degree >= n - 1:
            raise InvalidArgumentError("a Harary graph needs an even degree 2 <= k < n - 1")
        order = tuple(ids[i] for i in _permutation(session_id, n))
        self._set(
            _order=order, _position={u: pos for pos, u in enumerate(order)}, _half=degree // 2
        )

    def neighbors(self, client: int) -> frozenset[int]:
        """The ``k`` clients at distance ``1..k/2`` from ``client`` on the cycle."""
        pos, n, order = self._position[client], len(self._order), self._order
        return frozenset(order[(pos + d) % n] for d in range(-self._half, self._half + 1) if d)


def neighbor_map(
    client_ids: Sequence[int], degree: int | None, session_id: bytes
) -> dict[int, frozenset[int]]:
    """Each client's neighbours (never itself) in the session's SecAgg+ graph.

    Args:
        client_ids: all clients registered for the session (any order; sorted here).
        degree: the even degree ``k``; ``None`` or ``k >= n - 1`` gives the complete graph.
        session_id: the 32-byte session id the permutation is derived from.

    Returns:
        ``{client: frozenset(neighbours)}``; the relation is symmetric.

    Raises:
        InvalidArgumentError: odd degree below ``n - 1``, or a degree below 2.
    """
    ids = sorted(client_ids)
    n = len(ids)
    if degree is None or degree >= n - 1:
        everyone = frozenset(ids)
        return {u: everyone - {u} for u in ids}
    if degree < 2 or degree % 2:
        raise InvalidArgumentError("SecAgg+ degree must be even and at least 2 (or >= n - 1)")
    graph = HararyGraph(ids, degree, session_id)
    return {u: graph.neighbors(u) for u in ids}
