"""Benchmark machinery shared by ``fedcrypto bench`` and ``benchmarks/`` (pytest-benchmark).

* :func:`best_time`, :func:`time_pair`: the one timer (best of rounds; ours and the peer
  interleaved so that load on a shared machine hits both).
* :class:`Scenario`, :func:`run_scenario`: one definition of each operation and its peer,
  timed the same way by both front ends; with pytest-benchmark's fixture the result also
  lands in ``benchmark.extra_info``.
* :class:`Measurement`, :func:`environment`, :func:`extra_info`, :func:`write_json`,
  :func:`load_results`, :func:`plot`: results as data (JSON shaped like
  ``--benchmark-json``) and as a picture (matplotlib, the extra ``fedcrypto[plot]``).
* :func:`add_output_arguments`, :func:`check_output_arguments`, :func:`write_outputs`:
  ``--json`` / ``--plot`` for every ``fedcrypto bench`` target.
* :func:`paillier_scenarios`, :func:`phe_keys`: the Paillier scenarios against
  python-paillier.

This is a command-line layer module: it may time third-party peers (phe, gmpy2, Flower),
which the library itself never imports.
"""

from __future__ import annotations

from ._output import add_output_arguments, check_output_arguments, write_outputs
from ._paillier import paillier_scenarios, phe_keys
from ._report import Measurement, environment, extra_info, load_results, plot, write_json
from ._scenarios import Scenario, run_scenario
from ._timer import best_time, time_pair

__all__ = [
    "Measurement",
    "Scenario",
    "add_output_arguments",
    "check_output_arguments",
    "best_time",
    "environment",
    "extra_info",
    "load_results",
    "paillier_scenarios",
    "phe_keys",
    "plot",
    "run_scenario",
    "time_pair",
    "write_json",
    "write_outputs",
]
