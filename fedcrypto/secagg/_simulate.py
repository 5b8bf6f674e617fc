"""In-process simulation of a full secure-aggregation round with scheduled dropouts.

Every message goes through its wire format (``to_bytes`` / ``from_bytes``), so a
simulation also exercises serialization, and byte counts are real.  Client ``i``
of ``inputs`` gets client id ``i``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._client import SecAggClient
from ._config import ROUNDS, SecAggConfig
from ._server import SecAggServer

__all__ = ["simulate", "simulate_round", "SimulationReport"]


@dataclass(frozen=True, eq=False)
class SimulationReport(Immutable):
    """Outcome and costs of one simulated round.

    Attributes:
        aggregate: the unmasked sum mod ``2^k`` (uint64).
        included: sorted indices of the clients whose inputs are in the sum.
        server_seconds: server computation (all receive/close calls, parsing included).
        server_breakdown: the same split by server method (and ``serialize``).
        server_cpu_seconds: CPU time of the server steps in this process (insensitive to
            other load on the machine; wall time is not).  Work done on an executor's
            workers is not counted: compare wall time when you pass one.
        client_cpu_seconds: per-client CPU time (client steps are single-threaded).
        client_seconds: per-client computation over all its rounds (index = client).
        client_bytes_sent: per-client bytes uploaded.
        client_bytes_received: per-client bytes downloaded.
        config: the session parameters used.
    """

    aggregate: npt.NDArray[np.uint64]
    included: npt.NDArray[np.intp]
    server_seconds: float
    server_breakdown: dict[str, float]
    server_cpu_seconds: float
    client_cpu_seconds: npt.NDArray[np.float64]
    client_seconds: npt.NDArray[np.float64]
    client_bytes_sent: npt.NDArray[np.int64]
    client_bytes_received: npt.NDArray[np.int64]
    config: SecAggConfig


def _cpu() -> float:
    """CPU seconds of this process (all its threads)."""
    return time.process_time()


def _prepare_inputs(inputs: npt.ArrayLike, modulus_bits: int) -> npt.NDArray[np.uint64]:
    arr = np.asarray(inputs)
    if arr.dtype.kind not in "ui":
        raise InvalidTypeError("inputs must be an integer array (clients x length)")
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise InvalidArgumentError("inputs must have shape (clients >= 2, length >= 1)")
    out = arr.astype(np.uint64)  # negatives wrap (two's complement), then reduce mod 2^k
    if modulus_bits < 64:
        out &= np.uint64((1 << modulus_bits) - 1)
    return out


def _schedule(
    dropouts: Mapping[str, Iterable[int]] | None, n: int, active: bool
) -> dict[str, set[int]]:
    sched: dict[str, set[int]] = {r: set() for r in ROUNDS}
    for name, clients in (dropouts or {}).items():
        if name not in sched:
            raise InvalidArgumentError(f"unknown round {name!r}; rounds are {', '.join(ROUNDS)}")
        for c in clients:
            if not isinstance(c, (int, np.integer)) or not 0 <= int(c) < n:
                raise InvalidArgumentError(f"dropout index {c!r} is not a client index")
            sched[name].add(int(c))
    if not active:  # no consistency message: those clients drop before unmasking
        sched["unmasking"] |= sched["consistency"]
    return sched


def simulate_round(
    inputs: npt.ArrayLike,
    *,
    threshold: int,
    dropouts: Mapping[str, Iterable[int]] | None = None,
    modulus_bits: int = 32,
    active: bool = False,
    neighbors: int | None = None,
    unsafe_allow_low_threshold: bool = False,
    session_id: bytes | None = None,
    executor: Executor | None = None,
) -> SimulationReport:
    """Run one full round in process and report the result, timings and traffic.

    See :func:`simulate` for the arguments; ``session_id`` fixes the session (and so the
    SecAgg+ graph) for reproducible experiments — never reuse one in production.
    """
    x = _prepare_inputs(inputs, modulus_bits)
    n, length = x.shape
    sched = _schedule(dropouts, n, active)
    signing = {i: Ed25519PrivateKey.generate() for i in range(n)} if active else {}
    config = SecAggConfig.create(
        range(n),
        threshold=threshold,
        vector_length=length,
        modulus_bits=modulus_bits,
        active=active,
        verifying_keys={i: k.public_key() for i, k in signing.items()} if active else None,
        degree=neighbors,
        unsafe_allow_low_threshold=unsafe_allow_low_threshold,
        session_id=session_id,
    )
    ctime = np.zeros(n)
    ccpu = np.zeros(n)
    sent = np.zeros(n, dtype=np.int64)
    recv = np.zeros(n, dtype=np.int64)
    server_time = 0.0

    t0 = time.perf_counter()
    server = SecAggServer(config, executor=executor)
    server_time += time.perf_counter() - t0
    clients: dict[int, SecAggClient] = {}
    for i in range(n):
        t0 = time.perf_counter()
        clients[i] = SecAggClient(config, i, signing_key=signing.get(i))
        ctime[i] += time.perf_counter() - t0

    def client_step(i: int, fn: object, *args: object) -> bytes:
        c0, t0 = time.process_time(), time.perf_counter()
        out: bytes = fn(*args).to_bytes()  # type: ignore[operator]
        ctime[i] += time.perf_counter() - t0
        ccpu[i] += time.process_time() - c0
        sent[i] += len(out)
        return out

    breakdown: dict[str, float] = {}

    server_cpu = 0.0

    def server_step(fn: object, *args: object) -> object:
        nonlocal server_time, server_cpu
        c0, t0 = _cpu(), time.perf_counter()
        out = fn(*args)  # type: ignore[operator]
        dt = time.perf_counter() - t0
        server_cpu += _cpu() - c0
        server_time += dt
        name = getattr(fn, "__name__", "other")
        breakdown[name] = breakdown.get(name, 0.0) + dt
        return out

    def to_bytes(msg: object) -> bytes:
        nonlocal server_time, server_cpu
        c0, t0 = _cpu(), time.perf_counter()
        out: bytes = msg.to_bytes()  # type: ignore[attr-defined]
        dt = time.perf_counter() - t0
        server_cpu += _cpu() - c0
        server_time += dt
        breakdown["serialize"] = breakdown.get("serialize", 0.0) + dt
        return out

    alive = set(range(n))
    # Round 0: AdvertiseKeys
    alive -= sched["advertise_keys"]
    for i in sorted(alive):
        server_step(server.receive_advertise_keys, client_step(i, clients[i].advertise_keys))
    key_list = to_bytes(server_step(server.key_list))
    # Round 1: ShareKeys
    alive -= sched["share_keys"]
    for i in sorted(alive):
        recv[i] += len(key_list)
        server_step(server.receive_share_keys, client_step(i, clients[i].share_keys, key_list))
    deliveries = server_step(server.share_deliveries)
    # Round 2: MaskedInputCollection
    alive -= sched["masked_input"]
    for i in sorted(alive):
        d = to_bytes(deliveries[i])  # type: ignore[index]
        recv[i] += len(d)
        server_step(server.receive_masked_input, client_step(i, clients[i].masked_input, d, x[i]))
    # Round 3: ConsistencyCheck (active only)
    if active:
        req = to_bytes(server_step(server.consistency_request))
        alive -= sched["consistency"]
        for i in sorted(alive):
            recv[i] += len(req)
            server_step(
                server.receive_consistency_check, client_step(i, clients[i].consistency_check, req)
            )
    # Round 4: Unmasking
    unmask = to_bytes(server_step(server.unmask_request))
    alive -= sched["unmasking"]
    for i in sorted(alive):
        recv[i] += len(unmask)
        server_step(server.receive_unmask_response, client_step(i, clients[i].unmask, unmask))
    result = server_step(server.aggregate)
    return SimulationReport(
        aggregate=result.aggregate,  # type: ignore[attr-defined]
        included=np.array(result.included, dtype=np.intp),  # type: ignore[attr-defined]
        server_seconds=server_time,
        server_breakdown=breakdown,
        server_cpu_seconds=server_cpu,
        client_cpu_seconds=ccpu,
        client_seconds=ctime,
        client_bytes_sent=sent,
        client_bytes_received=recv,
        config=config,
    )


def simulate(
    inputs: npt.ArrayLike,
    *,
    threshold: int,
    dropouts: Mapping[str, Iterable[int]] | None = None,
    modulus_bits: int = 32,
    active: bool = False,
    neighbors: int | None = None,
    executor: Executor | None = None,
) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.intp]]:
    """Run a complete secure-aggregation round in process, with scheduled dropouts.

    Args:
        inputs: integer array (clients x length); entries are taken mod ``2^modulus_bits``
            (negatives in two's complement).  Client ``i`` has id ``i``.
        threshold: ``t`` (see :meth:`SecAggConfig.create` for the allowed range).
        dropouts: maps a round name (``advertise_keys``, ``share_keys``, ``masked_input``,
            ``consistency``, ``unmasking``) to the clients that drop *before sending*
            that round's message (and stay offline).  Without the active variant there is
            no consistency message, so clients listed there drop before unmasking.
        modulus_bits: ``k``: the sum is computed mod ``2^k`` (1..64).
        active: run the active-adversary variant (signatures + ConsistencyCheck).
        neighbors: SecAgg+ degree (even), or ``None`` for every pair (Bonawitz).
        executor: where the server regenerates masks (see :class:`SecAggServer`);
            ``None``: inline in this process.

    Returns:
        ``(aggregate, included)``: the sum mod ``2^k`` of the inputs of exactly the
        clients in ``included`` (sorted indices of clients that sent masked inputs).

    Raises:
        ProtocolError: fewer than ``threshold`` clients at some round, or too few shares
            to recover a dropped client.
        InvalidArgumentError, InvalidTypeError: bad inputs or parameters.
    """
    rep = simulate_round(
        inputs,
        threshold=threshold,
        dropouts=dropouts,
        modulus_bits=modulus_bits,
        active=active,
        neighbors=neighbors,
        executor=executor,
    )
    return rep.aggregate, rep.included
