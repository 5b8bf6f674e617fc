"""A Dask executor for the protocols: the caller's own cluster, over TLS.

``distributed`` is an optional extra (``pip install fedcrypto[dask]``), imported only when
:func:`dask_executor` is called.  A party's secret scalar or key travels to the workers of
the cluster with every task, so the scheduler link must be authenticated and encrypted:
``tls://`` with a :class:`distributed.security.Security`; a plaintext ``tcp://`` cluster is
refused unless ``unsafe_allow_plaintext=True`` (tests on one machine only).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from .._sanitize import peer_text
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    SchedulerUnreachableError,
    WorkerLostError,
)

__all__ = ["dask_executor", "DaskExecutor", "scheduler_scheme"]

P = ParamSpec("P")
T = TypeVar("T")

#: Schemes accepted without ``unsafe_allow_plaintext`` (``inproc`` never leaves the process).
_SAFE_SCHEMES = ("tls", "inproc")


def scheduler_scheme(address: str) -> str:
    """The transport scheme of a Dask address (``"tcp"`` when none is written, as Dask does)."""
    return address.split("://", 1)[0].lower() if "://" in address else "tcp"


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError:  # pragma: no cover - depends on the environment
        raise InvalidArgumentError(
            "the Dask executor needs the optional extra: pip install 'fedcrypto[dask]'"
        ) from None
    return distributed


class DaskExecutor(Executor):
    """A :class:`concurrent.futures.Executor` running tasks on a Dask cluster.

    Tasks are submitted with ``pure=False`` (never deduplicated: two chunks with equal
    arguments are still both run).  A task whose worker dies is re-run by the scheduler on
    another worker; when the scheduler gives up (``KilledWorker``) or the cluster goes
    away, the future fails with :class:`~fedcrypto.exceptions.WorkerLostError`.
    Exceptions raised by the task itself come back unchanged.

    :meth:`shutdown` closes the client if this executor created it.
    """

    def __init__(self, client: Any, *, owns_client: bool) -> None:
        distributed = _import_distributed()
        self._client = client
        self._owns = owns_client
        self._lost = (
            distributed.KilledWorker,
            distributed.comm.core.CommClosedError,
            OSError,
        )
        self._address = str(getattr(client.scheduler, "address", "?"))

    @property
    def client(self) -> Any:
        """The underlying ``distributed.Client``."""
        return self._client

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Submit ``fn(*args, **kwargs)`` to the cluster; return a standard future."""
        outer: Future[T] = Future()
        inner = self._client.submit(fn, *args, pure=False, **kwargs)

        def done(f: Any) -> None:
            try:
                outer.set_result(f.result())
            except self._lost as exc:
                outer.set_exception(
                    WorkerLostError(
                        f"a Dask worker of {peer_text(self._address)} was lost and the task "
                        f"could not be completed ({type(exc).__name__})"
                    )
                )
            except BaseException as exc:  # noqa: BLE001 - delivered through the future
                outer.set_exception(exc)

        inner.add_done_callback(done)
        outer._fedcrypto_inner = inner  # type: ignore[attr-defined] # keeps the task alive
        return outer

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Close the client when this executor created it (idempotent)."""
        if self._owns and self._client is not None:
            self._client.close()
        self._client = None

    def __reduce__(self) -> Any:
        raise TypeError("executors cannot be pickled")


def dask_executor(
    address_or_client: Any,
    *,
    security: Any = None,
    unsafe_allow_plaintext: bool = False,
    timeout: float = 10.0,
) -> DaskExecutor:
    """Connect to this organisation's Dask scheduler and return an executor for it.

    :param address_or_client: ``"tls://host:port"``, or an existing ``distributed.Client``
        (its scheduler address is checked the same way; it is not closed on shutdown).
    :param security: a ``distributed.security.Security`` holding the CA, certificate and
        key that the scheduler expects (required for ``tls://`` addresses).
    :param unsafe_allow_plaintext: accept a ``tcp://`` (or scheme-less) scheduler.  The
        secret scalars of the protocols then cross the network in clear: tests only.
    :param timeout: seconds to wait for the scheduler at start.
    :returns: a :class:`DaskExecutor` (shut it down when done).
    :raises InvalidArgumentError: a plaintext scheduler without the unsafe flag, an unknown
        scheme, ``tls://`` without ``security``, or ``distributed`` not installed.
    :raises InvalidTypeError: ``security`` of the wrong type.
    :raises SchedulerUnreachableError: the scheduler did not answer within ``timeout``
        (the message names the address).
    """
    distributed = _import_distributed()
    if isinstance(address_or_client, distributed.Client):
        address = str(address_or_client.scheduler.address)
        _check_scheme(address, unsafe_allow_plaintext)
        return DaskExecutor(address_or_client, owns_client=False)
    if not isinstance(address_or_client, str):
        raise InvalidTypeError("address_or_client must be a 'tls://host:port' string or a Client")
    address = address_or_client
    scheme = _check_scheme(address, unsafe_allow_plaintext)
    if security is not None and not isinstance(security, distributed.security.Security):
        raise InvalidTypeError("security must be a distributed.security.Security")
    if scheme == "tls" and security is None:
        raise InvalidArgumentError(
            "a tls:// scheduler needs security=Security(tls_ca_file=..., tls_client_cert=..., "
            "tls_client_key=..., require_encryption=True)"
        )
    try:
        client = distributed.Client(
            address, security=security, timeout=timeout, set_as_default=False
        )
    except (OSError, TimeoutError) as exc:
        raise SchedulerUnreachableError(
            f"cannot reach the Dask scheduler at {peer_text(address)}: "
            f"{peer_text(str(exc) or type(exc).__name__)}"
        ) from None
    return DaskExecutor(client, owns_client=True)


def _check_scheme(address: str, unsafe_allow_plaintext: bool) -> str:
    scheme = scheduler_scheme(address)
    if scheme in _SAFE_SCHEMES:
        return scheme
    if scheme in ("tcp", "ucx", "ws") and unsafe_allow_plaintext:
        return scheme
    if scheme in ("tcp", "ucx", "ws"):
        raise InvalidArgumentError(
            f"refusing the plaintext Dask scheduler {peer_text(address)}: secret keys travel to "
            "the workers with each task; use tls:// with certificates "
            "(or unsafe_allow_plaintext=True for a test on one machine)"
        )
    raise InvalidArgumentError(f"unknown Dask scheme in {peer_text(address)}")
