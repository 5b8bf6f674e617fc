"""Every fenced ```python block in docs/*.md runs.

The blocks of one page run in order in one namespace (a later block may use names an
earlier one defined), in a temporary working directory.  A block whose first line is
``# doc: no-run`` is skipped (it needs two machines, a cluster or a big file); shell
commands belong in ```bash / ```console blocks, which are never run.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
NO_RUN = "# doc: no-run"
# An opening fence of three or more backticks whose info string is exactly "python".
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})python[ \t]*$")


def python_blocks(text: str) -> list[tuple[int, str]]:
    """The ``(first line number, code)`` of every fenced ``python`` block in ``text``."""
    blocks: list[tuple[int, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        indent, fence = m.group("indent"), m.group("fence")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not lines[j].strip().startswith(fence):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        blocks.append((i + 2, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def _pages() -> list[Path]:
    return sorted(p for p in DOCS.glob("*.md") if python_blocks(p.read_text(encoding="utf-8")))


def test_parser_finds_blocks_and_skips_other_languages() -> None:
    text = "a\n```python\nx = 1\n```\n```bash\nrm -rf /\n```\n  ````python\n  y = x\n  ````\n"
    assert python_blocks(text) == [(3, "x = 1\n"), (9, "y = x\n")]


def test_docs_have_python_blocks() -> None:
    assert _pages(), "no docs page has a python block: the parser or the docs are broken"


@pytest.mark.parametrize("page", _pages(), ids=lambda p: p.name)
def test_page_code_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem.replace('-', '_')}"}
    ran = 0
    for lineno, code in python_blocks(page.read_text(encoding="utf-8")):
        if code.lstrip().startswith(NO_RUN):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("error", DeprecationWarning)
            try:
                exec(compile(code, f"{page}:{lineno}", "exec"), namespace)  # our own documentation
            except Exception as exc:  # pragma: no cover - the failure message is the point
                pytest.fail(f"{page.name}, block at line {lineno}: {type(exc).__name__}: {exc}")
        ran += 1
    if ran == 0:
        pytest.skip(f"every block of {page.name} is marked {NO_RUN!r}")
