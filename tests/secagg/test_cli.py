"""``fedcrypto bench secagg``: a quick simulated round, checked, with usage errors."""

from __future__ import annotations

import pytest

from fedcrypto.cli import main
from fedcrypto.cli._bench_secagg import demo_round


def test_bench_secagg_runs_and_checks(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "secagg", "--clients", "8", "--length", "40", "--dropout", "0.25"])
    out = capsys.readouterr().out
    assert code == 0
    assert "plaintext sum of the included clients: OK" in out
    assert "included 6" in out


def test_bench_secagg_active_secagg_plus(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["bench", "secagg", "--clients", "12", "--length", "16", "--active", "--neighbors", "auto"]
    )
    assert code == 0
    assert "SecAgg+ degree" in capsys.readouterr().out


def test_bench_secagg_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "secagg", "--clients", "1"]) == 2
    assert main(["bench", "secagg", "--clients", "6", "--neighbors", "x"]) == 2
    assert main(["bench", "secagg", "--clients", "6", "--threshold", "2"]) == 2
    assert main(["bench", "secagg", "--clients", "6", "--modulus-bits", "70"]) == 2


def test_demo_round_result_lines() -> None:
    res = demo_round(clients=6, length=10, dropout=0.2, late_dropout=0.0)
    assert res.exact and res.included == 5
    assert any("expansion" in line for line in res.lines())
