"""Run the tool end to end as two processes over loopback (mutual TLS by default) and measure
it: wall time, peak resident memory per party (the party's whole process tree, sampled from
``/proc``, and ``ru_maxrss`` from ``wait4``), bytes on the wire, IDs per second per core.

Used by ``fedcrypto bench psi`` and ``benchmarks/bench_psi.py``.  Synthetic inputs: party A
holds ``u000000000 .. u{n_a-1}``, party B starts at ``n_a - overlap``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ._certs import make_certs

__all__ = [
    "E2EResult",
    "run_two_processes",
    "run_files_two_processes",
    "write_synthetic_ids",
    "PUBLISHED_RATES",
]

#: Published peer rates, for context only (not measured here).
PUBLISHED_RATES = {
    "SecretFlow ECDH-PSI": "~20,000 scalar multiplications/s/core (C++), i.e. ~10,000 IDs/s/core",
}


def write_synthetic_ids(path: str, start: int, count: int) -> None:
    """One ID per line: ``u%09d`` for ``start .. start+count-1``."""
    with open(path, "w", encoding="ascii") as fh:
        step = 100_000
        for lo in range(start, start + count, step):
            hi = min(lo + step, start + count)
            fh.write("".join(f"u{i:09d}\n" for i in range(lo, hi)))


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and all its descendants (0 if gone)."""
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm", encoding="ascii") as fh:
                total += int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children", encoding="ascii") as fh:
                    stack.extend(int(c) for c in fh.read().split())
        except (OSError, ValueError):
            continue
    return total


