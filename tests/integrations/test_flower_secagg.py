"""fedcrypto secure aggregation inside Flower: the in-process grid (protobuf serde of every
message and every Context), dropouts at each stage, plain/active, SecAgg+/all-pairs,
weighted averaging, faults, and a cross-check with Flower's own SecAggPlusWorkflow."""

from __future__ import annotations

import logging
import subprocess
import sys
from concurrent.futures import Executor, Future
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ArrayRecord, ConfigRecord, Message, RecordDict  # noqa: E402
from flwr.client.mod import secaggplus_mod  # noqa: E402
from flwr.common.serde import message_to_proto  # noqa: E402
from flwr.server.workflow import SecAggPlusWorkflow  # noqa: E402

from fedcrypto.exceptions import InvalidTypeError, ProtocolError  # noqa: E402
from fedcrypto.integrations.flower import (  # noqa: E402
    SecAggFedAvg,
    SecAggWorkflow,
    secagg_mod,
)
from fedcrypto.integrations.flower._protocol import (  # noqa: E402
    ARRAY_KEY,
    CONFIG_KEY,
    PROTOCOL,
    STATE_KEY,
)
from fedcrypto.integrations.flower.testing import InProcessGrid  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from flower_apps import (  # noqa: E402
    SHAPES,
    bound,
    drop_at,
    expected_mean,
    isclose_all,
    legacy_client_app,
    make_key_dir,
    message_client_app,
    pid_of,
    run_legacy,
    stage_of,
    update_of,
)

MAX_W = 100.0


def _workflow(**kw: object) -> SecAggWorkflow:
    args: dict[str, object] = {"num_shares": 1.0, "reconstruction_threshold": 0.6}
    args.update(kw)
    args.setdefault("max_weight", MAX_W)
    return SecAggWorkflow(**args)  # type: ignore[arg-type]


def _check(grid: InProcessGrid, wf: SecAggWorkflow, got: list[np.ndarray], n: int) -> list[int]:
    rep = wf.reports[-1]
    assert rep.error is None, rep.error
    pids = sorted(pid_of(grid)[nid] for nid in rep.included)
    tol = bound(len(pids), pids, wf.settings.max_weight, wf.settings.scale)
    assert isclose_all(got, expected_mean(pids), tol)
    _assert_no_plain_update(grid)
    return pids


def _assert_no_plain_update(grid: InProcessGrid) -> None:
    """No reply carries anything but fedcrypto records, nor the bytes of a plain update."""
    plains = {nid: update_of(pid) for nid, pid in pid_of(grid).items()}
    for reply in grid.replies_seen:
        if reply.has_error() or "secaggplus_configs" in reply.content:
            continue  # an error, or a reply the test itself forged
        assert set(reply.content.keys()) <= {CONFIG_KEY, ARRAY_KEY}
        wire = message_to_proto(reply).SerializeToString()
        for arr in plains[int(reply.metadata.src_node_id)]:
            assert arr.tobytes() not in wire
            assert arr.astype(np.float64).tobytes()[:64] not in wire


STAGES_PLAIN = ["setup", "advertise", "share-keys", "masked-input", "unmask"]


@pytest.mark.parametrize("stage", STAGES_PLAIN)
@pytest.mark.parametrize("num_shares", [1.0, 5])  # all pairs / SecAgg+ (degree 4)
def test_dropout_at_each_stage(stage: str, num_shares: float) -> None:
    n = 7
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    victim = grid.node_ids[2]
    grid.interceptor = drop_at(stage, {victim})
    wf = _workflow(num_shares=num_shares, reconstruction_threshold=3 if num_shares == 5 else 0.6)
    _, got = run_legacy(grid, wf, n)
    pids = _check(grid, wf, got, n)
    if stage == "unmask":
        assert 2 in pids  # its masked input counts; only its unmasking reply was lost
    else:
        assert 2 not in pids and len(pids) == n - 1
    assert victim in wf.reports[-1].dropped


@pytest.mark.parametrize("stage", ["setup", "share-keys", "masked-input", "consistency", "unmask"])
def test_active_mode_with_dropouts(tmp_path: Path, stage: str) -> None:
    n = 6
    run_config = make_key_dir(tmp_path, n)
    grid = InProcessGrid(legacy_client_app(secagg_mod), n, run_config=run_config)
    grid.interceptor = drop_at(stage, {grid.node_ids[0]})
    wf = _workflow(active=True, num_shares=5, reconstruction_threshold=4)
    _, got = run_legacy(grid, wf, n)
    _check(grid, wf, got, n)


