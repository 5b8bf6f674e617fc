"""The one local process-pool policy used by the CLI and the benchmarks.

Hashing to curves and X25519 / P-256 through ``cryptography`` hold the GIL, so the
protocols spread batches over worker *processes*.  The policy, in one place:

* the ``spawn`` start method: no fork of a possibly multi-threaded parent (native kernel
  threads, TLS, Dask clients), no helper server process;
* a watched parent: each worker checks every half second that its parent is still the
  process that created it and exits as soon as it is gone (killed, crashed), so no orphan
  outlives a dead party;
* the backend's core count (:func:`fedcrypto.default_threads`, the CPU affinity of this
  process) when ``workers`` is None.

Tasks get module-level functions and plain arguments (bytes, ints, numpy arrays); a
party's secret scalar travels to its own workers over the pool's local pipe only.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor

from .._backend import default_threads
from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._inline import InlineExecutor

__all__ = ["process_executor", "MAX_WORKERS"]

#: Upper bound on ``workers`` (a typo such as 10000 should not fork-bomb the machine).
#: Most worker processes process_executor starts.
MAX_WORKERS = 256


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit this worker when the process that created it is gone."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="fedcrypto-parent-watch", daemon=True).start()


def _main_is_importable() -> bool:
    """Whether spawned worker processes can re-create ``__main__``."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


def process_executor(workers: int | None = None) -> Executor:
    """A local process pool following the policy in the module docstring.

    The caller owns it: use it as a context manager or call ``shutdown()``.

    :param workers: number of worker processes (None = the cores this process may use).
        With 1 worker, or when ``__main__`` cannot be re-imported by spawned processes
        (an interactive session or a script read from stdin; a ``RuntimeWarning`` says
        so), an :class:`InlineExecutor` is returned instead: same results, no processes.
    :returns: a :class:`concurrent.futures.Executor`.
    :raises InvalidTypeError: ``workers`` not an int or None.
    :raises InvalidArgumentError: ``workers`` outside ``[1, MAX_WORKERS]``.
    """
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)):
        raise InvalidTypeError("workers must be an int or None")
    n = default_threads() if workers is None else workers
    if not 1 <= n <= MAX_WORKERS:
        raise InvalidArgumentError(f"workers must be between 1 and {MAX_WORKERS}")
    if n == 1:
        return InlineExecutor()
    if not _main_is_importable():
        warnings.warn(
            "fedcrypto.scale: the __main__ module cannot be re-imported by worker processes "
            "(interactive session or stdin script); running tasks inline",
            RuntimeWarning,
            stacklevel=2,
        )
        return InlineExecutor()
    return ProcessPoolExecutor(
        max_workers=n,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )
