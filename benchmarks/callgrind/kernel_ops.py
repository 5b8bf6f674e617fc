"""Fixed-input calls into the native kernel, for instruction counting under callgrind.

``python kernel_ops.py OP [OP ...]`` runs each named operation once on one thread with inputs
derived from SHA-256 of fixed labels (the same every run, nothing secret), so the instruction
count of the kernel entry point is a stable measure of its cost on any load.  See
``scripts/callgrind_gate.py``.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable

from fedcrypto._backend import ints_to_limbs, load_backend, width_of


def det_int(label: str, bits: int) -> int:
    """A fixed ``bits``-bit integer (top bit set) derived from ``label``."""
    out = b""
    counter = 0
    while len(out) * 8 < bits:
        out += hashlib.sha256(f"{label}/{counter}".encode()).digest()
        counter += 1
    return (int.from_bytes(out, "big") >> (len(out) * 8 - bits)) | (1 << (bits - 1))


def odd(label: str, bits: int) -> int:
    return det_int(label, bits) | 1


def _ops() -> dict[str, Callable[[], object]]:
    be = load_backend("native")
    m4096 = odd("m4096", 4096)
    w = width_of(m4096)
    bases = ints_to_limbs([det_int(f"b{i}", 4095) for i in range(4)], w)
    exps = ints_to_limbs([det_int(f"e{i}", 2048) for i in range(4)])
    xs = ints_to_limbs([det_int(f"x{i}", 4095) for i in range(200)], w)
    ys = ints_to_limbs([det_int(f"y{i}", 4095) for i in range(200)], w)
    table = be.fixed_base(det_int("h", 4095), m4096, 1024, secret=True)
    fexps = ints_to_limbs([det_int(f"f{i}", 1024) for i in range(8)])
    mb = ints_to_limbs([det_int(f"mb{i}", 4095) for i in range(100)], w)
    me = ints_to_limbs([det_int(f"me{i}", 64) for i in range(100)])
    p, q = odd("p", 2048), odd("q", 2048)
    while math.gcd(p, q) != 1:  # deterministic: the same q every run
        q += 2
    rp = ints_to_limbs([det_int(f"rp{i}", 2047) for i in range(50)], width_of(p))
    rq = ints_to_limbs([det_int(f"rq{i}", 2047) for i in range(50)], width_of(q))
    uniform = b"".join(det_int(f"u{i}", 768).to_bytes(96, "big") for i in range(64))
    return {
        "powmod_4096": lambda: be.powmod(bases, exps, m4096, secret=False, threads=1),
        "powmod_secret_4096": lambda: be.powmod(bases, exps, m4096, secret=True, threads=1),
        "mulmod_4096": lambda: be.mulmod(xs, ys, m4096, threads=1),
        "fixed_base_secret_4096": lambda: table.pow(fexps, threads=1),
        "multi_powmod_4096": lambda: be.multi_powmod(mb, me, m4096, threads=1),
        "crt_2048": lambda: be.crt(rp, rq, p, q, threads=1),
        "h2c25519": lambda: be.curve25519_h2c_u(uniform, threads=1),
    }


OPS = (
    "powmod_4096",
    "powmod_secret_4096",
    "mulmod_4096",
    "fixed_base_secret_4096",
    "multi_powmod_4096",
    "crt_2048",
    "h2c25519",
)

if __name__ == "__main__":
    table_ops = _ops()
    for name in sys.argv[1:] or OPS:
        table_ops[name]()
