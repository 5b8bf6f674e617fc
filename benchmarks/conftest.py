"""Shared benchmark helpers: measure a peer in the same run and report the ratio.

The timer and the result fields are fedcrypto's own (:mod:`fedcrypto.cli.bench`), shared with
``fedcrypto bench``: every ratio reported here also lands in ``benchmark.extra_info`` (peer
time, ratio, goal, load average, ``backend_info()``, thread count), so
``--benchmark-json FILE`` holds everything, and ``fedcrypto.cli.bench.load_results(FILE)`` /
``plot`` read and draw it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from fedcrypto.cli.bench import Measurement, best_time, environment, extra_info

__all__ = ["best_time", "report_ratio"]

_RATIOS: list[str] = []
_THREADS = re.compile(r"(\d+) threads?\b")


@pytest.fixture
def report_ratio(request: pytest.FixtureRequest) -> Callable[..., float]:
    """``report_ratio(name, ours_s, peer_s, goal=None, *, peer=None, unit="ops/s")``: print
    and record peer/ours (seconds per item each), return it.

    When the test uses pytest-benchmark's ``benchmark`` fixture, the comparison goes into
    ``benchmark.extra_info``: the first one at the top level, every one under
    ``"comparisons"``.
    """
    bench: Any = (
        request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None
    )
    env = environment()

    def _report(
        name: str,
        ours: float,
        peer: float,
        goal: float | None = None,
        *,
        peer_name: str | None = None,
        unit: str = "ops/s",
    ) -> float:
        ratio = peer / ours
        line = f"{name}: ours {ours * 1e3:.3f} ms, peer {peer * 1e3:.3f} ms, ratio {ratio:.2f}x"
        if goal is not None:
            line += f" (goal >= {goal}x: {'met' if ratio >= goal else 'NOT met'})"
        _RATIOS.append(line)
        print(line)
        if bench is not None:
            op, _, vs = name.partition(" vs ")
            threads = _THREADS.search(name)
            m = Measurement(
                op=op,
                group=request.node.module.__name__.removeprefix("bench_"),
                params=request.node.callspec.id if hasattr(request.node, "callspec") else "",
                threads=int(threads.group(1)) if threads else int(env["threads"]),
                unit=unit,
                ours_rate=1.0 / ours,
                peer=peer_name or vs or "peer",
                peer_rate=1.0 / peer,
                goal=goal,
            )
            info = extra_info(m, env)
            if "comparisons" not in bench.extra_info:
                bench.extra_info.update(info)
                bench.extra_info["comparisons"] = []
            bench.extra_info["comparisons"].append(info)
        return ratio

    return _report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _RATIOS:
        terminalreporter.section("fedcrypto ratios (peer time / fedcrypto time, same run)")
        for line in _RATIOS:
            terminalreporter.write_line(line)
