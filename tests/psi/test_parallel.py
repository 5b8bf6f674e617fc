"""The PSI executor seam: chunking keeps order, task errors surface, dead workers are typed."""

from __future__ import annotations

import os
import pickle

import pytest

from fedcrypto.exceptions import InvalidGroupElementError, WorkerLostError
from fedcrypto.psi._parallel import MIN_CHUNK, map_chunks, split
from fedcrypto.scale import InlineExecutor, process_executor


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


def test_map_chunks_in_order_and_errors() -> None:
    seq = list(range(3 * MIN_CHUNK))
    with process_executor(2) as ex:
        out = map_chunks(ex, _double, seq, min_items=64)
        assert len(out) > 1
        assert [x for part in out for x in part] == [2 * x for x in seq]
        with pytest.raises(InvalidGroupElementError):
            map_chunks(ex, _raise, seq, min_items=64)


def test_dead_worker_is_a_typed_error() -> None:
    with process_executor(2) as ex:
        with pytest.raises(WorkerLostError, match="worker process died"):
            map_chunks(ex, _die, list(range(3 * MIN_CHUNK)), min_items=64)


def test_inline_when_no_executor() -> None:
    out = map_chunks(None, _double, list(range(10 * MIN_CHUNK)))
    assert len(out) == 1 and out[0][:3] == [0, 2, 4]
    out = map_chunks(InlineExecutor(), _double, list(range(10 * MIN_CHUNK)), min_items=MIN_CHUNK)
    assert len(out) == 10
    with pytest.raises(TypeError):
        pickle.dumps(InlineExecutor())


def test_parties_start_no_processes_and_write_no_files(
    tmp_path: os.PathLike[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """executor=None runs inline and the default join never spills: the party owns nothing."""
    import multiprocessing
    import tempfile

    from fedcrypto.psi import PsiSettings, run_pair

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    seen: list[tuple[int, int]] = []

    def progress(phase: str, done: int, total: int) -> None:
        seen.append((len(multiprocessing.active_children()), len(os.listdir(tmp_path))))

    a = [b"id%d" % i for i in range(8192)]
    s = PsiSettings(batch_size=4096, memory_budget=1 << 20)
    ra, _ = run_pair(s, a, a[:5000], progress=progress)
    assert ra.count == 5000
    assert seen and all(c == (0, 0) for c in seen), seen
