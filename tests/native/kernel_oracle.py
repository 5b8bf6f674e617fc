"""Shared by the kernel differential tests and the kernel fuzz test.

* :func:`bounded` runs a call on a daemon thread and fails if it does not return
  within :data:`WATCHDOG_SECONDS`, so a kernel that spins (with the GIL released)
  fails its test instead of freezing CI.  ``conftest.py`` adds a process-level
  backstop (``faulthandler``) for a hang that holds the GIL.
* ``check_*`` run one backend entry point on Python ints, through the public backend
  interface (:func:`fedcrypto._backend.get_backend`), and assert that the answer equals
  Python's own ``pow`` / ``*`` / ``%``.
* The ``*_threshold`` / ``*_window`` functions mirror the algorithm switches in
  ``src_native/kernels.c`` (keep them in step) so the tests can sit on both sides.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from fedcrypto._backend import Backend
from fedcrypto._backend._limbs import ints_to_limbs, limbs_to_int, limbs_to_ints, width_of

T = TypeVar("T")

#: A healthy call in these tests takes milliseconds; a hang is detected after this
#: (FEDCRYPTO_KERNEL_WATCHDOG overrides it, e.g. to see old code fail quickly).
WATCHDOG_SECONDS = float(os.environ.get("FEDCRYPTO_KERNEL_WATCHDOG", "30"))

# -- switches in kernels.c ----------------------------------------------------------------
#: mulmod/prodmod: Barrett / wrap-around Montgomery from this batch count (fc_mulmod, fc_prodmod).
REDUCTION_SWITCH_COUNT = 16
#: Barrett for plain products from this many limbs (FC_BARRETT_MIN).
BARRETT_MIN_LIMBS = 24
#: Wrap-around REDC from this many limbs, even counts only (FC_WRAP_MIN).
WRAP_MIN_LIMBS = 56
#: plan_parts: batches cheaper than this run on one thread.
THREAD_WORK_MIN = 150000
#: Window of constant-time fixed-base tables below 32 limbs (FB_SECRET_WINDOW; 6 from 32
#: limbs up, FB_SECRET_WINDOW_WIDE: see test_ct_fixed_base.py).
SECRET_WINDOW = 5
#: Widest automatic fixed-base window (FB_MAX_AUTO_WINDOW).
MAX_AUTO_WINDOW = 10


class KernelHang(AssertionError):
    """A kernel call did not return within the watchdog's limit."""


