"""The tag join: in memory and out of core give the same answer; spill files are removed."""

from __future__ import annotations

import os

import numpy as np
import pytest

from fedcrypto.psi._join import TagJoin


def _data(n_ref: int, n_probe: int, shared: int) -> tuple[bytes, bytes, set[int], set[int]]:
    common = os.urandom(16 * shared)
    ref = common + os.urandom(16 * (n_ref - shared))
    probe = os.urandom(16 * (n_probe - shared)) + common
    probe_hits = set(range(n_probe - shared, n_probe))
    ref_hits = set(range(shared))
    return ref, probe, probe_hits, ref_hits


@pytest.mark.parametrize("budget", [1 << 30, 1 << 20])
def test_join_in_memory_and_out_of_core(tmp_path: os.PathLike[str], budget: int) -> None:
    n_ref, n_probe, shared = 9000, 7000, 2500
    ref, probe, probe_hits, ref_hits = _data(n_ref, n_probe, shared)
    j = TagJoin(
        n_ref, n_probe, memory_budget=budget, workdir=str(tmp_path), want_ref_positions=True
    )
    if budget == 1 << 20:
        assert j.partitions > 1 and j.spill_dir is not None
    else:
        assert j.partitions == 1
    step = 1000
    for i in range(0, n_ref, step):
        j.add_ref(ref[16 * i : 16 * (i + step)], np.arange(i, min(n_ref, i + step)))
    for i in range(0, n_probe, step):
        j.add_probe(probe[16 * i : 16 * (i + step)], np.arange(i, min(n_probe, i + step)))
    if j.spill_dir is not None:
        assert os.listdir(j.spill_dir)  # partitions really on disk
    res = j.finish()
    assert set(res.probe.tolist()) == probe_hits
    assert res.ref is not None and set(res.ref.tolist()) == ref_hits
    assert list(res.probe) == sorted(res.probe)
    assert os.listdir(tmp_path) == []


def test_join_close_removes_files(tmp_path: os.PathLike[str]) -> None:
    j = TagJoin(100_000, 100_000, memory_budget=1 << 20, workdir=str(tmp_path))
    j.add_ref(os.urandom(16 * 10))
    assert os.listdir(tmp_path)
    j.close()
    j.close()
    assert os.listdir(tmp_path) == []


def test_join_empty() -> None:
    res = TagJoin(0, 0, memory_budget=1 << 20).finish()
    assert res.probe.size == 0 and res.ref is None
