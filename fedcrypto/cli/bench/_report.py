"""Benchmark results as data: one record per operation, the run's environment, JSON and a plot.

The fields are the same whether a result comes from ``benchmarks/`` (pytest-benchmark, where
they land in ``benchmark.extra_info`` and so in ``--benchmark-json``) or from
``fedcrypto bench ... --json``; :func:`load_results` reads both files, and :func:`plot`
draws either.
"""

from __future__ import annotations

import json
import math
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ... import __version__, backend_info
from ..._immutable import Immutable

__all__ = ["Measurement", "environment", "extra_info", "write_json", "load_results", "plot"]

#: Version of the JSON layout written by :func:`write_json`.
JSON_FORMAT = 1


@dataclass(frozen=True)
class Measurement(Immutable):
    """One operation of fedcrypto timed against one peer in the same run.

    Attributes:
        op: what was timed, e.g. ``"encrypt"``.
        group: the benchmark family (``"paillier"``, ``"kernel"`` ...).
        params: the parameters that matter, e.g. ``"2048-bit, 1 thread"``.
        threads: kernel threads fedcrypto used.
        unit: the rate unit, e.g. ``"ops/s"``, ``"values/s"``.
        ours_rate: fedcrypto's rate (items per second).
        peer: the peer's name (``"phe"``, ``"gmpy2 loop"``, ``"flwr"`` ...), or None.
        peer_rate: the peer's rate in the same unit, or None when not measured.
        goal: the ratio fedcrypto aims for (``ours_rate / peer_rate``), or None.
    """

    op: str
    group: str
    params: str
    threads: int
    unit: str
    ours_rate: float
    peer: str | None = None
    peer_rate: float | None = None
    goal: float | None = None

    @property
    def ratio(self) -> float | None:
        """``ours_rate / peer_rate`` (how many times faster fedcrypto is), or None."""
        if self.peer_rate is None or self.peer_rate <= 0:
            return None
        return self.ours_rate / self.peer_rate

    @property
    def goal_met(self) -> bool | None:
        """Whether the ratio reaches the goal (None without a goal or a peer)."""
        ratio = self.ratio
        return None if self.goal is None or ratio is None else ratio >= self.goal

    def to_dict(self) -> dict[str, Any]:
        """The fields plus ``ratio``, ``goal_met`` and seconds per item (JSON-ready)."""
        out = asdict(self)
        out["ratio"] = self.ratio
        out["goal_met"] = self.goal_met
        out["ours_seconds_per_item"] = 1.0 / self.ours_rate if self.ours_rate > 0 else None
        out["peer_seconds_per_item"] = (
            1.0 / self.peer_rate if self.peer_rate is not None and self.peer_rate > 0 else None
        )
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        """Inverse of :meth:`to_dict` (extra keys are ignored)."""
        peer_rate = data.get("peer_rate")
        goal = data.get("goal")
        return cls(
            op=str(data["op"]),
            group=str(data.get("group", "")),
            params=str(data.get("params", "")),
            threads=int(data.get("threads", 1)),
            unit=str(data.get("unit", "ops/s")),
            ours_rate=float(data["ours_rate"]),
            peer=None if data.get("peer") is None else str(data["peer"]),
            peer_rate=None if peer_rate is None else float(peer_rate),
            goal=None if goal is None else float(goal),
        )