def test_active_mode_refuses_a_key_outside_the_roster(tmp_path: Path) -> None:
    n = 5
    run_config = make_key_dir(tmp_path, n)
    roster = (tmp_path / "roster.txt").read_text().splitlines()
    (tmp_path / "roster.txt").write_text("\n".join(roster[1:]) + "\n")  # node 0 unknown
    grid = InProcessGrid(legacy_client_app(secagg_mod), n, run_config=run_config)
    wf = _workflow(active=True, num_shares=1.0, reconstruction_threshold=0.6)
    run_legacy(grid, wf, n)
    rep = wf.reports[-1]
    assert isinstance(rep.error, ProtocolError)  # every client refuses the announced keys
    assert any("roster" in why for why in rep.dropped.values())


def test_weighted_average_over_two_rounds_and_state_is_sealed() -> None:
    n = 8
    key = "ab" * 32
    configs = [
        {"partition-id": i, "num-partitions": n, "fedcrypto-state-key": key} for i in range(n)
    ]
    grid = InProcessGrid(legacy_client_app(secagg_mod), n, node_configs=configs)
    wf = _workflow(num_shares=5, reconstruction_threshold=3)
    _, got = run_legacy(grid, wf, n, rounds=2)
    assert len(wf.reports) == 2
    _check(grid, wf, got, n)
    state = grid.context(grid.node_ids[0]).state.config_records[STATE_KEY]
    assert "state-key" not in state and "client" not in state  # done: no secret kept
    assert state["stage"] == "unmask"


@pytest.mark.parametrize("operator_key", [True, False])
def test_tampered_context_state_makes_the_node_refuse(operator_key: bool) -> None:
    n = 6
    configs = [{"partition-id": i, "num-partitions": n} for i in range(n)]
    if operator_key:
        for c in configs:
            c["fedcrypto-state-key"] = "cd" * 32
    grid = InProcessGrid(legacy_client_app(secagg_mod), n, node_configs=configs)
    victim = grid.node_ids[5]

    def tamper(nid: int, msg: Message) -> bool:
        if nid == victim and stage_of(msg) == "share-keys":
            ctx = grid.context(nid)
            rec = ctx.state.config_records[STATE_KEY]
            sealed = bytearray(rec["client"])  # type: ignore[arg-type]
            sealed[-5] ^= 0x40
            rec["client"] = bytes(sealed)
            grid.set_context(nid, ctx)
        return True

    grid.gate = tamper
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    assert 5 not in _check(grid, wf, got, n)
    assert "does not authenticate" in wf.reports[-1].dropped[victim]


def test_training_that_raises_drops_the_node() -> None:
    n = 6
    grid = InProcessGrid(legacy_client_app(secagg_mod, failing=frozenset({4})), n)
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    pids = _check(grid, wf, got, n)
    assert 4 not in pids
    assert "training blew up" in wf.reports[-1].dropped[grid.node_ids[4]]


def test_offline_node_times_out() -> None:
    n = 5
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    grid.offline = {grid.node_ids[1]}
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    assert 1 not in _check(grid, wf, got, n)


def _replace_payload(stage: str, victim: int, payload: bytes | None, flower: bool = False):  # type: ignore[no-untyped-def]
    def hook(nid: int, incoming: Message, reply: Message | None) -> Message | None:
        if nid != victim or stage_of(incoming) != stage or reply is None:
            return reply
        if flower:
            content = RecordDict({"secaggplus_configs": ConfigRecord({"masked_params": [b"x"]})})
            return Message(content, reply_to=incoming)
        out = reply.content
        out[ARRAY_KEY] = ArrayRecord({"msg": _u8(payload or b"")})
        return Message(out, reply_to=incoming)

    return hook


def _u8(b: bytes):  # type: ignore[no-untyped-def]
    from flwr.app import Array

    return Array(np.frombuffer(b, dtype=np.uint8))


@pytest.mark.parametrize("stage", ["advertise", "share-keys", "masked-input", "unmask"])
def test_garbage_reply_drops_the_node(stage: str) -> None:
    n = 6
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    victim = grid.node_ids[3]
    grid.interceptor = _replace_payload(stage, victim, b"\x00garbage" * 10)
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    _check(grid, wf, got, n)
    assert victim in wf.reports[-1].dropped


def test_flower_secaggplus_reply_is_named_and_dropped() -> None:
    n = 6
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    victim = grid.node_ids[0]
    grid.interceptor = _replace_payload("masked-input", victim, None, flower=True)
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    _check(grid, wf, got, n)
    assert "SecAgg+" in wf.reports[-1].dropped[victim]


