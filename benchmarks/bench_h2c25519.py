"""curve25519 hash-to-curve (RFC 9380 ``curve25519_XMD:SHA-512_ELL2_RO_``): native kernel
against the Python/gmpy2 path, per identifier.

Run (20,000 identifiers, a few seconds)::

    python -m pytest benchmarks/bench_h2c25519.py -q -s

Ours: ``curve25519_hash_to_u_many`` with the native kernel (expand_message_xmd in Python
with hashlib, the field arithmetic in ``fedcrypto._native.curve25519_h2c_u``); the kernel
alone is also timed.  Peer: the same function's Python/gmpy2 path (the previous
implementation), measured in the same run.  CPU time (``time.process_time``) is reported
for the one-thread cases because the machine is usually shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from fedcrypto.psi import _h2c

_native = pytest.importorskip("fedcrypto._native")

N = 20_000
DST = b"fedcrypto-bench-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_RO_"
IDS = [b"user-%010d" % i for i in range(N)]


def _best(fn: Callable[[], object], clock: Callable[[], float], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = clock()
        fn()
        best = min(best, clock() - t0)
    return best


def _python_path() -> bytes:
    return _h2c._curve25519_u_from_uniform_py(_h2c._curve25519_uniform_many(IDS, DST))


def _native_path(threads: int) -> Callable[[], bytes]:
    def run() -> bytes:
        return _native.curve25519_h2c_u(_h2c._curve25519_uniform_many(IDS, DST), threads)

    return run


def test_h2c25519_native_vs_python(
    benchmark: pytest.FixtureRequest, report_ratio: Callable[..., float]
) -> None:
    want = _python_path()
    assert _native_path(1)() == want == _native_path(2)()
    benchmark.pedantic(_native_path(1), rounds=3, iterations=1)
    uniform = _h2c._curve25519_uniform_many(IDS, DST)
    for clock, label in ((time.perf_counter, "wall"), (time.process_time, "CPU")):
        peer = _best(_python_path, clock, 2)
        ours = _best(_native_path(1), clock, 5)
        xmd = _best(lambda: _h2c._curve25519_uniform_many(IDS, DST), clock, 5)
        kern = _best(lambda: _native.curve25519_h2c_u(uniform, 1), clock, 5)
        print(
            f"\nh2c curve25519 ({label}, 1 thread, {N:,} IDs): native {ours / N * 1e6:.2f} us/ID "
            f"(expand_message_xmd {xmd / N * 1e6:.2f} + kernel {kern / N * 1e6:.2f}), "
            f"Python/gmpy2 {peer / N * 1e6:.2f} us/ID"
        )
        report_ratio(f"h2c curve25519 native vs Python/gmpy2, 1 thread ({label})", ours, peer, 4.0)
    kern2 = _best(lambda: _native.curve25519_h2c_u(uniform, 2), time.perf_counter, 5)
    ours2 = _best(_native_path(2), time.perf_counter, 5)
    print(
        f"h2c curve25519 (wall, 2 threads): kernel {kern2 / N * 1e6:.2f} us/ID, "
        f"whole call {ours2 / N * 1e6:.2f} us/ID"
    )
