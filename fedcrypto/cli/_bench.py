"""``fedcrypto bench TARGET``: quick throughput tables, peers measured in the same run.

Targets live in ``fedcrypto.cli._bench_<target>`` and expose ``add_arguments(parser)``
and ``run(args) -> int``.  The rigorous, ratio-asserting benchmarks are in
``benchmarks/`` (pytest-benchmark); this command is for sizing a deployment quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

TARGETS = ("kernel", "paillier", "psi", "secagg")


def register(sub: Any) -> None:
    parser = sub.add_parser("bench", help="print throughput tables for this machine")
    targets = parser.add_subparsers(dest="target", required=True, metavar="TARGET")
    for name in TARGETS:
        module = importlib.import_module(f"{__package__}._bench_{name}")
        p = targets.add_parser(name, help=module.__doc__.strip().splitlines()[0] if module.__doc__ else None)
        module.add_arguments(p)
        p.set_defaults(func=module.run)


