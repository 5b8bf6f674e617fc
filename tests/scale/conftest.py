"""A two-worker TLS Dask cluster shared by the scale tests (skipped without ``distributed``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="session")
def tls_cluster() -> Iterator[tuple[Any, Any]]:
    """``(cluster, security)``: LocalCluster(processes=True, protocol="tls", 2 workers)."""
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()
    cluster = LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        protocol="tls",
        security=security,
        dashboard_address=None,
    )
    try:
        yield cluster, security
    finally:
        cluster.close()


@pytest.fixture(scope="session")
def dask_ex(tls_cluster: tuple[Any, Any]) -> Iterator[Any]:
    """A :class:`fedcrypto.scale.DaskExecutor` connected to :func:`tls_cluster` over TLS."""
    from fedcrypto.scale import dask_executor

    cluster, security = tls_cluster
    ex = dask_executor(cluster.scheduler_address, security=security)
    try:
        yield ex
    finally:
        ex.shutdown()


@pytest.fixture(scope="session")
def pool_ex() -> Iterator[Any]:
    """The local process pool of :func:`fedcrypto.scale.process_executor` (2 workers)."""
    from fedcrypto.scale import process_executor

    ex = process_executor(2)
    try:
        yield ex
    finally:
        ex.shutdown()
