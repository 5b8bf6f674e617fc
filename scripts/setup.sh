#!/usr/bin/env bash
# Prepare a fresh Debian/Ubuntu machine (Python 3.11+) for fedcrypto:
#   - system packages (C compiler, pkg-config, libgmp-dev, libssl-dev (OpenSSL libcrypto), python3-venv/-dev) when missing, via apt-get as root;
#   - a virtualenv in .venv with fedcrypto installed editable, the native GMP kernel REQUIRED (-Dnative=enabled),
#     plus the test/benchmark/plot extras, Flower with its Ray simulation engine (flower-sim), Dask
#     (dask), the docs site's Sphinx (docs) and the house-check tools (dev: ruff, mypy, import-linter).
# Idempotent: re-running reuses .venv and only installs what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PY=${PYTHON:-python3}
missing=()
command -v cc >/dev/null 2>&1 || missing+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
pkg-config --exists gmp 2>/dev/null || missing+=(libgmp-dev)
pkg-config --exists libcrypto 2>/dev/null || missing+=(libssl-dev)
command -v git >/dev/null 2>&1 || missing+=(git)
if ! command -v "$PY" >/dev/null 2>&1; then
  missing+=(python3 python3-venv python3-dev)
else
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
    echo "fedcrypto needs Python 3.11 or newer (found $("$PY" --version 2>&1)); set PYTHON=/path/to/python3.11+" >&2
    exit 2
  }
  "$PY" -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
  "$PY" -c 'import os, sysconfig; raise SystemExit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)' \
    || missing+=(python3-dev)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them (e.g. sudo apt-get install ${missing[*]}) and re-run." >&2
    exit 2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating virtualenv .venv"
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
echo "==> installing build tools and fedcrypto (native kernel required)"
$VPY -m pip install -q --upgrade pip
$VPY -m pip install -q "meson-python>=0.15" "meson>=1.1" ninja "numpy>=1.26"
$VPY -m pip install -q --no-build-isolation -Csetup-args=-Dnative=enabled -e ".[test,bench,flower-sim,plot,dev,docs,dask]"
$VPY -c 'import fedcrypto; info = fedcrypto.backend_info(); print("==> fedcrypto", fedcrypto.__version__, "backend:", info)'
