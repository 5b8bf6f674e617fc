"""Run the example offline in Flower's simulation engine (Ray), without ``flwr run``.

python -m flower_secagg.run --mode secagg          # SecAgg+ (honest-but-curious)
python -m flower_secagg.run --mode secagg-active   # signed variant (Ed25519 + roster)
python -m flower_secagg.run --mode paillier        # packed-Paillier FedAvg
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--mode", choices=["secagg", "secagg-active", "paillier"], default="secagg")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--key-dir", default="keys", help="where the example's keys are made")
    args = parser.parse_args(argv)

    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    from .keys import prepare_keys

    key_dir = prepare_keys(Path(args.key_dir).resolve(), args.nodes)
    os.environ["FEDCRYPTO_EXAMPLE_MODE"] = args.mode
    os.environ["FEDCRYPTO_EXAMPLE_NUM_SERVER_ROUNDS"] = str(args.rounds)
    os.environ["FEDCRYPTO_EXAMPLE_FEDCRYPTO_KEY_DIR"] = str(key_dir)  # server: public key
    os.environ["FEDCRYPTO_KEY_DIR"] = str(key_dir)  # clients: Ed25519 keys + roster
    os.environ["FEDCRYPTO_PAILLIER_KEY"] = str(key_dir / "paillier.key")  # clients only
    os.environ["FEDCRYPTO_EXAMPLE_NUM_NODES"] = str(args.nodes)
    os.environ["FEDCRYPTO_EXAMPLE_NUM_SHARES"] = str(min(5, args.nodes))
    os.environ["FEDCRYPTO_EXAMPLE_RECONSTRUCTION_THRESHOLD"] = str(min(5, args.nodes) // 2 + 1)

    from flwr.simulation import run_simulation

    from .client_app import app as client_app
    from .server_app import app as server_app

    run_simulation(
        server_app=server_app,
        client_app=client_app,
        num_supernodes=args.nodes,
        backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
    )


if __name__ == "__main__":
    main()
