"""Check an installed fedcrypto wheel: native backend, a Paillier round trip, and the GMP the
process really maps comes from ``fedcrypto.libs/`` (auditwheel's vendored copy), not the system.

Run with the environment's interpreter from a directory outside the source tree:
``FEDCRYPTO_BACKEND=native python scripts/wheel/check_installed.py`` (cibuildwheel's test-command
and scripts/build_wheel.sh both do).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("FEDCRYPTO_BACKEND", "native")
    import fedcrypto
    from fedcrypto import paillier

    where = os.path.dirname(fedcrypto.__file__)
    if not where.startswith(sys.prefix):
        print(f"fedcrypto imported from {where}, not from the environment", file=sys.stderr)
        return 1
    info = fedcrypto.backend_info()
    if info.get("name") != "native":
        print(f"backend is not native: {info}", file=sys.stderr)
        return 1
    sk = paillier.generate_private_key(2048)
    if sk.decrypt(sk.public_key().encrypt([3, -4]) * 5).tolist() != [15, -20]:
        print("Paillier round trip failed", file=sys.stderr)
        return 1
    with open("/proc/self/maps", encoding="utf-8") as fh:
        gmp = sorted({ln.split()[-1] for ln in fh if "libgmp" in ln and "/" in ln})
    ours = [p for p in gmp if "/fedcrypto.libs/" in p]
    if not ours:
        print(f"the kernel's GMP is not from fedcrypto.libs/: {gmp}", file=sys.stderr)
        return 1
    print(f"backend: {info}")
    print("libgmp mapped:\n  " + "\n  ".join(gmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
