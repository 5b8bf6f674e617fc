"""``--json FILE`` and ``--plot FILE.png`` for every ``fedcrypto bench`` target."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from ._report import Measurement, plot, write_json

__all__ = ["add_output_arguments", "check_output_arguments", "write_outputs"]


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--json FILE`` and ``--plot FILE.png`` to a bench target's parser."""
    parser.add_argument(
        "--json", metavar="FILE", default=None, help="also write the results as JSON to FILE"
    )
    parser.add_argument(
        "--plot",
        metavar="FILE.png",
        default=None,
        help="also draw fedcrypto vs its peers per operation to FILE.png (needs matplotlib)",
    )


def check_output_arguments(args: argparse.Namespace) -> str | None:
    """An error message when the options cannot be honoured (``--plot`` without matplotlib)."""
    if getattr(args, "plot", None) is None:
        return None
    try:
        import matplotlib  # noqa: F401  (the optional extra fedcrypto[plot])
    except ImportError:
        return "--plot needs matplotlib: pip install 'fedcrypto[plot]'"
    return None


def write_outputs(
    args: argparse.Namespace,
    results: Sequence[Measurement],
    *,
    env: Mapping[str, Any],
    title: str,
) -> int:
    """Write what ``--json`` / ``--plot`` asked for; returns 0, or 1 when a file cannot be
    written (the message is printed)."""
    try:
        if getattr(args, "json", None) is not None:
            write_json(args.json, results, env=env)
            print(f"results written to {args.json}")
        if getattr(args, "plot", None) is not None:
            plot(results, args.plot, title=title, env=env)
            print(f"plot written to {args.plot}")
    except OSError as exc:
        print(f"error: cannot write the results: {exc.strerror or exc}")
        return 1
    return 0
