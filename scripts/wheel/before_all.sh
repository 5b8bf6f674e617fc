#!/usr/bin/env bash
# cibuildwheel before-all (runs once per manylinux_2_28 container, as root): GMP headers and OpenSSL's
# libcrypto (the kernel may link it), then a fat GMP in /opt/fedcrypto-gmp for the wheels to vendor.
# FEDCRYPTO_GMP_MODE=source (default: GMP 6.3.0 from gmplib.org, SHA-256 pinned, --enable-fat on x86-64)
# or gmpy2 (the fat libgmp of gmpy2's manylinux wheel; PyPI only).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if command -v dnf >/dev/null; then
  dnf install -y -q gmp-devel openssl-devel m4 xz binutils curl >/dev/null
elif command -v yum >/dev/null; then
  yum install -y -q gmp-devel openssl-devel m4 xz binutils curl >/dev/null
elif command -v apt-get >/dev/null; then
  apt-get update -qq && apt-get install -y -qq libgmp-dev libssl-dev m4 xz-utils binutils curl >/dev/null
fi
PY=$(ls -d /opt/python/cp311-*/bin/python 2>/dev/null | head -1 || command -v python3)
PYTHON=$PY bash scripts/wheel/gmp.sh "${FEDCRYPTO_GMP_MODE:-source}" /opt/fedcrypto-gmp
