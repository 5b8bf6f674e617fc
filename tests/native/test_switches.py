"""Differential tests on both sides of every other algorithm switch in kernels.c.

* Thread splits (plan_parts): a batch runs on one thread below a work threshold and
  is cut into static slices above it; results must not depend on either.
* Pippenger's window (choose_pippenger_window) changes with the number of bases.
* Fixed-base windows: automatic (k = min(10, max_exp_bits)), explicit 1..16, and the
  constant-time tables' 5-bit window; exponents exactly at max_exp_bits (the limit,
  up to 65536 bits) and one bit over (refused).

The ``*_threshold`` helpers in kernel_oracle mirror the C formulas.
"""

from __future__ import annotations

import random

import pytest
from kernel_oracle import (
    MAX_AUTO_WINDOW,
    SECRET_WINDOW,
    bounded,
    check_crt,
    check_fixed_base,
    check_mulmod,
    check_multi_powmod,
    check_powmod,
    check_prodmod,
    describe,
    limbs,
    pippenger_switches,
    pippenger_window,
    thread_threshold,
    work_parts,
)

from fedcrypto._backend import Backend, get_backend
from fedcrypto._backend._limbs import ints_to_limbs, limbs_to_ints
from fedcrypto.exceptions import InvalidArgumentError

#: Thread counts for the split tests (one thread is what every other test runs).
THREADS = (2, 3)


@pytest.fixture(scope="module")
def be() -> Backend:
    return get_backend()


