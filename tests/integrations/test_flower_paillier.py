"""PaillierFedAvg + paillier_mod: the server only holds the public key and ciphertexts,
clients decrypt the aggregate before the next round."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import Array, ArrayRecord  # noqa: E402

from fedcrypto import paillier  # noqa: E402
from fedcrypto.integrations.flower import PaillierFedAvg, decrypt_arrays, paillier_mod  # noqa: E402
from fedcrypto.integrations.flower._paillier import PAYLOAD_KEY  # noqa: E402
from fedcrypto.integrations.flower.testing import InProcessGrid  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from flower_apps import SHAPES, expected_mean, isclose_all, message_client_app, update_of  # noqa: E402


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, paillier.PaillierPrivateKey]:
    sk = paillier.generate_private_key(2048)
    path = tmp_path_factory.mktemp("paillier") / "federation.key"
    path.write_bytes(sk.private_bytes())
    return path, sk


def test_paillier_fedavg_two_rounds(key_file: tuple[Path, paillier.PaillierPrivateKey]) -> None:
    path, sk = key_file
    n = 5
    configs = [
        {"partition-id": i, "num-partitions": n, "fedcrypto-paillier-key": str(path)}
        for i in range(n)
    ]
    grid = InProcessGrid(
        message_client_app(paillier_mod, failing=frozenset({3})), n, node_configs=configs
    )
    strategy = PaillierFedAvg(
        sk.public_key(),
        bits=32,
        max_total_weight=1000,
        clipping_range=2.0,
        fraction_evaluate=1.0,
        min_train_nodes=n,
        min_evaluate_nodes=n,
        min_available_nodes=n,
    )
    init = ArrayRecord({f"w{i}": Array(np.zeros(s, np.float32)) for i, s in enumerate(SHAPES)})
    result = strategy.start(grid=grid, initial_arrays=init, num_rounds=2)
    # The server's final arrays are ciphertext only.
    assert list(result.arrays.keys()) == [PAYLOAD_KEY]
    agg, layout, total = strategy.aggregate_layout()
    assert agg is not None and layout is not None
    pids = [p for p in range(n) if p != 3]
    assert total == sum(10 + 7 * p for p in pids)
    got = decrypt_arrays(agg, layout, total, sk).to_numpy_ndarrays()
    tol = strategy.scheme.error_bound(total) / total + 1e-6
    assert isclose_all(got, expected_mean(pids), tol)
    # Nothing the clients sent in a train reply holds a plain update.
    for reply in grid.replies_seen:
        if reply.has_error() or reply.metadata.message_type != "train":
            continue
        assert not any(k == "arrays" for k in reply.content.keys())
        wire = bytes(reply.content.array_records[PAYLOAD_KEY]["msg"].data)
        pid = [i for i, nid in enumerate(grid.node_ids) if nid == reply.metadata.src_node_id][0]
        assert update_of(pid)[0].tobytes() not in wire
    # Round 2's evaluate messages were decrypted by the clients (they answered).
    assert result.evaluate_metrics_clientapp[2]["accuracy"] == 1.0


def test_plain_train_message_is_refused_by_paillier_mod(
    key_file: tuple[Path, paillier.PaillierPrivateKey],
) -> None:
    from flwr.serverapp.strategy import FedAvg

    path, _ = key_file
    n = 3
    configs = [{"partition-id": i, "fedcrypto-paillier-key": str(path)} for i in range(n)]
    grid = InProcessGrid(message_client_app(paillier_mod), n, node_configs=configs)
    init = ArrayRecord({"w0": Array(np.zeros(3, np.float32))})
    FedAvg(fraction_evaluate=0.0, min_available_nodes=n).start(
        grid=grid, initial_arrays=init, num_rounds=1
    )
    errors = [r.error.reason for r in grid.replies_seen if r.has_error()]
    assert len(errors) == n and all("plain update" in e for e in errors)


def test_garbage_reply_is_dropped(key_file: tuple[Path, paillier.PaillierPrivateKey]) -> None:
    from flwr.app import Message

    path, sk = key_file
    n = 4
    configs = [
        {"partition-id": i, "num-partitions": n, "fedcrypto-paillier-key": str(path)}
        for i in range(n)
    ]
    grid = InProcessGrid(message_client_app(paillier_mod), n, node_configs=configs)
    victim = grid.node_ids[2]

    def hook(nid: int, incoming: Message, reply: Message | None) -> Message | None:
        if nid == victim and reply is not None and incoming.metadata.message_type == "train":
            reply.content[PAYLOAD_KEY] = ArrayRecord(
                {"msg": Array(np.frombuffer(b"FCRY\x00\x01garbage" * 7, dtype=np.uint8))}
            )
        return reply

    grid.interceptor = hook
    strategy = PaillierFedAvg(
        sk.public_key(), clipping_range=2.0, fraction_evaluate=0.0, min_available_nodes=n
    )
    init = ArrayRecord({f"w{i}": Array(np.zeros(s, np.float32)) for i, s in enumerate(SHAPES)})
    strategy.start(grid=grid, initial_arrays=init, num_rounds=1)
    agg, layout, total = strategy.aggregate_layout()
    pids = [0, 1, 3]
    assert agg is not None and layout is not None and total == sum(10 + 7 * p for p in pids)
    got = decrypt_arrays(agg, layout, total, sk).to_numpy_ndarrays()
    assert isclose_all(got, expected_mean(pids), strategy.scheme.error_bound(total) / total + 1e-6)
