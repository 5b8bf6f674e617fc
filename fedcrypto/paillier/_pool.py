"""Precomputed Paillier randomizers for offline/online splitting."""

from __future__ import annotations

import os
import threading

import numpy as np

from .._backend import LimbArray
from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError
from . import _crypto
from ._crypto import Randomness
from ._params import PublicParams

__all__ = ["RandomizerPool"]


class _Stock:
    """The pool's mutable part: randomizer batches, the owning process id, a lock."""

    __slots__ = ("lock", "batches", "pid")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.batches: list[LimbArray] = []
        self.pid = os.getpid()

    def forked(self) -> None:
        """Forget every randomizer in a forked child (call with the lock held)."""
        if self.pid != os.getpid():
            self.batches = []
            self.pid = os.getpid()


class RandomizerPool(Immutable):
    """A stock of fresh n-th residues ``rho`` (randomizers) computed ahead of time.

    Encryption is ``c = (1 + m*n) * rho mod n**2``; almost all of its cost is ``rho``,
    which does not depend on ``m``.  Fill a pool while idle (:meth:`refill`), then
    ``public_key.encrypt(values, pool=pool)`` only does one modular product per value.

    Each randomizer is handed out once and then forgotten.  The pool is never
    serialized (pickling raises) and is safe across ``fork``: a child process sees
    an empty pool (it must not reuse randomizers its parent may also use).  Methods
    are thread-safe.  When a pool runs dry, encryption computes the rest fresh.
    """

    __slots__ = ("_pk", "_randomness", "_stock")
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
        self._set(_pk=public_key, _randomness=randomness, _stock=_Stock())
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
        with stock.lock:
            stock.forked()
            return sum(a.shape[0] for a in stock.batches)

    def refill(self, count: int, *, threads: int | None = None) -> None:
        """Compute ``count`` more randomizers (the expensive, offline part)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidArgumentError("count must be a non-negative int")
        fresh = _crypto.randomizers(self._pk, count, randomness=self._randomness, threads=threads)
        stock = self._stock
        with stock.lock:
            stock.forked()
            if count:
                stock.batches.append(fresh)

    def take(self, count: int) -> LimbArray:
        """Remove and return up to ``count`` randomizers (fewer if the pool runs dry)."""
        out: list[LimbArray] = []
        need = count
        stock = self._stock
        with stock.lock:
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
        return f"<RandomizerPool {self._randomness} remaining={self.remaining}>"
