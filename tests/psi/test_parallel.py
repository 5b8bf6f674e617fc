"""The PSI worker pool: chunking keeps order, worker errors surface, dead workers are typed."""

from __future__ import annotations

import os

import pytest

from fedcrypto.exceptions import FedCryptoError, InvalidGroupElementError
from fedcrypto.psi._parallel import MIN_CHUNK, WorkerPool, split


def _double(chunk: list[int]) -> list[int]:
    return [2 * x for x in chunk]


def _die(chunk: list[int]) -> list[int]:
    os._exit(3)


def _raise(chunk: list[int]) -> list[int]:
    raise InvalidGroupElementError("bad element")


def test_split_keeps_order_and_sizes() -> None:
    seq = list(range(5 * MIN_CHUNK + 7))
    for parts in (1, 2, 3, 8):
        chunks = split(seq, parts)
        assert [x for c in chunks for x in c] == seq
        assert len(chunks) <= parts
    assert split([], 4) == [[]]
    assert split([1, 2, 3], 4) == [[1, 2, 3]]


def test_pool_results_in_order_and_errors() -> None:
    pool = WorkerPool(2)
    try:
        seq = list(range(3 * MIN_CHUNK))
        out = pool.map_chunks(_double, seq)
        assert [x for part in out for x in part] == [2 * x for x in seq]
        with pytest.raises(InvalidGroupElementError):
            pool.map_chunks(_raise, seq)
    finally:
        pool.close()
    pool.close()  # idempotent


def test_dead_worker_is_a_typed_error() -> None:
    pool = WorkerPool(2)
    with pytest.raises(FedCryptoError, match="worker process died"):
        pool.map_chunks(_die, list(range(3 * MIN_CHUNK)))
    pool.close()


def test_inline_pool_never_spawns() -> None:
    pool = WorkerPool(1)
    assert pool.map_chunks(_double, list(range(10 * MIN_CHUNK)))[0][:3] == [0, 2, 4]
    assert pool._executor is None
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(pool)