def bounded(fn: Callable[[], T], what: str, timeout: float = WATCHDOG_SECONDS) -> T:
    """``fn()``, or :class:`KernelHang` if it has not returned after ``timeout`` seconds.

    The call runs on a daemon thread: a kernel stuck with the GIL released cannot be
    interrupted, but the test fails at once and the process can still exit.
    """
    box: dict[str, object] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller below
            box["error"] = exc

    worker = threading.Thread(target=target, name=f"kernel-watchdog: {what}", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise KernelHang(f"{what}: no answer after {timeout:.0f} s (the kernel hangs)")
    if "error" in box:
        raise box["error"]  # type: ignore[misc]
    return box["value"]  # type: ignore[return-value]


def work_parts(count: int, threads: int, work: float) -> int:
    """plan_parts() in kernels.c: how many slices a batch is split into."""
    parts = min(max(threads, 1), 256, count)
    parts = max(parts, 1)
    return 1 if work < THREAD_WORK_MIN else parts


def thread_threshold(per_item_work: float) -> int:
    """The smallest batch count that plan_parts() splits, for a per-element work."""
    return int(-(-THREAD_WORK_MIN // per_item_work))


def pippenger_window(nbases: int, bits: int) -> int:
    """choose_pippenger_window() in kernels.c."""
    best, best_cost = 1, -1
    for c in range(1, 17):
        cost = -(-bits // c) * (nbases + 2 * (1 << c))
        if best_cost < 0 or cost < best_cost:
            best, best_cost = c, cost
    return best


def pippenger_switches(bits: int, max_bases: int) -> list[int]:
    """Base counts N <= max_bases where the Pippenger window differs from N - 1's."""
    return [
        n
        for n in range(2, max_bases + 1)
        if pippenger_window(n, bits) != pippenger_window(n - 1, bits)
    ]


# -- moduli at and around limb boundaries -------------------------------------------------
def around_boundary(k: int) -> dict[str, int]:
    """Moduli at and around the bit position ``k`` (a multiple of 64 for limb boundaries).

    2^k itself (one limb more than 2^k - 1: its top limb is 1, the Barrett corner),
    2^k +- small, 2^k - 1 (all-ones limbs), 2^(k +- 1) +- 1, and a modulus whose
    limbs alternate all-ones and zero.
    """
    out = {
        f"2^{k}": 1 << k,
        f"2^{k}+1": (1 << k) + 1,
        f"2^{k}+3": (1 << k) + 3,
        f"2^{k}-1": (1 << k) - 1,
        f"2^{k}-3": (1 << k) - 3,
        f"2^{k}-59": (1 << k) - 59,
        f"2^{k - 1}+1": (1 << (k - 1)) + 1,
        f"2^{k - 1}-1": (1 << (k - 1)) - 1,
        f"2^{k + 1}-1": (1 << (k + 1)) - 1,
        f"2^{k + 1}+1": (1 << (k + 1)) + 1,
    }
    if k >= 128:
        alt = sum(((1 << 64) - 1) << (128 * i) for i in range(k // 128))
        out[f"alt-ones<{k}"] = alt | 1
    return {name: m for name, m in out.items() if m > 1}


def boundary_moduli(limb_counts: Sequence[int]) -> dict[str, int]:
    """around_boundary(64 j) for every j in ``limb_counts``, deduplicated by value."""
    seen: dict[int, str] = {}
    for j in limb_counts:
        for name, m in around_boundary(64 * j).items():
            seen.setdefault(m, name)
    return {name: m for m, name in seen.items()}


def describe(m: int) -> str:
    """A short name for a modulus in messages: 2^k+d near a power of two, else its size."""
    k = m.bit_length()
    for e in (k - 1, k):
        d = m - (1 << e)
        if abs(d) < 1 << 32:
            return f"2^{e}{d:+d}" if d else f"2^{e}"
    return f"a {k}-bit modulus"


def limbs(m: int) -> int:
    """Normalized limb count of ``m`` (what the kernel calls n)."""
    return width_of(m)


# -- one entry point each, on ints ---------------------------------------------------------
def _rows(values: Sequence[int], m: int, extra: int = 0) -> object:
    return ints_to_limbs(values, width_of(m) + extra)


def check_mulmod(
    be: Backend, m: int, xs: Sequence[int], ys: Sequence[int], threads: int = 1, extra: int = 0
) -> None:
    """Elementwise, or with one broadcast right operand when ``len(ys) == 1``."""
    out = be.mulmod(_rows(xs, m, extra), _rows(ys, m, extra), m, threads=threads)  # type: ignore[arg-type]
    right = list(ys) * len(xs) if len(ys) == 1 else list(ys)
    want = [x * y % m for x, y in zip(xs, right, strict=True)]
    assert limbs_to_ints(out) == want, f"mulmod mod {describe(m)}, {len(xs)} elements"


def check_prodmod(be: Backend, m: int, xs: Sequence[int], threads: int = 1) -> None:
    want = 1 % m
    for x in xs:
        want = want * x % m
    got = limbs_to_int(be.prodmod(_rows(xs, m), m, threads=threads)[0])  # type: ignore[arg-type]
    assert got == want, f"prodmod mod {describe(m)}, {len(xs)} elements"


def check_powmod(
    be: Backend,
    m: int,
    bs: Sequence[int],
    es: Sequence[int],
    *,
    secret: bool = False,
    threads: int = 1,
    exp_width: int | None = None,
) -> None:
    """Per-element exponents, or one shared exponent when ``len(es) == 1``."""
    out = be.powmod(
        _rows(bs, m),
        ints_to_limbs(es, exp_width),
        m,
        secret=secret,
        threads=threads,  # type: ignore[arg-type]
    )
    pairs = zip(bs, es * len(bs) if len(es) == 1 else es, strict=True)
    want = [pow(b, e, m) for b, e in pairs]
    assert limbs_to_ints(out) == want, (
        f"powmod (secret={secret}) mod {describe(m)}, {len(bs)} elements"
    )


def check_multi_powmod(
    be: Backend, m: int, bs: Sequence[int], es: Sequence[int], threads: int = 1
) -> None:
    want = 1 % m
    for b, e in zip(bs, es, strict=True):
        want = want * pow(b, e, m) % m
    got = limbs_to_int(be.multi_powmod(_rows(bs, m), ints_to_limbs(es), m, threads=threads)[0])  # type: ignore[arg-type]
    assert got == want, f"multi_powmod mod {describe(m)}, {len(bs)} bases"


def check_fixed_base(
    be: Backend,
    m: int,
    g: int,
    max_exp_bits: int,
    es: Sequence[int],
    *,
    secret: bool = False,
    threads: int = 1,
) -> None:
    table = be.fixed_base(g, m, max_exp_bits, secret=secret)
    out = table.pow(ints_to_limbs(es, max(1, -(-max_exp_bits // 64))), threads=threads)
    assert limbs_to_ints(out) == [pow(g, e, m) for e in es], (
        f"fixed base (secret={secret}, {max_exp_bits} bits) mod {describe(m)}"
    )


def check_crt(
    be: Backend, p: int, q: int, pairs: Sequence[tuple[int, int]], threads: int = 1
) -> None:
    rp = ints_to_limbs([a for a, _ in pairs], width_of(p))
    rq = ints_to_limbs([b for _, b in pairs], width_of(q))
    got = limbs_to_ints(be.crt(rp, rq, p, q, threads=threads))
    q_inv = pow(q, -1, p)
    want = [b + q * ((a - b) * q_inv % p) for a, b in pairs]
    assert got == want, f"crt p={describe(p)} q={describe(q)}, {len(pairs)} pairs"
    assert all(x % p == a and x % q == b for x, (a, b) in zip(got, pairs, strict=True))
