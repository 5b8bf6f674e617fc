"""Mask regeneration for the server's unmasking step, as plain jobs for any executor.

Once the server has recovered every survivor's self-mask seed ``b_u`` and every dropped
client's mask key ``s_v^SK``, what is left is to regenerate ``PRG(b_u)`` and the
pairwise masks ``PRG(s_{u,v})`` and subtract them: many independent AES-CTR
expansions.  This module cuts that work into jobs made only of plain data (ints, bytes,
lists and tuples of them) run by the module-level :func:`recover_masks`, so the caller's
``concurrent.futures.Executor`` (a process pool, a Dask cluster, threads) can run them
anywhere; with no executor they run inline.  Each job returns its share of the mask sum
in wrapping machine words, and the parts are added mod ``2^k``: the result is the same
whatever the executor and however the work is cut.

A job that fails on the executor (a worker killed, a pool broken, a lost task) is run
again inline, so a dying worker never sinks an honest session.  The jobs carry
recovered secrets: an executor must run on machines the server trusts, over
authenticated, encrypted links (Dask with TLS).
"""

from __future__ import annotations

from concurrent.futures import Executor, Future

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from ._crypto import agree, load_public_key
from ._masking import MaskAccumulator, pairwise_mask_key, self_mask_key, word_dtype

__all__ = ["SelfJob", "PairJob", "recover_masks", "split_jobs", "run_recovery"]

#: ``(survivor u, seed b_u)``: remove ``PRG(b_u)``.
SelfJob = tuple[int, bytes]
#: ``(dropped v, raw s_v^SK, [(survivor u, s_u^PK), ...])``: remove ``PRG(s_{u,v})``.
PairJob = tuple[int, bytes, list[tuple[int, bytes]]]

#: Aim for at least this many mask words per job sent to an executor (about 64 MiB of
#: AES-CTR keystream), so the transfer of the result stays small next to the work.
_JOB_WORDS = 1 << 23
#: At most this many jobs per aggregation: enough to balance a few dozen workers.
_MAX_JOBS = 64


def recover_masks(
    modulus_bits: int,
    length: int,
    session_id: bytes,
    self_jobs: list[SelfJob],
    pair_jobs: list[PairJob],
) -> npt.NDArray[np.unsignedinteger]:
    """Minus the self masks and the dropped clients' pairwise masks of one job.

    A module-level function of plain arguments, so it can run in another process.

    Args:
        modulus_bits: ``k``.
        length: the vector length.
        session_id: the session id (keys every mask).
        self_jobs: ``(u, b_u)`` pairs.
        pair_jobs: ``(v, s_v^SK, [(u, s_u^PK), ...])`` triples.

    Returns:
        ``- sum PRG(b_u) - sum sign(u, v) PRG(s_{u,v})`` in wrapping machine words
        (reduce with ``MaskAccumulator``).
    """
    acc = MaskAccumulator(length, modulus_bits)
    for u, seed in self_jobs:
        acc.add(self_mask_key(seed, session_id=session_id, u=u, modulus_bits=modulus_bits), -1)
    parsed: dict[int, X25519PublicKey] = {}  # each survivor's key serves every dropped peer
    for v, raw, peers in pair_jobs:
        sk = X25519PrivateKey.from_private_bytes(raw)
        for u, pk in peers:
            if u not in parsed:
                parsed[u] = load_public_key(pk)
            secret = agree(sk, parsed[u])
            key = pairwise_mask_key(
                secret, session_id=session_id, u=u, v=v, modulus_bits=modulus_bits
            )
            # y_u contains +PRG if u < v and -PRG otherwise: remove it.
            acc.add(key, -1 if u < v else 1)
    return acc.words()


def split_jobs(
    self_jobs: list[SelfJob], pair_jobs: list[PairJob], parts: int
) -> list[tuple[list[SelfJob], list[PairJob]]]:
    """Cut the work into at most ``parts`` jobs of (nearly) equal numbers of expansions."""
    units: list[tuple[int, bytes, tuple[int, bytes] | None]] = [(u, s, None) for u, s in self_jobs]
    for v, raw, peers in pair_jobs:
        units.extend((v, raw, p) for p in peers)
    size = max(1, -(-len(units) // max(1, parts)))
    jobs: list[tuple[list[SelfJob], list[PairJob]]] = []
    for start in range(0, len(units), size):
        selfs: list[SelfJob] = []
        grouped: dict[int, PairJob] = {}
        for owner, secret, peer in units[start : start + size]:
            if peer is None:
                selfs.append((owner, secret))
            else:
                grouped.setdefault(owner, (owner, secret, []))[2].append(peer)
        jobs.append((selfs, list(grouped.values())))
    return jobs


def _job_count(expansions: int, length: int) -> int:
    return max(1, min(_MAX_JOBS, expansions, -(-expansions * length // _JOB_WORDS)))


def run_recovery(
    executor: Executor | None,
    *,
    modulus_bits: int,
    length: int,
    session_id: bytes,
    self_jobs: list[SelfJob],
    pair_jobs: list[PairJob],
) -> list[npt.NDArray[np.unsignedinteger]]:
    """Run the mask regeneration inline (``executor=None``) or as jobs on ``executor``.

    Returns:
        The parts to add to the masked sum (wrapping machine words).  A job whose future
        fails for any reason (a worker that died, a broken or shut-down pool, a lost
        task) is redone inline; an error that persists inline is raised from here.
    """
    args = (modulus_bits, length, session_id)
    if executor is None:
        return [recover_masks(*args, self_jobs, pair_jobs)]
    expansions = len(self_jobs) + sum(len(p) for _, _, p in pair_jobs)
    jobs = split_jobs(self_jobs, pair_jobs, _job_count(expansions, length))
    futures: list[Future[npt.NDArray[np.unsignedinteger]] | None] = []
    for selfs, pairs in jobs:
        try:
            futures.append(executor.submit(recover_masks, *args, selfs, pairs))
        except Exception:  # a broken or shut-down executor: this job runs inline below
            futures.append(None)
    want = np.dtype(word_dtype(modulus_bits))
    parts = []
    for (selfs, pairs), fut in zip(jobs, futures, strict=True):
        part = None
        if fut is not None:
            try:
                part = fut.result()
            except Exception:  # the worker died or the task was lost: redo it here
                part = None
        if not (isinstance(part, np.ndarray) and part.dtype == want and part.shape == (length,)):
            part = recover_masks(*args, selfs, pairs)
        parts.append(part)
    return parts
