"""The tool's scale-out options: where this party's work runs and where its tags spill.

``--scheduler tls://HOST:PORT`` (with ``--scheduler-ca/--scheduler-cert/--scheduler-key``)
runs this party's hashing and exponentiation chunks on its own organisation's Dask cluster;
without it a local process pool (:func:`fedcrypto.scale.process_executor`, ``--workers``).
The two parties still talk to each other only over the tool's own TLS link.  ``--buckets N``
runs a partitioned PSI (both sides must agree); ``--resume`` continues a partitioned run
from its checkpoint in ``--workdir`` (see :mod:`._checkpoint`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from concurrent.futures import Executor

from ... import psi
from ...exceptions import InvalidArgumentError
from ...scale import dask_executor, process_executor

__all__ = ["add_scale_options", "open_executor", "join_provider"]


def _buckets(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if not 1 <= value <= psi.MAX_BUCKETS:
        raise argparse.ArgumentTypeError(f"must be between 1 and {psi.MAX_BUCKETS}")
    return value


def add_scale_options(p: argparse.ArgumentParser, *, network: bool = True) -> None:
    """Add ``--buckets`` (and, for ``listen``/``connect``, ``--scheduler*`` and ``--resume``)."""
    g = p.add_argument_group("scale-out")
    g.add_argument(
        "--buckets",
        type=_buckets,
        default=1,
        metavar="N",
        help="partitioned PSI: split both sets into N padded buckets run as separate "
        "sub-sessions (both sides must agree; default 1)",
    )
    if not network:
        return
    g.add_argument(
        "--scheduler",
        metavar="tls://HOST:PORT",
        help="run this side's work on its own Dask cluster (TLS only; pip install "
        "'fedcrypto[dask]'); default: local worker processes",
    )
    g.add_argument("--scheduler-ca", metavar="PEM", help="CA of the Dask cluster's certificates")
    g.add_argument("--scheduler-cert", metavar="PEM", help="client certificate for the scheduler")
    g.add_argument("--scheduler-key", metavar="PEM", help="client key for the scheduler")
    g.add_argument(
        "--resume",
        action="store_true",
        help="continue a partitioned run from the checkpoint in --workdir (same peer, "
        "input and settings; finished buckets are not run again)",
    )


def open_executor(args: argparse.Namespace) -> Executor:
    """The executor for this run: the Dask cluster of ``--scheduler`` or a local pool.

    :raises InvalidArgumentError: (exit 2) a non-TLS scheduler or missing certificate files.
    :raises SchedulerUnreachableError: (exit 2) the scheduler did not answer.
    """
    address = getattr(args, "scheduler", None)
    if not address:
        return process_executor(args.workers)
    files = {
        "--scheduler-ca": args.scheduler_ca,
        "--scheduler-cert": args.scheduler_cert,
        "--scheduler-key": args.scheduler_key,
    }
    missing = [name for name, path in files.items() if not path]
    if missing:
        raise InvalidArgumentError(f"--scheduler needs {', '.join(missing)}")
    for name, path in files.items():
        if not os.path.isfile(path):
            raise InvalidArgumentError(f"{name}: no such file: {path}")
    try:
        from distributed.security import Security
    except ImportError:
        raise InvalidArgumentError(
            "--scheduler needs the optional extra: pip install 'fedcrypto[dask]'"
        ) from None
    security = Security(  # type: ignore[no-untyped-call]
        tls_ca_file=args.scheduler_ca,
        tls_client_cert=args.scheduler_cert,
        tls_client_key=args.scheduler_key,
        require_encryption=True,
    )
    return dask_executor(address, security=security)


def join_provider(args: argparse.Namespace, settings: psi.PsiSettings) -> psi.JoinProvider:
    """Spill to ``--workdir`` (default: the system temporary directory) past the budget."""
    workdir = args.workdir if args.workdir is not None else tempfile.gettempdir()
    return psi.SpillingJoin(workdir, settings.memory_budget)