def _rand(m: int, count: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return [rng.randrange(m) for _ in range(count)]


def _around(threshold: int) -> list[int]:
    return sorted({max(1, threshold - 1), threshold, threshold + 1})


# -- thread splits -------------------------------------------------------------------------
#: Moduli for the split tests: plain (even), word REDC / Barrett (odd, 24 limbs), wrap.
SPLIT_MODULI = {"2^1472": 1 << 1472, "2^1536-1": (1 << 1536) - 1, "2^3520+1": (1 << 3520) + 1}


@pytest.mark.parametrize("m", list(SPLIT_MODULI.values()), ids=list(SPLIT_MODULI))
def test_mulmod_prodmod_thread_split(be: Backend, m: int) -> None:
    n = limbs(m)
    counts = _around(thread_threshold(3.0 * n * n))  # work = count * n^2 * 3
    xs = _rand(m, max(counts), 1)
    ys = _rand(m, max(counts), 2)

    def body() -> None:
        for count in counts:
            assert work_parts(count, 2, 3.0 * n * n * count) == (1 if count < counts[1] else 2)
            for threads in THREADS:
                check_mulmod(be, m, xs[:count], ys[:count], threads=threads)
                check_mulmod(be, m, xs[:count], ys[:1], threads=threads)
                check_prodmod(be, m, xs[:count], threads=threads)

    bounded(body, f"mulmod/prodmod thread split mod {describe(m)}")


def test_mulmod_thread_split_two_limbs(be: Backend) -> None:
    m = (1 << 128) - 159
    counts = _around(thread_threshold(3.0 * 4))  # 12500 two-limb products
    xs = _rand(m, max(counts), 3)

    def body() -> None:
        for count in counts:
            check_mulmod(be, m, xs[:count], xs[:count][::-1], threads=2)

    bounded(body, "mulmod thread split, two limbs")


@pytest.mark.parametrize("m", [(1 << 128) - 159, 1 << 128], ids=["odd", "2^128"])
def test_powmod_thread_split(be: Backend, m: int) -> None:
    n = limbs(m)
    counts = _around(thread_threshold(n * n * 64.0))  # work = count * n^2 * (64 * exp limbs)
    bs = _rand(m, max(counts), 4)
    es = [random.Random(5).getrandbits(64) for _ in bs]

    def body() -> None:
        for count in counts:
            for threads in THREADS:
                check_powmod(be, m, bs[:count], es[:count], threads=threads)
                if m % 2:
                    check_powmod(be, m, bs[:count], es[:count], secret=True, threads=threads)

    bounded(body, f"powmod thread split mod {describe(m)}")


@pytest.mark.parametrize("m", [(1 << 1536) - 1, 1 << 1472], ids=["2^1536-1", "2^1472"])
def test_multi_powmod_thread_split(be: Backend, m: int) -> None:
    # Montgomery conversion: work = count * n^2 * 3; windows: count * n^2 * windows,
    # split over at most `windows` threads.
    n = limbs(m)
    threshold = thread_threshold(3.0 * n * n)
    counts = [2, threshold - 1, threshold]
    bs = _rand(m, max(counts), 6)
    rng = random.Random(7)
    es = [rng.getrandbits(64) for _ in bs]

    def body() -> None:
        for count in counts:
            for threads in THREADS:
                check_multi_powmod(be, m, bs[:count], es[:count], threads=threads)

    bounded(body, f"multi_powmod thread split mod {describe(m)}")


@pytest.mark.parametrize("secret", [False, True])
def test_fixed_base_thread_split(be: Backend, secret: bool) -> None:
    m = (1 << 1024) - 105
    n = limbs(m)
    bits = 64
    windows = -(-bits // (SECRET_WINDOW if secret else MAX_AUTO_WINDOW))
    per = (4.0 if secret else 3.0) * windows * n * n  # work per exponent
    counts = _around(thread_threshold(per))
    rng = random.Random(8)
    es = [rng.getrandbits(bits) for _ in range(max(counts))]

    def body() -> None:
        for count in counts:
            for threads in THREADS:
                check_fixed_base(be, m, 3, bits, es[:count], secret=secret, threads=threads)

    bounded(body, f"fixed base (secret={secret}) thread split")


def test_crt_thread_split(be: Backend) -> None:
    p, q = (1 << 521) - 1, (1 << 607) - 1
    pn, qn = limbs(p), limbs(q)
    counts = _around(thread_threshold(2.0 * (pn + qn) ** 2))
    rng = random.Random(9)
    pairs = [(rng.randrange(p), rng.randrange(q)) for _ in range(max(counts))]

    def body() -> None:
        for count in counts:
            for threads in THREADS:
                check_crt(be, p, q, pairs[:count], threads=threads)

    bounded(body, "crt thread split")


def test_thread_counts_never_change_results(be: Backend) -> None:
    """Same batch, 1..7 threads: bit-identical outputs (static slices)."""
    m = (1 << 2048) + 1
    bs = _rand(m, 64, 10)
    es = [random.Random(11).getrandbits(100) for _ in bs]
    b, e = ints_to_limbs(bs, limbs(m)), ints_to_limbs(es)

    def run(threads: int) -> list[bytes]:
        return [
            be.mulmod(b, b[::-1].copy(), m, threads=threads).tobytes(),
            be.prodmod(b, m, threads=threads).tobytes(),
            be.powmod(b, e, m, threads=threads).tobytes(),
            be.powmod(b, e, m, secret=True, threads=threads).tobytes(),
            be.multi_powmod(b, e, m, threads=threads).tobytes(),
        ]

    runs = bounded(lambda: [run(t) for t in range(1, 8)], "thread counts")
    assert all(r == runs[0] for r in runs[1:])


# -- Pippenger windows ---------------------------------------------------------------------
@pytest.mark.parametrize("bits", [8, 63, 64, 65, 200])
def test_multi_powmod_pippenger_window_switches(be: Backend, bits: int) -> None:
    switches = pippenger_switches(bits, 500)
    assert switches, "the window should grow with the number of bases"
    counts = sorted({c for s in switches for c in (s - 1, s)})
    rng = random.Random(bits)
    es_all = [rng.getrandbits(bits) | (1 << (bits - 1)) for _ in range(max(counts))]

    def body() -> None:
        for m in ((1 << 64) - 59, 1 << 64):
            bs = _rand(m, max(counts), 12)
            for count in counts:
                check_multi_powmod(be, m, bs[:count], es_all[:count])

    bounded(body, f"Pippenger window switches at {bits} bits")


def test_multi_powmod_pippenger_switches_at_limb_boundaries(be: Backend) -> None:
    bits = 64
    counts = sorted({c for s in pippenger_switches(bits, 30) for c in (s - 1, s)})
    rng = random.Random(13)
    es = [rng.getrandbits(bits) for _ in range(max(counts))]

    def body() -> None:
        for m in (1 << 2048, (1 << 3520) + 1):
            bs = _rand(m, max(counts), 14)
            for count in counts:
                check_multi_powmod(be, m, bs[:count], es[:count])

    bounded(body, "Pippenger window switches, wide moduli")


def test_pippenger_window_mirror() -> None:
    """The mirror of choose_pippenger_window picks growing windows (sanity of the mirror)."""
    ws = [pippenger_window(n, 256) for n in (1, 10, 100, 1000, 10000)]
    assert ws == sorted(ws) and ws[0] < ws[-1]


# -- fixed-base windows --------------------------------------------------------------------
@pytest.mark.parametrize(
    "m", [(1 << 128) - 159, 1 << 128, (1 << 2048) + 1], ids=["odd", "2^128", "2^2048+1"]
)
def test_fixed_base_automatic_window_switches(be: Backend, m: int) -> None:
    """k = min(10, max_exp_bits) below the memory budget: every k from 1 to 10, then 10."""
    g = _rand(m, 1, 15)[0]

    def body() -> None:
        for bits in range(1, MAX_AUTO_WINDOW + 3):
            rng = random.Random(bits)
            es = [0, 1, (1 << bits) - 1, rng.getrandbits(bits)]
            check_fixed_base(be, m, g, bits, es)
            if be.name == "native":
                assert be.fixed_base(g, m, bits).window == min(bits, MAX_AUTO_WINDOW)  # type: ignore[attr-defined]

    bounded(body, f"fixed base automatic windows mod {describe(m)}")


@pytest.fixture
def native_fixed_base() -> type:
    if get_backend().name != "native":
        pytest.skip("explicit windows are a native-kernel option")
    from fedcrypto._backend._native import NativeFixedBase

    return NativeFixedBase


@pytest.mark.parametrize(
    "m",
    [(1 << 64) - 59, 1 << 64, (1 << 1472), (1 << 3520) + 1],
    ids=["2^64-59", "2^64", "2^1472", "2^3520+1"],
)
def test_fixed_base_explicit_windows(native_fixed_base: type, m: int) -> None:
    g = _rand(m, 1, 16)[0]
    bits = 40

    def body() -> None:
        rng = random.Random(17)
        es = [0, 1, (1 << bits) - 1, 1 << (bits - 1)] + [rng.getrandbits(bits) for _ in range(3)]
        for window in range(1, 17):
            if window > 12 and limbs(m) > 2:
                continue  # 2^16-entry windows at 56 limbs: slow and nothing new
            table = native_fixed_base(g, m, bits, window=window)
            assert table.window == window
            assert limbs_to_ints(table.pow(ints_to_limbs(es, 1))) == [pow(g, e, m) for e in es]

    bounded(body, f"fixed base explicit windows mod {describe(m)}")


@pytest.mark.parametrize("secret", [False, True])
def test_fixed_base_widest_exponents(be: Backend, secret: bool) -> None:
    """max_exp_bits at its limit (65536) and exponents exactly that wide; one more bit
    is refused with a typed error."""
    m = (1 << 64) - 59
    bits = 1 << 16
    if not secret and be.name == "native":
        from fedcrypto._backend._native import NativeFixedBase

        make = lambda: NativeFixedBase(3, m, bits, window=1)  # noqa: E731  (a small table)
    elif not secret:
        pytest.skip("the automatic 65536-bit table is large on this backend")
    else:
        make = lambda: be.fixed_base(3, m, bits, secret=True)  # noqa: E731
    es = [0, 1, (1 << bits) - 1, 1 << (bits - 1)]

    def body() -> None:
        table = make()
        got = limbs_to_ints(table.pow(ints_to_limbs(es, bits // 64)))
        assert got == [pow(3, e, m) for e in es]
        with pytest.raises(InvalidArgumentError):
            table.pow(ints_to_limbs([1 << bits]))

    bounded(body, f"fixed base at 65536 bits (secret={secret})")


@pytest.mark.parametrize(
    "bits", [SECRET_WINDOW - 1, SECRET_WINDOW, SECRET_WINDOW + 1, 63, 64, 65, 128]
)
def test_constant_time_fixed_base_exponent_widths(be: Backend, bits: int) -> None:
    """Rows exactly max_exp_bits wide and wider rows with zero high bits are accepted;
    a set bit above max_exp_bits is refused."""
    m = (1 << 1536) - 1  # 24 all-ones limbs
    es = [0, 1, (1 << bits) - 1]

    def body() -> None:
        check_fixed_base(be, m, 5, bits, es, secret=True)
        table = be.fixed_base(5, m, bits, secret=True)
        wide = limbs_to_ints(table.pow(ints_to_limbs(es, -(-bits // 64) + 1)))
        assert wide == [pow(5, e, m) for e in es]
        with pytest.raises(InvalidArgumentError):
            table.pow(ints_to_limbs([1 << bits]))

    bounded(body, f"constant-time fixed base, {bits}-bit exponents")
