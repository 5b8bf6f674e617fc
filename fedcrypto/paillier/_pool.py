"""Precomputed Paillier randomizers for offline/online splitting."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from .._backend._limbs import LimbArray
from ..exceptions import InvalidArgumentError, InvalidTypeError
from . import _crypto
from ._keys import PaillierPublicKey, Randomness

__all__ = ["RandomizerPool"]


class RandomizerPool:
    """A stock of fresh n-th residues ``rho`` (randomizers) computed ahead of time.

    Encryption is ``c = (1 + m*n) * rho mod n**2``; almost all of its cost is ``rho``,
    which does not depend on ``m``.  Fill a pool while idle (:meth:`refill`), then
    ``public_key.encrypt(values, pool=pool)`` only does one modular product per value.

    Each randomizer is handed out once and then forgotten.  The pool is never
    serialized (pickling raises) and is safe across ``fork``: a child process sees
    an empty pool (it must not reuse randomizers its parent may also use).  Methods
    are thread-safe.  When a pool runs dry, encryption computes the rest fresh.
    """

    __slots__ = ("_pk", "_randomness", "_lock", "_stock", "_pid")

    def __init__(
        self,
        public_key: PaillierPublicKey,
        size: int = 0,
        *,
        randomness: Randomness = "djn",
        threads: int | None = None,
    ) -> None:
        """Create a pool for ``public_key`` and precompute ``size`` randomizers."""
        if not isinstance(public_key, PaillierPublicKey):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        if randomness not in ("djn", "full"):
            raise InvalidArgumentError('randomness must be "djn" or "full"')
        self._pk = public_key
        self._randomness = randomness
        self._lock = threading.Lock()
        self._stock: list[LimbArray] = []
        self._pid = os.getpid()
        if size:
            self.refill(size, threads=threads)

    @property
    def public_key(self) -> PaillierPublicKey:
        """The key the randomizers belong to."""
        return self._pk

    def _forked(self) -> None:
        if self._pid != os.getpid():
            self._stock = []
            self._pid = os.getpid()

    @property
    def remaining(self) -> int:
        """Randomizers left."""
        with self._lock:
            self._forked()
            return sum(a.shape[0] for a in self._stock)

    def refill(self, count: int, *, threads: int | None = None) -> None:
        """Compute ``count`` more randomizers (the expensive, offline part)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidArgumentError("count must be a non-negative int")
        fresh = _crypto.randomizers(self._pk, count, randomness=self._randomness, threads=threads)
        with self._lock:
            self._forked()
            if count:
                self._stock.append(fresh)

    def take(self, count: int) -> LimbArray:
        """Remove and return up to ``count`` randomizers (fewer if the pool runs dry)."""
        out: list[LimbArray] = []
        need = count
        with self._lock:
            self._forked()
            while need and self._stock:
                head = self._stock[0]
                if head.shape[0] <= need:
                    out.append(head)
                    self._stock.pop(0)
                    need -= head.shape[0]
                else:
                    out.append(head[:need].copy())
                    self._stock[0] = head[need:].copy()
                    need = 0
        if not out:
            return np.zeros((0, self._pk.ciphertext_width), dtype=np.uint64)
        return np.ascontiguousarray(np.concatenate(out))

    def _check_key(self, pk: PaillierPublicKey) -> None:
        self._pk._check_same(pk)

    def __repr__(self) -> str:
        return f"<RandomizerPool {self._randomness} remaining={self.remaining}>"

    def __reduce__(self) -> Any:
        raise TypeError("randomizer pools are single-use secrets and cannot be pickled")
