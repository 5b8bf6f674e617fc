#!/usr/bin/env bash
# Check the import contracts in pyproject.toml ([tool.importlinter]) against the source tree.
# Runs without site's .pth hooks (-S) so grimp reads fedcrypto/ from this checkout rather than through
# meson-python's editable loader, which it cannot walk.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VPY=${VPY:-.venv/bin/python}
SITE=$($VPY -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
PYTHONPATH=".:$SITE" exec $VPY -S -c 'from importlinter.cli import lint_imports_command; lint_imports_command()' "$@"
