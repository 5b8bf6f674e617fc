"""curve25519 hash-to-curve (RFC 9380 ``curve25519_XMD:SHA-512_ELL2_RO_``): native kernel
against the Python/gmpy2 path, per identifier.

Run (20,000 identifiers, a few seconds)::

    python -m pytest benchmarks/bench_h2c25519.py -q -s

Ours: ``fedcrypto.hazmat.h2c.curve25519_hash_to_u_many`` on the native backend
(expand_message_xmd in Python with hashlib, the field arithmetic in the backend's
``curve25519_h2c_u`` capability, the C kernel); the kernel alone is also timed.  Peer: the
gmpy2 backend's ``curve25519_h2c_u`` (the Python/gmpy2 implementation, the previous
default), measured in the same run.  CPU time (``time.process_time``) is reported
for the one-thread cases because the machine is usually shared.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from fedcrypto._backend import BACKEND_NAMES, Backend, load_backend
from fedcrypto.exceptions import BackendUnavailableError
from fedcrypto.hazmat import h2c as _h2c


def _load(name: str) -> Backend:
    assert name in BACKEND_NAMES
    try:
        return load_backend(name)
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))


_NATIVE = _load("native")
_GMPY2 = _load("gmpy2")

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
    return _GMPY2.curve25519_h2c_u(_h2c._curve25519_uniform_many(IDS, DST))


def _native_path(threads: int) -> Callable[[], bytes]:
    def run() -> bytes:
        return _NATIVE.curve25519_h2c_u(_h2c._curve25519_uniform_many(IDS, DST), threads=threads)

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
        kern = _best(lambda: _NATIVE.curve25519_h2c_u(uniform, threads=1), clock, 5)
        print(
            f"\nh2c curve25519 ({label}, 1 thread, {N:,} IDs): native {ours / N * 1e6:.2f} us/ID "
            f"(expand_message_xmd {xmd / N * 1e6:.2f} + kernel {kern / N * 1e6:.2f}), "
            f"Python/gmpy2 {peer / N * 1e6:.2f} us/ID"
        )
        report_ratio(f"h2c curve25519 native vs Python/gmpy2, 1 thread ({label})", ours, peer, 4.0)
    kern2 = _best(lambda: _NATIVE.curve25519_h2c_u(uniform, threads=2), time.perf_counter, 5)
    ours2 = _best(_native_path(2), time.perf_counter, 5)
    print(
        f"h2c curve25519 (wall, 2 threads): kernel {kern2 / N * 1e6:.2f} us/ID, "
        f"whole call {ours2 / N * 1e6:.2f} us/ID"
    )
