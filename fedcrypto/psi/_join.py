"""The matching step of every PSI protocol: which second-stage tags occur on both sides.

Two streams of fixed-size tags arrive batch by batch: the *reference* tags (the peer's set)
and the *probe* tags (this party's own set, each with its position in the input).  The
result is the sorted positions of the probe tags that also occur among the reference tags
(and, on request, the matching reference positions).

In memory the join keeps the raw tags (16 bytes each) plus 8-byte positions and matches
with one vectorised sort (``numpy.isin`` on 16-byte void values).  When the expected size
(tags, positions and the sort's temporaries) exceeds ``memory_budget`` it runs *out of
core*: each arriving batch is split by the tags' leading bits into ``P`` hash partitions
appended to files in a private temporary directory under ``workdir``; :meth:`finish` then
matches one partition at a time, so peak memory is about ``1/P`` of the data.  Tags are
outputs of a random oracle, so partitions are balanced.  The directory is removed by
:meth:`close` (also called by :meth:`finish` and on garbage collection).

Parties never choose where their tags go: the caller hands them a *join provider*,
:class:`InMemoryJoin` (the default: never touches the disk) or :class:`SpillingJoin` (spill
files under a directory the caller owns, past a memory budget; the CLI passes its
``--workdir``).  A party calls the provider once per run (once per bucket in partitioned
PSI) to get a fresh :class:`TagJoin`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError
from ._settings import TAG_BYTES

__all__ = ["TagJoin", "JoinResult", "JoinProvider", "InMemoryJoin", "SpillingJoin"]

_REC = np.dtype([("tag", f"V{TAG_BYTES}"), ("pos", "<i8")])
# bytes per element held while matching: record (24) + isin sort temporaries (~3 tags)
_BYTES_PER_ELEMENT = _REC.itemsize + 3 * TAG_BYTES + 8
_MAX_PARTITION_BITS = 12


@dataclass(frozen=True)
class JoinResult(Immutable):
    """Matched positions: ``probe`` sorted int64; ``ref`` sorted int64 or None if not asked."""

    probe: npt.NDArray[np.int64]
    ref: npt.NDArray[np.int64] | None


def _records(tags: bytes, positions: npt.NDArray[np.int64]) -> npt.NDArray[np.void]:
    n = len(tags) // TAG_BYTES
    if len(tags) != n * TAG_BYTES or positions.shape != (n,):
        raise InvalidArgumentError("tag batch and positions disagree in size")
    rec = np.empty(n, dtype=_REC)
    rec["tag"] = np.frombuffer(tags, dtype=f"V{TAG_BYTES}")
    rec["pos"] = positions
    return rec


class TagJoin:
    """Streaming tag join with a memory budget (see the module docstring).

    :param n_ref: number of reference tags that will be added (sizes the partitioning).
    :param n_probe: number of probe tags that will be added.
    :param memory_budget: bytes the join may use; above the estimate it spills to disk
        (None: always in memory).
    :param workdir: directory for spill files (None: the system temporary directory).
    :param want_ref_positions: also report which reference positions matched.
    """

    def __init__(
        self,
        n_ref: int,
        n_probe: int,
        *,
        memory_budget: int | None,
        workdir: str | None = None,
        want_ref_positions: bool = False,
    ) -> None:
        if n_ref < 0 or n_probe < 0:
            raise InvalidArgumentError("sizes must be non-negative")
        self._want_ref = want_ref_positions
        estimate = (n_ref + n_probe) * _BYTES_PER_ELEMENT
        self._bits = 0
        while (
            memory_budget is not None
            and estimate >> self._bits > memory_budget // 2
            and self._bits < _MAX_PARTITION_BITS
        ):
            self._bits += 1
        self._mem: dict[str, list[npt.NDArray[np.void]]] = {"ref": [], "probe": []}
        self._dir: str | None = None
        if self._bits:
            self._dir = tempfile.mkdtemp(prefix="fedcrypto-psi-join-", dir=workdir)
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._dir, True)

    @property
    def partitions(self) -> int:
        """Number of hash partitions (1 = in memory)."""
        return 1 << self._bits

    @property
    def spill_dir(self) -> str | None:
        """The temporary directory holding partitions, or None when in memory."""
        return self._dir

    def add_ref(self, tags: bytes, positions: npt.NDArray[np.int64] | None = None) -> None:
        """Add a batch of reference tags (positions only matter with ``want_ref_positions``)."""
        if positions is None:
            positions = np.full(len(tags) // TAG_BYTES, -1, dtype=np.int64)
        self._add("ref", _records(tags, positions))

    def add_probe(self, tags: bytes, positions: npt.NDArray[np.int64]) -> None:
        """Add a batch of probe tags with their positions in this party's input."""
        self._add("probe", _records(tags, positions))

    def _path(self, side: str, part: int) -> str:
        assert self._dir is not None
        return os.path.join(self._dir, f"{side}-{part:04x}.bin")

    def _add(self, side: str, rec: npt.NDArray[np.void]) -> None:
        if not rec.size:
            return
        if not self._bits:
            self._mem[side].append(rec)
            return
        raw = rec.view(np.uint8).reshape(rec.size, _REC.itemsize)
        part = ((raw[:, 0].astype(np.uint32) << 8) | raw[:, 1]) >> (16 - self._bits)
        order = np.argsort(part, kind="stable")
        part_sorted = part[order]
        rec_sorted = rec[order]
        bounds = np.searchsorted(part_sorted, np.arange((1 << self._bits) + 1))
        for p in np.flatnonzero(bounds[1:] > bounds[:-1]):
            with open(self._path(side, int(p)), "ab") as fh:
                fh.write(rec_sorted[bounds[p] : bounds[p + 1]].tobytes())

    @staticmethod
    def _match(
        ref: npt.NDArray[np.void], probe: npt.NDArray[np.void], want_ref: bool
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64] | None]:
        if not ref.size or not probe.size:
            return np.empty(0, np.int64), (np.empty(0, np.int64) if want_ref else None)
        hit = np.isin(probe["tag"], ref["tag"])
        ref_hit = ref["pos"][np.isin(ref["tag"], probe["tag"])] if want_ref else None
        return probe["pos"][hit], ref_hit

    def finish(self) -> JoinResult:
        """Match everything added so far and release all storage.

        :returns: the matched positions, sorted.
        """
        probes: list[npt.NDArray[np.int64]] = []
        refs: list[npt.NDArray[np.int64]] = []
        try:
            if not self._bits:
                ref = np.concatenate(self._mem["ref"]) if self._mem["ref"] else np.empty(0, _REC)
                probe = (
                    np.concatenate(self._mem["probe"]) if self._mem["probe"] else np.empty(0, _REC)
                )
                self._mem = {"ref": [], "probe": []}
                p, r = self._match(ref, probe, self._want_ref)
                probes.append(p)
                if r is not None:
                    refs.append(r)
            else:
                for part in range(1 << self._bits):
                    loaded = []
                    for side in ("ref", "probe"):
                        path = self._path(side, part)
                        if os.path.exists(path):
                            loaded.append(np.fromfile(path, dtype=_REC))
                            os.unlink(path)
                        else:
                            loaded.append(np.empty(0, _REC))
                    p, r = self._match(loaded[0], loaded[1], self._want_ref)
                    probes.append(p)
                    if r is not None:
                        refs.append(r)
        finally:
            self.close()
        probe_pos = np.sort(np.concatenate(probes)) if probes else np.empty(0, np.int64)
        ref_pos = (
            (np.sort(np.concatenate(refs)) if refs else np.empty(0, np.int64))
            if (self._want_ref)
            else None
        )
        return JoinResult(probe_pos.astype(np.int64), ref_pos)

    def close(self) -> None:
        """Delete spill files and free memory (idempotent)."""
        self._mem = {"ref": [], "probe": []}
        if self._dir is not None:
            self._finalizer()
            self._dir = None


