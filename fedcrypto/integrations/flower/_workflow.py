"""``SecAggWorkflow`` (drop-in for ``SecAggPlusWorkflow``) and ``SecAggFedAvg`` (Message API)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from typing import Any, cast

import numpy as np
import numpy.typing as npt
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.common import (
    Code,
    FitRes,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from ...exceptions import FedCryptoError, InvalidTypeError
from ._server import RoundReport, SecAggSettings, ServerRound, split_like

__all__ = ["SecAggWorkflow", "SecAggFedAvg", "WorkflowState"]

_log = logging.getLogger("flwr.fedcrypto")  # shown by Flower's console handler


def _check_executor(executor: object) -> Executor | None:
    if executor is not None and not isinstance(executor, Executor):
        raise InvalidTypeError("executor must be a concurrent.futures.Executor or None")
    return executor


class WorkflowState:
    """The state of one round of :class:`SecAggWorkflow` (attribute names as Flower's).

    Attributes:
        nid_to_proxies: node id -> client proxy (for the strategy).
        nid_to_fitins: node id -> the FitIns RecordDict the strategy made for that node;
            a subclass may edit it after :meth:`SecAggWorkflow.setup_stage`.
        sampled_node_ids: the nodes the round started with.
        active_node_ids: the nodes still in the round.
        failures: one exception per dropped node (handed to ``aggregate_fit``).
        round: the protocol driver (reports, parameters).
    """

    def __init__(self) -> None:
        self.nid_to_proxies: dict[int, Any] = {}
        self.nid_to_fitins: dict[int, RecordDict] = {}
        self.sampled_node_ids: set[int] = set()
        self.active_node_ids: set[int] = set()
        self.failures: list[BaseException] = []
        self.templates: list[npt.NDArray[Any]] = []
        self.round: ServerRound | None = None

    @property
    def aggregate_ndarrays(self) -> list[npt.NDArray[np.uint64]]:
        """The sum of the masked vectors received so far, cut like
        ``[weight (1,), parameter arrays...]``: what the server sees, i.e. noise."""
        if self.round is None:
            return []
        flat = self.round.masked_sum()
        out: list[npt.NDArray[np.uint64]] = [flat[:1]]
        pos = 1
        for t in self.templates:
            size = int(np.prod(t.shape, dtype=np.int64))
            out.append(flat[pos : pos + size].reshape(t.shape))
            pos += size
        return out


class SecAggWorkflow:
    """Flower fit workflow running fedcrypto secure aggregation (for ``DefaultWorkflow``).

    A drop-in for ``flwr.server.workflow.SecAggPlusWorkflow``: same keyword arguments
    with the same meaning, used as ``DefaultWorkflow(fit_workflow=SecAggWorkflow(...))``
    with :func:`secagg_mod` on the clients.  The strategy's ``aggregate_fit`` receives
    the example-weighted average of the surviving clients' updates (as every included
    client's result, ``num_examples=1`` each) and one failure per dropped node.

    Args:
        num_shares: share holders per client, itself included (int > 2), or a fraction
            of the sampled nodes (float); ``>= n`` means every pair (Bonawitz).
        reconstruction_threshold: shares needed to rebuild a secret (int), or a fraction
            of ``num_shares`` (float); must be a strict majority of the holders.
        max_weight: largest ``num_examples`` of one client (larger ones are refused).
        clipping_range: each parameter is clipped to ``[-clipping_range, clipping_range]``.
        quantization_range: quantization levels across the clipping range.
        modulus_range: masking modulus (power of two, at most ``2^64``).
        timeout: seconds to wait for each stage's replies (``None``: wait for all).
        active: the active-adversary variant (Ed25519 signatures + consistency round;
            clients need keys, see docs/flower.md).
        unsafe_allow_low_threshold: accept a threshold below a strict majority.
        executor: where the server regenerates the masks when it unmasks: any
            ``concurrent.futures.Executor`` the server app owns (a spawn-based process
            pool, a Dask executor), or ``None`` to run inline.  The recovered secrets
            travel to it, so use only executors the server trusts.

    Raises:
        InvalidArgumentError, InvalidTypeError: bad parameters.

    A round that cannot finish (fewer than the threshold left, too few shares, an
    unusable configuration) is logged, recorded in :attr:`reports` and skipped: the
    global model stays as it was, and the server app keeps running.
    """

    def __init__(
        self,
        num_shares: int | float,
        reconstruction_threshold: int | float,
        *,
        max_weight: float = 1000.0,
        clipping_range: float = 8.0,
        quantization_range: int = 4194304,
        modulus_range: int = 4294967296,
        timeout: float | None = None,
        active: bool = False,
        unsafe_allow_low_threshold: bool = False,
        executor: Executor | None = None,
    ) -> None:
        self.executor = _check_executor(executor)
        self.settings = SecAggSettings(
            num_shares=num_shares,
            reconstruction_threshold=reconstruction_threshold,
            max_weight=max_weight,
            clipping_range=clipping_range,
            quantization_range=quantization_range,
            modulus_range=modulus_range,
            timeout=timeout,
            active=active,
            unsafe_allow_low_threshold=unsafe_allow_low_threshold,
        )
        self.num_shares = num_shares
        self.reconstruction_threshold = reconstruction_threshold
        self.max_weight = max_weight
        self.clipping_range = clipping_range
        self.quantization_range = quantization_range
        self.modulus_range = modulus_range
        self.timeout = timeout
        self.active = active
        #: One report per round run by this workflow.
        self.reports: list[RoundReport] = []

    def __call__(self, grid: Grid, context: Context) -> None:
        """Run one round of secure aggregation and hand the average to the strategy."""
        if not isinstance(context, LegacyContext):
            raise TypeError(f"Expect a LegacyContext, but get {type(context).__name__}.")
        state = WorkflowState()
        steps = (
            self.setup_stage,
            self.share_keys_stage,
            self.collect_masked_vectors_stage,
            self.unmask_stage,
        )
        _log.info("fedcrypto secure aggregation commencing")
        for step in steps:
            try:
                ok = step(grid, context, state)
            except FedCryptoError as exc:
                if state.round is not None:
                    state.round.report.error = exc
                _log.error("fedcrypto secure aggregation halted: %s: %s", type(exc).__name__, exc)
                return
            if not ok:
                _log.info("fedcrypto secure aggregation halted")
                return
        _log.info("fedcrypto secure aggregation completed")

    def _sync(self, state: WorkflowState) -> None:
        assert state.round is not None
        state.active_node_ids = set(state.round.active)

    def setup_stage(self, grid: Grid, context: LegacyContext, state: WorkflowState) -> bool:
        """Sample clients, announce the session, collect nonces, then advertise keys."""
        cfg = context.state.config_records[MAIN_CONFIGS_RECORD]
        current_round = cast(int, cfg[WorkflowKey.CURRENT_ROUND])
        parameters = compat.arrayrecord_to_parameters(
            context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True
        )
        proxy_fitins = context.strategy.configure_fit(
            current_round, parameters, context.client_manager
        )
        if not proxy_fitins:
            _log.info("configure_fit: no clients selected, cancel")
            return False
        state.nid_to_fitins = {
            p.node_id: compat.fitins_to_recorddict(fitins, True) for p, fitins in proxy_fitins
        }
        state.nid_to_proxies = {p.node_id: p for p, _ in proxy_fitins}
        state.templates = list(parameters_to_ndarrays(parameters))
        length = 1 + sum(int(np.prod(t.shape, dtype=np.int64)) for t in state.templates)
        state.sampled_node_ids = set(state.nid_to_fitins)
        try:
            state.round = ServerRound(
                self.settings,
                grid,
                state.sampled_node_ids,
                vector_length=length,
                server_round=current_round,
                reply_format="legacy",
                executor=self.executor,
            )
        except FedCryptoError as exc:
            self.reports.append(RoundReport(server_round=current_round, error=exc))
            raise
        self.reports.append(state.round.report)
        replies = grid.send_and_receive(state.round.setup_messages(), timeout=self.timeout)
        state.round.receive_setup(replies)
        state.round.advertise()
        self._sync(state)
        return True

    def share_keys_stage(self, grid: Grid, context: LegacyContext, state: WorkflowState) -> bool:
        """Broadcast the key list, collect the encrypted shares."""
        assert state.round is not None
        state.round.share_keys()
        self._sync(state)
        return True

    def collect_masked_vectors_stage(
        self, grid: Grid, context: LegacyContext, state: WorkflowState
    ) -> bool:
        """Deliver shares and fit instructions; each client trains once and masks."""
        assert state.round is not None
        state.round.masked_input(state.nid_to_fitins)
        self._sync(state)
        return True

    def unmask_stage(self, grid: Grid, context: LegacyContext, state: WorkflowState) -> bool:
        """Remove the masks and give the weighted average to ``strategy.aggregate_fit``."""
        assert state.round is not None
        cfg = context.state.config_records[MAIN_CONFIGS_RECORD]
        current_round = cast(int, cfg[WorkflowKey.CURRENT_ROUND])
        _, mean = state.round.unmask()
        self._sync(state)
        report = state.round.report
        parameters = ndarrays_to_parameters(split_like(mean, state.templates))
        results = [
            (
                state.nid_to_proxies[nid],
                FitRes(Status(Code.OK, ""), parameters, num_examples=1, metrics={}),
            )
            for nid in report.included
        ]
        failures: list[BaseException] = [
            Exception(f"node {nid}: {why}") for nid, why in sorted(report.dropped.items())
        ]
        _log.info("aggregate_fit: received %s results and %s failures", len(results), len(failures))
        params_agg, metrics_agg = context.strategy.aggregate_fit(
            current_round,
            results,
            failures,  # type: ignore[arg-type]
        )
        if params_agg:
            context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
                params_agg, True
            )
            context.history.add_metrics_distributed_fit(
                server_round=current_round, metrics=metrics_agg
            )
        return True


class SecAggFedAvg(FedAvg):
    """Flower's Message-API ``FedAvg`` whose training rounds run fedcrypto secure aggregation.

    ``configure_train`` opens a session with the sampled nodes (setup stage) and keeps the
    training instructions; ``aggregate_train`` runs the remaining stages over the same
    ``Grid`` and returns the example-weighted average (``weighted_by_key``) of the
    surviving clients and ``MetricRecord({weighted_by_key: total weight})``.  Clients
    use :func:`secagg_mod`; their replies carry only fedcrypto envelopes, so per-client
    training metrics are not sent.  A round that cannot finish returns ``(None, None)``
    (the model stays as it was); see :attr:`reports`.

    The keyword arguments ``num_shares``, ``reconstruction_threshold``, ``max_weight``,
    ``clipping_range``, ``quantization_range``, ``modulus_range``, ``timeout``, ``active``,
    ``unsafe_allow_low_threshold`` and ``executor`` are as for :class:`SecAggWorkflow`.

    Args:
        **fedavg_kwargs: passed to ``flwr.serverapp.strategy.FedAvg``.
    """

    def __init__(
        self,
        *,
        num_shares: int | float = 1.0,
        reconstruction_threshold: int | float = 0.75,
        max_weight: float = 1000.0,
        clipping_range: float = 8.0,
        quantization_range: int = 4194304,
        modulus_range: int = 4294967296,
        timeout: float | None = None,
        active: bool = False,
        unsafe_allow_low_threshold: bool = False,
        executor: Executor | None = None,
        **fedavg_kwargs: Any,
    ) -> None:
        super().__init__(**fedavg_kwargs)
        self.executor = _check_executor(executor)
        self.settings = SecAggSettings(
            num_shares=num_shares,
            reconstruction_threshold=reconstruction_threshold,
            max_weight=max_weight,
            clipping_range=clipping_range,
            quantization_range=quantization_range,
            modulus_range=modulus_range,
            timeout=timeout,
            active=active,
            unsafe_allow_low_threshold=unsafe_allow_low_threshold,
        )
        self.reports: list[RoundReport] = []
        self._round: ServerRound | None = None
        self._contents: dict[int, RecordDict] = {}
        self._keys: list[str] = []
        self._templates: list[npt.NDArray[Any]] = []

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """Sample nodes as FedAvg does and return the secure-aggregation setup messages."""
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self._round = None
        if not messages:
            return []
        self._contents = {int(m.metadata.dst_node_id): m.content for m in messages}
        self._keys = list(arrays.keys())
        self._templates = [np.asarray(a) for a in arrays.to_numpy_ndarrays()]
        length = 1 + sum(int(t.size) for t in self._templates)
        try:
            rnd = ServerRound(
                self.settings,
                grid,
                self._contents,
                vector_length=length,
                server_round=server_round,
                reply_format="message",
                weight_key=self.weighted_by_key,
                executor=self.executor,
            )
        except FedCryptoError as exc:
            _log.error("fedcrypto secure aggregation cannot start: %s", exc)
            self.reports.append(RoundReport(server_round=server_round, error=exc))
            return []
        self.reports.append(rnd.report)
        self._round = rnd
        return rnd.setup_messages()

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        """Run the rest of the protocol; return the secure weighted average."""
        rnd, self._round = self._round, None
        if rnd is None:
            return None, None
        try:
            rnd.receive_setup(replies)
            rnd.advertise()
            rnd.share_keys()
            rnd.masked_input(self._contents)
            total, mean = rnd.unmask()
        except FedCryptoError as exc:
            rnd.report.error = exc
            _log.error("fedcrypto secure aggregation halted: %s: %s", type(exc).__name__, exc)
            return None, None
        finally:
            self._contents = {}
        arrays = split_like(mean, self._templates)
        record = ArrayRecord(
            {k: Array(np.asarray(a)) for k, a in zip(self._keys, arrays, strict=True)}
        )
        _log.info(
            "aggregate_train: %s nodes included, %s dropped",
            len(rnd.report.included),
            len(rnd.report.dropped),
        )
        return record, MetricRecord({self.weighted_by_key: total})
