"""One in-process PSI run at a chosen size, with wall time and peak memory.

Both parties run in this process, one after the other (``fedcrypto.psi.run_pair``), each with
its own worker pool, so the wall time is the *sum* of both parties' work: an upper bound for
the two-process tool, where the parties overlap.

    python benchmarks/psi_inprocess_run.py ecdh curve25519 1000000 [workers]
    python benchmarks/psi_inprocess_run.py rsa rsa2048 100000
    python benchmarks/psi_inprocess_run.py dh modp2048 100000

Sets: ``user-%010d`` for ``0..n-1`` and ``n/2..3n/2-1`` (half overlapping), reveal ``both``.
"""

from __future__ import annotations

import resource
import sys
import time

from fedcrypto.psi import PsiSettings, run_pair
from fedcrypto.scale import process_executor


def main(argv: list[str]) -> int:
    if len(argv) < 3:
        print(__doc__)
        return 2
    protocol, group, n = argv[0], argv[1], int(argv[2])
    workers = int(argv[3]) if len(argv) > 3 else None
    a = [b"user-%010d" % i for i in range(n)]
    b = [b"user-%010d" % i for i in range(n // 2, n + n // 2)]
    settings = PsiSettings(protocol=protocol, group=group, reveal="both", workers=workers)
    t0 = time.perf_counter()
    with process_executor(workers) as executor:
        ra, rb = run_pair(settings, a, b, executor=executor)
    wall = time.perf_counter() - t0
    cpu_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"{protocol}/{group} {n:,} x {n:,} in process, workers={workers or 'all'}: "
        f"{wall:.1f} s wall, intersection {ra.count:,}/{rb.count:,}, "
        f"CPU main {me.ru_utime + me.ru_stime:.0f} s + workers "
        f"{cpu_children.ru_utime + cpu_children.ru_stime:.0f} s, "
        f"peak RSS main {me.ru_maxrss / 1024:.0f} MiB (both parties)"
    )
    return 0 if ra.count == rb.count == n - n // 2 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
