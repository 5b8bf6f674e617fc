"""Secure aggregation (Bonawitz et al., CCS 2017) with the SecAgg+ option (Bell et al., CCS 2020).

The server learns the sum of the clients' integer vectors mod ``2^k`` and nothing
else, even when clients drop out at any round (up to the threshold).

* :class:`SecAggConfig` — the public session parameters (:meth:`SecAggConfig.create`).
* :class:`SecAggClient` / :class:`SecAggServer` — sans-I/O state machines, one method
  per round, exchanging the typed messages below (each with ``to_bytes`` /
  ``from_bytes``).  The server checks every secret it rebuilds against a binding public
  value (each client's seed commitment or advertised key) and regenerates masks on the
  ``concurrent.futures.Executor`` the caller gives (``executor=None``: inline).
* :class:`Quantizer` — floats to ``Z_{2^k}`` with clipping, stochastic rounding and a
  headroom check; :func:`secagg_plus_parameters` — the documented SecAgg+ degree rule.
* :func:`simulate` / :func:`simulate_round` — a whole round in process with dropouts.

Every message from a peer enters through one door (``from_bytes``, the server's
``receive_*``, the client's round methods): what a peer got wrong raises
:class:`~fedcrypto.exceptions.RemoteProtocolError` (or ``SerializationError`` for
unparsable bytes) and only ever drops that peer; misuse by the local caller raises
:class:`~fedcrypto.exceptions.LocalProtocolError`.  See ``docs/secagg.md`` for threat
models, parameters, message flow, caps and wire formats.
"""

from __future__ import annotations

from ._client import SecAggClient
from ._config import MAX_CLIENTS, MAX_VECTOR_LENGTH, ROUNDS, SecAggConfig
from ._graph import neighbor_map, secagg_plus_parameters
from ._masking import MaskAccumulator
from ._messages import (
    AdvertiseKeys,
    ConsistencyCheck,
    ConsistencyRequest,
    KeyList,
    MaskedInput,
    ShareDelivery,
    ShareKeys,
    UnmaskRequest,
    UnmaskResponse,
)
from ._quantize import Quantizer, check_headroom
from ._server import AggregationResult, SecAggServer
from ._simulate import SimulationReport, simulate, simulate_round

__all__ = [
    "MAX_CLIENTS",
    "MAX_VECTOR_LENGTH",
    "ROUNDS",
    "AdvertiseKeys",
    "AggregationResult",
    "ConsistencyCheck",
    "ConsistencyRequest",
    "KeyList",
    "MaskAccumulator",
    "MaskedInput",
    "Quantizer",
    "SecAggClient",
    "SecAggConfig",
    "SecAggServer",
    "ShareDelivery",
    "ShareKeys",
    "SimulationReport",
    "UnmaskRequest",
    "UnmaskResponse",
    "check_headroom",
    "neighbor_map",
    "secagg_plus_parameters",
    "simulate",
    "simulate_round",
]
