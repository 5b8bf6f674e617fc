"""Sphinx configuration: the fedcrypto docs site (MyST Markdown pages, furo theme, API from docstrings).

Build offline, warnings as errors: ``sphinx-build -W -b html docs OUT`` (or ``bash scripts/build_docs.sh``).
Requirements: ``pip install 'fedcrypto[docs]'`` plus fedcrypto itself (autodoc imports it).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("fedcrypto") is None:  # building from a checkout that is not installed
    sys.path.insert(0, str(ROOT))

project = "fedcrypto"
author = "the fedcrypto authors"
copyright = "the fedcrypto authors"  # noqa: A001 - Sphinx's name
release = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# MyST: ``:::{warning}`` boxes, ``{py:func}`` roles, heading anchors so ``page.md#section`` links resolve.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# autodoc: document what each package's ``__all__`` exports, in source order, with type hints in the
# description.  Flower is an optional extra: when it is not installed its modules are mocked so the
# API page of fedcrypto.integrations.flower still builds.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
try:
    import flwr  # noqa: F401
except ImportError:
    autodoc_mock_imports = ["flwr"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# "Attributes:" sections become fields, not attribute entries that :undoc-members: would repeat.
napoleon_use_ivar = True

# Cross-references to things outside the site (numpy, the standard library) are not checked: the
# build is offline and has no intersphinx inventories.
nitpicky = False
# Napoleon reads a property docstring's "words: more words" first line as a type and links each word;
# a word that names two attributes (``ciphertexts``) must not fail the build.
suppress_warnings = ["ref.python"]

html_theme = "furo"
html_title = f"fedcrypto {release}"
html_static_path: list[str] = []
