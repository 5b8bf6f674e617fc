"""The CPU limit of each PSI run, from single-core C rates measured in this run (issue 12).

PSI goals are stated as ``wall / limit``, the limit being the CPU time the run's
cryptography needs at the machine's single-core C rates, spread over 2 cores.  This module
measures those rates (one thread, process CPU time, best of several rounds):

- X25519 as the system OpenSSL computes it (``openssl speed -seconds 1 ecdhx25519``, one
  process), and, for comparison, ``cryptography`` per call and our native batch ladder;
- our curve25519 hash-to-curve per identifier (``expand_message_xmd`` + the C kernel);
- a constant-time RSA CRT signature (2048 bits, two and three primes: one ``powmod(secret)``
  per prime plus the CRT) and the client's public-exponent operations (``r^e``, ``s^e``);
- the DH exponentiation in ffdhe2048 (constant time, 225-bit exponent);

then prints each run's limit:

- ECDH 1M x 1M: 4M X25519 + 2M hash-to-curve, over 2 cores;
- RSA-2048 100k x 100k: 200k signatures (blinded client items + the signer's own) + 200k
  public-exponent operations (blinding, verification), over 2 cores;
- DH ffdhe2048 100k x 100k: 400k exponentiations (each party: own set, then the peer's).

Give measured wall times to get the ratios: ``FEDCRYPTO_PSI_WALL_ECDH``,
``FEDCRYPTO_PSI_WALL_RSA``, ``FEDCRYPTO_PSI_WALL_DH`` (seconds, from ``bench_psi.py`` or the
tool).  Run: ``python -m pytest benchmarks/bench_psi_limit.py -q -s`` (~15 s).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from fedcrypto._backend import get_backend, int_to_limbs, ints_to_limbs, width_of
from fedcrypto.hazmat.h2c import curve25519_hash_to_u_many
from fedcrypto.psi._dh import exponent_bits, group_params

CORES = 2
ROUNDS = 3


def _cpu_per_item(fn: Callable[[], object], items: int, rounds: int = ROUNDS) -> float:
    """Best process CPU seconds per item over ``rounds`` runs of ``fn`` (``items`` each)."""
    best = float("inf")
    for _ in range(rounds):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best / items


def openssl_speed_x25519() -> float | None:
    """Seconds per X25519 as ``openssl speed ecdhx25519`` reports it (None: no openssl CLI)."""
    exe = shutil.which("openssl")
    if exe is None:
        return None
    res = subprocess.run(
        [exe, "speed", "-seconds", "1", "ecdhx25519"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    m = re.search(r"X25519\)\s+([0-9.]+)s\s+([0-9.]+)", res.stdout)
    return 1.0 / float(m.group(2)) if m else None


def _x25519_rates() -> dict[str, float]:
    from cryptography.hazmat.primitives.asymmetric.x25519 import (
        X25519PrivateKey,
        X25519PublicKey,
    )

    n = 2000
    k = secrets.token_bytes(32)
    us = [secrets.token_bytes(32) for _ in range(n)]
    blob = b"".join(us)
    sk = X25519PrivateKey.from_private_bytes(k)
    frm = X25519PublicKey.from_public_bytes
    be = get_backend()
    rates = {
        "cryptography per call": _cpu_per_item(lambda: [sk.exchange(frm(u)) for u in us], n),
        "native batch ladder": _cpu_per_item(lambda: be.x25519_many(k, blob), n),
    }
    ossl = openssl_speed_x25519()
    if ossl is not None:
        rates["system OpenSSL (openssl speed)"] = ossl
    return rates


def _h2c_rate() -> float:
    n = 5000
    ids = [secrets.token_bytes(16) for _ in range(n)]
    return _cpu_per_item(lambda: curve25519_hash_to_u_many(ids, b"fedcrypto-bench"), n)


def _rsa_rates(primes: int) -> tuple[float, float]:
    """(CT CRT signature, public-exponent op) seconds at 2048 bits with ``primes`` primes."""
    be = get_backend()
    n_items = 32
    size = 2048 // primes
    mods = [secrets.randbits(size) | (1 << (size - 1)) | 1 for _ in range(primes)]
    rows = []
    for m in mods:
        bases = ints_to_limbs([secrets.randbelow(m) for _ in range(n_items)], width_of(m))
        exp = int_to_limbs(secrets.randbits(size) | (1 << (size - 1)))
        rows.append((bases, exp, m))
    p, q = mods[0], mods[1]
    rp = ints_to_limbs([secrets.randbelow(p) for _ in range(n_items)], width_of(p))
    rq = ints_to_limbs([secrets.randbelow(q) for _ in range(n_items)], width_of(q))

    def sign() -> None:
        for bases, exp, m in rows:
            be.powmod(bases, exp, m, secret=True, threads=1)
        for _ in range(primes - 1):  # one CRT step per extra prime
            be.crt(rp, rq, p, q, threads=1)

    nmod = secrets.randbits(2048) | (1 << 2047) | 1
    xs = ints_to_limbs([secrets.randbelow(nmod) for _ in range(n_items)], 32)
    e = int_to_limbs(65537)
    return (
        _cpu_per_item(sign, n_items),
        _cpu_per_item(lambda: be.powmod(xs, e, nmod, threads=1), n_items),
    )


def _dh_rate(group: str = "ffdhe2048") -> float:
    be = get_backend()
    p, _ = group_params(group)
    n_items = 32
    bases = ints_to_limbs([secrets.randbelow(p) for _ in range(n_items)], width_of(p))
    exp = int_to_limbs(secrets.randbits(exponent_bits(group)) | 1)
    return _cpu_per_item(lambda: be.powmod(bases, exp, p, secret=True, threads=1), n_items)


def ecdh_limit(n: int) -> tuple[float, str]:
    """CPU limit (seconds over :data:`CORES`) of an ECDH n x n run, and how it was computed:
    4n X25519 at the system OpenSSL's rate (``cryptography``'s per call without the CLI)
    plus 2n hash-to-curve at ours, all measured now on one core."""
    x = _x25519_rates()
    ref = "system OpenSSL (openssl speed)"
    name = ref if ref in x else "cryptography per call"
    h2c = _h2c_rate()
    limit = (4 * n * x[name] + 2 * n * h2c) / CORES
    return limit, (
        f"4n X25519 at {x[name] * 1e6:.1f} us ({name}) + 2n hash-to-curve at "
        f"{h2c * 1e6:.1f} us, over {CORES} cores = {limit:.1f} s"
    )


def dh_limit(n: int, group: str) -> tuple[float, str]:
    """CPU limit of a DH n x n run: 4n constant-time exponentiations in ``group``."""
    t = _dh_rate(group)
    limit = 4 * n * t / CORES
    return limit, f"4n CT exponentiations at {t * 1e3:.3f} ms, over {CORES} cores = {limit:.1f} s"


def _ratio(name: str, limit: float) -> str:
    wall = os.environ.get(f"FEDCRYPTO_PSI_WALL_{name}", "")
    if not wall:
        return f"limit {limit:.1f} s (set FEDCRYPTO_PSI_WALL_{name} for wall / limit)"
    return f"limit {limit:.1f} s, wall {float(wall):.1f} s, wall / limit {float(wall) / limit:.2f}"


def test_psi_cpu_limits() -> None:
    if get_backend().name != "native":
        pytest.skip("the limits are computed for the native kernel")
    load = os.getloadavg()
    x = _x25519_rates()
    h2c = _h2c_rate()
    sig2, pub = _rsa_rates(2)
    sig3, _ = _rsa_rates(3)
    dh = _dh_rate()
    print(f"\nload average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; one core, CPU time")
    for name, t in x.items():
        print(f"  X25519, {name}: {t * 1e6:.1f} us")
    print(f"  curve25519 hash-to-curve (ours): {h2c * 1e6:.1f} us")
    print(
        f"  RSA-2048 CT CRT signature, 2 primes: {sig2 * 1e3:.3f} ms; 3 primes: {sig3 * 1e3:.3f} ms"
    )
    print(f"  RSA-2048 public-exponent op (e = 65537): {pub * 1e6:.1f} us")
    print(f"  DH ffdhe2048 CT exponentiation (225-bit): {dh * 1e3:.3f} ms")
    x_ref = x.get("system OpenSSL (openssl speed)", x["cryptography per call"])
    x_ours = x["native batch ladder"]
    print(f"  native ladder vs cryptography per call: {x['cryptography per call'] / x_ours:.2f}x")
    if "system OpenSSL (openssl speed)" in x:
        print(f"  native ladder vs system OpenSSL: {x_ref / x_ours:.2f}x")
    ecdh = (4e6 * x_ref + 2e6 * h2c) / CORES
    ecdh_ours = (4e6 * x_ours + 2e6 * h2c) / CORES
    rsa3 = (2e5 * sig3 + 2e5 * pub) / CORES
    rsa2 = (2e5 * sig2 + 2e5 * pub) / CORES
    dhl = 4e5 * dh / CORES
    print(f"ECDH 1M x 1M over {CORES} cores: {_ratio('ECDH', ecdh)}")
    print(f"  (with our ladder's rate instead of OpenSSL's: {ecdh_ours:.1f} s)")
    print(f"RSA-2048 100k x 100k, 3 primes: {_ratio('RSA', rsa3)} (2 primes: {rsa2:.1f} s)")
    print(f"DH ffdhe2048 100k x 100k: {_ratio('DH', dhl)}")
    assert ecdh > 0 and rsa3 > 0 and dhl > 0
