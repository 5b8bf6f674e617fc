"""The one benchmark timer: best wall time over rounds, and a fair pair of ours against a peer."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["best_time", "time_pair"]

#: Floor of a measured time, so that rates and ratios stay finite on a coarse clock.
MIN_SECONDS = 1e-9


def best_time(fn: Callable[[], object], *, repeat: int = 3, number: int = 1) -> float:
    """Best wall time of one call of ``fn``, in seconds.

    ``fn`` is called ``number`` times per round for ``repeat`` rounds; the fastest round,
    divided by ``number``, is kept (the minimum is the least disturbed by other load on the
    machine, which only ever adds time).

    Raises:
        ValueError: ``repeat`` or ``number`` below 1.
    """
    if repeat < 1 or number < 1:
        raise ValueError("repeat and number must be at least 1")
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return max(best, MIN_SECONDS)


def time_pair(
    ours: Callable[[], object],
    peer: Callable[[], object] | None,
    *,
    rounds: int = 3,
    ours_best: float = float("inf"),
) -> tuple[float, float | None]:
    """Best times of ``ours`` and ``peer`` (seconds per call), their rounds interleaved.

    Interleaving means a burst of load on a shared machine hits both sides alike, so the
    ratio is fairer than timing one side after the other.  ``ours_best`` is an earlier
    measurement of ``ours`` (e.g. pytest-benchmark's minimum) to take into account.
    ``peer=None`` times ``ours`` only.
    """
    t_ours, t_peer = ours_best, float("inf")
    for _ in range(max(1, rounds)):
        if peer is not None:
            t_peer = min(t_peer, best_time(peer, repeat=1))
        t_ours = min(t_ours, best_time(ours, repeat=1))
    return max(t_ours, MIN_SECONDS), (None if peer is None else t_peer)
