"""Small Flower apps shared by the integration tests and benchmarks/bench_flower.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.client import ClientApp, NumPyClient
from flwr.common import ndarrays_to_parameters
from flwr.server import LegacyContext, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD

from fedcrypto.integrations.flower._keys import raw_public, write_signing_key

SHAPES: list[tuple[int, ...]] = [(4, 3), (5,)]


def update_of(pid: int, shapes: list[tuple[int, ...]] = SHAPES) -> list[np.ndarray]:
    """The (deterministic) trained update of partition ``pid``: floats in [-1, 1)."""
    rng = np.random.default_rng(1000 + pid)
    return [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]


def weight_of(pid: int) -> int:
    return 10 + 7 * pid


def expected_mean(pids: list[int], shapes: list[tuple[int, ...]] = SHAPES) -> list[np.ndarray]:
    ws = np.array([weight_of(p) for p in pids], dtype=np.float64)
    ups = [update_of(p, shapes) for p in pids]
    return [
        sum(w * u[k].astype(np.float64) for w, u in zip(ws, ups, strict=True)) / ws.sum()
        for k in range(len(shapes))
    ]


def bound(n: int, pids: list[int], max_weight: float, scale: float) -> float:
    """Quantization bound of the secure weighted mean (see decode_aggregate)."""
    total = sum(weight_of(p) for p in pids)
    return n * max_weight / (scale * total) + 1e-6


class TrainClient(NumPyClient):  # type: ignore[misc]
    def __init__(self, pid: int, shapes: list[tuple[int, ...]], fail: bool) -> None:
        self.pid, self.shapes, self.fail = pid, shapes, fail

    def fit(self, parameters: Any, config: Any) -> Any:
        if self.fail:
            raise RuntimeError("training blew up")
        return update_of(self.pid, self.shapes), weight_of(self.pid), {}

    def evaluate(self, parameters: Any, config: Any) -> Any:
        return 0.0, 1, {}


def legacy_client_app(
    mod: Any, shapes: list[tuple[int, ...]] = SHAPES, failing: frozenset[int] = frozenset()
) -> ClientApp:
    def client_fn(context: Context) -> Any:
        pid = int(context.node_config["partition-id"])
        return TrainClient(pid, shapes, pid in failing).to_client()

    return ClientApp(client_fn=client_fn, mods=[mod])


def run_legacy(
    grid: Any, workflow: Any, n: int, shapes: list[tuple[int, ...]] = SHAPES, rounds: int = 1
) -> tuple[LegacyContext, list[np.ndarray]]:
    """Run ``rounds`` rounds of DefaultWorkflow(fit_workflow=workflow); return the model."""
    init = [np.zeros(s, np.float32) for s in shapes]
    strategy = FedAvg(
        fraction_fit=1.0,
        min_fit_clients=n,
        min_available_clients=n,
        fraction_evaluate=0.0,
        initial_parameters=ndarrays_to_parameters(init),
    )
    ctx = LegacyContext(
        context=Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={}),
        config=ServerConfig(num_rounds=rounds),
        strategy=strategy,
    )
    DefaultWorkflow(fit_workflow=workflow)(grid, ctx)
    return ctx, ctx.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()


def pid_of(grid: Any) -> dict[int, int]:
    return {nid: i for i, nid in enumerate(grid.node_ids)}


def message_client_app(mod: Any, failing: frozenset[int] = frozenset()) -> Any:
    from flwr.clientapp import ClientApp as MsgClientApp

    app = MsgClientApp(mods=[mod])

    @app.train()  # type: ignore[misc]
    def train(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        if pid in failing:
            raise RuntimeError("training blew up")
        keys = list(msg.content["arrays"].keys())
        arrays = ArrayRecord({k: Array(a) for k, a in zip(keys, update_of(pid), strict=True)})
        metrics = MetricRecord({"num-examples": weight_of(pid), "loss": 0.5})
        return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)

    @app.evaluate()  # type: ignore[misc]
    def evaluate(msg: Message, context: Context) -> Message:
        return Message(
            RecordDict({"metrics": MetricRecord({"num-examples": 1, "accuracy": 1.0})}),
            reply_to=msg,
        )

    return app


def make_key_dir(path: Path, n: int) -> dict[str, str]:
    """Ed25519 keys for partitions 0..n-1 and a roster; returns the run config."""
    lines = []
    for i in range(n):
        k = Ed25519PrivateKey.generate()
        write_signing_key(k, path / f"node-{i}.key")
        lines.append(raw_public(k.public_key()).hex())
    (path / "roster.txt").write_text("\n".join(lines) + "\n")
    return {"fedcrypto-key-dir": str(path)}


def stage_of(msg: Message) -> str:
    rec = msg.content.config_records.get("fedcrypto.secagg") if msg.has_content() else None
    return str(rec.get("stage")) if rec is not None else ""


def drop_at(
    stage: str, victims: set[int]
) -> Callable[[int, Message, Message | None], Message | None]:
    """An interceptor that loses the victims' replies at ``stage`` (a timeout)."""

    def hook(nid: int, incoming: Message, reply: Message | None) -> Message | None:
        return None if nid in victims and stage_of(incoming) == stage else reply

    return hook


def isclose_all(a: list[np.ndarray], b: list[np.ndarray], tol: float) -> bool:
    return all(
        x.shape == y.shape and float(np.max(np.abs(x.astype(np.float64) - y))) <= tol
        for x, y in zip(a, b, strict=True)
    ) and math.isfinite(tol)
