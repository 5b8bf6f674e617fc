"""Shared benchmark helpers: measure a peer in the same run and report the ratio."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

_RATIOS: list[str] = []


def best_time(fn: Callable[[], object], *, repeat: int = 3, number: int = 1) -> float:
    """Best wall time of ``number`` calls of ``fn`` over ``repeat`` rounds, in seconds per call."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


@pytest.fixture
def report_ratio() -> Callable[..., float]:
    """``report_ratio(name, ours_s, peer_s, goal)``: print and record peer/ours, return it."""

    def _report(name: str, ours: float, peer: float, goal: float | None = None) -> float:
        ratio = peer / ours
        line = f"{name}: ours {ours * 1e3:.3f} ms, peer {peer * 1e3:.3f} ms, ratio {ratio:.2f}x"
        if goal is not None:
            line += f" (goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})"
        _RATIOS.append(line)
        print(line)
        return ratio

    return _report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RATIOS:
        terminalreporter.section("fedcrypto ratios (peer time / fedcrypto time, same run)")
        for line in _RATIOS:
            terminalreporter.write_line(line)
