"""Paillier throughput: encryption, decryption, addition, scalar product, dot product, packing.

Prints one row per operation and key size with the active backend, the thread
count, our operations per second, python-paillier's (``phe``, when installed)
operations per second measured in the same run on the same key, and the ratio.
phe is timed on a small sample (it is slow) and compared per operation; for the
packed pipeline, phe's per-value pipeline (every party encrypts each value, the
server adds, the key owner decrypts) is timed on a few values and extrapolated
per value.  ``--quick`` shrinks every count (one key size, about 10 s).

The scenarios and the timer are shared with ``benchmarks/bench_paillier.py``
(:mod:`fedcrypto.cli.bench`); ``--json FILE`` writes the same fields as the
benchmarks' ``extra_info`` and ``--plot FILE.png`` draws them (matplotlib).  The goals of
issue 12 (constant-time defaults, phe in the same run) fill the goal column and are
summarized after the table; the "all cores" goals apply to the all-cores row.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .._backend import default_threads, get_backend
from ..exceptions import FedCryptoError
from .bench import (
    Measurement,
    add_output_arguments,
    check_output_arguments,
    environment,
    paillier_scenarios,
    run_scenario,
    write_outputs,
)

__all__ = ["add_arguments", "run", "measure"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fedcrypto bench paillier``."""
    parser.add_argument(
        "--key-sizes",
        default=None,
        help="comma-separated key sizes (default 2048,3072; --quick: 2048)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="'all cores' thread count (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one key size (~10 s)")
    parser.add_argument("--no-phe", action="store_true", help="do not measure python-paillier")
    parser.add_argument(
        "--pipeline-values",
        type=int,
        default=None,
        help="values in the packed pipeline (default 10000; --quick 5000)",
    )
    parser.add_argument(
        "--parties", type=int, default=8, help="parties in the packed pipeline (default 8)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing rounds, best kept (default 3)"
    )
    parser.add_argument(
        "--pool-values",
        type=int,
        default=None,
        help="values encrypted from a warm randomizer pool (default 10000; --quick 2000; 0: skip)",
    )
    add_output_arguments(parser)


def measure(
    key_size: int,
    *,
    threads: int,
    quick: bool,
    use_phe: bool,
    pipeline_values: int,
    parties: int,
    repeat: int = 3,
    pool_values: int = 0,
) -> list[Measurement]:
    """Measure every Paillier scenario (:func:`fedcrypto.cli.bench.paillier_scenarios`) for one
    key size, phe in the same run when ``use_phe``; returns the measurements."""
    phe = _phe() if use_phe else None
    scenarios = paillier_scenarios(
        key_size,
        threads=threads,
        phe=phe,
        quick=quick,
        pipeline_values=pipeline_values,
        parties=parties,
        pool_values=pool_values,
    )
    return [run_scenario(s, rounds=repeat) for s in scenarios]


def _phe() -> Any:
    try:
        import phe  # test/benchmark peer only, never used by the library itself

        return phe
    except ImportError:
        return None


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def print_table(rows: list[Measurement], backend: str) -> None:
    """Print the rows as an aligned table."""
    header = ("operation", "params", "backend", "fedcrypto", "phe", "ratio", "goal", "unit")
    body = []
    for r in rows:
        ratio = r.ratio
        goal = (
            "-"
            if r.goal is None or ratio is None
            else (f">={r.goal:g}x " + ("met" if ratio >= r.goal else "NOT met"))
        )
        body.append(
            (
                r.op,
                r.params,
                backend,
                _fmt(r.ours_rate),
                _fmt(r.peer_rate),
                "-" if ratio is None else f"{ratio:.1f}x",
                goal,
                r.unit,
            )
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fedcrypto bench paillier``."""
    try:
        sizes = [
            int(s) for s in (args.key_sizes or ("2048" if args.quick else "2048,3072")).split(",")
        ]
    except ValueError:
        print("error: --key-sizes must be comma-separated integers")
        return 2
    if any(s < 2048 for s in sizes):
        print("error: benchmark key sizes must be at least 2048 bits")
        return 2
    if args.parties < 1 or (args.threads is not None and args.threads < 1):
        print("error: --parties and --threads must be positive")
        return 2
    if args.pool_values is not None and args.pool_values < 0:
        print("error: --pool-values must not be negative")
        return 2
    threads = args.threads or default_threads()
    values = args.pipeline_values or (5000 if args.quick else 10000)
    use_phe = not args.no_phe and _phe() is not None
    backend = get_backend().name
    print(
        f"fedcrypto Paillier throughput (backend {backend}, {threads} thread(s) = 'all cores'; "
        f"phe {'measured in the same run' if use_phe else 'not measured'})"
    )
    problem = check_output_arguments(args)
    if problem is not None:
        print(f"error: {problem}")
        return 2
    env = environment()
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        note = " (busy machine: expect lower multi-thread figures)" if load > 0.5 else ""
        print(f"load average before the run: {load:.2f}{note}")
    rows: list[Measurement] = []
    try:
        for size in sizes:
            rows += measure(
                size,
                threads=threads,
                quick=args.quick,
                use_phe=use_phe,
                pipeline_values=values,
                parties=args.parties,
                repeat=args.repeat,
                pool_values=(
                    args.pool_values
                    if args.pool_values is not None
                    else (2000 if args.quick else 10000)
                ),
            )
    except FedCryptoError as exc:
        print(f"error: {exc}")
        return 1
    print_table(rows, backend)
    if use_phe:
        print(
            "phe is timed on a small sample per operation; the dot product and the packed pipeline "
            "extrapolate phe's per-term / per-value time."
        )
    goals = [r for r in rows if r.goal is not None and r.ratio is not None]
    if goals:
        met = [r for r in goals if r.goal_met]
        print(f"goals: {len(met)} of {len(goals)} met")
        for r in goals:
            if not r.goal_met:
                print(f"  NOT met: {r.op} [{r.params}]: {r.ratio:.2f}x, goal >= {r.goal:g}x")
    return write_outputs(args, rows, env=env, title="fedcrypto Paillier vs python-paillier (phe)")
