"""meson.build installs the Python package from an explicit file list; keep it complete.

Only listed files reach the wheel (and an editable install imports only those), so a
module added under fedcrypto/ without a line in meson.build would be missing from every
installed copy.  This test names each missing (or stale) entry and the line to add.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fedcrypto"
_ENTRY = re.compile(r"'(fedcrypto/[^']+)'")


def _install_sources_block(text: str) -> str:
    start = text.index("py.install_sources(")
    end = text.index(")", start)
    return text[start:end]


def listed() -> list[str]:
    """The package files meson.build installs, in file order."""
    return _ENTRY.findall(_install_sources_block((ROOT / "meson.build").read_text()))


def on_disk() -> set[str]:
    """Every .py / .pyi / py.typed file under fedcrypto/."""
    out = set()
    for path in PACKAGE.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        if path.suffix in (".py", ".pyi") or path.name == "py.typed":
            out.add(path.relative_to(ROOT).as_posix())
    return out


def test_every_package_file_is_installed() -> None:
    missing = sorted(on_disk() - set(listed()))
    assert not missing, "add to py.install_sources in meson.build:\n" + "\n".join(
        f"  '{name}'," for name in missing
    )


def test_every_installed_file_exists() -> None:
    stale = sorted(set(listed()) - on_disk())
    assert not stale, "remove from meson.build (no such file): " + ", ".join(stale)


def test_no_file_is_listed_twice() -> None:
    names = listed()
    assert len(names) == len(set(names))


def test_the_package_is_not_installed_as_a_tree() -> None:
    """install_subdir would install whatever lies in the directory (caches, stray files)."""
    text = (ROOT / "meson.build").read_text()
    assert "install_subdir" not in text
    assert len(listed()) > 10
