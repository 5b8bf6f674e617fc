"""Precomputed Paillier randomizers for offline/online splitting, with a background refill."""

from __future__ import annotations

import os
import threading
import weakref

import numpy as np

from .._backend import LimbArray
from .._immutable import Immutable
from ..exceptions import FedCryptoError, InvalidArgumentError, InvalidTypeError
from . import _crypto
from ._crypto import Randomness
from ._params import PublicParams

__all__ = ["MAX_POOL_BYTES", "REFILL_CHUNK_PER_THREAD", "RandomizerPool"]

#: Cap on the memory a background refill may hold: ``target * ciphertext bytes`` must not
#: exceed it (512 MiB = about 1,000,000 randomizers of a 2048-bit key).
MAX_POOL_BYTES = 512 << 20
#: Randomizers computed per native batch and per refill thread.  One batch cannot be
#: interrupted, so this bounds how long :meth:`RandomizerPool.stop_refill` waits (about
#: 32 ms per thread-batch at 2048 bits, 100 ms at 3072 bits on one core).
REFILL_CHUNK_PER_THREAD = 32


class _Stock:
    """The pool's mutable part: randomizer batches, the refill state, one condition.

    ``cond`` guards every field.  Its lock is re-entrant: a pool's finalizer may run
    inside a garbage collection triggered while this thread holds it.  The refill
    thread holds only this object and the public key, never the pool, so a pool that
    is dropped is collected and its finalizer stops the thread.
    """

    __slots__ = (
        "cond",
        "batches",
        "count",
        "pid",
        "target",
        "thread",
        "halt",
        "error",
        "__weakref__",
    )

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.batches: list[LimbArray] = []
        self.count = 0
        self.pid = os.getpid()
        self.target = 0
        self.thread: threading.Thread | None = None
        self.halt = threading.Event()
        self.error: BaseException | None = None

    def forked(self) -> None:
        """Forget every randomizer in a forked child (call with the lock held)."""
        if self.pid != os.getpid():
            self._reset_child()

    def _reset_child(self) -> None:
        self.batches = []
        self.count = 0
        self.pid = os.getpid()
        self.target = 0
        self.thread = None  # threads do not survive fork
        self.halt = threading.Event()
        self.error = None

    def after_fork_in_child(self) -> None:
        """Runs in a forked child: the parent's refill thread may have held the lock at
        fork time, so the child gets a fresh condition (and an empty stock)."""
        self.cond = threading.Condition()
        self._reset_child()

    def stop(self) -> None:
        """Ask the refill thread to stop (safe to call from a finalizer)."""
        self.halt.set()
        with self.cond:
            self.cond.notify_all()


# Every stock with a refill thread, so a forked child can replace their locks (a lock held
# by the parent's refill thread at fork time would stay held forever in the child).
_REFILLING: weakref.WeakSet[_Stock] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for stock in list(_REFILLING):
        stock.after_fork_in_child()
    _REFILLING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _refill_loop(
    pk: PublicParams, randomness: Randomness, stock: _Stock, halt: threading.Event, threads: int
) -> None:
    """Body of the refill thread: keep ``stock`` at its target until ``halt`` is set.

    The expensive part (the native batch) runs without the lock and without the GIL; the
    lock is only taken to read the shortfall and to append a finished batch.
    """
    chunk_max = REFILL_CHUNK_PER_THREAD * threads
    try:
        while not halt.is_set():
            with stock.cond:
                while not halt.is_set() and stock.count >= stock.target:
                    stock.cond.wait()
                if halt.is_set():
                    return
                want = min(chunk_max, stock.target - stock.count)
            fresh = _crypto.randomizers(pk, want, randomness=randomness, threads=threads)
            with stock.cond:
                if halt.is_set() or stock.pid != os.getpid():
                    return
                stock.batches.append(fresh)
                stock.count += fresh.shape[0]
                stock.cond.notify_all()
    except BaseException as exc:  # noqa: BLE001 - reported by stop_refill / refill_error
        with stock.cond:
            stock.error = exc
            stock.cond.notify_all()


