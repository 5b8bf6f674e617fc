"""Intersection-sum (``PsiSettings(compute="sum")``) benchmark: both parties in one process
(:func:`fedcrypto.psi.run_sum_pair`; every message serialized and parsed as over a network).

Default (small): 2,000 x 2,000 IDs, half shared, one value column.  ``FEDCRYPTO_BENCH_BIG=1``:
the issue-13 goal, 100,000 x 100,000 with one value column in <= 60 s for both parties.
The in-process time is the sum of both parties' work (they never overlap here), so it is an
upper bound on the two-process wall time.  The parties share one local process pool
(:func:`fedcrypto.scale.process_executor`, pool start-up included in the time).

Run: ``python -m pytest benchmarks/bench_psi_compute.py -s -p no:cacheprovider``
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from fedcrypto import backend_info, psi
from fedcrypto.scale import process_executor

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG") == "1"
CASES = [(100_000, 60.0)] if BIG else [(2_000, None)]


@pytest.mark.parametrize(("n", "goal"), CASES, ids=[f"sum-{c[0]}x{c[0]}" for c in CASES])
def test_intersection_sum_in_process(benchmark, n, goal):
    a = [f"id{i}".encode() for i in range(n)]
    b = [f"id{i}".encode() for i in range(n // 2, n + n // 2)]
    values = np.arange(n, dtype=np.int64) - n // 3
    settings = psi.PsiSettings(compute="sum", reveal="both")
    holder = {}

    def once():
        t0 = time.perf_counter()
        with process_executor() as executor:  # both parties' hashing and masking
            holder["r"] = psi.run_sum_pair(
                settings, a, b, connector_values=values, executor=executor
            )
        holder["s"] = time.perf_counter() - t0

    benchmark.pedantic(once, rounds=1, iterations=1)
    ra, rb = holder["r"]
    wall = holder["s"]
    assert ra.count == rb.count == n // 2
    assert ra.sums == (int(values[: n // 2].sum()),)
    load = os.getloadavg()[0]
    benchmark.extra_info.update(
        wall_s=round(wall, 3), load_1min=load, backend=backend_info().get("name")
    )
    line = f"intersection-sum {n} x {n}: {wall:.1f} s (1-min load {load:.2f})"
    if goal is not None:
        line += f"; goal <= {goal:.0f} s: {'met' if wall <= goal else 'NOT met'}"
    print("\n" + line)
