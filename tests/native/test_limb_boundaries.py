"""Differential tests of every kernel entry point at and around every limb boundary.

Each entry point (mulmod, prodmod, powmod, secret powmod, fixed-base variable and
constant time, multi-exponentiation, CRT) runs through the public backend interface
on moduli at and around 2^(64 j) (powers of two, 2^k +- small, 2^k +- 1 for k next to
the boundary, all-ones limbs) for the limb counts where the C code switches
algorithm (1-3 limbs, Barrett from 24, 2048 bits, wrap-around REDC from 56, 4096
bits, and the widest moduli in use, 32768 bits), at batch counts on both sides of the
reduction switch (15/16/17), with the edge values 0, 1, m - 1 and exponent 0, and
is compared with Python's own ints.  Every call runs under a watchdog: a kernel that
hangs fails its test (issue 8, finding 1: mulmod never returned for 2^2048 with 16
or more elements).
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from collections.abc import Callable
from math import gcd

import pytest
from kernel_oracle import (
    REDUCTION_SWITCH_COUNT,
    WATCHDOG_SECONDS,
    around_boundary,
    boundary_moduli,
    bounded,
    check_crt,
    check_fixed_base,
    check_mulmod,
    check_multi_powmod,
    check_powmod,
    check_prodmod,
    describe,
    limbs,
)

from fedcrypto._backend import Backend, get_backend
from fedcrypto._backend._limbs import ints_to_limbs
from fedcrypto.exceptions import InvalidArgumentError
from fedcrypto.hazmat import modmath

#: Limb counts j whose boundary 2^(64 j) is tested: 1-3 limbs; 23 and 24 around
#: FC_BARRETT_MIN (2^1472 has 24 limbs, top limb 1: the first power of two that Barrett
#: saw; 2^1472 - 1 has 23); 2048 bits (the report); 55 and 56 around FC_WRAP_MIN (56
#: limbs, even counts: 2^3520 + 1 and 2^3584 - 1 take it, 2^3520 - 1 and 2^3584 + 1 do
#: not); 4096 bits.
BOUNDARY_LIMBS = (1, 2, 3, 23, 24, 32, 55, 56, 64)
MODULI = boundary_moduli(BOUNDARY_LIMBS)
#: The exponentiations cost more, and their algorithm switches are fewer (plain residues
#: for even moduli, word-by-word REDC, wrap-around REDC from 56 even limbs): every family
#: at 1, 2 limbs and 2048 bits, the core ones around FC_WRAP_MIN and at 4096 bits (2^k:
#: plain, top limb 1; 2^k + 1: Montgomery, top limb 1; 2^k - 1 and 2^(k+1) - 1: all-ones
#: limbs; alternating all-ones and zero limbs).
_CORE = ("2^{k}", "2^{k}+1", "2^{k}-1", "2^{k1}-1", "alt-ones<{k}")
EXP_MODULI = boundary_moduli((1, 2, 32)) | {
    name: m
    for j in (55, 56, 64)
    for name, m in around_boundary(64 * j).items()
    if name in {c.format(k=64 * j, k1=64 * j + 1) for c in _CORE}
}
#: The widest moduli in use (n^2 for 16384-bit Paillier keys, 512 limbs): 2^32704 (top
#: limb 1: the Barrett corner), 2^32704 + 1 (wrap-around REDC at 512 limbs), 2^32768 - 1
#: (512 all-ones limbs).  Python's own division is slow at this size: fewer cases.
WIDE = {
    name: m
    for name, m in (around_boundary(64 * 511) | around_boundary(64 * 512)).items()
    if name in ("2^32704", "2^32704+1", "2^32768-1")
}

COUNTS = (0, 1, REDUCTION_SWITCH_COUNT - 1, REDUCTION_SWITCH_COUNT, REDUCTION_SWITCH_COUNT + 1)


@pytest.fixture(scope="module")
def be() -> Backend:
    return get_backend()


def _values(m: int, count: int, seed: int) -> list[int]:
    """Edge values first (0, 1, m - 1, m - 2, around the top limb), then random ones."""
    rng = random.Random(seed)
    top = 1 << (64 * (limbs(m) - 1))
    edge = [0, 1, m - 1, m - 2, m // 2, (m + 1) // 2, top % m, (top - 1) % m, 2 % m]
    out = [v for v in dict.fromkeys(edge) if 0 <= v < m]
    while len(out) < count:
        out.append(rng.randrange(m))
    # interleave so every prefix has edge and random values
    rng.shuffle(out)
    return out[:count]


def _run(what: str, fn: Callable[[], None]) -> None:
    bounded(fn, what)


# -- the reported hang ---------------------------------------------------------------------
@pytest.mark.parametrize("count", [15, 16, 17, 40])
def test_mulmod_many_power_of_two_2048_returns(count: int) -> None:
    """Finding 8.1: modmath.mulmod_many mod 2^2048 with >= 16 elements never returned."""
    m = 1 << 2048
    xs = [m - 1 - i for i in range(count)]
    got = bounded(lambda: modmath.mulmod_many(xs, xs, m), f"mulmod_many 2^2048 x{count}")
    assert got == [x * x % m for x in xs]


def test_mulmod_many_power_of_two_hang_is_contained_in_a_subprocess() -> None:
    """The same call in a fresh interpreter, killed by a timeout if it hangs (the whole
    process is checked: import, build of the context, the batch and exit)."""
    code = textwrap.dedent(
        """
        from fedcrypto.hazmat import modmath
        for k in (23, 32, 33, 64):
            m = 1 << (64 * k)
            xs = [m - 1 - i for i in range(20)]
            assert modmath.mulmod_many(xs, xs[::-1], m) == [
                x * y % m for x, y in zip(xs, xs[::-1])
            ]
        print("ok")
        """
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=WATCHDOG_SECONDS
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"mulmod_many mod 2^(64k) did not return within {WATCHDOG_SECONDS} s")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# -- mulmod / prodmod: both sides of the 16-element switch --------------------------------
@pytest.mark.parametrize(
    "m", list(MODULI.values()) + list(WIDE.values()), ids=list(MODULI) + [f"wide:{n}" for n in WIDE]
)
def test_mulmod(be: Backend, m: int) -> None:
    xs = _values(m, max(COUNTS), 1)
    ys = _values(m, max(COUNTS), 2)

    wide = limbs(m) > 100  # Python's own division is slow here: the switch only

    def body() -> None:
        for count in COUNTS[-3:] if wide else COUNTS:
            check_mulmod(be, m, xs[:count], ys[:count])  # elementwise
            check_mulmod(be, m, xs[:count], [ys[0]])  # one broadcast right operand
        if wide:
            return
        for y in (m - 1, 0, 1):
            check_mulmod(be, m, xs, [y])
        check_mulmod(be, m, xs, ys, extra=2)  # rows wider than the modulus

    _run(f"mulmod mod {describe(m)}", body)


@pytest.mark.parametrize(
    "m", list(MODULI.values()) + list(WIDE.values()), ids=list(MODULI) + [f"wide:{n}" for n in WIDE]
)
def test_prodmod(be: Backend, m: int) -> None:
    xs = _values(m, max(COUNTS), 3)
    nonzero = [x for x in xs if x] + [m - 1] * 3

    def body() -> None:
        for count in COUNTS + (2,):
            check_prodmod(be, m, nonzero[:count])  # a product that is not just 0
        check_prodmod(be, m, xs)  # with a zero

    _run(f"prodmod mod {describe(m)}", body)


# -- exponentiation ------------------------------------------------------------------------
_EXPS = [0, 1, 2, 3, 65537, (1 << 64) - 1, 1 << 64, (1 << 65) - 1]


@pytest.mark.parametrize("m", list(EXP_MODULI.values()), ids=list(EXP_MODULI))
def test_powmod(be: Backend, m: int) -> None:
    bs = _values(m, 9 if limbs(m) < 40 else 4, 4)
    rng = random.Random(5)
    es = (_EXPS + [rng.getrandbits(130)])[-len(bs) :]

    def body() -> None:
        check_powmod(be, m, [], [])
        check_powmod(be, m, bs[:1], [0])
        check_powmod(be, m, bs, es)  # one exponent per base
        check_powmod(be, m, bs, [es[-1]])  # one shared exponent
        check_powmod(be, m, bs, [0])
        check_powmod(be, m, bs[:3], es[-3:], exp_width=4)  # rows wider than needed

    _run(f"powmod mod {describe(m)}", body)


@pytest.mark.parametrize("m", list(EXP_MODULI.values()), ids=list(EXP_MODULI))
def test_secret_powmod(be: Backend, m: int) -> None:
    bs = _values(m, 9, 6)
    rng = random.Random(7)
    es = _EXPS + [rng.getrandbits(128)]
    if m % 2 == 0:
        with pytest.raises(InvalidArgumentError):
            be.powmod(ints_to_limbs(bs), ints_to_limbs(es), m, secret=True)
        return

    def body() -> None:
        check_powmod(be, m, [], [0], secret=True)
        check_powmod(be, m, bs[:1], [0], secret=True)
        check_powmod(be, m, bs, es, secret=True, exp_width=2)  # one exponent per base
        check_powmod(be, m, bs, [0], secret=True)  # exponent 0, one limb
        # the row width sets the work: a full-width exponent (every bit set), rows wider
        check_powmod(be, m, bs[:3], [(1 << 128) - 1], secret=True, exp_width=3)

    _run(f"secret powmod mod {describe(m)}", body)


@pytest.mark.parametrize("m", list(WIDE.values()), ids=list(WIDE))
def test_powmod_widest_moduli(be: Backend, m: int) -> None:
    bs = _values(m, 3, 8)

    def body() -> None:
        check_powmod(be, m, bs, [0, 1, 255])
        if m % 2:
            check_powmod(be, m, bs, [0, 3, 1 << 63], secret=True)
            check_fixed_base(be, m, bs[1], 4, [0, 1, 15], secret=True)
        check_fixed_base(be, m, bs[2], 3, [0, 1, 7])
        check_multi_powmod(be, m, bs, [3, 0, 5])

    _run(f"widest moduli {m.bit_length()} bits", body)


# -- fixed base ----------------------------------------------------------------------------
def _fb_exps(bits: int, seed: int) -> list[int]:
    rng = random.Random(seed)
    return list(dict.fromkeys([0, 1, (1 << bits) - 1, 1 << (bits - 1), rng.getrandbits(bits)]))


@pytest.mark.parametrize("m", list(EXP_MODULI.values()), ids=list(EXP_MODULI))
def test_fixed_base_variable_time(be: Backend, m: int) -> None:
    # automatic window k = min(10, max_exp_bits): 1, 2 and 9 bits are one window,
    # 11 bits two windows of 10; 65 bits (small moduli only: 7 x 1023 products) crosses
    # a limb of the exponent.
    sizes = (1, 2, 9, 11, 65) if limbs(m) <= 3 else (1, 2, 11)
    bases = _values(m, 3 if limbs(m) < 40 else 2, 9)

    def body() -> None:
        for bits in sizes:
            for g in bases:
                check_fixed_base(be, m, g, bits, _fb_exps(bits, bits))

    _run(f"fixed base mod {describe(m)}", body)


@pytest.mark.parametrize(
    "m", [m for m in EXP_MODULI.values() if m % 2], ids=[n for n, m in EXP_MODULI.items() if m % 2]
)
def test_fixed_base_constant_time(be: Backend, m: int) -> None:
    # constant-time tables use 5-bit windows: 5/6 bits are around one window, 65 bits
    # crosses an exponent limb (tests/native/test_switches.py has the other widths).
    bases = _values(m, 2 if limbs(m) <= 34 else 1, 10)

    def body() -> None:
        for bits in (1, 5, 6, 65):
            for g in bases:
                check_fixed_base(be, m, g, bits, _fb_exps(bits, bits), secret=True)

    _run(f"constant-time fixed base mod {describe(m)}", body)


# -- multi-exponentiation ------------------------------------------------------------------
@pytest.mark.parametrize("m", list(EXP_MODULI.values()), ids=list(EXP_MODULI))
def test_multi_powmod(be: Backend, m: int) -> None:
    bs = _values(m, 17 if limbs(m) < 40 else 7, 11)
    rng = random.Random(12)
    es = [0, 1, (1 << 64) - 1, 1 << 64, (1 << 65) - 1, 2] + [rng.getrandbits(70) for _ in range(11)]
    es = es[: len(bs)]

    def body() -> None:
        for count in (0, 1, len(bs)):
            check_multi_powmod(be, m, bs[:count], es[:count])
        check_multi_powmod(be, m, bs, [0] * len(bs))  # every exponent zero
        check_multi_powmod(be, m, [m - 1] * 3, [(1 << 128) - 1, 1, 0])

    _run(f"multi_powmod mod {describe(m)}", body)


# -- CRT -----------------------------------------------------------------------------------
def _crt_pairs() -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for j in BOUNDARY_LIMBS:
        k = 64 * j
        out[f"2^{k}+1,2^{k}-1"] = ((1 << k) + 1, (1 << k) - 1)
        out[f"2^{k},2^{k}-1"] = (1 << k, (1 << k) - 1)
        out[f"2^{k}-1,2^{k}"] = ((1 << k) - 1, 1 << k)
        out[f"2^{k}-59,3"] = ((1 << k) - 59, 3)
        out[f"2,2^{k}+1"] = (2, (1 << k) + 1)
        out[f"2^{k}+3,2^{k + 64}-1"] = ((1 << k) + 3, (1 << (k + 64)) - 1)
    return {name: (p, q) for name, (p, q) in out.items() if p > 1 and q > 1 and gcd(p, q) == 1}


CRT_PAIRS = _crt_pairs()


@pytest.mark.parametrize("pq", list(CRT_PAIRS.values()), ids=list(CRT_PAIRS))
def test_crt(be: Backend, pq: tuple[int, int]) -> None:
    p, q = pq
    rng = random.Random(13)
    pairs = [(0, 0), (p - 1, q - 1), (0, q - 1), (p - 1, 0), (1, 1)]
    pairs += [(rng.randrange(p), rng.randrange(q)) for _ in range(12)]

    def body() -> None:
        for count in (0, 1, 5, 17):
            check_crt(be, p, q, pairs[:count])

    _run(f"crt p={describe(p)} q={describe(q)}", body)