class RandomizerPool(Immutable):
    """A stock of fresh n-th residues ``rho`` (randomizers) computed ahead of time.

    Encryption is ``c = (1 + m*n) * rho mod n**2``; almost all of its cost is ``rho``,
    which does not depend on ``m``.  Fill a pool while idle (:meth:`refill`, or a
    background thread with :meth:`start_refill`), then
    ``public_key.encrypt(values, pool=pool)`` only does one modular product per value.

    Each randomizer is handed out once and then forgotten.  The pool is never
    serialized (pickling raises) and is safe across ``fork``: a child process sees
    an empty pool (it must not reuse randomizers its parent may also use).  Methods
    are thread-safe.  When a pool runs dry, encryption computes the rest fresh.
    """

    __slots__ = ("_pk", "_randomness", "_stock", "__weakref__")
    _pk: PublicParams
    _randomness: Randomness
    _stock: _Stock

    def __init__(
        self,
        public_key: PublicParams,
        size: int = 0,
        *,
        randomness: Randomness = "djn",
        threads: int | None = None,
    ) -> None:
        """Create a pool for ``public_key`` and precompute ``size`` randomizers.

        Raises:
            InvalidTypeError: ``public_key`` is not a Paillier public key.
            InvalidArgumentError: unknown ``randomness`` or a negative ``size``.
        """
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        if randomness not in ("djn", "full"):
            raise InvalidArgumentError('randomness must be "djn" or "full"')
        stock = _Stock()
        self._set(_pk=public_key, _randomness=randomness, _stock=stock)
        # A pool dropped while its refill thread runs stops the thread (which only
        # holds the stock, not the pool).
        weakref.finalize(self, stock.stop)
        if size:
            self.refill(size, threads=threads)

    @property
    def public_key(self) -> PublicParams:
        """The key the randomizers belong to (a :class:`PaillierPublicKey`)."""
        return self._pk

    @property
    def remaining(self) -> int:
        """Randomizers left."""
        stock = self._stock
        with stock.cond:
            stock.forked()
            return stock.count

    def refill(self, count: int, *, threads: int | None = None) -> None:
        """Compute ``count`` more randomizers now, in the calling thread (the expensive,
        offline part).

        Raises:
            InvalidArgumentError: a negative or non-int ``count``.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidArgumentError("count must be a non-negative int")
        fresh = _crypto.randomizers(self._pk, count, randomness=self._randomness, threads=threads)
        stock = self._stock
        with stock.cond:
            stock.forked()
            if count:
                stock.batches.append(fresh)
                stock.count += count

    # -- background refill ------------------------------------------------------------
    def max_target(self) -> int:
        """The largest :meth:`start_refill` target for this key (``MAX_POOL_BYTES`` of
        randomizers)."""
        return max(1, MAX_POOL_BYTES // (self._pk.ciphertext_width * 8))

    def start_refill(self, target: int, *, threads: int = 1) -> None:
        """Keep the pool topped up to ``target`` randomizers from a background thread.

        A daemon thread computes randomizers in batches of ``32 * threads`` (the native
        batch releases the GIL, so Python code in other threads keeps running) whenever
        fewer than ``target`` are left, and sleeps otherwise; :meth:`take` wakes it.
        It competes for the CPU with the rest of the process, so start it where the
        process would otherwise wait (between federated rounds, while waiting for the
        network) and keep ``threads`` below the core count if the foreground must stay
        fast.  Calling it again while a refill runs only changes the target.

        Args:
            target: randomizers to keep in stock, ``1 <= target <= max_target()``
                (memory is bounded by ``target`` randomizers: ``MAX_POOL_BYTES`` at most).
            threads: threads of each native batch (default 1: leave the other cores to
                the foreground).

        Raises:
            InvalidArgumentError: ``target`` or ``threads`` out of range.
            FedCryptoError: a previous refill thread failed (its error is chained).
        """
        if isinstance(target, bool) or not isinstance(target, int):
            raise InvalidArgumentError("target must be an int")
        if not 1 <= target <= self.max_target():
            raise InvalidArgumentError(
                f"target must be between 1 and {self.max_target()} randomizers "
                f"(MAX_POOL_BYTES = {MAX_POOL_BYTES} bytes for this key)"
            )
        if isinstance(threads, bool) or not isinstance(threads, int) or not 1 <= threads <= 1024:
            raise InvalidArgumentError("threads must be an int between 1 and 1024")
        stock = self._stock
        with stock.cond:
            stock.forked()
            self._raise_error_locked()
            stock.target = target
            if stock.thread is not None and stock.thread.is_alive() and not stock.halt.is_set():
                stock.cond.notify_all()
                return
            stock.halt = threading.Event()
            thread = threading.Thread(
                target=_refill_loop,
                args=(self._pk, self._randomness, stock, stock.halt, threads),
                name="fedcrypto-randomizer-refill",
                daemon=True,
            )
            stock.thread = thread
            _REFILLING.add(stock)
            thread.start()

    def stop_refill(self, timeout: float | None = None) -> bool:
        """Stop the background refill (if any) and wait for its thread to end.

        The thread finishes at most the native batch it is computing (see
        :data:`REFILL_CHUNK_PER_THREAD`), whose result is dropped; the randomizers already
        in stock stay usable.  Safe to call when no refill runs.

        Args:
            timeout: seconds to wait for the thread (None: until it ends).

        Returns:
            True when no refill thread is left running.

        Raises:
            FedCryptoError: the refill thread had failed (its error is chained).
        """
        stock = self._stock
        with stock.cond:
            stock.forked()
            thread = stock.thread
            stock.target = 0
        stock.stop()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
        with stock.cond:
            stopped = thread is None or not thread.is_alive()
            if stopped and stock.thread is thread:
                stock.thread = None
            self._raise_error_locked()
        return stopped

    stop = stop_refill

    @property
    def refilling(self) -> bool:
        """Whether a background refill thread is running."""
        stock = self._stock
        with stock.cond:
            stock.forked()
            t = stock.thread
            return t is not None and t.is_alive() and not stock.halt.is_set()

    def _raise_error_locked(self) -> None:
        err = self._stock.error
        if err is not None:
            self._stock.error = None
            raise FedCryptoError(
                f"the background randomizer refill failed ({type(err).__name__})"
            ) from err

    # -- consumption -------------------------------------------------------------------
    def take(self, count: int) -> LimbArray:
        """Remove and return up to ``count`` randomizers (fewer if the pool runs dry).

        Each randomizer leaves the pool under its lock, so concurrent callers (and a
        running refill) never see the same one twice.
        """
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidArgumentError("count must be a non-negative int")
        out: list[LimbArray] = []
        need = count
        stock = self._stock
        with stock.cond:
            stock.forked()
            while need and stock.batches:
                head = stock.batches[0]
                if head.shape[0] <= need:
                    out.append(head)
                    stock.batches.pop(0)
                    need -= head.shape[0]
                else:
                    out.append(head[:need].copy())
                    stock.batches[0] = head[need:].copy()
                    need = 0
            stock.count -= count - need
            if stock.count < stock.target:
                stock.cond.notify_all()  # wake the refill thread
        if not out:
            return np.zeros((0, self._pk.ciphertext_width), dtype=np.uint64)
        return np.ascontiguousarray(np.concatenate(out))

    def take_for(self, public_key: PublicParams, count: int) -> LimbArray:
        """:meth:`take` after checking that ``public_key`` is the pool's key.

        Raises:
            KeyMismatchError: the pool belongs to another key.
        """
        self._pk._check_same(public_key)
        return self.take(count)

    def __repr__(self) -> str:
        state = " refilling" if self.refilling else ""
        return f"<RandomizerPool {self._randomness} remaining={self.remaining}{state}>"
