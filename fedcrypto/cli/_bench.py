"""``fedcrypto bench TARGET [options]``: quick throughput tables, peers measured in the same run.

Each target lives in ``fedcrypto.cli._bench_<target>`` and exposes ``add_arguments(parser)`` and
``run(args) -> int``; it is imported only when chosen.  The rigorous, ratio-reporting
benchmarks are in ``benchmarks/`` (pytest-benchmark); this command is for sizing a
deployment quickly.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

TARGETS = {
    "kernel": "native kernel: batch powmod, fixed-base, multi-exponentiation, mulmod",
    "paillier": "Paillier: encrypt, decrypt, add, scalar multiply, dot product, packed aggregation",
    "psi": "private set intersection: a quick two-party run on this machine",
    "secagg": "secure aggregation: a simulated round with dropouts, and secret sharing",
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "bench",
        help="print throughput tables for this machine",
        description=__doc__.splitlines()[0] if __doc__ else None,
    )
    parser.add_argument(
        "target", choices=sorted(TARGETS), help="; ".join(f"{k}: {v}" for k, v in TARGETS.items())
    )
    parser.add_argument(
        "options", nargs=argparse.REMAINDER, help="target options (see: fedcrypto bench TARGET -h)"
    )
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    module = importlib.import_module(f"{__package__}._bench_{args.target}")
    target_parser = argparse.ArgumentParser(
        prog=f"fedcrypto bench {args.target}", description=TARGETS[args.target]
    )
    module.add_arguments(target_parser)
    code: int = module.run(target_parser.parse_args(args.options))
    return code
