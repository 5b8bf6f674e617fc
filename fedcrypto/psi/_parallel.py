"""A small process pool for the PSI hot loops.

X25519 and P-256 calls through ``cryptography`` and the hash-to-curve arithmetic hold the
GIL, so a party spreads each batch over worker *processes*.  The pool uses the ``spawn``
start method (no fork of a possibly multi-threaded parent, no helper server process), is
created lazily on the first batch big enough to split, and results come back in input
order, so output never depends on the number of workers.  Each worker watches its parent
and exits as soon as the party's process is gone (killed, crashed), so no orphaned worker
outlives a dead party.

Tasks are module-level functions and plain arguments (bytes, ints, lists of bytes).  The
party's secret scalar travels to its own worker processes over the local pipe of the pool
(never to disk or to the peer).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from .._backend import default_threads
from ..exceptions import FedCryptoError

__all__ = ["WorkerPool", "split"]

T = TypeVar("T")

#: Below this many elements per worker a batch is processed in the calling process.
MIN_CHUNK = 256


def split(seq: Sequence[T], parts: int) -> list[Sequence[T]]:
    """Split ``seq`` into at most ``parts`` contiguous chunks of near-equal size (order kept)."""
    n = len(seq)
    parts = max(1, min(parts, n // MIN_CHUNK if n >= MIN_CHUNK else 1))
    step = -(-n // parts) if n else 1
    return [seq[i : i + step] for i in range(0, n, step)] or [seq]


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: exit this worker when the process that created it is gone."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, name="fedcrypto-psi-parent-watch", daemon=True).start()


def _main_is_importable() -> bool:
    """Whether spawned worker processes can re-create ``__main__``."""
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        return True
    path = getattr(main, "__file__", None)
    return path is None or os.path.isfile(path)


class WorkerPool:
    """Runs ``fn(chunk, *args)`` over chunks of a batch, in worker processes when useful.

    :param workers: number of processes (None = all cores this process may use; 1 = run
        everything inline).
    :param min_items: batches shorter than this run inline (starting worker processes costs
        a second or two; pick the size whose work clearly exceeds that).
    """

    def __init__(self, workers: int | None, *, min_items: int = 2 * MIN_CHUNK) -> None:
        self._workers = default_threads() if workers is None else workers
        self._min_items = max(1, min_items)
        self._executor: ProcessPoolExecutor | None = None

    @property
    def workers(self) -> int:
        """Number of worker processes used (1 = inline)."""
        return self._workers

    def map_chunks(self, fn: Callable[..., T], seq: Sequence[Any], *args: Any) -> list[T]:
        """Apply ``fn(chunk, *args)`` to contiguous chunks of ``seq``; results in order.

        Exceptions raised by ``fn`` in a worker are re-raised here unchanged.

        :raises FedCryptoError: if a worker process dies.
        """
        parallel = self._workers > 1 and len(seq) >= self._min_items
        chunks = split(seq, self._workers) if parallel else [seq]
        if len(chunks) == 1:
            return [fn(chunks[0], *args)]
        if self._executor is None:
            if not _main_is_importable():
                warnings.warn(
                    "fedcrypto.psi: the __main__ module cannot be re-imported by worker "
                    "processes (interactive or stdin script); running single-process",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self._workers = 1
                return [fn(seq, *args)]
            ctx = multiprocessing.get_context("spawn")
            self._executor = ProcessPoolExecutor(
                max_workers=self._workers,
                mp_context=ctx,
                initializer=_exit_with_parent,
                initargs=(os.getpid(),),
            )
        try:
            futures = [self._executor.submit(fn, c, *args) for c in chunks]
            return [f.result() for f in futures]
        except BrokenProcessPool:
            self.close()
            raise FedCryptoError(
                "a PSI worker process died unexpectedly (killed, or out of memory)"
            ) from None

    def close(self) -> None:
        """Stop the worker processes (idempotent)."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: S110 - best effort at interpreter shutdown
            pass

    def __reduce__(self) -> Any:
        raise TypeError("worker pools cannot be pickled")
