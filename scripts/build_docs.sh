#!/usr/bin/env bash
# Build the docs site offline with warnings as errors, into a temporary directory (or $1), and check that
# every public name of every documented package's __all__ made it into the API reference.
#   bash scripts/build_docs.sh            # -> prints the output directory
#   bash scripts/build_docs.sh OUT        # -> builds into OUT
# Needs fedcrypto installed with the extra `docs` (sphinx, myst-parser, furo); flwr is optional (mocked).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${1:-$(mktemp -d -t fedcrypto-docs.XXXXXX)}
# Offline: no intersphinx, no remote images; make any attempt to reach the network fail fast.
export http_proxy=http://127.0.0.1:9 https_proxy=http://127.0.0.1:9 no_proxy=
"$PY" -m sphinx -W --keep-going -b html -q docs "$OUT"
"$PY" - "$OUT" <<'PYEOF'
"""Every name in each documented package's __all__ has an entry in the built site's inventory."""
import importlib
import sys
from pathlib import Path

from sphinx.util.inventory import InventoryFile

PACKAGES = [
    "fedcrypto", "fedcrypto.exceptions", "fedcrypto.serialization", "fedcrypto.paillier",
    "fedcrypto.psi", "fedcrypto.sharing", "fedcrypto.secagg", "fedcrypto.scale", "fedcrypto.hazmat.modmath",
    "fedcrypto.hazmat.h2c", "fedcrypto.hazmat.groups", "fedcrypto.hazmat.paillier",
    "fedcrypto.hazmat.rsa_blind",
]
try:
    import flwr  # noqa: F401
    PACKAGES.append("fedcrypto.integrations.flower")
except ImportError:
    pass
inv_path = Path(sys.argv[1]) / "objects.inv"
with inv_path.open("rb") as fh:
    inv = InventoryFile.load(fh, "", lambda base, uri: uri)
names = {name for kind, entries in inv.items() if kind.startswith("py:") for name in entries}
missing = [
    f"{pkg}.{name}"
    for pkg in PACKAGES
    for name in importlib.import_module(pkg).__all__
    if f"{pkg}.{name}" not in names and name != "__version__"
]
if missing:
    sys.exit("not in the API reference (missing docstring or autodoc skipped it): " + ", ".join(missing))
print(f"API reference: {sum(len(importlib.import_module(p).__all__) for p in PACKAGES)} public names, all present")
PYEOF
echo "docs built in $OUT"