def test_replayed_reply_from_an_earlier_stage_drops_the_node() -> None:
    n = 6
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    victim = grid.node_ids[1]
    kept: dict[str, Message] = {}

    def hook(nid: int, incoming: Message, reply: Message | None) -> Message | None:
        if nid != victim or reply is None:
            return reply
        st = stage_of(incoming)
        if st == "advertise":
            kept["old"] = reply
        if st == "masked-input":  # answer with the advertise reply again
            out = RecordDict(dict(kept["old"].content.items()))
            out[CONFIG_KEY] = ConfigRecord({"protocol": PROTOCOL, "stage": "masked-input"})
            return Message(out, reply_to=incoming)
        return reply

    grid.interceptor = hook
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    _check(grid, wf, got, n)
    assert victim in wf.reports[-1].dropped


def test_too_few_nodes_aborts_the_round_without_crashing() -> None:
    n = 5
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    grid.interceptor = drop_at("masked-input", set(grid.node_ids[:3]))
    wf = _workflow(num_shares=1.0, reconstruction_threshold=0.6)
    _, got = run_legacy(grid, wf, n)
    assert isinstance(wf.reports[-1].error, ProtocolError)
    assert all(not a.any() for a in got)  # the model was not touched


def test_client_refuses_a_request_for_both_shares_of_a_peer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fedcrypto.secagg import SecAggServer, UnmaskRequest

    original = SecAggServer.unmask_request

    def greedy(self: SecAggServer) -> UnmaskRequest:
        req = original(self)
        return UnmaskRequest(req.session_id, req.survivors, req.survivors[:1], req.signatures)

    monkeypatch.setattr(SecAggServer, "unmask_request", greedy)
    n = 5
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    wf = _workflow()
    _, got = run_legacy(grid, wf, n)
    rep = wf.reports[-1]
    assert isinstance(rep.error, ProtocolError)
    assert all("refused" in why and "both" in why for why in rep.dropped.values())
    assert all(not a.any() for a in got)


def test_plain_train_message_is_refused_by_the_mod() -> None:
    """A plain strategy (or Flower's SecAgg+) never gets the update from secagg_mod."""
    from flwr.server.workflow.default_workflows import default_fit_workflow

    n = 3
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    ctx, got = run_legacy(grid, default_fit_workflow, n)
    assert all(not a.any() for a in got)
    errors = [r.error.reason for r in grid.replies_seen if r.has_error()]
    assert len(errors) == n and all("refusing to send a plain update" in e for e in errors)


def test_mixing_with_flower_secaggplus_fails_fast_with_a_clear_error() -> None:
    n = 4
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    run_legacy(grid, SecAggPlusWorkflow(num_shares=3, reconstruction_threshold=2), n)
    errors = [r.error.reason for r in grid.replies_seen if r.has_error()]
    assert errors and all("SecAggPlusWorkflow" in e for e in errors)
    # and the other way round: our workflow, Flower's mod
    grid = InProcessGrid(legacy_client_app(secaggplus_mod), n)
    wf = _workflow()
    run_legacy(grid, wf, n)
    assert isinstance(wf.reports[-1].error, ProtocolError)
    assert all("secagg_mod" in why for why in wf.reports[-1].dropped.values())


def test_cross_check_with_flowers_secaggplus_workflow() -> None:
    """Flower's own SecAgg+ and ours reach the same weighted average on the same inputs."""
    n = 6
    ours_grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    ours_grid.interceptor = drop_at("masked-input", {ours_grid.node_ids[2]})
    wf = SecAggWorkflow(num_shares=5, reconstruction_threshold=3, max_weight=MAX_W)
    _, ours = run_legacy(ours_grid, wf, n)
    flower_grid = InProcessGrid(legacy_client_app(secaggplus_mod), n)

    def lose(nid: int, incoming: Message, reply: Message | None) -> Message | None:
        rec = incoming.content.config_records.get("secaggplus_configs")
        stage = rec.get("stage") if rec is not None else None
        return (
            None if nid == flower_grid.node_ids[2] and stage == "collect_masked_vectors" else reply
        )

    flower_grid.interceptor = lose
    _, theirs = run_legacy(
        flower_grid,
        SecAggPlusWorkflow(num_shares=5, reconstruction_threshold=3, max_weight=MAX_W),
        n,
    )
    pids = [p for p in range(n) if p != 2]
    exact = expected_mean(pids)
    assert isclose_all(ours, exact, bound(n, pids, MAX_W, wf.settings.scale))
    # Flower's quantization: step 2 * clip / (range - 1) per client, scaled like ours
    assert isclose_all(theirs, exact, 2 * bound(n, pids, MAX_W, wf.settings.scale))
    assert isclose_all(ours, theirs, 3 * bound(n, pids, MAX_W, wf.settings.scale))


