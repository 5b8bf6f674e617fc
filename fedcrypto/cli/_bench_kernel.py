"""Kernel throughput: batch powmod, constant-time powmod, mulmod, fixed-base, multi-exp, CRT.

Prints one row per operation with the active backend, the thread count, our
operations per second, a ``gmpy2`` loop's operations per second measured in the
same run, and their ratio.  Moduli are random odd integers of ``--bits`` bits
(arithmetic cost does not depend on primality).
"""

from __future__ import annotations

import argparse
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .._backend import default_threads, get_backend, ints_to_limbs, width_of
from ..exceptions import FedCryptoError
from .bench import (
    Measurement,
    add_output_arguments,
    best_time,
    check_output_arguments,
    environment,
    write_outputs,
)

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``fedcrypto bench kernel``."""
    parser.add_argument(
        "--bits", type=int, default=4096, help="modulus size in bits (default 4096)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="threads for our kernels (default: all cores)"
    )
    parser.add_argument(
        "--count", type=int, default=16, help="batch size for exponentiations (default 16)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="timing rounds, best kept (default 3)"
    )
    add_output_arguments(parser)


@dataclass(frozen=True)
class _Row:
    op: str
    ours_ops: float
    peer_ops: float | None


def _measure(
    op: str, count: int, ours: Callable[[], object], peer: Callable[[], object] | None, repeat: int
) -> _Row:
    t_ours = best_time(ours, repeat=repeat)
    t_peer = best_time(peer, repeat=repeat) if peer is not None else None
    return _Row(op, count / t_ours, count / t_peer if t_peer else None)


def _odd(bits: int) -> int:
    return secrets.randbits(bits) | (1 << (bits - 1)) | 1


def _rows(args: argparse.Namespace, threads: int) -> list[_Row]:
    try:
        import gmpy2
    except ImportError:  # pragma: no cover - gmpy2 is a dependency
        gmpy2 = None
    be = get_backend()
    bits, count, rep = args.bits, args.count, args.repeat
    m = _odd(bits)
    w = width_of(m)
    gm = gmpy2.mpz(m) if gmpy2 else None
    rows: list[_Row] = []

    bs = [secrets.randbelow(m) for _ in range(count)]
    es = [secrets.randbits(bits // 2) for _ in range(count)]
    b_arr, e_arr = ints_to_limbs(bs, w), ints_to_limbs(es)
    gb = [gmpy2.mpz(x) for x in bs] if gmpy2 else []
    ge = [gmpy2.mpz(x) for x in es] if gmpy2 else []
    rows.append(
        _measure(
            f"powmod {bits}/{bits // 2}",
            count,
            lambda: be.powmod(b_arr, e_arr, m, threads=threads),
            (lambda: [gmpy2.powmod(b, e, gm) for b, e in zip(gb, ge, strict=True)])
            if gmpy2
            else None,
            rep,
        )
    )
    rows.append(
        _measure(
            f"powmod secret {bits}/{bits // 2}",
            count,
            lambda: be.powmod(b_arr, e_arr, m, secret=True, threads=threads),
            (lambda: [gmpy2.powmod_sec(b, e, gm) for b, e in zip(gb, ge, strict=True)])
            if gmpy2
            else None,
            rep,
        )
    )

    fb_bits = min(1024, bits // 2)
    t0 = time.perf_counter()
    table = be.fixed_base(bs[0], m, fb_bits)
    build = time.perf_counter() - t0
    fe = [secrets.randbits(fb_bits) for _ in range(count * 4)]
    fe_arr = ints_to_limbs(fe)
    gfe = [gmpy2.mpz(x) for x in fe] if gmpy2 else []
    rows.append(
        _measure(
            f"fixed-base {bits}/{fb_bits} (table {build:.2f} s)",
            len(fe),
            lambda: table.pow(fe_arr, threads=threads),
            (lambda: [gmpy2.powmod(gb[0], e, gm) for e in gfe]) if gmpy2 else None,
            rep,
        )
    )

    nmul = 10_000
    xs = [secrets.randbelow(m) for _ in range(nmul)]
    ys = [secrets.randbelow(m) for _ in range(nmul)]
    x_arr, y_arr = ints_to_limbs(xs, w), ints_to_limbs(ys, w)
    gx = [gmpy2.mpz(v) for v in xs] if gmpy2 else []
    gy = [gmpy2.mpz(v) for v in ys] if gmpy2 else []
    rows.append(
        _measure(
            f"mulmod {bits}",
            nmul,
            lambda: be.mulmod(x_arr, y_arr, m, threads=threads),
            (lambda: [a * b % gm for a, b in zip(gx, gy, strict=True)]) if gmpy2 else None,
            rep,
        )
    )

    nme = 1000
    mb = ints_to_limbs(xs[:nme], w)
    me = [secrets.randbits(64) for _ in range(nme)]
    me_arr = ints_to_limbs(me)
    gme = [gmpy2.mpz(v) for v in me] if gmpy2 else []

    def mexp_loop() -> object:
        acc = gmpy2.mpz(1)
        for b, e in zip(gx[:nme], gme, strict=True):
            acc = acc * gmpy2.powmod(b, e, gm) % gm
        return acc

    rows.append(
        _measure(
            f"multi_powmod {nme}x64-bit (bases/s)",
            nme,
            lambda: be.multi_powmod(mb, me_arr, m, threads=threads),
            mexp_loop if gmpy2 else None,
            rep,
        )
    )

    p = _odd(bits // 2)
    q = p + 2  # consecutive odd numbers are coprime
    q_inv = pow(q, -1, p)
    ncrt = 2000
    xs_crt = [secrets.randbelow(p * q) for _ in range(ncrt)]
    rp = ints_to_limbs([x % p for x in xs_crt], width_of(p))
    rq = ints_to_limbs([x % q for x in xs_crt], width_of(q))
    if gmpy2:
        gp, gq, gqi = gmpy2.mpz(p), gmpy2.mpz(q), gmpy2.mpz(q_inv)
        grp = [gmpy2.mpz(x % p) for x in xs_crt]
        grq = [gmpy2.mpz(x % q) for x in xs_crt]
    rows.append(
        _measure(
            f"crt {bits // 2}+{bits // 2}",
            ncrt,
            lambda: be.crt(rp, rq, p, q, threads=threads),
            (lambda: [b + gq * ((a - b) * gqi % gp) for a, b in zip(grp, grq, strict=True)])
            if gmpy2
            else None,
            rep,
        )
    )
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the kernel throughput table; 0 on success, 2 on bad options."""
    if args.bits < 64 or args.bits > 16384:
        print("fedcrypto bench kernel: --bits must be between 64 and 16384")
        return 2
    if args.count < 1 or args.repeat < 1:
        print("fedcrypto bench kernel: --count and --repeat must be at least 1")
        return 2
    threads = args.threads if args.threads is not None else default_threads()
    if threads < 1:
        print("fedcrypto bench kernel: --threads must be at least 1")
        return 2
    problem = check_output_arguments(args)
    if problem is not None:
        print(f"fedcrypto bench kernel: {problem}")
        return 2
    info = get_backend().info()
    env = environment()
    try:
        rows = _rows(args, threads)
    except FedCryptoError as exc:
        print(f"fedcrypto bench kernel: {exc}")
        return 1
    print(f"backend: {info.get('name')}  gmp: {info.get('gmp', '-')}  threads: {threads}")
    header = f"{'operation':<44} {'ops/s':>12} {'gmpy2 ops/s':>12} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for r in rows:
        peer = f"{r.peer_ops:12.1f}" if r.peer_ops else f"{'-':>12}"
        ratio = f"{r.ours_ops / r.peer_ops:6.2f}x" if r.peer_ops else f"{'-':>7}"
        print(f"{r.op:<44} {r.ours_ops:12.1f} {peer} {ratio}")
    results = [
        Measurement(
            op=r.op,
            group="kernel",
            params=f"{args.bits}-bit modulus",
            threads=threads,
            unit="ops/s",
            ours_rate=r.ours_ops,
            peer="gmpy2 loop" if r.peer_ops else None,
            peer_rate=r.peer_ops or None,
        )
        for r in rows
    ]
    return write_outputs(args, results, env=env, title="fedcrypto kernel vs a gmpy2 loop")
