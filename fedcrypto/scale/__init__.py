"""Executors for running the protocols beyond one process: a local pool or a Dask cluster.

The protocols (:mod:`fedcrypto.psi`, the bulk Paillier calls) accept any
:class:`concurrent.futures.Executor` through ``executor=``; ``None`` runs inline.  This
package provides the two the tools use:

* :func:`process_executor` — the one local process-pool policy (spawn, watched parent,
  the backend's core count);
* :func:`dask_executor` — a client of this organisation's own Dask cluster over TLS
  (``pip install 'fedcrypto[dask]'``; ``distributed`` is imported only when called).

Results never depend on the executor.  See ``docs/scale-out.md``.
"""

from __future__ import annotations

from ._dask import DaskExecutor, dask_executor
from ._inline import InlineExecutor
from ._process import MAX_WORKERS, process_executor

__all__ = ["process_executor", "dask_executor", "DaskExecutor", "InlineExecutor", "MAX_WORKERS"]
