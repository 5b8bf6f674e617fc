"""``fedcrypto bench psi``: a quick two-party PSI run on this machine, printing the rate.

Both parties run as separate processes over loopback with mutual TLS (certificates made on
the fly), exactly like ``fedcrypto psi listen`` / ``connect`` on two machines; the table shows
wall time, peak memory per party, bytes on the wire and IDs per second per core next to the
published SecretFlow rate (not measured here).  ``--local`` instead times both parties in this
process without network or TLS.
"""

from __future__ import annotations

import argparse
import os
import time

from ..psi import PsiSettings, run_pair
from ..scale import process_executor
from .psi_tool import run_files_two_processes, run_two_processes

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fedcrypto bench psi``."""
    parser.add_argument("--protocol", choices=("ecdh", "dh", "rsa", "all"), default="ecdh")
    parser.add_argument("--group", default=None, help="group for a single protocol")
    parser.add_argument(
        "--size",
        type=int,
        default=10_000,
        help="IDs per party (default 10,000; half of them shared)",
    )
    parser.add_argument("--no-tls", action="store_true", help="plaintext loopback")
    parser.add_argument(
        "--files",
        nargs=2,
        metavar=("A", "B"),
        help="use these ID files (listener A, connector B) instead of synthetic IDs",
    )
    parser.add_argument("--id-column", action="append", help="with --files: ID column(s)")
    parser.add_argument("--normalize", default=None, help="with --files: normalization")
    parser.add_argument(
        "--local", action="store_true", help="both parties in this process (no network, no TLS)"
    )


def _local(protocol: str, group: str | None, n: int) -> None:

    a = [f"u{i:09d}".encode() for i in range(n)]
    b = [f"u{i:09d}".encode() for i in range(n // 2, n // 2 + n)]
    settings = PsiSettings(protocol=protocol, group=group)
    t0 = time.perf_counter()
    with process_executor() as executor:
        res_a, _ = run_pair(settings, a, b, executor=executor)
    wall = time.perf_counter() - t0
    cores = os.cpu_count() or 1
    print(
        f"psi {protocol}/{settings.resolved_group()} {n:,} x {n:,} IDs in one process: "
        f"wall {wall:.2f} s, intersection {res_a.count}, "
        f"{2 * n / wall / cores:,.0f} IDs/s per core"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; returns 0, or 1 when a run failed."""

    if args.size < 2:
        print("fedcrypto bench psi: error: --size must be at least 2")
        return 2
    protocols = ("ecdh", "dh", "rsa") if args.protocol == "all" else (args.protocol,)
    code = 0
    for protocol in protocols:
        group = args.group if args.protocol != "all" else None
        if args.local:
            _local(protocol, group, args.size)
            continue
        if args.files:
            extra: list[str] = []
            for col in args.id_column or ():
                extra += ["--id-column", col]
            if args.normalize:
                extra += ["--normalize", args.normalize]
            result = run_files_two_processes(
                args.files[0],
                args.files[1],
                protocol=protocol,
                group=group,
                tls=not args.no_tls,
                extra=tuple(extra),
            )
            print(result.summary())
            code = code if result.ok else 1
            continue
        result = run_two_processes(
            args.size,
            args.size,
            args.size // 2,
            protocol=protocol,
            group=group,
            tls=not args.no_tls,
        )
        print(result.summary())
        if not result.ok:
            code = 1
    return code
