"""End-to-end PSI benchmarks: the real tool as two processes over loopback mutual TLS.

Default (small, well under a minute): ECDH 5,000 x 5,000, DH (modp2048) and RSA-2048
1,000 x 1,000, half of the IDs shared.  ``FEDCRYPTO_BENCH_BIG=1`` runs the sizes of issue 4:
ECDH 1,000,000 x 1,000,000 (goal <= 120 s, <= 1 GB per party), RSA-2048 100,000 x 100,000
(<= 90 s), DH ffdhe2048 100,000 x 100,000 (<= 120 s); ``FEDCRYPTO_BENCH_HUGE=1`` adds ECDH
10M x 10M (<= 2 GB per party).

Each case prints wall time, peak memory per party (process tree sampled from /proc, and
ru_maxrss), bytes on the wire and IDs per second per core next to the published SecretFlow
rate.  There is no installable peer tool to measure in the same run, so no ratio is claimed:
the published figure is printed for context only.

Every run also prints wall / limit (issue 12): before the run the benchmark measures, on one
core and in CPU time, the rates the run's cryptography needs and computes its CPU limit over
the cores:

- ECDH: 4n X25519 at the system OpenSSL's rate (``openssl speed ecdhx25519``) + 2n of our
  hash-to-curve, over 2 cores (``bench_psi_limit.ecdh_limit``);
- DH: 4n constant-time exponentiations in the group, over 2 cores (``dh_limit``);
- RSA: the constant-time CRT signing rate of a three-prime key (what the tool's signer
  generates by default) and the client's per-ID work (full-domain hash, blinding, unblinding
  and verification): ``(2n signatures + n signer hashes + n client IDs) / cores``.

Goals with ``FEDCRYPTO_BENCH_BIG=1``: ECDH 1M x 1M within 1.15x the limit, RSA-2048 and DH
ffdhe2048 100k x 100k within 1.3x.

Run: ``python -m pytest benchmarks/bench_psi.py -s -p no:cacheprovider``
"""

from __future__ import annotations

import os
import sys
import time

import pytest

from fedcrypto.cli.psi_tool import run_two_processes
from fedcrypto.hazmat.rsa_blind import RsaBlindKey, blind, full_domain_hash, unblind_and_verify

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_psi_limit import dh_limit, ecdh_limit  # noqa: E402  (benchmarks/ is not a package)

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG") == "1"
HUGE = os.environ.get("FEDCRYPTO_BENCH_HUGE") == "1"

# (protocol, group, IDs per party, wall goal in s or None, memory goal in bytes or None)
CASES = [
    ("ecdh", "curve25519", 5_000, None, None),
    ("dh", "modp2048", 1_000, None, None),
    ("rsa", "rsa2048", 1_000, None, None),
]
if BIG:
    CASES = [
        ("ecdh", "curve25519", 1_000_000, 120.0, 1 << 30),
        ("rsa", "rsa2048", 100_000, 90.0, None),
        ("dh", "ffdhe2048", 100_000, 120.0, None),
    ]
if HUGE:
    CASES.append(("ecdh", "curve25519", 10_000_000, None, 2 << 30))
#: Goals of issue 12 for the big runs: wall <= this x the CPU limit measured in the same run.
LIMIT_GOALS = {"ecdh": 1.15, "rsa": 1.3, "dh": 1.3} if BIG else {}


def _cpu_per_item(fn, count: int, repeat: int = 3) -> float:
    """Best CPU seconds (all threads of this process) per item of ``fn()`` over ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best / count


def rsa_limit(n: int, bits: int, primes: int = 3, sample: int = 200) -> dict[str, float]:
    """The CPU limit of an RSA PSI run of n x n IDs, from single-core rates measured now.

    Signer: 2n CRT signatures (the client's blinded values and its own hashed items) and n
    full-domain hashes; client: n hashes, blindings, unblindings and verifications.  The
    limit is that CPU time spread over all cores (the tool uses them all).
    """
    key = RsaBlindKey.generate(bits, primes=primes)
    pub = key.public()
    ids = [b"u%09d" % i for i in range(sample)]
    dst = b"fedcrypto-bench-rsa-limit"
    hashes = full_domain_hash(ids, pub.n, dst)
    blinded, rs = blind(hashes, pub)
    sigs = key.sign_many(blinded, threads=1)
    sign = _cpu_per_item(lambda: key.sign_many(blinded, threads=1), sample)
    fdh = _cpu_per_item(lambda: full_domain_hash(ids, pub.n, dst), sample)

    def client() -> None:
        blind(hashes, pub)
        unblind_and_verify(sigs, rs, hashes, pub)

    cli = _cpu_per_item(client, sample)
    cores = os.cpu_count() or 1
    cpu = n * (2 * sign + fdh) + n * (fdh + cli)
    return {
        "sign_per_s": 1.0 / sign,
        "client_us": (fdh + cli) * 1e6,
        "cpu_s": cpu,
        "cores": cores,
        "limit_s": cpu / cores,
    }


def _limit(protocol: str, group: str, n: int) -> tuple[float, str]:
    """The run's CPU limit from single-core rates measured now (before the run)."""
    if protocol == "rsa":
        r = rsa_limit(n, int(group[3:]))
        return r["limit_s"], (
            f"3-prime CRT signing {r['sign_per_s']:,.0f}/s on one core, client "
            f"{r['client_us']:.0f} us/ID, {r['cpu_s']:.1f} CPU s over {r['cores']} cores = "
            f"{r['limit_s']:.2f} s"
        )
    if protocol == "dh":
        return dh_limit(n, group)
    return ecdh_limit(n)


@pytest.mark.parametrize(
    ("protocol", "group", "n", "wall_goal", "mem_goal"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CASES],
)
def test_psi_two_processes_tls(benchmark, protocol, group, n, wall_goal, mem_goal):
    holder = {}
    limit = _limit(protocol, group, n)

    def once():
        holder["r"] = run_two_processes(
            n, n, n // 2, protocol=protocol, group=group, tls=True, timeout=7200
        )

    benchmark.pedantic(once, rounds=1, iterations=1)
    result = holder["r"]
    print()
    print(result.summary())
    assert result.ok, result.summary()
    assert result.reports["listener"]["intersection_size"] == n // 2
    peak = max(result.peak_tree_rss.values())
    benchmark.extra_info.update(
        wall_s=round(result.wall_s, 3),
        ids_per_s_per_core=round(result.ids_per_second_per_core(), 1),
        peak_rss_mib={k: round(v / 2**20, 1) for k, v in result.peak_tree_rss.items()},
    )
    if wall_goal is not None:
        verdict = "met" if result.wall_s <= wall_goal else "NOT met"
        print(f"  goal wall <= {wall_goal:.0f} s: {verdict} ({result.wall_s:.1f} s)")
    if mem_goal is not None:
        verdict = "met" if peak <= mem_goal else "NOT met"
        print(
            f"  goal peak memory <= {mem_goal / 2**30:.0f} GiB per party: {verdict} "
            f"({peak / 2**20:.0f} MiB)"
        )
    limit_s, how = limit
    ratio = result.wall_s / limit_s
    benchmark.extra_info.update(limit_s=round(limit_s, 3), wall_over_limit=round(ratio, 3))
    line = f"  CPU limit: {how}; wall / limit = {ratio:.2f}x"
    goal = LIMIT_GOALS.get(protocol)
    if goal is not None:
        line += f" (goal <= {goal}x: {'met' if ratio <= goal else 'NOT met'})"
    print(line)
