"""The ``fedcrypto`` command line: the only layer of fedcrypto that does I/O.

Each sub-command lives in its own module ``fedcrypto.cli._<name>`` exposing
``register(subparsers)``, which adds its parser and sets ``func`` (a callable
taking the parsed arguments and returning an exit code).

Exit codes: 0 success, 1 protocol/crypto/peer error or a failure on this side, 2 usage or
input error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__

__all__ = ["main", "EXIT_OK", "EXIT_PROTOCOL", "EXIT_USAGE"]

EXIT_OK = 0
EXIT_PROTOCOL = 1
EXIT_USAGE = 2

#: Sub-commands, each in ``fedcrypto.cli._<name>``.
_COMMANDS = ("demo", "bench", "psi")


def build_parser() -> argparse.ArgumentParser:
    """The ``fedcrypto`` argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="fedcrypto", description="Cryptographic protocols for federated learning."
    )
    parser.add_argument("--version", action="version", version=f"fedcrypto {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(f"{__name__}._{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
