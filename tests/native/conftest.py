"""Kernel tests: a process-level backstop for hangs, and the native-backend guard.

Each hang-prone call runs under :func:`kernel_oracle.bounded` (a thread with a
timeout).  That cannot help if a kernel hangs while *holding* the GIL (the path
taken when another extension installed GMP allocators), so every test here also
arms ``faulthandler.dump_traceback_later``: the process then prints every
thread's stack and exits, and CI fails instead of freezing.
"""

from __future__ import annotations

import faulthandler
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_oracle import WATCHDOG_SECONDS  # noqa: E402

#: Hard limit for one test (many bounded calls), after which the process exits.
BACKSTOP_SECONDS = 4 * WATCHDOG_SECONDS


@pytest.fixture(autouse=True)
def _hang_backstop() -> Iterator[None]:
    faulthandler.dump_traceback_later(BACKSTOP_SECONDS, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