@dataclass
class E2EResult:
    """Measurements of one end-to-end run."""

    protocol: str
    group: str | None
    n_listener: int
    n_connector: int
    wall_s: float
    peak_tree_rss: dict[str, int]
    maxrss: dict[str, int]
    reports: dict[str, dict[str, Any]]
    return_codes: dict[str, int]
    stderr: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Both parties exited 0."""
        return all(rc == 0 for rc in self.return_codes.values())

    def ids_per_second_per_core(self) -> float:
        """(IDs of both parties) / wall time / cores of this machine."""
        return (self.n_listener + self.n_connector) / self.wall_s / (os.cpu_count() or 1)

    def summary(self) -> str:
        """A few lines for a terminal."""
        cores = os.cpu_count() or 1
        lines = [
            f"psi {self.protocol}/{self.group or 'default'} {self.n_listener:,} x "
            f"{self.n_connector:,} IDs, two processes over loopback: wall {self.wall_s:.2f} s",
        ]
        if not self.ok:
            lines.append(f"  FAILED: exit codes {self.return_codes}")
            for role, err in self.stderr.items():
                tail = err.strip().splitlines()[-1:] if err.strip() else []
                lines.extend(f"  {role}: {t}" for t in tail)
            return "\n".join(lines)
        rep = self.reports.get("listener", {})
        for role in ("listener", "connector"):
            lines.append(
                f"  {role:<9} peak RSS {self.peak_tree_rss[role] / 2**20:8.1f} MiB (process tree), "
                f"ru_maxrss {self.maxrss[role] / 2**20:8.1f} MiB"
            )
        lines.append(
            f"  intersection {rep.get('intersection_size')}, sent "
            f"{rep.get('bytes_sent', 0) / 2**20:.1f} MiB / received "
            f"{rep.get('bytes_received', 0) / 2**20:.1f} MiB (listener), TLS "
            f"{(rep.get('tls') or {}).get('version', 'off')}"
        )
        lines.append(
            f"  rate: {self.ids_per_second_per_core():,.0f} IDs/s per core "
            f"({(self.n_listener + self.n_connector) / self.wall_s:,.0f} IDs/s on {cores} cores)"
        )
        if self.protocol == "ecdh":
            mults = 2 * (self.n_listener + self.n_connector) / self.wall_s / cores
            lines.append(f"  = {mults:,.0f} scalar multiplications/s per core end to end")
            for peer, rate in PUBLISHED_RATES.items():
                lines.append(f"  published peer rate (not measured here): {peer} {rate}")
        return "\n".join(lines)


def _wait4(proc: subprocess.Popen[bytes], deadline: float) -> tuple[int, int]:
    """Reap ``proc`` with wait4: (exit code, ru_maxrss in bytes)."""
    while True:
        if proc.returncode is not None:  # already reaped (e.g. by poll()): no rusage left
            return proc.returncode, 0
        try:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        except ChildProcessError:
            return proc.wait(), 0
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return proc.returncode, usage.ru_maxrss * 1024
        if time.monotonic() > deadline:
            proc.kill()
            deadline = float("inf")
        time.sleep(0.05)


def run_two_processes(
    n_listener: int,
    n_connector: int,
    overlap: int,
    *,
    protocol: str = "ecdh",
    group: str | None = None,
    tls: bool = True,
    extra: tuple[str, ...] = (),
    timeout: float = 3600.0,
    workdir: str | None = None,
) -> E2EResult:
    """Run ``fedcrypto psi listen`` and ``connect`` as two processes on synthetic inputs and
    measure them; raises nothing on a failed run (see :attr:`E2EResult.ok`)."""
    with tempfile.TemporaryDirectory(prefix="fedcrypto-psi-ids-", dir=workdir) as tmp:
        a, b = os.path.join(tmp, "a.txt"), os.path.join(tmp, "b.txt")
        write_synthetic_ids(a, 0, n_listener)
        write_synthetic_ids(b, n_listener - overlap, n_connector)
        return run_files_two_processes(
            a,
            b,
            protocol=protocol,
            group=group,
            tls=tls,
            extra=extra,
            timeout=timeout,
            workdir=workdir,
            sizes=(n_listener, n_connector),
        )


def run_files_two_processes(
    file_a: str,
    file_b: str,
    *,
    protocol: str = "ecdh",
    group: str | None = None,
    tls: bool = True,
    extra: tuple[str, ...] = (),
    timeout: float = 3600.0,
    workdir: str | None = None,
    sizes: tuple[int, int] | None = None,
) -> E2EResult:
    """Run the tool as two processes on loopback: ``file_a`` on the listener, ``file_b`` on the
    connector, with the same ``extra`` options (e.g. ``("--id-column", "email")``) on both;
    certificates are made on the fly when ``tls``.  ``sizes`` (IDs per side) is read from the
    reports when omitted.  Used by the README demo on the bundled sample files."""
    with tempfile.TemporaryDirectory(prefix="fedcrypto-psi-e2e-", dir=workdir) as tmp:
        a, b = file_a, file_b
        common = ["--protocol", protocol, "--quiet", *extra]
        if group:
            common += ["--group", group]
        if tls:
            make_certs(os.path.join(tmp, "certs"))
            c = os.path.join(tmp, "certs")
            ltls = [
                "--tls-cert",
                f"{c}/server.pem",
                "--tls-key",
                f"{c}/server.key",
                "--tls-ca",
                f"{c}/ca.pem",
            ]
            ctls = [
                "--tls-cert",
                f"{c}/client.pem",
                "--tls-key",
                f"{c}/client.key",
                "--tls-ca",
                f"{c}/ca.pem",
            ]
        else:
            ltls = ctls = ["--insecure-no-tls"]
        port_file = os.path.join(tmp, "port")
        exe = [sys.executable, "-m", "fedcrypto", "psi"]
        env = dict(os.environ, PYTHONWARNINGS="ignore")
        errs = {r: open(os.path.join(tmp, f"{r}.err"), "w+b") for r in ("listener", "connector")}  # noqa: SIM115
        t0 = time.monotonic()
        lproc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [
                *exe,
                "listen",
                "--port",
                "0",
                "--port-file",
                port_file,
                "--input",
                a,
                "--output",
                os.path.join(tmp, "out_a.txt"),
                "--report",
                os.path.join(tmp, "listener.json"),
                *ltls,
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=errs["listener"],
            env=env,
        )
        while not os.path.exists(port_file) and lproc.poll() is None:
            time.sleep(0.02)
        port = open(port_file).read().strip() if os.path.exists(port_file) else "1"  # noqa: SIM115
        cproc = subprocess.Popen(  # noqa: S603
            [
                *exe,
                "connect",
                "--peer",
                f"127.0.0.1:{port}",
                "--input",
                b,
                "--output",
                os.path.join(tmp, "out_b.txt"),
                "--report",
                os.path.join(tmp, "connector.json"),
                *ctls,
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=errs["connector"],
            env=env,
        )
        procs = {"listener": lproc, "connector": cproc}
        peaks = {"listener": 0, "connector": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                for role, p in procs.items():
                    peaks[role] = max(peaks[role], _tree_rss(p.pid))
                stop.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        deadline = time.monotonic() + timeout
        codes, maxrss = {}, {}
        for role, p in procs.items():
            codes[role], maxrss[role] = _wait4(p, deadline)
        wall = time.monotonic() - t0
        stop.set()
        sampler.join()
        reports, stderr = {}, {}
        for role in procs:
            path = os.path.join(tmp, f"{role}.json")
            if os.path.exists(path):
                with open(path, encoding="utf-8") as fh:
                    reports[role] = json.load(fh)
            errs[role].seek(0)
            stderr[role] = errs[role].read().decode("utf-8", "replace")
            errs[role].close()
        if sizes is None:
            sizes = (
                int(reports.get("listener", {}).get("local_size", 0)),
                int(reports.get("connector", {}).get("local_size", 0)),
            )
        return E2EResult(
            protocol, group, sizes[0], sizes[1], wall, peaks, maxrss, reports, codes, stderr
        )
