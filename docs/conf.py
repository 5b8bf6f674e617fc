"""Sphinx configuration: the fedcrypto docs site (MyST pages, furo theme, API from docstrings).

Build offline, warnings as errors: ``sphinx-build -W -b html docs OUT``
(or ``bash scripts/build_docs.sh``, which also checks the API reference is complete).
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

# MyST: ``:::{warning}`` boxes, ``{py:func}`` roles, and heading anchors so that
# ``page.md#section`` links resolve.
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
# Napoleon reads a property docstring's "words: more words" first line as a type and links
# each word; a word that names two attributes (``ciphertexts``) must not fail the build.
suppress_warnings = ["ref.python"]

html_theme = "furo"
html_title = f"fedcrypto {release}"
html_static_path: list[str] = []


# -- constants ------------------------------------------------------------------------------
# autodoc documents the classes and functions a package re-exports in ``__all__``, but not its
# plain values (caps, defaults, type aliases): it only finds a data member assigned in the module
# it reads, and ours are assigned in private submodules.  ``.. fedcrypto-constants:: PACKAGE``
# lists every such name with its value and the ``#:`` comment found where it is assigned.


def _constants_directive() -> type:
    import importlib
    import inspect
    import pkgutil

    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.pycode import ModuleAnalyzer
    from sphinx.util.docutils import SphinxDirective

    def comments(module: object) -> dict[str, str]:
        """``name -> #: comment`` from the module and, for a package, its submodules."""
        found: dict[str, str] = {}
        names = [module.__name__]  # type: ignore[attr-defined]
        if hasattr(module, "__path__"):
            names += [f"{module.__name__}.{m.name}" for m in pkgutil.iter_modules(module.__path__)]  # type: ignore[attr-defined]
        for name in names:
            try:
                docs = ModuleAnalyzer.for_module(name).find_attr_docs()
            except Exception:  # noqa: BLE001, S112 - a module without source has no comments
                continue
            for (scope, attr), lines in docs.items():
                if scope == "" and attr not in found:
                    found[attr] = " ".join(line.strip() for line in lines if line.strip())
        return found

    class Constants(SphinxDirective):
        required_arguments = 1

        def run(self) -> list:  # type: ignore[type-arg]
            modname = self.arguments[0]
            module = importlib.import_module(modname)
            docs = comments(module)
            try:  # names with a ``#:`` comment in the module itself: automodule has them
                attr_docs = ModuleAnalyzer.for_module(modname).find_attr_docs()
                own = {attr for (scope, attr) in attr_docs if not scope}
            except Exception:  # noqa: BLE001
                own = set()
            rst: list[str] = []
            for name in module.__all__:
                if name in own:
                    continue
                value = getattr(module, name)
                if inspect.isclass(value) or inspect.isroutine(value) or inspect.ismodule(value):
                    continue
                if name.startswith("__"):
                    continue
                shown = repr(value)
                if len(shown) > 80:
                    shown = shown[:77] + "..."
                rst += [f".. py:data:: {name}", f"   :module: {modname}", f"   :value: {shown}", ""]
                if docs.get(name):
                    rst += [f"   {docs[name]}", ""]
            if not rst:
                return []
            content = StringList(rst, source=f"<fedcrypto-constants {modname}>")
            container = nodes.container()
            self.state.nested_parse(content, self.content_offset, container)
            return list(container.children)

    return Constants


def setup(app: object) -> None:
    app.add_directive("fedcrypto-constants", _constants_directive())  # type: ignore[attr-defined]
