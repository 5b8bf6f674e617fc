"""fedcrypto for Flower: secure aggregation and packed-Paillier averaging as Flower parts.

Install with ``pip install 'fedcrypto[flower]'`` (Flower >= 1.41, < 1.43).

* :func:`secagg_mod` (client mod) and :class:`SecAggWorkflow` (fit workflow): drop-in
  replacements for ``flwr.client.mod.secaggplus_mod`` and
  ``flwr.server.workflow.SecAggPlusWorkflow`` -- change the two imports.
* :class:`SecAggFedAvg`: the same rounds for the Message API (``flwr.serverapp``).
* :class:`PaillierFedAvg` and :func:`paillier_mod`: federated averaging where the server
  only ever holds Paillier ciphertexts (BatchCrypt packing).
* :mod:`fedcrypto.integrations.flower.testing`: an in-process Grid for tests.

See docs/flower.md for the migration, threat models, parameters and figures.
"""

from __future__ import annotations

try:
    import flwr as _flwr  # noqa: F401
except ImportError as _exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "fedcrypto.integrations.flower needs Flower, which is not installed: "
        "pip install 'fedcrypto[flower]'"
    ) from _exc

from ._client import secagg_mod
from ._paillier import PaillierFedAvg, decrypt_arrays, paillier_mod
from ._server import RoundReport, SecAggSettings
from ._workflow import SecAggFedAvg, SecAggWorkflow, WorkflowState

__all__ = [
    "PaillierFedAvg",
    "RoundReport",
    "SecAggFedAvg",
    "SecAggSettings",
    "SecAggWorkflow",
    "WorkflowState",
    "decrypt_arrays",
    "paillier_mod",
    "secagg_mod",
]
