"""Paillier benchmarks against python-paillier (phe), measured in the same run on the same key.

Run: ``python -m pytest benchmarks/bench_paillier.py -q`` (2048-bit keys, small
counts).  ``FEDCRYPTO_BENCH_BIG=1`` adds 3072-bit keys, the 1,000,000-value packed
pipeline and the 1,000,000-ciphertext memory check.  Ratios (our rate / phe's rate, per
operation) are printed, listed in the terminal summary with the goals of issue 12
(``fedcrypto.cli.bench._paillier.GOALS``), and stored in ``benchmark.extra_info`` (so
``--benchmark-json FILE`` holds them; draw them with
``fedcrypto.cli.bench.plot(load_results(FILE), "out.png")``).

The scenarios (operations, counts, the phe peer, goals, correctness checks) are defined
once in :mod:`fedcrypto.cli.bench` and shared with ``fedcrypto bench paillier``; phe is
timed on a small sample and compared per operation, ours and phe's rounds interleaved and
the best of each kept (the machine may be shared).
"""

from __future__ import annotations

import os
import sys
import time
import tracemalloc
from typing import Any

import numpy as np
import pytest

import fedcrypto
from fedcrypto import paillier
from fedcrypto._random import VectorRNG
from fedcrypto.cli.bench import Scenario, paillier_scenarios, run_scenario

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import _RATIOS  # noqa: E402  (benchmarks/ is not a package)

phe = pytest.importorskip("phe")

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG", "") not in ("", "0")
KEY_SIZES = [2048, 3072] if BIG else [2048]
ALL = int(fedcrypto.backend_info().get("threads", "1"))
ROUNDS = 3
SCENARIOS: list[Scenario] = [
    s
    for bits in KEY_SIZES
    for s in paillier_scenarios(
        bits,
        threads=ALL,
        phe=phe,
        pipeline_values=1_000_000 if BIG else 50_000,
        parties=8,
        pool_values=10_000,
    )
    # the packed pipeline at 3072 bits adds minutes and no insight
    if bits == 2048 or not s.op.startswith("packed")
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_paillier_vs_phe(benchmark: Any, scenario: Scenario) -> None:
    """One operation against phe; the result (and goal) lands in ``benchmark.extra_info``."""
    m = run_scenario(scenario, rounds=ROUNDS, benchmark=benchmark)
    assert m.peer_rate is not None and m.ratio is not None
    line = (
        f"{m.op} [{m.params}] vs {m.peer}: ours {m.ours_rate:,.1f} {m.unit}, "
        f"peer {m.peer_rate:,.2f} {m.unit}, ratio {m.ratio:.2f}x"
    )
    if m.goal is not None:
        line += f" (goal >= {m.goal}x: {'met' if m.goal_met else 'NOT met'})"
    _RATIOS.append(line)
    print(line)


def test_memory_1m_ciphertexts(benchmark: Any) -> None:
    """Memory of an EncryptedVector of 1,000,000 ciphertexts (2048-bit key): goal <= 1.1 x 512 MB.

    Built from 1,000 real encryptions replicated (memory does not depend on the values);
    100,000 by default, 1,000,000 with FEDCRYPTO_BENCH_BIG=1; reports bytes per ciphertext
    and the traced peak of the final object (numpy buffers are traced by tracemalloc).
    """
    pk = paillier.generate_private_key(2048).public_key()
    count = 1_000_000 if BIG else 100_000
    base = pk.encrypt(VectorRNG().below(1 << 32, 1000).astype(np.int64))
    tracemalloc.start()
    t0 = time.perf_counter()
    ev = paillier.concatenate([base] * (count // 1000))
    elapsed = time.perf_counter() - t0
    current, _peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    benchmark.pedantic(lambda: len(ev), rounds=1, iterations=1)
    per = current / count
    projected = per * 1_000_000 / 1e6
    print(
        f"memory: {count:,} ciphertexts hold {current / 1e6:.1f} MB traced ({per:.1f} B each, "
        f"array {ev.nbytes / 1e6:.1f} MB); 1M projected {projected:.1f} MB "
        f"(goal <= 1.1 x 512 MB = {1.1 * 512:.0f} MB); built in {elapsed:.2f} s"
    )
    assert ev.nbytes == count * 512
    assert per * 1_000_000 <= 1.1 * 512e6
