"""An executor that runs each task at once in the calling thread (no processes, no threads)."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

__all__ = ["InlineExecutor"]

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """A :class:`concurrent.futures.Executor` that runs ``fn`` inside :meth:`submit`.

    Useful where an executor is required but no parallelism is wanted (one worker, or a
    ``__main__`` that worker processes cannot re-import).  Results and exceptions are
    those of a direct call.
    """

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Run ``fn(*args, **kwargs)`` now; return a completed future."""
        fut: Future[T] = Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - delivered through the future
            fut.set_exception(exc)
        return fut

    def __reduce__(self) -> Any:
        raise TypeError("executors cannot be pickled")
