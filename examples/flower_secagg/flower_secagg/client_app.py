"""ClientApp: local training on synthetic data; fedcrypto's mod protects the update."""

from __future__ import annotations

import os

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.clientapp.typing import ClientAppCallable

from fedcrypto.integrations.flower import paillier_mod, secagg_mod

from .task import evaluate as evaluate_model
from .task import load_data
from .task import train as train_model

DEFAULTS = {
    "mode": "secagg",
    "local-epochs": 5,
    "learning-rate": 0.5,
    "fedcrypto-key-dir": "keys",
}


def _setting(context: Context, key: str) -> object:
    """Run config first (``flwr run``), then FEDCRYPTO_EXAMPLE_<KEY> (run.py), then defaults."""
    env = os.environ.get("FEDCRYPTO_EXAMPLE_" + key.upper().replace("-", "_"))
    return context.run_config.get(key, env if env is not None else DEFAULTS.get(key))


def protect(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """fedcrypto's secagg_mod, or paillier_mod in the Paillier configuration.

    In a deployment each SuperNode names its own key files in its node config; in this
    simulation run.py names one local key directory through FEDCRYPTO_KEY_DIR and
    FEDCRYPTO_PAILLIER_KEY (the run config's fedcrypto-key-dir is the fallback)."""
    mod = paillier_mod if _setting(context, "mode") == "paillier" else secagg_mod
    return mod(msg, context, call_next)


app = ClientApp(mods=[protect])


def _data(context: Context) -> tuple[np.ndarray, ...]:
    return load_data(
        int(context.node_config["partition-id"]), int(context.node_config["num-partitions"])
    )


@app.train()
def train(msg: Message, context: Context) -> Message:
    x, y, _, _ = _data(context)
    record = msg.content["arrays"]
    model = train_model(
        record.to_numpy_ndarrays(),
        x,
        y,
        epochs=int(str(_setting(context, "local-epochs"))),
        lr=float(str(_setting(context, "learning-rate"))),
    )
    arrays = ArrayRecord({k: Array(a) for k, a in zip(record.keys(), model, strict=True)})
    metrics = MetricRecord({"num-examples": len(y)})
    return Message(RecordDict({"arrays": arrays, "metrics": metrics}), reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    _, _, x, y = _data(context)
    loss, acc = evaluate_model(msg.content["arrays"].to_numpy_ndarrays(), x, y)
    metrics = MetricRecord({"num-examples": len(y), "loss": loss, "accuracy": acc})
    return Message(RecordDict({"metrics": metrics}), reply_to=msg)
