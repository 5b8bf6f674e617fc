"""The Python examples in docs/secagg.md run and their assertions hold."""

from __future__ import annotations

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "secagg.md"


@pytest.mark.skipif(not DOC.exists(), reason="docs not present")
def test_doc_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        scope: dict[str, object] = {}
        exec(compile(block, str(DOC), "exec"), scope)  # noqa: S102 - our own documentation
    assert scope["result"].included == (0, 1, 2, 3)  # type: ignore[attr-defined]
    assert abs(float(scope["mean"].mean()) - 0.15) < 1e-6  # type: ignore[attr-defined]
