"""PSI protocol benchmarks: per-phase rates per core, and in-process end-to-end runs.

Run (small default configuration, well under a minute)::

    python -m pytest benchmarks/bench_psi_protocols.py -q -s

Big configuration (the issue's goals: ECDH 1M x 1M, RSA-2048 and DH modp2048 100k x 100k;
both parties in this one process, so the wall time is the sum of both parties' work)::

    FEDCRYPTO_BENCH_BIG=1 python -m pytest benchmarks/bench_psi_protocols.py -q -s -k end_to_end

Peers: the published SecretFlow ECDH-PSI rate (~20k scalar multiplications per second per
core) is printed next to our rates; in the same run we measure the raw primitive our ECDH
path is built on (``cryptography``'s X25519 ``exchange``, no hashing/validation/tags) and
a plain gmpy2 loop for DH and RSA-CRT, and report ours/peer with ``report_ratio``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import gmpy2
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fedcrypto.hazmat import h2c as _h2c
from fedcrypto.hazmat.groups import DH_GROUPS
from fedcrypto.hazmat.rsa_blind import RsaBlindKey, blind, full_domain_hash, unblind_and_verify
from fedcrypto.psi import PsiSettings, _dh, _ecdh, run_pair
from fedcrypto.scale import process_executor

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG", "") not in ("", "0")
SECRETFLOW_ECDH_PER_CORE = 20_000  # published: scalar multiplications / s / core
DST = b"fedcrypto-bench-psi"
TAG_KEY = b"k" * 32


def _ids(n: int, start: int = 0) -> list[bytes]:
    return [b"user-%010d" % i for i in range(start, start + n)]


def _rate_line(name: str, n: int, seconds: float, unit: str = "IDs") -> str:
    line = f"{name}: {n / seconds:,.0f} {unit}/s/core ({seconds / n * 1e6:.1f} us each)"
    print(line)
    return line


# ----------------------------------------------------------------------------- per phase
@pytest.mark.parametrize("n", [2000])
def test_phase_hash_to_curve25519(benchmark: pytest.FixtureRequest, n: int) -> None:
    items = _ids(n)
    benchmark.pedantic(_h2c.curve25519_hash_to_u_many, args=(items, DST), rounds=3, iterations=1)
    _rate_line("hash_to_curve curve25519 RO", n, benchmark.stats.stats.min)


@pytest.mark.parametrize("n", [2000])
def test_phase_x25519_mask(
    benchmark: pytest.FixtureRequest, report_ratio: Callable[..., float], n: int
) -> None:
    key = os.urandom(32)
    items = _ids(n)
    own = _ecdh.x25519_mask_own(items, key, DST)
    elems = [own[i : i + 32] for i in range(0, len(own), 32)]
    benchmark.pedantic(_ecdh.x25519_mask_peer, args=(elems, key, TAG_KEY), rounds=3, iterations=1)
    ours = benchmark.stats.stats.min / n
    _rate_line("masking peer's (curve check + X25519 + tag)", n, ours * n, "elements")
    sk = X25519PrivateKey.from_private_bytes(key)

    def raw() -> None:
        for e in elems:
            sk.exchange(X25519PublicKey.from_public_bytes(e))

    t0 = time.perf_counter()
    raw()
    peer = (time.perf_counter() - t0) / n
    print(
        f"published SecretFlow ECDH: {SECRETFLOW_ECDH_PER_CORE:,} scalar mults/s/core; "
        f"raw X25519 here: {1 / peer:,.0f}/s/core"
    )
    report_ratio("ECDH peer-element masking vs raw X25519 exchange", ours, peer)
    report_ratio(
        "ECDH peer-element masking vs published SecretFlow rate", ours, 1 / SECRETFLOW_ECDH_PER_CORE
    )
    t0 = time.perf_counter()
    _ecdh.x25519_mask_own(items, key, DST)
    own_s = time.perf_counter() - t0
    _rate_line("masking own (hash_to_curve + X25519)", n, own_s)
    # one ID costs each party: own (h2c + mult) + the peer's element (check + mult + tag)
    per_id = own_s / n + ours
    print(
        f"ECDH per party: {1 / per_id:,.0f} IDs/s/core "
        f"(SecretFlow at 2 mults/ID: {SECRETFLOW_ECDH_PER_CORE / 2:,.0f} IDs/s/core)"
    )


@pytest.mark.parametrize("n", [1000])
def test_phase_p256_mask(benchmark: pytest.FixtureRequest, n: int) -> None:
    key = _ecdh.new_scalar("p256")
    items = _ids(n)
    own = _ecdh.p256_mask_own(items, key, DST)
    elems = [own[i : i + 32] for i in range(0, len(own), 32)]
    benchmark.pedantic(_ecdh.p256_mask_peer, args=(elems, key, TAG_KEY), rounds=2, iterations=1)
    _rate_line(
        "P-256 masking peer's (decompress + ECDH + tag)", n, benchmark.stats.stats.min, "elements"
    )
    t0 = time.perf_counter()
    _ecdh.p256_mask_own(items, key, DST)
    _rate_line("P-256 masking own (hash_to_curve + ECDH)", n, time.perf_counter() - t0)


@pytest.mark.parametrize("n", [300])
def test_phase_dh_modp2048(
    benchmark: pytest.FixtureRequest, report_ratio: Callable[..., float], n: int
) -> None:
    group = "modp2048"
    exp = _dh.new_exponent(group)
    items = _ids(n)
    own = benchmark.pedantic(_dh.dh_mask_own, args=(items, exp, group, DST), rounds=2, iterations=1)
    ours = benchmark.stats.stats.min / n
    _rate_line("DH modp2048 masking own (hash + 256-bit exp)", n, ours * n)
    elems = [own[i : i + 256] for i in range(0, len(own), 256)]
    t0 = time.perf_counter()
    _dh.dh_mask_peer(elems, exp, group, TAG_KEY)
    _rate_line(
        "DH modp2048 masking peer's (Legendre check + exp + tag)",
        n,
        time.perf_counter() - t0,
        "elements",
    )
    p = gmpy2.mpz(DH_GROUPS[group].p)
    ys = [gmpy2.mpz(int.from_bytes(e, "big")) for e in elems]
    t0 = time.perf_counter()
    for y in ys:
        gmpy2.powmod_sec(y, exp, p)
    report_ratio(
        "DH own masking vs bare gmpy2.powmod_sec loop", ours, (time.perf_counter() - t0) / n
    )


@pytest.mark.parametrize("n, primes", [(200, 3), (200, 2)])
def test_phase_rsa2048(
    benchmark: pytest.FixtureRequest, report_ratio: Callable[..., float], n: int, primes: int
) -> None:
    key = RsaBlindKey.generate(2048, primes=primes)
    pub = key.public()
    hashes = full_domain_hash(_ids(n), pub.n, DST)
    blinded, rs = blind(hashes, pub)
    sigs = benchmark.pedantic(
        key.sign_many, args=(blinded,), kwargs={"threads": 1}, rounds=2, iterations=1
    )
    ours = benchmark.stats.stats.min / n
    _rate_line(
        f"RSA-2048 {primes}-prime blind signing (CRT, constant time, fault check)",
        n,
        ours * n,
        "signatures",
    )
    t0 = time.perf_counter()
    unblind_and_verify(sigs, rs, hashes, pub)
    _rate_line("RSA-2048 client unblind + verify", n, time.perf_counter() - t0, "signatures")
    # peer: textbook two-prime CRT signing with bare gmpy2 calls (no recombination, no check)
    k2 = key if primes == 2 else RsaBlindKey.generate(2048)
    (p, q), _e = k2.private_numbers()
    dp, dq = pow(65537, -1, p - 1), pow(65537, -1, q - 1)
    mp, mq = gmpy2.mpz(p), gmpy2.mpz(q)
    t0 = time.perf_counter()
    for b in blinded:
        gmpy2.powmod_sec(b % mp, dp, mp)
        gmpy2.powmod_sec(b % mq, dq, mq)
    report_ratio(
        f"RSA {primes}-prime CRT signing vs bare gmpy2 2-prime powmod_sec loop",
        ours,
        (time.perf_counter() - t0) / n,
    )


# ----------------------------------------------------------------------------- end to end
_E2E = [
    ("ecdh", "curve25519", 1_000_000 if BIG else 10_000),
    ("ecdh", "p256", 100_000 if BIG else 2_000),
    ("dh", "modp2048", 100_000 if BIG else 1_000),
    ("rsa", "rsa2048", 100_000 if BIG else 1_000),
]


@pytest.mark.parametrize("protocol, group, n", _E2E)
def test_end_to_end_in_process(
    benchmark: pytest.FixtureRequest, protocol: str, group: str, n: int
) -> None:
    a = _ids(n)
    b = _ids(n, start=n // 2)  # half overlapping
    s = PsiSettings(protocol=protocol, group=group, reveal="both")
    with process_executor() as executor:
        result = benchmark.pedantic(
            run_pair, args=(s, a, b), kwargs={"executor": executor}, rounds=1, iterations=1
        )
    assert result[0].count == n - n // 2
    wall = benchmark.stats.stats.min
    cores = os.cpu_count() or 1
    print(
        f"{protocol}/{group} {n:,} x {n:,} in process (both parties, {cores} cores): "
        f"{wall:.1f} s wall, {2 * n / wall:,.0f} IDs/s total, "
        f"{2 * n / wall / cores:,.0f} IDs/s/core"
    )
