"""The standalone PSI tool behind ``fedcrypto psi`` (the only PSI code doing I/O).

Modules: ``_cli`` (the ``fedcrypto psi`` parser and dispatch), ``_input`` (ID files),
``_net`` (frames, connections, rates and deadlines), ``_tls`` (TLS contexts, CA or pinned
certificate, bounded handshake), ``_listen`` (the listener's accept loop and
rejected-attempt log), ``_handshake`` (versioned hello), ``_progress`` (stderr lines and
bars), ``_output`` (atomic results, JSON report), ``_certs`` (``make-identity``,
``make-certs``), ``_errors`` (error types to exit codes and messages), ``_run`` (the
two-party driver), ``_e2e`` (two-process runs for the benchmarks), ``_scale``
(``--buckets``/``--scheduler``/``--resume`` options and the executor), ``_checkpoint`` and
``_resume`` (``--resume``), ``_multiparty`` (``--parties N``: the n-party leader and
members, docs/psi-multiparty.md).  See ``docs/psi-tool.md``.

Issue 13 (``docs/psi-compute.md``): ``_compute`` (``--compute sum`` and the dispatch of
``listen``/``connect``), ``_sum_input`` (value columns), ``_payload_tool`` (payload
transfer), ``_session`` (hello with extra fields, listen-or-connect), ``_unbalanced_tool``
(``serve`` and ``query``).
"""

from __future__ import annotations

from ._cli import build_psi_parser, register
from ._compute import add_compute_options
from ._compute import run_connect as run_compute_connect
from ._compute import run_listen as run_compute_listen
from ._e2e import run_files_two_processes, run_two_processes
from ._input import InputData, InputSpec, load_input
from ._run import run_connect, run_listen, run_local
from ._scale import add_scale_options
from ._unbalanced_tool import add_unbalanced_modes

__all__ = ["InputSpec", "InputData", "load_input", "run_listen", "run_connect", "run_local"]
__all__ += ["add_scale_options", "add_compute_options", "add_unbalanced_modes"]
__all__ += ["run_compute_listen", "run_compute_connect", "register", "build_psi_parser"]
__all__ += ["run_two_processes", "run_files_two_processes"]
