"""The README's main job stays runnable: `fedcrypto demo --fast` passes every check it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_demo_fast_passes_every_section() -> None:
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-m", "fedcrypto", "demo", "--fast"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    summary = out.stdout[out.stdout.index("=== summary") :]
    sections = ("kernel", "paillier packed round", "paillier bench", "psi", "secagg", "sharing")
    for section in sections:
        assert re.search(rf"^{section}\s+OK$", summary, re.MULTILINE), section
    assert "FAILED" not in summary and "MISMATCH" not in out.stdout
    assert "intersection 2,500" in out.stdout  # bundled lists share 2,500 IDs
