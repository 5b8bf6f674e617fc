"""Bulk encryption and decryption on the caller's executor.

``executor=None`` (the default everywhere) runs in this process with the native kernel's
threads.  With a :class:`concurrent.futures.Executor` (a local process pool, a Dask
cluster) the rows are cut into blocks of :data:`TASK_ROWS`; each block is one task that
receives plain data only — the key as integers (``n`` and ``h_s``; for private-key work
also ``p`` and ``q``, so a private key travels to the caller's own workers) and a limb
array — rebuilds the key parameters there and runs the same code as the inline path.
Blocks come back in order.  Ciphertexts are randomized, so two runs never give equal
ciphertexts, but every block decrypts to exactly the same plaintexts whatever the executor.

Worker-side keys are rebuilt with the size policy relaxed (``unsafe_allow_*``): the caller
already holds a key that passed its own policy; the rebuilt key is never exposed.
"""

from __future__ import annotations

from concurrent.futures import BrokenExecutor, CancelledError, Executor, Future

import numpy as np
import numpy.typing as npt

from ..exceptions import WorkerLostError
from ._crypto import decrypt_residues, encrypt_residues
from ._params import PrivateParams, PublicParams

__all__ = ["TASK_ROWS", "encrypt_residues_on", "decrypt_residues_on"]

LimbArray = npt.NDArray[np.uint64]

#: Rows per task (a 2048-bit key: 1024 ciphertexts of 512 bytes = 512 KiB per block, about
#: a second of work; rebuilding the key and its table on the worker costs a few percent).
TASK_ROWS = 1024

_RELAXED = {"unsafe_allow_small_keys": True, "unsafe_allow_large_keys": True}


def _private(p: int, q: int, h_s: int) -> PrivateParams:
    return PrivateParams(p, q, djn_base=h_s, **_RELAXED)


def _encrypt_task(
    n: int,
    h_s: int,
    primes: tuple[int, int] | None,
    m: LimbArray,
    randomness: str,
    variable_time: bool,
    threads: int | None,
) -> LimbArray:
    if primes is None:
        pk = PublicParams(n, h_s, **_RELAXED)
        sk = None
    else:
        sk = _private(primes[0], primes[1], h_s)
        pk = sk._pub
    return encrypt_residues(
        pk, m, randomness=randomness, threads=threads, private_key=sk, variable_time=variable_time
    )


def _decrypt_task(
    p: int, q: int, h_s: int, c: LimbArray, secret: bool, threads: int | None
) -> LimbArray:
    return decrypt_residues(_private(p, q, h_s), c, threads=threads, secret=secret)


def _gather(futures: list[Future[LimbArray]]) -> list[LimbArray]:
    try:
        return [f.result() for f in futures]
    except (BrokenExecutor, CancelledError):
        raise WorkerLostError(
            "a Paillier worker process died unexpectedly (killed, or out of memory)"
        ) from None
    finally:
        for f in futures:
            f.cancel()


def _blocks(rows: int, start: int = 0) -> list[tuple[int, int]]:
    return [(s, min(rows, s + TASK_ROWS)) for s in range(start, rows, TASK_ROWS)]


def encrypt_residues_on(
    executor: Executor | None,
    pk: PublicParams,
    m: LimbArray,
    *,
    randomness: str = "djn",
    pooled: LimbArray | None = None,
    threads: int | None = None,
    private_key: PrivateParams | None = None,
    variable_time: bool = False,
) -> LimbArray:
    """:func:`~._crypto.encrypt_residues` on ``executor`` (None = inline).

    Rows covered by ``pooled`` randomizers are encrypted here (the pool lives in this
    process); the rest go to the executor in blocks.
    """
    count = m.shape[0]
    if executor is None or count <= TASK_ROWS:
        return encrypt_residues(
            pk,
            m,
            randomness=randomness,
            pooled=pooled,
            threads=threads,
            private_key=private_key,
            variable_time=variable_time,
        )
    k = min(count, pooled.shape[0]) if pooled is not None else 0
    primes = (private_key._p, private_key._q) if private_key is not None else None
    futures: list[Future[LimbArray]] = []
    try:
        for s, e in _blocks(count, k):
            futures.append(
                executor.submit(
                    _encrypt_task,
                    pk.n,
                    pk.djn_base,
                    primes,
                    np.ascontiguousarray(m[s:e]),
                    randomness,
                    variable_time,
                    threads,
                )
            )
    except BrokenExecutor:
        raise WorkerLostError("the executor's worker processes are gone") from None
    parts: list[LimbArray] = []
    if k:
        parts.append(
            encrypt_residues(
                pk,
                np.ascontiguousarray(m[:k]),
                randomness=randomness,
                pooled=pooled,
                threads=threads,
                variable_time=variable_time,
            )
        )
    parts += _gather(futures)
    return np.concatenate(parts)


def decrypt_residues_on(
    executor: Executor | None,
    sk: PrivateParams,
    c: LimbArray,
    *,
    threads: int | None = None,
    secret: bool = True,
) -> LimbArray:
    """:func:`~._crypto.decrypt_residues` on ``executor`` (None = inline)."""
    count = c.shape[0]
    if executor is None or count <= TASK_ROWS:
        return decrypt_residues(sk, c, threads=threads, secret=secret)
    h_s = sk._pub.djn_base
    try:
        futures = [
            executor.submit(
                _decrypt_task, sk._p, sk._q, h_s, np.ascontiguousarray(c[s:e]), secret, threads
            )
            for s, e in _blocks(count)
        ]
    except BrokenExecutor:
        raise WorkerLostError("the executor's worker processes are gone") from None
    return np.concatenate(_gather(futures))