def test_message_api_secagg_fedavg() -> None:
    n = 6
    grid = InProcessGrid(message_client_app(secagg_mod, failing=frozenset({1})), n)
    strategy = SecAggFedAvg(
        num_shares=5,
        reconstruction_threshold=3,
        max_weight=MAX_W,
        fraction_evaluate=0.0,
        min_train_nodes=n,
        min_available_nodes=n,
    )
    init = ArrayRecord({f"w{i}": _arr(np.zeros(s, np.float32)) for i, s in enumerate(SHAPES)})
    result = strategy.start(grid=grid, initial_arrays=init, num_rounds=2)
    assert len(strategy.reports) == 2 and all(r.error is None for r in strategy.reports)
    got = result.arrays.to_numpy_ndarrays()
    pids = [p for p in range(n) if p != 1]
    assert isclose_all(got, expected_mean(pids), bound(n, pids, MAX_W, strategy.settings.scale))
    assert result.train_metrics_clientapp[2]["num-examples"] == sum(10 + 7 * p for p in pids)
    _assert_no_plain_update_message(grid)


def _arr(a: np.ndarray):  # type: ignore[no-untyped-def]
    from flwr.app import Array

    return Array(a)


def _assert_no_plain_update_message(grid: InProcessGrid) -> None:
    for reply in grid.replies_seen:
        if reply.has_error() or reply.metadata.message_type != "train":
            continue
        assert set(reply.content.keys()) <= {CONFIG_KEY, ARRAY_KEY}


def test_import_fedcrypto_never_imports_flwr() -> None:
    code = (
        "import sys, fedcrypto, fedcrypto.secagg, fedcrypto.paillier, fedcrypto.integrations\n"
        "assert not any(m == 'flwr' or m.startswith('flwr.') for m in sys.modules), 'flwr'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_flwr_names_the_extra() -> None:
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'flwr' or name.startswith('flwr.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "try:\n"
        "    import fedcrypto.integrations.flower\n"
        "except ImportError as e:\n"
        "    assert 'fedcrypto[flower]' in str(e), e\n"
        "else:\n"
        "    raise SystemExit('no ImportError')\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(autouse=True)
def _quiet_flower() -> None:
    logging.getLogger("flwr").setLevel(logging.WARNING)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_shares": 2},
        {"num_shares": 0.0},
        {"reconstruction_threshold": 1.5},
        {"reconstruction_threshold": 9, "num_shares": 5},
        {"modulus_range": 3 << 30},
        {"modulus_range": 1 << 20},
        {"max_weight": -1.0},
        {"clipping_range": float("nan")},
        {"timeout": 0},
    ],
)
def test_bad_workflow_parameters_are_refused(kwargs: dict[str, object]) -> None:
    from fedcrypto.exceptions import InvalidArgumentError

    args: dict[str, object] = {"num_shares": 5, "reconstruction_threshold": 3}
    args.update(kwargs)
    with pytest.raises(InvalidArgumentError):
        SecAggWorkflow(**args)  # type: ignore[arg-type]


def test_sum_that_could_wrap_skips_the_round() -> None:
    """Flower only warns when n * quantization_range may overflow the modulus; we refuse."""
    n = 5
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    wf = _workflow(quantization_range=1 << 30, modulus_range=1 << 32)
    _, got = run_legacy(grid, wf, n)
    from fedcrypto.exceptions import EncodingOverflowError

    assert isinstance(wf.reports[-1].error, EncodingOverflowError)
    assert all(not a.any() for a in got)


class _CountingExecutor(Executor):
    """Runs jobs in this thread and counts them."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def,override]
        self.jobs += 1
        fut: Future[object] = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def test_workflow_hands_its_executor_to_the_server() -> None:
    n = 6
    grid = InProcessGrid(legacy_client_app(secagg_mod), n)
    grid.interceptor = drop_at("masked-input", {grid.node_ids[1]})  # pairwise masks to remove
    pool = _CountingExecutor()
    wf = _workflow(executor=pool)
    _, got = run_legacy(grid, wf, n)
    _check(grid, wf, got, n)
    assert pool.jobs >= 1


def test_executor_must_be_an_executor() -> None:
    with pytest.raises(InvalidTypeError):
        _workflow(executor=4)
    with pytest.raises(InvalidTypeError):
        SecAggFedAvg(executor="processes")  # type: ignore[arg-type]
