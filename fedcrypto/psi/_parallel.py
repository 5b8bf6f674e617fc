"""Spreading the PSI hot loops over the caller's executor.

The protocol objects own no processes: the caller passes any
:class:`concurrent.futures.Executor` (a local process pool from
:func:`fedcrypto.scale.process_executor`, a Dask cluster, ...) or None to run inline.  A
batch is cut into contiguous chunks, each chunk is one task, and results are joined in
input order, so output never depends on the executor or on the number of workers.

Tasks are module-level functions with plain arguments (bytes, ints, lists of bytes), never
protocol objects.  A party's secret scalar travels with its tasks to the caller's own
workers (never to disk or to the peer).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future
from typing import Any, TypeVar

from ..exceptions import WorkerLostError

__all__ = ["map_chunks", "split", "MIN_CHUNK", "MAX_TASKS_PER_BATCH"]

T = TypeVar("T")

#: Below this many elements per task a batch is processed in the calling process.
MIN_CHUNK = 256
#: A batch is cut into at most this many tasks (bounds per-task overhead on a cluster).
MAX_TASKS_PER_BATCH = 64


def split(seq: Sequence[T], parts: int) -> list[Sequence[T]]:
    """Split ``seq`` into at most ``parts`` contiguous chunks of near-equal size (order kept)."""
    n = len(seq)
    parts = max(1, min(parts, n // MIN_CHUNK if n >= MIN_CHUNK else 1))
    step = -(-n // parts) if n else 1
    return [seq[i : i + step] for i in range(0, n, step)] or [seq]


def map_chunks(
    executor: Executor | None,
    fn: Callable[..., T],
    seq: Sequence[Any],
    *args: Any,
    min_items: int = 2 * MIN_CHUNK,
) -> list[T]:
    """Apply ``fn(chunk, *args)`` to contiguous chunks of ``seq``; results in order.

    With ``executor=None``, or a batch shorter than ``2 * min_items``, ``fn`` runs once
    inline on the whole batch.  Otherwise the batch is cut into chunks of at least
    ``min_items`` elements (at most :data:`MAX_TASKS_PER_BATCH` of them), submitted to
    ``executor``.  Exceptions raised by ``fn`` come back unchanged.

    :raises WorkerLostError: the executor lost a worker (process killed, cluster gone).
    """
    min_items = max(1, min_items)
    if executor is None or len(seq) < 2 * min_items:
        return [fn(seq, *args)]
    chunks = split(seq, min(MAX_TASKS_PER_BATCH, len(seq) // min_items))
    futures: list[Future[T]] = []
    try:
        futures = [executor.submit(fn, c, *args) for c in chunks]
        return [f.result() for f in futures]
    except (BrokenExecutor, CancelledError):
        raise WorkerLostError(
            "a PSI worker process died unexpectedly (killed, or out of memory)"
        ) from None
    finally:
        for f in futures:
            f.cancel()
