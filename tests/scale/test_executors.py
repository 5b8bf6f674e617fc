"""fedcrypto.scale: the process-pool policy and the TLS-only Dask executor."""

from __future__ import annotations

import os
import socket
import tempfile
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest

from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    SchedulerUnreachableError,
    WorkerLostError,
)
from fedcrypto.scale import InlineExecutor, dask_executor, process_executor


def _square(x: int) -> int:
    return x * x


def _die_once(marker: str) -> int:
    """Kill this worker the first time (the marker file does not exist yet), else answer."""
    if not os.path.exists(marker):
        with open(marker, "w") as fh:
            fh.write("x")
        os._exit(7)
    return 42


def _die(_: int) -> int:
    os._exit(7)


def test_process_executor_policy() -> None:
    assert isinstance(process_executor(1), InlineExecutor)
    with pytest.raises(InvalidTypeError):
        process_executor("2")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        process_executor(0)
    with process_executor(2) as ex:
        assert isinstance(ex, ProcessPoolExecutor)
        assert ex._mp_context.get_start_method() == "spawn"  # type: ignore[attr-defined]
        assert list(ex.map(_square, range(5))) == [0, 1, 4, 9, 16]


def test_plaintext_scheduler_refused() -> None:
    for address in ("tcp://127.0.0.1:8786", "127.0.0.1:8786", "ws://h:1"):
        with pytest.raises(InvalidArgumentError, match="plaintext"):
            dask_executor(address)
    with pytest.raises(InvalidArgumentError, match="scheme"):
        dask_executor("carrier-pigeon://h:1")
    with pytest.raises(InvalidArgumentError, match="security"):
        dask_executor("tls://127.0.0.1:1")
    with pytest.raises(InvalidTypeError):
        dask_executor(8786)


def test_plaintext_client_refused() -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        with Client(cluster, set_as_default=False) as client:
            with pytest.raises(InvalidArgumentError, match="plaintext"):
                dask_executor(client)
            ex = dask_executor(client, unsafe_allow_plaintext=True)
            assert ex.submit(_square, 7).result() == 49
            ex.shutdown()  # not ours: the client stays open
            assert client.status == "running"


def test_unreachable_scheduler_names_the_address(tls_cluster: tuple[Any, Any]) -> None:
    _, security = tls_cluster
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tls://127.0.0.1:{port}"
    with pytest.raises(SchedulerUnreachableError, match=f"127.0.0.1:{port}"):
        dask_executor(address, security=security, timeout=2)


def test_dask_tasks_and_errors(dask_ex: Any) -> None:
    assert [f.result() for f in [dask_ex.submit(_square, i) for i in range(4)]] == [0, 1, 4, 9]
    assert "tls://" in dask_ex.client.scheduler.address
    with pytest.raises(ZeroDivisionError):
        dask_ex.submit(divmod, 1, 0).result()


def test_worker_killed_task_retried_or_typed_error(tls_cluster: tuple[Any, Any]) -> None:
    """A worker dying mid-task: the scheduler re-runs the task on a fresh worker; a task
    that keeps killing workers ends in WorkerLostError (no result)."""
    import dask

    _, security = tls_cluster
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        with LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            protocol="tls",
            security=security,
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False},
        ) as cluster:
            ex = dask_executor(cluster.scheduler_address, security=security)
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    marker = os.path.join(tmp, "died")
                    assert ex.submit(_die_once, marker).result(timeout=120) == 42
                with pytest.raises(WorkerLostError, match="lost"):
                    ex.submit(_die, 0).result(timeout=120)
            finally:
                ex.shutdown()
