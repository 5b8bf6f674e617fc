"""fedcrypto's Flower workflow vs Flower's own SecAggPlusWorkflow, same inputs, same run.

One round of ``DefaultWorkflow(fit_workflow=...)`` in the in-process grid
(:class:`fedcrypto.integrations.flower.testing.InProcessGrid`: every message and every
node Context goes through Flower's protobuf serde), with 10 % of the nodes going offline
before the masked-input stage.  Both sides use the same SecAgg+ graph size
(``num_shares = k + 1`` with ``k, t`` from ``fedcrypto.secagg.secagg_plus_parameters``),
the same quantization (clip 8, 2^22 levels, modulus 2^32) and the same float32 updates.

Reported per side: total wall time of the round, mean client time (wall time inside the
node's ClientApp, all stages), server time (total minus the sum of client times: the
workflow, the protocol object and the serde).  Goals: total wall >= 3x faster than
Flower's, mean client time >= 3x faster.

Default (CI-sized): 20 nodes x 10,000 parameters.  ``FEDCRYPTO_BENCH_BIG=1``: 100 nodes x
100,000 parameters.  Run: ``python -m pytest benchmarks/bench_flower.py -s``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from concurrent.futures import Executor
from typing import Any

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

from flwr.app import Context, Message, RecordDict  # noqa: E402
from flwr.client import ClientApp, NumPyClient  # noqa: E402
from flwr.client.mod import secaggplus_mod  # noqa: E402
from flwr.common import ndarrays_to_parameters  # noqa: E402
from flwr.server import LegacyContext, ServerConfig  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow  # noqa: E402
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD  # noqa: E402

import fedcrypto  # noqa: E402
from fedcrypto._backend import default_threads  # noqa: E402
from fedcrypto._random import VectorRNG  # noqa: E402
from fedcrypto.cli.bench import Measurement, extra_info  # noqa: E402
from fedcrypto.integrations.flower import SecAggWorkflow, secagg_mod  # noqa: E402
from fedcrypto.integrations.flower.testing import InProcessGrid  # noqa: E402
from fedcrypto.scale import process_executor  # noqa: E402
from fedcrypto.secagg import _recovery, secagg_plus_parameters  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import _RATIOS  # noqa: E402

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG") == "1"
NODES, LENGTH = (100, 100_000) if BIG else (20, 10_000)
DROP = NODES // 10
DEGREE, THRESHOLD = secagg_plus_parameters(NODES)
SHARES = DEGREE + 1
MAX_WEIGHT = 1000.0
_RESULTS: dict[str, dict[str, float]] = {}


def _update(pid: int) -> np.ndarray:
    return (VectorRNG(bytes([pid % 256]) * 32).uniform(LENGTH) - 0.5).astype(np.float32)


class _Client(NumPyClient):  # type: ignore[misc]
    def __init__(self, pid: int) -> None:
        self.pid = pid

    def fit(self, parameters: Any, config: Any) -> Any:
        return [_update(self.pid)], 100 + self.pid, {}

    def evaluate(self, parameters: Any, config: Any) -> Any:
        return 0.0, 1, {}


def _app(mod: Any) -> ClientApp:
    return ClientApp(
        client_fn=lambda ctx: _Client(int(ctx.node_config["partition-id"])).to_client(),
        mods=[mod],
    )


def _stage(msg: Message) -> str:
    for key in ("fedcrypto.secagg", "secaggplus_configs"):
        rec = msg.content.config_records.get(key) if msg.has_content() else None
        if rec is not None:
            return str(rec.get("stage"))
    return ""


def _round(mod: Any, workflow: Any) -> dict[str, float]:
    logging.getLogger("flwr").setLevel(logging.WARNING)
    grid = InProcessGrid(_app(mod), NODES)
    dropped = set(grid.node_ids[:DROP])
    grid.gate = lambda nid, msg: (
        not (nid in dropped and _stage(msg) in ("masked-input", "collect_masked_vectors", "unmask"))
    )
    strategy = FedAvg(
        fraction_fit=1.0,
        min_fit_clients=NODES,
        min_available_clients=NODES,
        fraction_evaluate=0.0,
        initial_parameters=ndarrays_to_parameters([np.zeros(LENGTH, np.float32)]),
    )
    ctx = LegacyContext(
        context=Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={}),
        config=ServerConfig(num_rounds=1),
        strategy=strategy,
    )
    t0 = time.perf_counter()
    DefaultWorkflow(fit_workflow=workflow)(grid, ctx)
    wall = time.perf_counter() - t0
    got = ctx.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()[0]
    pids = [i for i, nid in enumerate(grid.node_ids) if nid not in dropped]
    ws = np.array([100 + p for p in pids], dtype=np.float64)
    exact = sum(w * _update(p).astype(np.float64) for w, p in zip(ws, pids, strict=True)) / ws.sum()
    clients = np.array(list(grid.client_seconds.values()))
    return {
        "wall_s": wall,
        "client_mean_s": float(clients.mean()),
        "server_s": wall - float(clients.sum()),
        "max_error": float(np.max(np.abs(got - exact))),
    }


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _info(benchmark: Any, name: str, res: dict[str, float]) -> None:
    benchmark.extra_info.update(
        {
            "scenario": f"{NODES} nodes x {LENGTH} params, {DROP} drop before masked input",
            "num_shares": SHARES,
            "threshold": THRESHOLD,
            "load_avg": _load(),
            "backend": fedcrypto.backend_info(),
            "flwr": flwr.__version__,
            **res,
        }
    )
    _RESULTS[name] = res
    print(
        f"\n{name}: wall {res['wall_s']:.2f} s, client mean {res['client_mean_s'] * 1e3:.1f} ms, "
        f"server {res['server_s']:.2f} s, max error {res['max_error']:.2e} (load {_load()})"
    )


def test_flower_secaggplus_round(benchmark: Any) -> None:
    wf = SecAggPlusWorkflow(
        num_shares=SHARES, reconstruction_threshold=THRESHOLD, max_weight=MAX_WEIGHT
    )
    res = benchmark.pedantic(lambda: _round(secaggplus_mod, wf), rounds=1, iterations=1)
    _info(benchmark, "flower", res)


def _recovery_pool() -> contextlib.AbstractContextManager[Executor | None]:
    """The big round regenerates ~3.7e7 mask words when unmasking: give the server a
    spawn-based process pool, started before timing (it used to fork its own workers at
    that size; protocol objects no longer own processes).  CI size: inline."""
    if not BIG:
        return contextlib.nullcontext(None)
    cores = default_threads()
    pool = process_executor(cores)
    for f in [pool.submit(_recovery.split_jobs, [], [], 1) for _ in range(cores)]:
        f.result()
    return pool


def test_fedcrypto_secagg_round(benchmark: Any) -> None:
    with _recovery_pool() as pool:
        wf = SecAggWorkflow(
            num_shares=SHARES,
            reconstruction_threshold=THRESHOLD,
            max_weight=MAX_WEIGHT,
            executor=pool,
        )
        res = benchmark.pedantic(lambda: _round(secagg_mod, wf), rounds=1, iterations=1)
    assert wf.reports[-1].error is None and len(wf.reports[-1].included) == NODES - DROP
    _info(benchmark, "fedcrypto", res)
    peer = _RESULTS.get("flower")
    if peer is None:
        pytest.skip("run with the Flower peer in the same session for the ratios")
    wall_ratio = peer["wall_s"] / res["wall_s"]
    client_ratio = peer["client_mean_s"] / res["client_mean_s"]
    server_ratio = peer["server_s"] / res["server_s"]
    benchmark.extra_info.update(
        {"wall_ratio": wall_ratio, "client_ratio": client_ratio, "server_ratio": server_ratio}
    )
    # the shared result fields (fedcrypto.cli.bench), so load_results/plot read this run too
    comparisons = [
        extra_info(
            Measurement(
                op=f"secagg round, {what}",
                group="flower",
                params=f"{NODES} nodes x {LENGTH} params, {DROP} dropped",
                threads=int(fedcrypto.backend_info().get("threads", "1")),
                unit="rounds/s",
                ours_rate=1.0 / res[key],
                peer=f"flwr {flwr.__version__} SecAgg+",
                peer_rate=1.0 / peer[key],
                goal=goal,
            )
        )
        for what, key, goal in (
            ("total wall", "wall_s", 3.0),
            ("mean client", "client_mean_s", 3.0),
        )
    ]
    benchmark.extra_info.update({**comparisons[0], "comparisons": comparisons})
    for what, r in (("total wall", wall_ratio), ("mean client", client_ratio)):
        line = (
            f"flower round {NODES}x{LENGTH}, {what}: Flower / fedcrypto = {r:.2f}x "
            f"(goal >= 3x: {'met' if r >= 3 else 'NOT met'}; load {_load()})"
        )
        _RATIOS.append(line)
        print(line)
    _RATIOS.append(
        f"flower round {NODES}x{LENGTH}, server: Flower / fedcrypto = {server_ratio:.2f}x"
    )