def environment() -> dict[str, Any]:
    """What the figures depend on: load average (1, 5, 15 min), backend, threads, versions."""
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    info = backend_info()
    return {
        "load_average": load,
        "backend_info": info,
        "threads": int(info.get("threads", os.cpu_count() or 1)),
        "cpu_count": os.cpu_count(),
        "fedcrypto": __version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def extra_info(measurement: Measurement, env: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The fields for pytest-benchmark's ``benchmark.extra_info``: the measurement and the
    environment (load average, ``backend_info()``, thread count) of this run."""
    out = measurement.to_dict()
    out.update(environment() if env is None else env)
    out["threads"] = measurement.threads
    return out


def write_json(
    path: str | os.PathLike[str],
    results: Sequence[Measurement],
    *,
    env: Mapping[str, Any] | None = None,
) -> None:
    """Write ``results`` as JSON shaped like pytest-benchmark's: ``{"machine_info", "benchmarks":
    [{"name", "group", "extra_info"}]}``, so one reader handles both.  ``env``: the run's
    :func:`environment` taken before it started (default: now)."""
    env = environment() if env is None else env
    doc = {
        "fedcrypto_bench_format": JSON_FORMAT,
        "machine_info": env,
        "benchmarks": [
            {
                "name": f"{m.op} [{m.params}]",
                "group": m.group,
                "extra_info": extra_info(m, env),
            }
            for m in results
        ],
    }
    Path(path).write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load_results(path: str | os.PathLike[str]) -> list[Measurement]:
    """The measurements in a ``fedcrypto bench --json`` or ``pytest --benchmark-json`` file
    (benchmarks without our ``extra_info`` fields are skipped)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    out: list[Measurement] = []
    for bench in doc.get("benchmarks", []):
        info = bench.get("extra_info") or {}
        entries: Iterable[Mapping[str, Any]] = info.get("comparisons") or [info]
        for entry in entries:
            if "op" in entry and "ours_rate" in entry:
                out.append(Measurement.from_dict(entry))
    return out


def plot(
    results: Sequence[Measurement],
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> None:
    """Draw fedcrypto against its peers per operation (log scale) and save it to ``path``.

    One row per operation: a bar for fedcrypto's rate and one for the peer's, each labelled
    with its value; a diamond marks the goal (the rate fedcrypto must reach, ``goal`` times
    the peer's) and the label gives the ratio.  ``env`` (default: this process's
    :func:`environment`) goes into the subtitle.  Needs matplotlib (``fedcrypto[plot]``).

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: nothing to plot.
    """
    rows = [m for m in results if m.ours_rate > 0 and math.isfinite(m.ours_rate)]
    if not rows:
        raise ValueError("no measurements to plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = 0.38
    fig_h = 1.2 + 0.62 * len(rows)
    fig, ax = plt.subplots(figsize=(12.5, fig_h))
    labels: list[str] = []
    peers: set[str] = set()
    for i, m in enumerate(rows):
        y = len(rows) - 1 - i
        labels.append(f"{m.op}\n{m.params}")
        ax.barh(y + height / 2, m.ours_rate, height, color="#1f77b4")
        goal_x = m.peer_rate * m.goal if m.peer_rate and m.goal else 0.0
        # the label goes right of the bar and of the goal marker, so neither hides it
        ax.text(
            max(m.ours_rate, goal_x * 1.25),
            y + height / 2,
            f" {_fmt(m.ours_rate)}",
            va="center",
            fontsize=7,
        )
        if m.peer_rate is not None and m.peer_rate > 0:
            peers.add((m.peer or "peer").split(" (")[0])
            ax.barh(y - height / 2, m.peer_rate, height, color="#ff7f0e")
            ratio = m.ratio or 0.0
            ax.text(
                m.peer_rate,
                y - height / 2,
                f" {_fmt(m.peer_rate)} ({m.peer}; ours {ratio:.3g}x)",
                va="center",
                fontsize=7,
            )
            if m.goal is not None:
                met = bool(m.goal_met)
                ax.plot(
                    m.peer_rate * m.goal,
                    y + height / 2,
                    marker="D",
                    markersize=7,
                    color="#2ca02c" if met else "#d62728",
                    markeredgecolor="black",
                    linestyle="none",
                )
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(list(reversed(labels)), fontsize=8)
    ax.set_xscale("log")
    lo = min(min(m.ours_rate, m.peer_rate or m.ours_rate) for m in rows)
    hi = max(max(m.ours_rate, (m.peer_rate or 0) * (m.goal or 1)) for m in rows)
    ax.set_xlim(lo / 3, hi * 30)
    units = sorted({m.unit for m in rows})
    ax.set_xlabel(f"throughput ({', '.join(units)}; log scale, higher is better)")
    ax.grid(axis="x", which="major", linestyle=":", alpha=0.6)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(color="#1f77b4", label="fedcrypto"),
        Patch(color="#ff7f0e", label=" / ".join(sorted(peers)) or "peer"),
    ]
    if any(m.goal is not None and m.peer_rate for m in rows):
        for color, what in (("#2ca02c", "goal (met)"), ("#d62728", "goal (not met)")):
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="D",
                    color=color,
                    markeredgecolor="black",
                    linestyle="none",
                    label=what,
                )
            )
    # outside the axes, right of them: it never hides a bar or a label
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    env = environment() if env is None else env
    load = env.get("load_average")
    subtitle = (
        f"backend {env.get('backend_info', {}).get('name')}, {env.get('threads')} thread(s)"
        + (f", load {load[0]:.2f}" if load else "")
        + f", fedcrypto {env['fedcrypto']}"
    )
    ax.set_title((title or "fedcrypto vs peers, same run") + f"\n{subtitle}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _fmt(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"
