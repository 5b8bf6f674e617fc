"""The code in docs/paillier.md runs (with a small key and small tensors, to stay fast)."""

from __future__ import annotations

import pathlib
import re

import pytest

DOC = pathlib.Path(__file__).resolve().parents[2] / "docs" / "paillier.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)


def _shrink(code: str) -> str:
    code = re.sub(
        r"generate_private_key\((2048|3072)\)",
        "generate_private_key(512, unsafe_allow_small_keys=True)",
        code,
    )
    return code.replace("(256, 128)", "(6, 5)").replace(
        "n_rows, fa, fb = 256", "n_rows, fa, fb = 32"
    )


def test_doc_has_the_worked_examples() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "horizontal FL" in text and "vertical FL" in text and "## Wire format" in text


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_doc_block_runs(index: int) -> None:
    code = _shrink(_blocks()[index])
    exec(compile(code, f"docs/paillier.md block {index}", "exec"), {})
