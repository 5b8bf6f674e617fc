"""The server's executor seam (issue 11): mask recovery runs inline or on any
``concurrent.futures.Executor`` the caller gives, with the same result, as plain-data
jobs of a module-level function; a worker that dies never sinks the session."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import pytest

from fedcrypto.secagg import SecAggClient, SecAggConfig, SecAggServer, _recovery, simulate_round

N, T, L = 7, 4, 50
MASKERS = [0, 1, 2, 4, 5]  # 3 and 6 drop after ShareKeys: pairwise masks to remove
RESPONDERS = [0, 1, 4, 5]


class Recording(Executor):
    """Runs jobs on an inner executor and records what crosses to it."""

    def __init__(self, inner: Executor | None = None) -> None:
        self.inner = inner
        self.calls: list[tuple[Any, tuple[Any, ...]]] = []

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.calls.append((fn, args))
        assert not kwargs
        if self.inner is not None:
            return self.inner.submit(fn, *args)
        fut: Future[Any] = Future()
        fut.set_result(fn(*args))
        return fut


class Broken(Executor):
    """Every job's worker dies (or the pool is already broken: ``at_submit``)."""

    def __init__(self, *, at_submit: bool) -> None:
        self.at_submit = at_submit
        self.submitted = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.submitted += 1
        if self.at_submit:
            raise BrokenProcessPool("a child process terminated abruptly")
        fut: Future[Any] = Future()
        fut.set_exception(BrokenProcessPool("a child process terminated abruptly"))
        return fut


def _plain(value: object) -> bool:
    if isinstance(value, (int, bytes)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    return False


def _session(executor: Executor | None) -> tuple[SecAggServer, np.ndarray]:
    cfg = SecAggConfig.create(range(N), threshold=T, vector_length=L, modulus_bits=40)
    server = SecAggServer(cfg, executor=executor)
    clients = {i: SecAggClient(cfg, i) for i in range(N)}
    for c in clients.values():
        server.receive_advertise_keys(c.advertise_keys())
    kl = server.key_list()
    for c in clients.values():
        server.receive_share_keys(c.share_keys(kl))
    deliveries = server.share_deliveries()
    x = (np.arange(N * L, dtype=np.uint64).reshape(N, L) * 1_000_003) % np.uint64(1 << 40)
    for i in MASKERS:
        server.receive_masked_input(clients[i].masked_input(deliveries[i], x[i]))
    req = server.unmask_request()
    for i in RESPONDERS:
        server.receive_unmask_response(clients[i].unmask(req))
    expected = x[MASKERS].sum(axis=0) & np.uint64((1 << 40) - 1)
    return server, expected


@pytest.fixture
def small_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut the recovery into several jobs even for this small session."""
    monkeypatch.setattr(_recovery, "_JOB_WORDS", 2 * L)


def test_same_sum_inline_threads_and_spawned_processes(small_jobs: None) -> None:
    results = {}
    server, expected = _session(None)
    results["inline"] = server.aggregate().aggregate
    with ThreadPoolExecutor(max_workers=2) as pool:
        rec = Recording(pool)
        server, _ = _session(rec)
        results["threads"] = server.aggregate().aggregate
    assert len(rec.calls) > 1  # the work really was split into jobs
    with ProcessPoolExecutor(max_workers=2, mp_context=mp.get_context("spawn")) as pool:
        server, _ = _session(pool)
        results["spawn"] = server.aggregate(verify_shares=True).aggregate
    for name, got in results.items():
        np.testing.assert_array_equal(got, expected, err_msg=name)


def test_jobs_are_plain_data_and_a_module_level_function(small_jobs: None) -> None:
    rec = Recording()
    server, expected = _session(rec)
    np.testing.assert_array_equal(server.aggregate().aggregate, expected)
    assert rec.calls
    expansions = 0
    for fn, args in rec.calls:
        assert fn is _recovery.recover_masks and "<locals>" not in fn.__qualname__
        assert _plain(args), [type(a).__name__ for a in args]
        _, _, _, selfs, pairs = args
        expansions += len(selfs) + sum(len(p) for _, _, p in pairs)
    # every survivor's self mask once, every (dropped, surviving neighbour) pair once
    assert expansions == len(MASKERS) + 2 * len(MASKERS)


def test_inline_runs_one_job_without_an_executor(small_jobs: None) -> None:
    server, expected = _session(None)
    assert server.aggregate().aggregate.tobytes() == expected.tobytes()


@pytest.mark.parametrize("at_submit", [False, True])
def test_dead_workers_are_redone_inline(small_jobs: None, at_submit: bool) -> None:
    broken = Broken(at_submit=at_submit)
    server, expected = _session(broken)
    np.testing.assert_array_equal(server.aggregate().aggregate, expected)
    assert broken.submitted > 1


def test_a_killed_process_pool_worker_does_not_sink_the_session() -> None:
    pool = ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn"))
    try:
        assert pool.submit(int, "7").result(timeout=120) == 7  # the worker is up
        (pid,) = [p.pid for p in pool._processes.values()]  # test-only peek
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until the pool notices
            try:
                pool.submit(int, "1").result(timeout=5)
            except BrokenProcessPool:
                break
            time.sleep(0.1)
        server, expected = _session(pool)
        np.testing.assert_array_equal(server.aggregate().aggregate, expected)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def test_simulation_passes_the_executor_through(small_jobs: None) -> None:
    x = np.arange(6 * 9, dtype=np.uint64).reshape(6, 9)
    rec = Recording()
    rep = simulate_round(
        x, threshold=4, dropouts={"masked_input": [2]}, modulus_bits=32, executor=rec
    )
    np.testing.assert_array_equal(rep.aggregate, x[[0, 1, 3, 4, 5]].sum(axis=0))
    assert rec.calls
