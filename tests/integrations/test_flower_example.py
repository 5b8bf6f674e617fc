"""The example app (examples/flower_secagg): its ServerApp and ClientApp in the in-process
grid for all three configurations, and once through run_simulation (Ray)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("flwr")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flower_secagg"
sys.path.insert(0, str(EXAMPLE))

from flwr.app import Context, RecordDict  # noqa: E402

from fedcrypto.integrations.flower.testing import InProcessGrid  # noqa: E402


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flower_secagg.keys import prepare_keys

    return prepare_keys(tmp_path_factory.mktemp("keys"), 5)


@pytest.mark.parametrize("mode", ["secagg", "secagg-active", "paillier"])
def test_example_in_process(
    mode: str, key_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from flower_secagg.client_app import app as client_app
    from flower_secagg.server_app import main

    monkeypatch.setenv("FEDCRYPTO_EXAMPLE_MODE", mode)
    monkeypatch.setenv("FEDCRYPTO_EXAMPLE_FEDCRYPTO_KEY_DIR", str(key_dir))
    monkeypatch.setenv("FEDCRYPTO_EXAMPLE_NUM_SERVER_ROUNDS", "2")
    monkeypatch.setenv("FEDCRYPTO_KEY_DIR", str(key_dir))
    monkeypatch.setenv("FEDCRYPTO_PAILLIER_KEY", str(key_dir / "paillier.key"))
    grid = InProcessGrid(client_app, 5)
    main(grid, Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={}))
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("round ")]
    assert len(lines) == 2
    accuracy = float(lines[-1].split("accuracy ")[1].split(",")[0])
    assert accuracy > 0.8


@pytest.mark.slow
def test_example_runs_offline_in_the_simulation_engine(tmp_path: Path) -> None:
    env = dict(os.environ, FLWR_TELEMETRY_ENABLED="0", RAY_USAGE_STATS_ENABLED="0")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "flower_secagg.run",
            "--mode",
            "secagg-active",
            "--rounds",
            "2",
            "--key-dir",
            str(tmp_path / "keys"),
        ],
        cwd=EXAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "round 2: accuracy" in proc.stdout
