"""Multi-party PSI benchmark: three ``fedcrypto psi`` processes over loopback mutual TLS.

Default (small, well under a minute): 3 parties x 20,000 IDs, ECDH curve25519.
``FEDCRYPTO_BENCH_BIG=1``: 3 parties x 1,000,000 IDs (issue 14 goal: <= 4 min wall,
<= 1 GiB per party, all three on one machine); ``FEDCRYPTO_BENCH_MPSI_N=K`` sets any size.
Half of the IDs are common to all three sets, a tenth shared by each pair only, the rest
private.

Prints the wall time, each party's peak RSS (``ru_maxrss`` from ``wait4``) and checks the
intersection every party wrote against the plaintext one.  Each party runs with
``--workers 1`` (three processes already share the cores).

Run: ``python -m pytest benchmarks/bench_multiparty.py -s -p no:cacheprovider``
or ``python benchmarks/bench_multiparty.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fedcrypto.cli.psi_tool._certs import make_identity

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG") == "1"
N = int(os.environ.get("FEDCRYPTO_BENCH_MPSI_N", 1_000_000 if BIG else 20_000))
WALL_GOAL = 240.0 if BIG else None
MEM_GOAL = 1 << 30


def _write_sets(d: Path, n: int) -> tuple[list[Path], int]:
    common, pair = n // 2, n // 10
    files = []
    for p in range(3):
        ids = [f"all{i:09d}" for i in range(common)]
        for q in range(3):
            if q != p:
                a, b = sorted((p, q))
                ids += [f"pair{a}{b}-{i:09d}" for i in range(pair)]
        ids += [f"own{p}-{i:09d}" for i in range(n - len(ids))]
        f = d / f"party{p}.csv"
        f.write_text("\n".join(ids) + "\n")
        files.append(f)
    return files, common


def _cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedcrypto", "psi", *args]


def run(n: int = N) -> dict[str, object]:
    """Run the three tool processes; returns wall seconds, peak RSS per party, count."""
    with tempfile.TemporaryDirectory(prefix="bench-mpsi-") as tmp:
        d = Path(tmp)
        files, common = _write_sets(d, n)
        ids = [make_identity(str(d / f"id{p}"), names=(f"party{p}.example",)) for p in range(3)]
        port_file = d / "port"
        common_opts = ["--parties", "3", "--workers", "1", "--quiet", "--connect-timeout", "120"]
        t0 = time.monotonic()
        leader = subprocess.Popen(
            _cmd(
                "listen",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--input",
                str(files[0]),
                "--output",
                str(d / "out0.csv"),
                "--tls-cert",
                ids[0].cert,
                "--tls-key",
                ids[0].key,
                "--tls-member-cert",
                ids[1].cert,
                "--tls-member-cert",
                ids[2].cert,
                *common_opts,
            )  # fmt: skip
        )
        while not (port_file.exists() and port_file.read_text().strip()):
            if leader.poll() is not None:
                raise RuntimeError("the leader did not start")
            time.sleep(0.05)
        port = port_file.read_text().strip()
        members = [
            subprocess.Popen(
                _cmd(
                    "connect",
                    "--peer",
                    f"127.0.0.1:{port}",
                    "--input",
                    str(files[p]),
                    "--output",
                    str(d / f"out{p}.csv"),
                    "--tls-cert",
                    ids[p].cert,
                    "--tls-key",
                    ids[p].key,
                    "--tls-peer-cert",
                    ids[0].cert,
                    *common_opts,
                )  # fmt: skip
            )
            for p in (1, 2)
        ]
        rss: dict[int, int] = {}
        codes: dict[int, int] = {}
        procs = {leader.pid: 0, members[0].pid: 1, members[1].pid: 2}
        while len(codes) < 3:
            pid, status, usage = os.wait4(-1, 0)
            if pid in procs:
                codes[procs[pid]] = os.waitstatus_to_exitcode(status)
                rss[procs[pid]] = usage.ru_maxrss * 1024
        wall = time.monotonic() - t0
        for p in (0, 1, 2):  # reap the Popen objects without waiting again
            (leader if p == 0 else members[p - 1]).returncode = codes[p]
        if any(codes.values()):
            raise RuntimeError(f"a party failed: exit codes {codes}")
        counts = [len((d / f"out{p}.csv").read_text().split()) for p in range(3)]
        if counts != [common] * 3:
            raise RuntimeError(f"wrong intersection sizes {counts}, expected {common}")
        return {"n": n, "wall_s": wall, "peak_rss": [rss[p] for p in range(3)], "count": common}


def _report(r: dict[str, object]) -> str:
    rss = ", ".join(f"{v / 2**20:.0f} MiB" for v in r["peak_rss"])  # type: ignore[attr-defined]
    load = os.getloadavg()
    return (
        f"3 parties x {r['n']:,} IDs (ECDH curve25519, loopback mutual TLS): "
        f"{r['wall_s']:.1f} s wall, peak RSS per party {rss}; intersection {r['count']:,}; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (shared machine)"
    )


def test_multiparty_three_processes() -> None:
    r = run()
    print()
    print(_report(r))
    if WALL_GOAL is not None:
        print(f"goal: <= {WALL_GOAL:.0f} s wall, <= 1 GiB per party")
    assert max(r["peak_rss"]) < MEM_GOAL  # type: ignore[call-overload]


if __name__ == "__main__":
    print(_report(run()))
