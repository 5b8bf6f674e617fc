"""``fedcrypto demo``: the main job — every capability on bundled data, with results and throughput.

Sections, each checked against the plaintext answer and timed:

1. the native kernel's throughput against a gmpy2 loop (``fedcrypto bench kernel``);
2. Paillier: a horizontal-FL round with BatchCrypt-style packing (8 parties' gradients
   encrypted, summed by the server, decrypted by the key owner), then the
   ``fedcrypto bench paillier --quick`` table;
3. PSI: two local processes running ``fedcrypto psi listen`` / ``connect`` over mutual TLS
   on the bundled ID lists in ``examples/data/``;
4. secure aggregation: a simulated Bonawitz round with dropouts (``fedcrypto bench secagg``);
5. secret sharing: Shamir split/combine of a 32-byte key and Beaver multiplication.

Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, backend_info, paillier, sharing
from .._random import VectorRNG, random_bytes
from . import main

_DATA = Path(__file__).resolve().parents[2] / "examples" / "data"


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo", help="run a short demonstration of every capability with throughput"
    )
    parser.add_argument(
        "--data", type=Path, default=_DATA, help=f"bundled sample data (default {_DATA})"
    )
    parser.add_argument("--fast", action="store_true", help="smaller sizes (for tests)")
    parser.set_defaults(func=run)


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 72 - len(title)), flush=True)


def _sub(argv: list[str]) -> int:

    return main(argv)


def _paillier_round(fast: bool) -> bool:
    """Horizontal FL: k parties encrypt packed gradients, the server adds, the owner decrypts."""

    parties, length = (4, 20_000) if fast else (8, 100_000)
    rng = VectorRNG(
        b"fedcrypto-demo-gradients".ljust(32, b".")
    )  # public synthetic data, reproducible
    grads = [(rng.uniform(length) * 2 - 1).astype(np.float32) * 0.05 for _ in range(parties)]
    t0 = time.perf_counter()
    key = paillier.generate_private_key(2048)
    t_key = time.perf_counter() - t0
    alpha = paillier.estimate_alpha(np.concatenate(grads), bits=16, parties=parties, method="max")
    scheme = paillier.PackingScheme(bits=16, parties=parties, alpha=alpha)
    pub = key.public_key()
    t0 = time.perf_counter()
    packed = [scheme.encrypt(pub, g) for g in grads]
    t_enc = (time.perf_counter() - t0) / parties
    wire = [p.to_bytes() for p in packed]
    t0 = time.perf_counter()
    received = [paillier.PackedVector.from_bytes(w, pub) for w in wire]
    total = paillier.PackedVector.sum(received)
    t_sum = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = total.decrypt(key)
    t_dec = time.perf_counter() - t0
    expected = np.sum(np.clip(np.stack(grads).astype(np.float64), -alpha, alpha), axis=0)
    err = float(np.max(np.abs(result - expected))) if length else 0.0
    bound = scheme.error_bound()
    ok = err <= bound
    print(
        f"2048-bit key generated in {t_key:.2f} s; packing r=16 bits, k={parties}, "
        f"alpha={alpha:.4f}, "
        f"{scheme.slots_per_ciphertext(pub)} values per ciphertext"
    )
    print(
        f"{parties} parties x {length:,} float32 gradients -> "
        f"{packed[0].num_ciphertexts:,} ciphertexts each "
        f"({len(wire[0]) / 1e6:.2f} MB on the wire vs {length * 4 / 1e6:.2f} MB raw float32)"
    )
    print(
        f"per party: encrypt {t_enc:.3f} s ({length / t_enc:,.0f} values/s); "
        f"server sum {t_sum:.3f} s; "
        f"decrypt {t_dec:.3f} s ({length / t_dec:,.0f} values/s)"
    )
    print(
        f"decrypted sum vs plaintext clipped sum: max error {err:.2e} (bound {bound:.2e}) -> "
        f"{'OK' if ok else 'MISMATCH'}"
    )
    return ok


def _psi_two_processes(data: Path, fast: bool) -> bool:
    """Two local processes intersect the bundled ID lists over mutual TLS."""
    a, b = data / "psi_party_a.csv", data / "psi_party_b.csv"
    if not (a.is_file() and b.is_file()):
        print(f"sample ID lists not found in {data}")
        return False
    exe = [sys.executable, "-m", "fedcrypto"]
    with tempfile.TemporaryDirectory(prefix="fedcrypto-demo-") as tmp:
        t = Path(tmp)
        subprocess.run(
            [*exe, "psi", "make-certs", str(t / "certs")], check=True, capture_output=True
        )
        certs = t / "certs"
        port_file = t / "port"

        def tls(side: str) -> list[str]:
            return [
                "--tls-cert",
                str(certs / f"{side}.pem"),
                "--tls-key",
                str(certs / f"{side}.key"),
                "--tls-ca",
                str(certs / "ca.pem"),
            ]

        common = ["--quiet", "--id-column", "customer_id"]
        listener = subprocess.Popen(
            [
                *exe,
                "psi",
                "listen",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--port-file",
                str(port_file),
                "--input",
                str(a),
                "--output",
                str(t / "a.txt"),
                "--report",
                str(t / "a.json"),
                *tls("server"),
                *common,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if listener.poll() is not None or time.monotonic() > deadline:
                print("listener did not start:", (listener.communicate()[1] or "").strip())
                listener.kill()
                return False
            time.sleep(0.05)
        port = port_file.read_text().strip()
        t0 = time.perf_counter()
        connector = subprocess.run(
            [
                *exe,
                "psi",
                "connect",
                "--peer",
                f"127.0.0.1:{port}",
                "--input",
                str(b),
                "--output",
                str(t / "b.txt"),
                "--report",
                str(t / "b.json"),
                *tls("client"),
                *common,
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        listener_err = listener.communicate(timeout=60)[1]
        wall = time.perf_counter() - t0
        if connector.returncode or listener.returncode:
            print("PSI failed:", connector.stderr.strip() or listener_err.strip())
            return False
        ra = json.loads((t / "a.json").read_text())
        ids_a = set((t / "a.txt").read_text().split())
        ids_b = set((t / "b.txt").read_text().split())
    plain_a, plain_b = _plain_ids(a), _plain_ids(b)
    ok = ids_a == ids_b == (plain_a & plain_b)
    total = ra["local_size"] + ra["peer_size"]
    print(
        f"protocol {ra['protocol']} ({ra['group']}), {ra['tls']['version']}: "
        f"{ra['local_size']:,} x {ra['peer_size']:,} IDs -> "
        f"intersection {ra['intersection_size']:,}"
    )
    print(
        f"wall {wall:.2f} s for both processes ({total / wall:,.0f} IDs/s); "
        f"bytes sent {ra['bytes_sent']:,}, "
        f"received {ra['bytes_received']:,}"
    )
    print(f"both sides' outputs equal the plaintext intersection: {'OK' if ok else 'MISMATCH'}")
    return ok


def _plain_ids(path: Path) -> set[str]:
    """The ID column read with the standard csv module: an independent check of the PSI output."""
    with path.open(newline="", encoding="utf-8") as f:
        return {row["customer_id"].strip() for row in csv.DictReader(f)}


def _sharing(fast: bool) -> bool:

    key = random_bytes(32)
    t0 = time.perf_counter()
    shares = sharing.shamir_split(key, threshold=51, shares=100)
    t_split = time.perf_counter() - t0
    chosen = shares[49:]  # any 51 of the 100
    t0 = time.perf_counter()
    back = sharing.shamir_combine(chosen)
    t_comb = time.perf_counter() - t0
    ok_shamir = back == key
    print(
        f"Shamir 51-of-100 on a 32-byte key: split {t_split * 1e3:.2f} ms, "
        f"combine {t_comb * 1e3:.2f} ms -> "
        f"{'OK' if ok_shamir else 'MISMATCH'}"
    )
    n = 100_000 if fast else 1_000_000

    rng = VectorRNG()
    x = rng.uniform(n) * 20 - 10
    y = rng.uniform(n) * 20 - 10
    t0 = time.perf_counter()
    z = sharing.secure_multiply(x, y)
    t_mul = time.perf_counter() - t0
    err = float(np.max(np.abs(z - x * y)))
    ok_mul = err < 1e-3
    print(
        f"Beaver multiplication of {n:,} fixed-point values between 2 parties "
        f"(dealer, open, combine, "
        f"truncate, every message serialized): {t_mul:.3f} s, max error {err:.1e} -> "
        f"{'OK' if ok_mul else 'MISMATCH'}"
    )
    return ok_shamir and ok_mul


def run(args: argparse.Namespace) -> int:

    started = time.perf_counter()
    info = backend_info()
    print(
        f"fedcrypto {__version__} — backend {info.get('name')} "
        f"(GMP {info.get('gmp', '-')}, threads {info.get('threads', '1')}, "
        f"constant time {info.get('constant_time')})"
    )
    results: dict[str, bool] = {}

    _section("1. native kernel vs a gmpy2 loop")
    results["kernel"] = (
        _sub(["bench", "kernel", "--bits", "4096", "--count", "8", "--repeat", "1"]) == 0
    )

    _section("2. Paillier: horizontal-FL aggregation with packed encoding")
    results["paillier packed round"] = _paillier_round(args.fast)
    print()
    results["paillier bench"] = _sub(["bench", "paillier", "--quick", "--repeat", "1"]) == 0

    _section("3. PSI: two local processes, bundled ID lists, mutual TLS")
    results["psi"] = _psi_two_processes(args.data, args.fast)

    _section("4. Secure aggregation: simulated Bonawitz round with dropouts")
    sec = ["bench", "secagg"] + (["--clients", "20", "--length", "2000"] if args.fast else [])
    results["secagg"] = _sub(sec) == 0

    _section("5. Secret sharing")
    results["sharing"] = _sharing(args.fast)

    _section("summary")
    for name, ok in results.items():
        print(f"{name:<24} {'OK' if ok else 'FAILED'}")
    print(f"total {time.perf_counter() - started:.1f} s")
    return 0 if all(results.values()) else 1
