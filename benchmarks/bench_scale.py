"""Scale-out overhead: the same work on a TLS Dask cluster and on the local process pool.

Run (small default configuration, about a minute on a quiet 2-core machine)::

    python -m pytest benchmarks/bench_scale.py -q -s

Big configuration (the issue's goals: ECDH 1M x 1M with each party on its own 1-worker TLS
Dask cluster vs each party on a 1-process local pool; packed Paillier encryption of 10M
values on a 2-worker TLS cluster vs inline with the kernel's threads)::

    FEDCRYPTO_BENCH_BIG=1 python -m pytest benchmarks/bench_scale.py -q -s

Both variants run in the same session, so the ratio (Dask time / local time, goal <= 1.2)
compares like with like on the loaded machine.  The coordinator's peak memory is the peak
RSS of this process (the two parties plus the clients), reset before each variant.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
import pytest

import fedcrypto
from fedcrypto.psi import PsiSettings, create_party, decode_message

distributed = pytest.importorskip("distributed")

BIG = os.environ.get("FEDCRYPTO_BENCH_BIG", "") not in ("", "0")
N_PSI = 1_000_000 if BIG else 20_000
N_PAILLIER = 10_000_000 if BIG else 200_000


def _peak_rss_reset() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:  # pragma: no cover - not Linux
        pass


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")  # pragma: no cover


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


def _tls_cluster(workers: int) -> Any:
    from distributed.security import Security

    sec = Security.temporary()
    cluster = distributed.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        protocol="tls",
        security=sec,
        dashboard_address=None,
    )
    return cluster, sec


def _pair_run(settings: PsiSettings, a: list[bytes], b: list[bytes], ex_a: Any, ex_b: Any) -> int:
    """Both parties in this process, each on its own executor; returns the intersection size."""
    sid = os.urandom(32)
    pa = create_party(
        settings, role="listener", items=a, peer_size=len(b), session_id=sid, executor=ex_a
    )
    pb = create_party(
        settings, role="connector", items=b, peer_size=len(a), session_id=sid, executor=ex_b
    )
    parties = {"a": pa, "b": pb}
    q: dict[str, deque[bytes]] = {"a": deque(), "b": deque()}
    for me, other in (("a", "b"), ("b", "a")):
        q[other].extend(m.to_bytes() for m in parties[me].start())
    while not (pa.done and pb.done):
        for me, other in (("a", "b"), ("b", "a")):
            if q[me] and not parties[me].done:
                msg = decode_message(q[me].popleft(), settings, sid)
                q[other].extend(m.to_bytes() for m in parties[me].handle(msg))
    count = pa.result().count
    assert count is not None
    return count


def _timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    _peak_rss_reset()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, _peak_rss_mib(), out


@pytest.fixture(scope="module")
def two_one_worker_clusters() -> Iterator[tuple[Executor, Executor]]:
    from fedcrypto.scale import dask_executor

    (ca, sa), (cb, sb) = _tls_cluster(1), _tls_cluster(1)
    ea = dask_executor(ca.scheduler_address, security=sa)
    eb = dask_executor(cb.scheduler_address, security=sb)
    try:
        yield ea, eb
    finally:
        ea.shutdown()
        eb.shutdown()
        ca.close()
        cb.close()


def _one_process_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


@pytest.mark.parametrize("buckets", [1, 8])
def test_ecdh_dask_vs_local_pool(
    two_one_worker_clusters: tuple[Executor, Executor], buckets: int, record_property: Any
) -> None:
    a = [b"user-%010d" % i for i in range(N_PSI)]
    b = [b"user-%010d" % i for i in range(N_PSI // 2, N_PSI + N_PSI // 2)]
    s = PsiSettings(reveal="both", buckets=buckets, batch_size=16384)
    with _one_process_pool() as pa, _one_process_pool() as pb:
        _pair_run(s, a[:5000], b[:5000], pa, pb)  # start the workers outside the timing
        local, local_mem, n1 = _timed(lambda: _pair_run(s, a, b, pa, pb))
    ea, eb = two_one_worker_clusters
    dask, dask_mem, n2 = _timed(lambda: _pair_run(s, a, b, ea, eb))
    assert n1 == n2 == N_PSI - N_PSI // 2
    ratio = dask / local
    line = (
        f"ECDH {N_PSI:,} x {N_PSI:,}, buckets={buckets}: local 1-process pools {local:.1f} s "
        f"(peak RSS {local_mem:.0f} MiB), 1-worker TLS Dask clusters {dask:.1f} s (coordinator "
        f"peak RSS {dask_mem:.0f} MiB): overhead {ratio:.2f}x (goal <= 1.2: "
        f"{'met' if ratio <= 1.2 else 'NOT met'}); per bucket {dask / buckets:.2f} s; {_load()}; "
        f"backend {fedcrypto.backend_info()['name']}"
    )
    print(line)
    record_property("scale_ecdh", line)


def test_packed_paillier_dask_vs_local(record_property: Any) -> None:
    from fedcrypto.paillier import PackingScheme, generate_private_key
    from fedcrypto.scale import dask_executor

    sk = generate_private_key(2048)
    pk = sk.public_key()
    scheme = PackingScheme(bits=16, parties=8, alpha=1.0)
    values = np.linspace(-1, 1, N_PAILLIER)
    scheme.encrypt(pk, values[:1000])  # build the key's tables outside the timing
    local, local_mem, packed = _timed(lambda: scheme.encrypt(pk, values))
    cluster, sec = _tls_cluster(2)
    ex = dask_executor(cluster.scheduler_address, security=sec)
    try:
        ex.submit(len, b"warm").result()
        dask, dask_mem, packed2 = _timed(lambda: scheme.encrypt(pk, values, executor=ex))
    finally:
        ex.shutdown()
        cluster.close()
    assert packed.num_ciphertexts == packed2.num_ciphertexts
    ratio = dask / local
    line = (
        f"packed Paillier-2048 encryption of {N_PAILLIER:,} values ({packed.num_ciphertexts:,} "
        f"ciphertexts): inline {local:.1f} s (peak RSS {local_mem:.0f} MiB), 2-worker TLS Dask "
        f"{dask:.1f} s (coordinator peak RSS {dask_mem:.0f} MiB): ratio {ratio:.2f}x (goal <= "
        f"1.2: {'met' if ratio <= 1.2 else 'NOT met'}); {_load()}"
    )
    print(line)
    record_property("scale_paillier", line)