class JoinProvider(Immutable):
    """Makes the :class:`TagJoin` of one PSI run (base of the two providers below)."""

    def new_join(self, n_ref: int, n_probe: int, *, want_ref_positions: bool) -> TagJoin:
        """A fresh join for ``n_ref`` reference and ``n_probe`` probe tags."""
        raise NotImplementedError  # pragma: no cover - abstract


class InMemoryJoin(JoinProvider):
    """Keep every tag in memory (about 56 bytes per element while matching); no files."""

    def __init__(self) -> None:
        self._set()

    def new_join(self, n_ref: int, n_probe: int, *, want_ref_positions: bool) -> TagJoin:
        """A join that never spills."""
        return TagJoin(n_ref, n_probe, memory_budget=None, want_ref_positions=want_ref_positions)

    def __repr__(self) -> str:
        return "InMemoryJoin()"


class SpillingJoin(JoinProvider):
    """Spill hash partitions to a private temporary directory under ``workdir`` once a run's
    estimated matching memory exceeds ``memory_budget`` bytes (the directory is removed
    when the run finishes or fails).

    :param workdir: an existing directory the caller owns.
    :param memory_budget: bytes the matching step may hold (at least 1 MiB).
    :raises InvalidArgumentError: a budget below 1 MiB or a missing directory.
    """

    def __init__(self, workdir: str, memory_budget: int = 512 << 20) -> None:
        if not isinstance(workdir, str) or not os.path.isdir(workdir):
            raise InvalidArgumentError("workdir must be an existing directory")
        if isinstance(memory_budget, bool) or not isinstance(memory_budget, int):
            raise InvalidArgumentError("memory_budget must be an int")
        if memory_budget < 1 << 20:
            raise InvalidArgumentError("memory_budget must be at least 1 MiB")
        self._set(workdir=workdir, memory_budget=memory_budget)

    workdir: str
    memory_budget: int

    def new_join(self, n_ref: int, n_probe: int, *, want_ref_positions: bool) -> TagJoin:
        """A join spilling under ``workdir`` past ``memory_budget``."""
        return TagJoin(
            n_ref,
            n_probe,
            memory_budget=self.memory_budget,
            workdir=self.workdir,
            want_ref_positions=want_ref_positions,
        )

    def __repr__(self) -> str:
        return f"SpillingJoin(memory_budget={self.memory_budget})"
