"""ServerApp: FedAvg with fedcrypto secure aggregation (plain or active) or packed Paillier."""

from __future__ import annotations

import os
from pathlib import Path

from flwr.app import Array, ArrayRecord, Context
from flwr.serverapp import Grid, ServerApp

from fedcrypto import paillier
from fedcrypto.integrations.flower import PaillierFedAvg, SecAggFedAvg

from .task import initial_model

DEFAULTS = {
    "mode": "secagg",
    "num-server-rounds": 3,
    "num-shares": 5,
    "reconstruction-threshold": 3,
    "max-weight": 1000.0,
    "fedcrypto-key-dir": "keys",
    "num-nodes": 5,
}

app = ServerApp()


def _setting(context: Context, key: str) -> object:
    """Run config first (``flwr run``), then FEDCRYPTO_EXAMPLE_<KEY> (run.py), then defaults."""
    env = os.environ.get("FEDCRYPTO_EXAMPLE_" + key.upper().replace("-", "_"))
    return context.run_config.get(key, env if env is not None else DEFAULTS[key])


@app.main()
def main(grid: Grid, context: Context) -> None:
    mode = str(_setting(context, "mode"))
    nodes = int(str(_setting(context, "num-nodes")))  # FedAvg waits until they are connected
    common = {"fraction_evaluate": 1.0, "min_train_nodes": nodes, "min_evaluate_nodes": nodes}
    common["min_available_nodes"] = nodes
    if mode == "paillier":
        key_dir = Path(str(_setting(context, "fedcrypto-key-dir")))
        # The server reads the PUBLIC key only.
        public = paillier.PaillierPublicKey.from_bytes((key_dir / "paillier.pub").read_bytes())
        strategy: SecAggFedAvg | PaillierFedAvg = PaillierFedAvg(
            public, bits=32, max_total_weight=5000, clipping_range=8.0, **common
        )
    else:
        strategy = SecAggFedAvg(
            num_shares=int(str(_setting(context, "num-shares"))),
            reconstruction_threshold=int(str(_setting(context, "reconstruction-threshold"))),
            max_weight=float(str(_setting(context, "max-weight"))),
            active=mode == "secagg-active",
            timeout=60.0,
            **common,
        )
    init = ArrayRecord({f"layer{i}": Array(a) for i, a in enumerate(initial_model())})
    result = strategy.start(
        grid=grid, initial_arrays=init, num_rounds=int(str(_setting(context, "num-server-rounds")))
    )
    print(f"\nfedcrypto example, mode {mode}, {nodes} nodes")
    for rnd, metrics in sorted(result.evaluate_metrics_clientapp.items()):
        acc, loss = float(metrics["accuracy"]), float(metrics["loss"])
        print(f"round {rnd}: accuracy {acc:.3f}, loss {loss:.3f}")
