"""One scenario definition, run the same way by ``benchmarks/`` and by ``fedcrypto bench``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._immutable import Immutable
from ._report import Measurement, extra_info
from ._timer import time_pair

__all__ = ["Scenario", "run_scenario"]


@dataclass(frozen=True)
class Scenario(Immutable):
    """An operation of fedcrypto and the peer it is compared with, ready to time.

    Attributes:
        op: what is timed (``"encrypt"``).
        group: the family (``"paillier"``).
        params: the parameters that matter (``"2048-bit, 1 thread"``).
        threads: kernel threads fedcrypto uses.
        unit: the rate unit (``"ops/s"``).
        ours: one call of fedcrypto's side.
        items: items one call of ``ours`` processes (the rate is ``items / seconds``).
        peer: one call of the peer's side, or None.
        peer_name: the peer's name (``"phe"``, ``"gmpy2 loop"``).
        peer_items: items one call of ``peer`` processes (may be fractional when the peer
            is timed on a sample and extrapolated, e.g. 60 of a 1,000-term dot product).
        goal: the ratio fedcrypto aims for, or None.
        check: a correctness check run once, outside the timings, or None.
        rounds: timing rounds for this scenario (None: the caller's default).
        setup: makes the inputs (keys, ciphertexts) before anything is timed, or None.
    """

    op: str
    group: str
    params: str
    threads: int
    unit: str
    ours: Callable[[], object]
    items: float
    peer: Callable[[], object] | None = None
    peer_name: str | None = None
    peer_items: float = 1.0
    goal: float | None = None
    check: Callable[[], None] | None = None
    rounds: int | None = None
    setup: Callable[[], None] | None = None

    @property
    def id(self) -> str:
        """A short identifier for test ids and file names."""
        return f"{self.op} [{self.params}]"


def run_scenario(scenario: Scenario, *, rounds: int = 3, benchmark: Any = None) -> Measurement:
    """Time ``scenario`` (ours and the peer interleaved) and return the measurement.

    With ``benchmark`` (pytest-benchmark's fixture), fedcrypto's side is first timed by
    pytest-benchmark (so ``--benchmark-json`` has its statistics) and the measurement, the
    load average, ``backend_info()`` and the thread count go into ``benchmark.extra_info``.
    The scenario's setup runs first, its check (if any) once after the timings.
    """
    n = scenario.rounds if scenario.rounds is not None else rounds
    if scenario.setup is not None:
        scenario.setup()
    first = float("inf")
    if benchmark is not None:
        benchmark.pedantic(scenario.ours, rounds=n, iterations=1, warmup_rounds=min(1, n - 1))
        first = float(benchmark.stats.stats.min)
    t_ours, t_peer = time_pair(scenario.ours, scenario.peer, rounds=n, ours_best=first)
    result = Measurement(
        op=scenario.op,
        group=scenario.group,
        params=scenario.params,
        threads=scenario.threads,
        unit=scenario.unit,
        ours_rate=scenario.items / t_ours,
        peer=scenario.peer_name if t_peer is not None else None,
        peer_rate=None if t_peer is None else scenario.peer_items / t_peer,
        goal=scenario.goal,
    )
    if scenario.check is not None:
        scenario.check()
    if benchmark is not None:
        benchmark.extra_info.update(extra_info(result))
    return result
