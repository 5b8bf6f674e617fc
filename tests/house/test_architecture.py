"""The house rules of docs/architecture.md that import-linter cannot see.

`scripts/lint_imports.sh` checks the layers, the no-cycles rule, the private-module rule and which
packages may import gmpy2 or the optional extras.  These tests add what needs the source itself:
the compiled module, function-level imports, what ``import fedcrypto`` loads, and the generated
dependency graph in the docs.
"""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "fedcrypto"

# Top-layer packages may defer imports inside functions: the CLI keeps `fedcrypto --help` fast, and
# integrations/engines import their optional extras lazily. The backend chooses its implementation
# at run time, so it imports the native module or gmpy2 inside its selector.
LAZY_IMPORTS_ALLOWED = ("cli/", "integrations/", "scale/", "_backend/__init__.py")
OPTIONAL_EXTRAS = ("flwr", "distributed", "dask", "ray", "matplotlib", "phe")


def _sources() -> list[pathlib.Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: pathlib.Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _module_name(path: pathlib.Path) -> list[str]:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return parts[:-1] if parts[-1] == "__init__" else parts


def _imported_modules(path: pathlib.Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute names of the modules (or module.name) an import statement brings in."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        base = node.module or ""
    else:
        package = _module_name(path)
        if path.name != "__init__.py":
            package = package[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _imports(path: pathlib.Path) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement in a file, with whether it sits at module level."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[ast.Import | ast.ImportFrom, bool]] = []

    def visit(node: ast.AST, nested: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.append((child, nested))
            inner = nested or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            visit(child, inner)

    visit(tree, False)
    return found


def test_only_the_backend_touches_the_native_module() -> None:
    offenders = []
    for path in _sources():
        if _rel(path).startswith("_backend/"):
            continue
        for node, _nested in _imports(path):
            if any(m.startswith("fedcrypto._native") for m in _imported_modules(path, node)):
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == [], "only fedcrypto/_backend may import fedcrypto._native"


def test_no_function_level_imports_of_fedcrypto_modules() -> None:
    """A function-level import of our own code is how a cycle gets dodged: make a lower module."""
    offenders = []
    for path in _sources():
        if _rel(path).startswith(LAZY_IMPORTS_ALLOWED):
            continue
        for node, nested in _imports(path):
            internal = isinstance(node, ast.ImportFrom) and node.level > 0
            internal |= any(m.startswith("fedcrypto") for m in _imported_modules(path, node))
            if nested and internal:
                offenders.append(f"{_rel(path)}:{node.lineno}")
    assert offenders == []


def test_import_fedcrypto_loads_no_optional_extra() -> None:
    packages = ["fedcrypto"] + sorted(
        f"fedcrypto.{p.name}"
        for p in PACKAGE.iterdir()
        if (p / "__init__.py").exists() and p.name not in ("integrations", "scale")
    )
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in packages)
        + f"print(sorted(m for m in {OPTIONAL_EXTRAS!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_docs_dependency_graph_is_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "dependency_graph.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
