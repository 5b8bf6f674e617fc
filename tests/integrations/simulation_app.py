"""The app of test_flower_simulation.py, run in its own process by ``run_simulation``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import flower_apps  # noqa: E402
from flwr.app import Context  # noqa: E402
from flwr.common import ndarrays_to_parameters  # noqa: E402
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402
from flwr.server.workflow import DefaultWorkflow  # noqa: E402
from flwr.server.workflow.constant import MAIN_PARAMS_RECORD  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from fedcrypto.integrations.flower import SecAggWorkflow, secagg_mod  # noqa: E402

N = 5
client_app = flower_apps.legacy_client_app(secagg_mod, failing=frozenset({4}))
server_app = ServerApp()
workflow = SecAggWorkflow(
    num_shares=1.0, reconstruction_threshold=0.6, max_weight=100.0, timeout=120
)


@server_app.main()
def main(grid: Grid, context: Context) -> None:
    init = [np.zeros(s, np.float32) for s in flower_apps.SHAPES]
    strategy = FedAvg(
        fraction_fit=1.0,
        min_fit_clients=N,
        min_available_clients=N,
        fraction_evaluate=0.0,
        initial_parameters=ndarrays_to_parameters(init),
    )
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=2), strategy=strategy)
    DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
    arrays = legacy.state.array_records[MAIN_PARAMS_RECORD].to_numpy_ndarrays()
    out = {
        "arrays": [a.tolist() for a in arrays],
        "max_weight": workflow.settings.max_weight,
        "scale": workflow.settings.scale,
        "reports": [
            {
                "error": None if r.error is None else str(r.error),
                "included": list(r.included),
                "dropped": list(r.dropped.values()),
                "dropped_ids": list(r.dropped),
            }
            for r in workflow.reports
        ],
    }
    Path(os.environ["FEDCRYPTO_SIM_OUT"]).write_text(json.dumps(out))


if __name__ == "__main__":
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(flower_apps)
    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=N,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 2},
        },
    )
