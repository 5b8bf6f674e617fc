"""The shared benchmark machinery: one timer, scenarios, results as data and as a plot."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from fedcrypto import paillier
from fedcrypto.cli.bench import (
    Measurement,
    Scenario,
    best_time,
    environment,
    load_results,
    paillier_scenarios,
    plot,
    run_scenario,
    time_pair,
    write_json,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_best_time_keeps_the_fastest_round(monkeypatch: pytest.MonkeyPatch) -> None:
    delays = iter([3, 1, 2])
    clock = {"t": 0.0}

    def fn() -> None:
        clock["t"] += next(delays)

    monkeypatch.setattr("fedcrypto.cli.bench._timer.time.perf_counter", lambda: clock["t"])
    assert best_time(fn, repeat=3) == 1
    with pytest.raises(ValueError):
        best_time(fn, repeat=0)


def test_time_pair_interleaves_and_times_both() -> None:
    calls: list[str] = []
    t_ours, t_peer = time_pair(lambda: calls.append("o"), lambda: calls.append("p"), rounds=3)
    assert calls == ["p", "o"] * 3
    assert t_ours > 0 and t_peer is not None and t_peer > 0
    t_ours, t_peer = time_pair(lambda: None, None, rounds=2, ours_best=1e-12)
    assert t_peer is None and t_ours == pytest.approx(1e-9)


class _FakeBenchmark:
    """What run_scenario uses of pytest-benchmark's fixture."""

    def __init__(self) -> None:
        self.extra_info: dict[str, Any] = {}
        self.calls = 0

    def pedantic(self, fn: Any, *, rounds: int, iterations: int, warmup_rounds: int) -> None:
        for _ in range(rounds + warmup_rounds):
            fn()
            self.calls += 1

    @property
    def stats(self) -> Any:
        return type("S", (), {"stats": type("T", (), {"min": 0.5})()})()


def test_run_scenario_fills_extra_info_with_ratio_goal_load_backend_threads() -> None:
    checked: list[bool] = []
    prepared: list[bool] = []
    scn = Scenario(
        op="op",
        group="g",
        params="p",
        threads=2,
        unit="ops/s",
        ours=lambda: sum(range(100)),
        items=10,
        peer=lambda: sum(range(10000)),
        peer_name="peer",
        peer_items=1,
        goal=2.0,
        check=lambda: checked.append(True),
        setup=lambda: prepared.append(True),
    )
    bench = _FakeBenchmark()
    m = run_scenario(scn, rounds=2, benchmark=bench)
    assert prepared == [True] and checked == [True] and bench.calls == 3
    info = bench.extra_info
    for key in ("ratio", "goal", "goal_met", "peer_rate", "ours_rate", "load_average"):
        assert key in info
    assert info["backend_info"]["name"] in ("native", "gmpy2", "pure")
    assert info["threads"] == 2 and info["peer"] == "peer" and info["goal"] == 2.0
    assert info["ratio"] == pytest.approx(m.ours_rate / m.peer_rate)  # type: ignore[operator]


def test_measurement_ratio_and_goal() -> None:
    m = Measurement("op", "g", "p", 1, "ops/s", ours_rate=30.0, peer="x", peer_rate=10.0, goal=2)
    assert m.ratio == 3.0 and m.goal_met is True
    assert Measurement("op", "g", "p", 1, "ops/s", 1.0).ratio is None
    assert Measurement.from_dict(m.to_dict()) == m


def test_json_round_trip_and_pytest_benchmark_shape(tmp_path: Path) -> None:
    ms = [
        Measurement("encrypt", "paillier", "2048-bit", 1, "ops/s", 200.0, "phe", 20.0, 15.0),
        Measurement("add", "paillier", "2048-bit", 2, "ops/s", 5e4),
    ]
    path = tmp_path / "out.json"
    write_json(path, ms, env=environment())
    doc = json.loads(path.read_text())
    assert doc["benchmarks"][0]["extra_info"]["ratio"] == 10.0
    assert doc["machine_info"]["backend_info"]["name"]
    assert load_results(path) == ms
    # a pytest --benchmark-json file: comparisons nested, unrelated benchmarks skipped
    pb = {
        "benchmarks": [
            {"name": "t1", "extra_info": {"comparisons": [ms[0].to_dict(), ms[1].to_dict()]}},
            {"name": "t2", "extra_info": {"something": 1}},
        ]
    }
    (tmp_path / "pb.json").write_text(json.dumps(pb))
    assert load_results(tmp_path / "pb.json") == ms


def test_plot_writes_a_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    ms = [
        Measurement("encrypt", "paillier", "2048-bit", 1, "ops/s", 200.0, "phe", 20.0, 15.0),
        Measurement("dot", "paillier", "2048-bit", 2, "dots/s", 10.0, "phe", 1.0, 4.0),
        Measurement("add", "paillier", "2048-bit", 2, "ops/s", 5e4),
    ]
    out = tmp_path / "out.png"
    plot(ms, out, title="test")
    assert out.read_bytes()[:8] == PNG_MAGIC
    with pytest.raises(ValueError):
        plot([], tmp_path / "empty.png")


def test_paillier_scenarios_run_and_check_on_a_small_key() -> None:
    phe = pytest.importorskip("phe")
    sk = paillier.generate_private_key(1024, unsafe_allow_small_keys=True)
    scenarios = paillier_scenarios(
        1024, threads=2, phe=phe, key=sk, quick=True, pipeline_values=300, parties=3
    )
    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids)), "scenario ids must be unique (pytest ids)"
    assert {s.op for s in scenarios} >= {"encrypt", "decrypt", "add", "mul 32-bit scalar"}
    for s in scenarios:
        m = run_scenario(s, rounds=1)
        assert m.ours_rate > 0 and m.peer_rate is not None and m.peer_rate > 0
    # without phe: no peer, still runs
    alone = paillier_scenarios(1024, threads=1, key=sk, quick=True, pipeline_values=100)
    assert all(s.peer is None for s in alone)
    assert run_scenario(alone[0], rounds=1).ratio is None


def test_bench_kernel_json_and_plot(tmp_path: Path) -> None:
    from fedcrypto.cli import _bench_kernel

    parser = argparse.ArgumentParser()
    _bench_kernel.add_arguments(parser)
    out = tmp_path / "k.json"
    args = parser.parse_args(["--bits", "256", "--count", "2", "--repeat", "1", "--json", str(out)])
    assert _bench_kernel.run(args) == 0
    results = load_results(out)
    assert results and all(m.group == "kernel" for m in results)
    bad = parser.parse_args(["--bits", "256", "--json", str(tmp_path / "no" / "dir.json")])
    assert _bench_kernel.run(bad) == 1


def test_bench_paillier_refuses_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from fedcrypto.cli import _bench_paillier

    parser = argparse.ArgumentParser()
    _bench_paillier.add_arguments(parser)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert _bench_paillier.run(parser.parse_args(["--quick", "--plot", "x.png"])) == 2
