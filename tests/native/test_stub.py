"""The type stub fedcrypto/_native.pyi matches the built extension (mypy's stubtest).

stubtest reads the signatures the glue publishes (__text_signature__) and compares
them, name by name, with the stub: a missing or extra function, parameter, default
or property fails.  Skipped when mypy is not installed (it is a dev tool).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mypy")
pytest.importorskip("fedcrypto._native")

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_native_stub_matches_the_extension() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy.stubtest",
            "fedcrypto._native",
            "--mypy-config-file",
            str(ROOT / "pyproject.toml"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
