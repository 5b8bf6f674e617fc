"""Secret-sharing benchmarks (issue 5): Shamir vs Flower, additive sharing, Beaver products.

Run: ``python -m pytest benchmarks/bench_sharing.py -q -s`` (default sizes are the
issue's and finish in well under a minute); ``FEDCRYPTO_BENCH_BIG=1`` adds the
secure-aggregation-scale batch Shamir runs.

* Shamir: a 32-byte secret into 100 shares with threshold 51, split and combine, against
  Flower 1.41's ``flwr.common.secure_aggregation.crypto.shamir.create_shares`` /
  ``combine_shares`` (pycryptodome's GF(2^128) Shamir on 16-byte chunks) measured in the
  same run.  Goal: each >= 20x faster.
* Additive: 1,000,000 reals, 16 fractional bits, 3 parties: encode + share + reconstruct
  + decode.  Goal <= 30 ms.
* Beaver: 1,000,000 fixed-point products between 2 parties (online phase: both parties'
  open and combine steps plus local truncation, run one after the other in this
  process).  Goal <= 80 ms.  The dealer's triple generation is reported separately.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402  (benchmarks/ is not a package)

from fedcrypto._random import VectorRNG
from fedcrypto.sharing import (
    BeaverDealer,
    FixedPoint,
    reconstruct_fixed_point,
    run_multiplication,
    shamir_combine,
    shamir_combine_many,
    shamir_split,
    shamir_split_many,
    share_fixed_point,
)

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG", "") not in ("", "0")
ROUNDS = 7


def _flower() -> Any:
    try:
        from flwr.common.secure_aggregation.crypto import shamir
    except ImportError:
        pytest.skip("flwr is not installed (pip install flwr==1.41.0)")
    return shamir


def _ours(benchmark: Any, fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """Time ``fn`` with pytest-benchmark; returns the best round in seconds."""
    benchmark.pedantic(fn, rounds=rounds, iterations=1, warmup_rounds=1)
    return float(benchmark.stats.stats.min)


def _report_goal(name: str, seconds: float, goal_s: float, extra: str = "") -> None:
    """Print and record an absolute time against a goal (shown in the terminal summary)."""
    ok = "met" if seconds <= goal_s else "NOT met"
    line = f"{name}: ours {seconds * 1e3:.2f} ms (goal <= {goal_s * 1e3:.0f} ms: {ok}){extra}"
    conftest._RATIOS.append(line)
    print(line)


def test_shamir_split_vs_flower(benchmark: Any, report_ratio: Any) -> None:
    """Shamir split, 32-byte secret, 100 shares, threshold 51 (goal >= 20x Flower)."""
    flower = _flower()
    secret = os.urandom(32)
    ours = _ours(benchmark, lambda: shamir_split(secret, threshold=51, shares=100))
    peer = conftest.best_time(lambda: flower.create_shares(secret, 51, 100), repeat=3)
    shares = flower.create_shares(secret, 51, 100)
    assert flower.combine_shares(shares[:51]) == secret  # the peer really works
    report_ratio("shamir split 32 B, n=100, t=51 vs flwr create_shares", ours, peer, 20)


def test_shamir_combine_vs_flower(benchmark: Any, report_ratio: Any) -> None:
    """Shamir combine from 51 of 100 shares of a 32-byte secret (goal >= 20x Flower)."""
    flower = _flower()
    secret = os.urandom(32)
    ours_shares = shamir_split(secret, threshold=51, shares=100)[49:]
    peer_shares = flower.create_shares(secret, 51, 100)[49:]
    assert shamir_combine(ours_shares) == secret
    ours = _ours(benchmark, lambda: shamir_combine(ours_shares))
    peer = conftest.best_time(lambda: flower.combine_shares(peer_shares), repeat=3)
    assert flower.combine_shares(peer_shares) == secret
    report_ratio("shamir combine 32 B, t=51 vs flwr combine_shares", ours, peer, 20)


def test_additive_fixed_point_1m_3_parties(benchmark: Any) -> None:
    """Encode, share among 3 parties, reconstruct and decode 1,000,000 reals (goal <= 30 ms)."""
    x = (VectorRNG().uniform(1_000_000) - 0.5) * 2e4
    codec = FixedPoint(16)

    def run() -> np.ndarray:
        return reconstruct_fixed_point(share_fixed_point(x, parties=3, codec=codec), codec=codec)

    assert np.abs(run() - x).max() <= 2.0**-17
    ours = _ours(benchmark, run, rounds=15)
    _report_goal("additive share+reconstruct 1M fixed-point, 3 parties", ours, 0.030)


def test_beaver_multiplication_1m_2_parties(benchmark: Any) -> None:
    """1,000,000 fixed-point products between 2 parties, online phase (goal <= 80 ms)."""
    n = 1_000_000
    rng = VectorRNG()
    codec = FixedPoint(16)
    x = (rng.uniform(n) - 0.5) * 8
    y = (rng.uniform(n) - 0.5) * 8
    xs = share_fixed_point(x, parties=2, codec=codec)
    ys = share_fixed_point(y, parties=2, codec=codec)
    dealer = BeaverDealer(2)
    rounds = 9
    triples = [dealer.triples(n) for _ in range(rounds + 1)]  # one fresh triple per run
    dealer_s = conftest.best_time(lambda: dealer.triples(n), repeat=3)
    it = iter(triples)

    def run() -> list[Any]:
        return run_multiplication(xs, ys, next(it), fixed_point=codec)

    z = run()
    assert np.abs(reconstruct_fixed_point(z, codec=codec) - x * y).max() < 8 * 2.0**-16
    ours = _ours(benchmark, run, rounds=rounds - 1)
    _report_goal(
        "beaver multiply 1M fixed-point, 2 parties (online, both parties)",
        ours,
        0.080,
        f"; dealer triples {dealer_s * 1e3:.1f} ms",
    )


@pytest.mark.skipif(not BIG, reason="set FEDCRYPTO_BENCH_BIG=1")
def test_shamir_batch_secagg_scale(benchmark: Any) -> None:
    """500 clients' 32-byte seeds into 500 shares (t=251), server combines from 450 survivors."""
    secrets_ = [os.urandom(32) for _ in range(500)]
    t0 = conftest.best_time(
        lambda: shamir_split_many(secrets_, threshold=251, shares=500), repeat=1
    )
    sets = shamir_split_many(secrets_, threshold=251, shares=500)
    survivors = [s[:450] for s in sets]
    ours = _ours(benchmark, lambda: shamir_combine_many(survivors), rounds=3)
    assert shamir_combine_many(survivors) == secrets_
    line = (
        f"shamir batch: split 500 x (n=500, t=251) {t0 * 1e3:.0f} ms; "
        f"combine_many 500 secrets {ours * 1e3:.0f} ms"
    )
    conftest._RATIOS.append(line)
    print(line)
