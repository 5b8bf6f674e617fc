"""Paillier throughput: encryption, decryption, addition, scalar product, dot product, packing.

Prints one row per operation and key size with the active backend, the thread
count, our operations per second, python-paillier's (``phe``, when installed)
operations per second measured in the same run on the same key, and the ratio.
phe is timed on a small sample (it is slow) and compared per operation; for the
packed pipeline, phe's per-value pipeline (every party encrypts each value, the
server adds, the key owner decrypts) is timed on a few values and extrapolated
per value.  ``--quick`` shrinks every count (one key size, about 10 s).

The goals of issue 12 (constant-time defaults, phe in the same run) are printed in the
table's goal column and summarized after it: at 2048 bits decrypt >= 1.3x phe on 1 thread
and >= 2.5x on 2, encrypt >= 10x / >= 20x, encrypt from a warm randomizer pool >= 1,000x,
the packed pipeline with public-key parties >= 1,500x, scalar multiplication on 2 threads
>= 2x; at 3072 bits decrypt >= 1.2x on 1 thread.  The "2 threads" goals apply to the
all-cores row (2 threads on the project machine).
"""

from __future__ import annotations

import argparse
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._backend import default_threads, get_backend
from .._random import VectorRNG
from ..exceptions import FedCryptoError

__all__ = ["add_arguments", "run", "measure"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fedcrypto bench paillier``."""
    parser.add_argument(
        "--key-sizes",
        default=None,
        help="comma-separated key sizes (default 2048,3072; --quick: 2048)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="'all cores' thread count (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one key size (~10 s)")
    parser.add_argument("--no-phe", action="store_true", help="do not measure python-paillier")
    parser.add_argument(
        "--pipeline-values",
        type=int,
        default=None,
        help="values in the packed pipeline (default 10000; --quick 5000)",
    )
    parser.add_argument(
        "--parties", type=int, default=8, help="parties in the packed pipeline (default 8)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing rounds, best kept (default 3)"
    )
    parser.add_argument(
        "--pool-values",
        type=int,
        default=None,
        help="values encrypted from a warm randomizer pool (default 10000; --quick 2000)",
    )


#: Goals of issue 12 by key size: (operation, threads) -> minimum ratio to phe, where
#: threads is 1 or "all" (the all-cores row).  Other rows are informative.
GOALS: dict[int, dict[tuple[str, int | str], float]] = {
    2048: {
        ("decrypt", 1): 1.3,
        ("decrypt", "all"): 2.5,
        ("encrypt", 1): 10.0,
        ("encrypt", "all"): 20.0,
        ("encrypt from a warm pool", 1): 1000.0,
        ("encrypt from a warm pool", "all"): 1000.0,
        ("packed public", "all"): 1500.0,
        ("packed private", "all"): 1500.0,
        ("mul 32-bit scalar", "all"): 2.0,
        ("add", "all"): 1.2,
        ("dot", "all"): 4.0,
    },
    3072: {("decrypt", 1): 1.2},
}


def goal_for(key_size: int, op: str, threads: int, all_threads: int) -> float | None:
    """The issue-12 goal of one row, or None (the 1-thread goal wins when all cores = 1)."""
    goals = GOALS.get(key_size, {})
    if threads == 1 and (op, 1) in goals:
        return goals[(op, 1)]
    if threads == all_threads:
        return goals.get((op, "all"))
    return None


@dataclass(frozen=True)
class Row:
    """One measured operation."""

    op: str
    key_size: int
    threads: int
    ours_ops: float
    peer_ops: float | None
    goal: float | None
    unit: str = "ops/s"

    @property
    def ratio(self) -> float | None:
        return None if self.peer_ops is None else self.ours_ops / self.peer_ops


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return max(best, 1e-9)


def _phe() -> Any:
    try:
        import phe  # test/benchmark peer only, never used by the library itself

        return phe
    except ImportError:
        return None


def measure(
    key_size: int,
    *,
    threads: int,
    quick: bool,
    use_phe: bool,
    pipeline_values: int,
    parties: int,
    repeat: int = 3,
    pool_values: int | None = None,
) -> list[Row]:
    """Measure every operation for one key size; returns the rows (also used by the demo)."""
    from .. import paillier

    phe = _phe() if use_phe else None
    sk = paillier.generate_private_key(key_size)
    pk = sk.public_key()
    pk._djn()  # build the fixed-base tables outside the timings (a one-off per key)
    sk._tables()
    rng = VectorRNG()
    rows: list[Row] = []

    def goal(op: str, th: int) -> float | None:
        return goal_for(key_size, op, th, threads)

    n_enc = 32 if quick else 64
    n_dec = 16 if quick else 24
    n_add = 2000
    n_mul = 64 if quick else 128
    n_phe = 3 if quick else 4

    ppk: Any = None
    psk: Any = None
    if phe is not None:
        ppk = phe.PaillierPublicKey(pk.n)
        psk = phe.PaillierPrivateKey(ppk, sk._p, sk._q)

    ints = rng.below(1 << 32, max(n_enc, n_add, n_mul, 1000)).astype(np.int64)
    w32 = rng.below(1 << 32, max(n_add, 1000)).astype(np.int64)

    def peer_rate(fn: Callable[[], object], count: int) -> float | None:
        return None if phe is None else count / _best(fn, repeat)

    # encryption
    phe_enc = peer_rate(lambda: [ppk.encrypt(int(v)) for v in ints[:n_phe]], n_phe)
    for vt, label in ((False, "encrypt"), (True, "encrypt unsafe_variable_time")):
        pk.encrypt(ints[:1], unsafe_variable_time=vt)  # builds the cached table outside the timing
        for th in (1, threads):
            enc = functools.partial(pk.encrypt, ints[:n_enc], threads=th, unsafe_variable_time=vt)
            t = _best(enc, repeat)
            rows.append(Row(label, key_size, th, n_enc / t, phe_enc, goal(label, th)))
    # encryption from a warm pool (offline/online): the randomizers are computed by the
    # background refill first (not timed), then encryption costs one product per value
    n_pool = pool_values if pool_values is not None else (2000 if quick else 10000)
    if n_pool > 0:
        rows += _warm_pool(paillier, sk, pk, n_pool, threads, phe_enc, goal)
    # decryption
    ev = pk.encrypt(ints[: max(n_dec, n_add, n_mul)], threads=threads)
    phe_cts = [ppk.encrypt(int(v)) for v in ints[:n_phe]] if phe is not None else []
    phe_dec = peer_rate(lambda: [psk.decrypt(c) for c in phe_cts], n_phe)
    for th in (1, threads):
        t = _best(functools.partial(sk.decrypt, ev[:n_dec], threads=th), repeat)
        rows.append(Row("decrypt", key_size, th, n_dec / t, phe_dec, goal("decrypt", th)))
    # addition
    big = pk.encrypt(ints[:n_add], threads=threads) if len(ev) < n_add else ev[:n_add]
    phe_add_n = 200
    phe_many = (phe_cts * (phe_add_n // max(1, len(phe_cts)) + 1))[:phe_add_n] if phe_cts else []
    phe_add = peer_rate(lambda: [a + b for a, b in zip(phe_many, phe_many, strict=True)], phe_add_n)
    t = _best(lambda: big + big, repeat)
    rows.append(Row("add", key_size, threads, n_add / t, phe_add, goal("add", threads)))
    # multiplication by a 32-bit scalar (elementwise)
    wv = w32[:n_mul]
    phe_mul = peer_rate(
        lambda: [a * int(b) for a, b in zip(phe_cts, w32, strict=False)], len(phe_cts)
    )
    for th in sorted({1, threads}):

        def mul(th: int = th) -> object:
            from .._backend._limbs import ints_to_limbs
            from ..paillier import _crypto

            return _crypto.signed_powmod(
                pk, big.limbs[:n_mul], ints_to_limbs([int(x) for x in wv]), None, threads=th
            )

        t = _best(mul if th != threads else (lambda: big[:n_mul] * wv), repeat)
        rows.append(
            Row(
                "mul 32-bit scalar",
                key_size,
                th,
                n_mul / t,
                phe_mul,
                goal("mul 32-bit scalar", th) if th == threads else None,
            )
        )
    # dot product of 1,000 ciphertexts with 32-bit weights (rate = dot products per second)
    ev1k = pk.encrypt(ints[:1000], threads=threads) if len(big) < 1000 else big[:1000]
    w1k = w32[:1000]
    phe_dot = None
    if phe is not None:
        k = 60 if not quick else 30
        sample = (phe_cts * (k // len(phe_cts) + 1))[:k]

        def phe_dot_fn() -> object:
            acc = sample[0] * int(w1k[0])
            for a, b in zip(sample[1:], w1k[1:k], strict=True):
                acc = acc + a * int(b)
            return acc

        phe_dot = 1.0 / (_best(phe_dot_fn, repeat) * 1000 / k)  # extrapolated to 1,000 terms
    t = _best(lambda: ev1k.dot(w1k), repeat)
    rows.append(
        Row(
            "dot 1000 x 32-bit", key_size, threads, 1.0 / t, phe_dot, goal("dot", threads), "dots/s"
        )
    )
    # packed aggregation pipeline
    peer = _phe_pipeline_rate(ppk, psk, parties, 2) if ppk is not None else None
    for holder in ("public", "private"):
        rows.append(
            _pipeline(
                paillier,
                sk,
                pk,
                pipeline_values,
                parties,
                threads,
                holder,
                peer,
                goal(f"packed {holder}", threads),
            )
        )
    # memory per ciphertext
    rows.append(
        Row("bytes/ciphertext", key_size, threads, big.nbytes / len(big), None, None, "bytes")
    )
    return rows


def _phe_pipeline_rate(ppk: Any, psk: Any, parties: int, sample: int) -> float:
    """phe's per-value pipeline, values per second: each party encrypts the value (a float
    gradient), the server adds, the key owner decrypts; timed on ``sample`` values."""
    rng = VectorRNG()
    grads = [(rng.uniform(sample) - 0.5) * 0.02 for _ in range(parties)]

    def phe_pipeline() -> None:
        for i in range(sample):
            encs = [ppk.encrypt(float(g[i])) for g in grads]
            acc = encs[0]
            for e in encs[1:]:
                acc = acc + e
            psk.decrypt(acc)

    return sample / _best(phe_pipeline, 1)


def _pipeline(
    paillier: Any,
    sk: Any,
    pk: Any,
    values: int,
    parties: int,
    threads: int,
    holder: str,
    peer: float | None,
    goal: float | None = 1500.0,
) -> Row:
    """Values per second of the packed pipeline (r=16, k=parties): encrypt x k, sum, decrypt.

    ``holder="private"``: the parties hold the key pair (BatchCrypt's HFL setting) and
    encrypt by CRT; ``"public"``: they only have the public key.
    """
    rng = VectorRNG()
    grads = [((rng.uniform(values) - 0.5) * 0.02).astype(np.float32) for _ in range(parties)]
    scheme = paillier.PackingScheme(bits=16, parties=parties, alpha=0.01)
    t0 = time.perf_counter()
    key = sk if holder == "private" else pk
    packed = [scheme.encrypt(key, g, threads=threads) for g in grads]
    total = paillier.PackedVector.sum(packed)
    out = sk.decrypt(total, threads=threads)
    t = time.perf_counter() - t0
    truth = np.sum([np.clip(g.astype(np.float64), -0.01, 0.01) for g in grads], axis=0)
    if np.abs(out - truth).max() > scheme.error_bound() + 1e-9:  # pragma: no cover - would be a bug
        raise FedCryptoError("packed pipeline result outside the error bound")
    return Row(
        f"packed {values} x {parties} ({holder} key)",
        pk.key_size,
        threads,
        values / t,
        peer,
        goal,
        "values/s",
    )


def _warm_pool(
    paillier: Any,
    sk: Any,
    pk: Any,
    values: int,
    threads: int,
    peer: float | None,
    goal: Callable[[str, int], float | None],
) -> list[Row]:
    """Values per second of ``pk.encrypt(values, pool=pool)`` from a full pool, on 1 thread
    and on all cores (one row each; the goal applies to both).

    The pool is filled by :meth:`RandomizerPool.start_refill` (the background path) with the
    randomizers of every row, and the refill is stopped before the timings, so it does not
    compete with the online part.
    """
    counts = sorted({1, threads})
    need = values * len(counts)
    pool = paillier.RandomizerPool(pk)
    pool.start_refill(need, threads=threads)
    deadline = time.monotonic() + 3600
    while pool.remaining < need and time.monotonic() < deadline:
        time.sleep(0.02)
    pool.stop_refill()
    if pool.remaining < need:  # pragma: no cover - only on a stalled machine
        raise FedCryptoError("the randomizer pool did not fill within an hour")
    rows = []
    for th in counts:
        x = VectorRNG().below(1 << 32, values).astype(np.int64)
        before = pool.remaining
        t0 = time.perf_counter()
        ev = pk.encrypt(x, pool=pool, threads=th)
        t = max(time.perf_counter() - t0, 1e-9)
        if before - pool.remaining != values or not np.array_equal(sk.decrypt(ev[:8]), x[:8]):
            raise FedCryptoError("warm-pool encryption did not use the pool or decrypt correctly")
        op = f"encrypt from a warm pool ({values:,} values)"
        rows.append(
            Row(op, pk.key_size, th, values / t, peer, goal("encrypt from a warm pool", th))
        )
    return rows


def _fmt(x: float | None) -> str:
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def print_table(rows: list[Row], backend: str) -> None:
    """Print the rows as an aligned table."""
    header = ("operation", "key", "backend", "threads", "fedcrypto", "phe", "ratio", "goal", "unit")
    body = []
    for r in rows:
        ratio = r.ratio
        goal = (
            "-"
            if r.goal is None or ratio is None
            else (f">={r.goal:g}x " + ("met" if ratio >= r.goal else "NOT met"))
        )
        body.append(
            (
                r.op,
                str(r.key_size),
                backend,
                str(r.threads),
                _fmt(r.ours_ops),
                _fmt(r.peer_ops),
                "-" if ratio is None else f"{ratio:.1f}x",
                goal,
                r.unit,
            )
        )
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for b in body:
        print("  ".join(c.ljust(w) for c, w in zip(b, widths, strict=True)))


def print_goals(rows: list[Row], sizes: list[int]) -> None:
    """Summarize the issue-12 goals: one line per goal row, met or not, and the goals whose
    key size was not measured in this run."""
    print()
    print("goals (issue 12, constant-time defaults, ratio to phe measured in the same run):")
    for r in rows:
        if r.goal is None:
            continue
        ratio = r.ratio
        verdict = "phe not measured" if ratio is None else f"{ratio:,.2f}x"
        state = "" if ratio is None else (" met" if ratio >= r.goal else " NOT met")
        where = f"{r.op}, {r.key_size}-bit, {r.threads} thread(s)"
        print(f"  {where}: {verdict} (goal >= {r.goal:g}x){state}")
    for size in sorted(GOALS):
        if size not in sizes:
            print(f"  {size}-bit goals not measured (add --key-sizes {size})")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``fedcrypto bench paillier``."""
    try:
        sizes = [
            int(s) for s in (args.key_sizes or ("2048" if args.quick else "2048,3072")).split(",")
        ]
    except ValueError:
        print("error: --key-sizes must be comma-separated integers")
        return 2
    if any(s < 2048 for s in sizes):
        print("error: benchmark key sizes must be at least 2048 bits")
        return 2
    if args.parties < 1 or (args.threads is not None and args.threads < 1):
        print("error: --parties and --threads must be positive")
        return 2
    if args.pool_values is not None and not 0 <= args.pool_values <= 1_000_000:
        print("error: --pool-values must be between 0 and 1000000")
        return 2
    threads = args.threads or default_threads()
    values = args.pipeline_values or (5000 if args.quick else 10000)
    use_phe = not args.no_phe and _phe() is not None
    backend = get_backend().name
    print(
        f"fedcrypto Paillier throughput (backend {backend}, {threads} thread(s) = 'all cores'; "
        f"phe {'measured in the same run' if use_phe else 'not measured'})"
    )
    if hasattr(os, "getloadavg"):
        load = os.getloadavg()[0]
        note = " (busy machine: expect lower multi-thread figures)" if load > 0.5 else ""
        print(f"load average before the run: {load:.2f}{note}")
    rows: list[Row] = []
    try:
        for size in sizes:
            rows += measure(
                size,
                threads=threads,
                quick=args.quick,
                use_phe=use_phe,
                pipeline_values=values,
                parties=args.parties,
                repeat=args.repeat,
                pool_values=args.pool_values,
            )
    except FedCryptoError as exc:
        print(f"error: {exc}")
        return 1
    print_table(rows, backend)
    print_goals(rows, sizes)
    if use_phe:
        print(
            "phe is timed on a small sample per operation; the dot product and the packed pipeline "
            "extrapolate phe's per-term / per-value time."
        )
    return 0
