"""Kernel fuzz test (issue 8): random and structured moduli for every entry point.

Invariant: every call either returns exactly what Python's own ints give, or (for
inputs built to be invalid) raises a typed fedcrypto error, and returns within the
watchdog's limit.  The run lasts about FEDCRYPTO_FUZZ_SECONDS (default 3) and at
most MAX_CASES cases; it is seeded from the clock, and the seed is printed and put
in every failure message.  Reproduce a failure with FEDCRYPTO_FUZZ_SEED=<seed>:
case i draws from Random(f"{seed}:{i}"), so a seed replays the same cases whatever
the speed of the machine.
"""

from __future__ import annotations

import faulthandler
import os
import random
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "native"))
from kernel_oracle import (  # noqa: E402  (tests/native is not a package)
    WATCHDOG_SECONDS,
    bounded,
    check_crt,
    check_fixed_base,
    check_mulmod,
    check_multi_powmod,
    check_powmod,
    check_prodmod,
    describe,
)

from fedcrypto._backend import Backend, get_backend  # noqa: E402
from fedcrypto._backend._limbs import ints_to_limbs, width_of  # noqa: E402
from fedcrypto.exceptions import FedCryptoError, InvalidArgumentError  # noqa: E402

SECONDS = float(os.environ.get("FEDCRYPTO_FUZZ_SECONDS", "3"))
MAX_CASES = 5000
_SEED_ENV = "FEDCRYPTO_FUZZ_SEED"


# -- moduli --------------------------------------------------------------------------------
def _structured_modulus(rng: random.Random) -> int:
    """A modulus at or near a limb boundary, a power of two, 2^k +- 1, all-ones limbs."""
    j = rng.choice([1, 2, 3, 4, 8, 16, 23, 24, 25, 32, 33, 48, 55, 56, 57, 64])
    k = 64 * j + rng.choice([0, 0, 0, -1, 1, -2, 2])
    kind = rng.randrange(6)
    if kind == 0:
        m = 1 << k
    elif kind == 1:
        m = (1 << k) + rng.choice([1, -1])
    elif kind == 2:
        m = (1 << k) + rng.randrange(-300, 300)
    elif kind == 3:  # limbs drawn from {0, all ones, 1, random}
        m = 0
        for _ in range(max(1, k // 64)):
            m = (m << 64) | rng.choice([0, (1 << 64) - 1, (1 << 64) - 1, 1, rng.getrandbits(64)])
    elif kind == 4:  # top limb 1, the rest random
        m = (1 << k) | rng.getrandbits(k)
    else:
        m = (1 << k) - (1 << rng.randrange(max(1, k)))
    return m if m > 1 else 3


def _random_modulus(rng: random.Random) -> int:
    bits = rng.choice([2, 8, 63, 64, 65, 127, 128, 129, 512, 1024, 2048, 3072, 4096])
    bits = max(2, bits + rng.randrange(-3, 4))
    return rng.getrandbits(bits) | (1 << (bits - 1)) | rng.choice([0, 1])


def _modulus(rng: random.Random) -> int:
    return _structured_modulus(rng) if rng.random() < 0.7 else _random_modulus(rng)


def _values(rng: random.Random, m: int, count: int) -> list[int]:
    edge = [0, 1, m - 1, m - 2, m // 2, (1 << (64 * (width_of(m) - 1))) % m]
    return [rng.choice(edge) if rng.random() < 0.3 else rng.randrange(m) for _ in range(count)]


def _count(rng: random.Random) -> int:
    return rng.choice([0, 1, 2, 3, 15, 16, 17, rng.randrange(0, 48)])


def _exps(rng: random.Random, count: int, bits: int) -> list[int]:
    return [
        rng.choice([0, 1, (1 << bits) - 1]) if rng.random() < 0.25 else rng.getrandbits(bits)
        for _ in range(count)
    ]


# -- one case per entry point ----------------------------------------------------------------
def _case_mulmod(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    n = _count(rng)
    xs = _values(rng, m, n)
    ys = _values(rng, m, 1 if rng.random() < 0.3 else n)
    check_mulmod(be, m, xs, ys, threads=threads, extra=rng.choice([0, 0, 1]))


def _case_prodmod(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    check_prodmod(be, m, _values(rng, m, _count(rng)), threads=threads)


def _case_powmod(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    n = min(_count(rng), 9)
    secret = m % 2 == 1 and rng.random() < 0.5
    bits = rng.choice([1, 8, 63, 64, 65, 128, 200])
    es = _exps(rng, 1 if rng.random() < 0.3 else n, bits)
    check_powmod(be, m, _values(rng, m, n), es, secret=secret, threads=threads)


def _case_fixed_base(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    secret = m % 2 == 1 and rng.random() < 0.5
    bits = rng.choice([1, 2, 5, 6, 9, 10, 11, 63, 64, 65])
    if m.bit_length() > 2200 and not secret:
        bits = min(bits, 10)  # keep automatic tables (k = min(10, bits)) small
    g = _values(rng, m, 1)[0]
    check_fixed_base(
        be, m, g, bits, _exps(rng, min(_count(rng), 9), bits), secret=secret, threads=threads
    )


def _case_multi_powmod(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    n = _count(rng)
    bits = rng.choice([1, 8, 63, 64, 65, 100])
    check_multi_powmod(be, m, _values(rng, m, n), _exps(rng, n, bits), threads=threads)


def _case_crt(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    q = _modulus(rng)
    for _ in range(8):
        if _gcd(m, q) == 1:
            break
        q += 1
    else:
        return
    n = _count(rng)
    pairs = list(zip(_values(rng, m, n), _values(rng, q, n), strict=True))
    check_crt(be, m, q, pairs, threads=threads)


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _case_invalid(be: Backend, rng: random.Random, m: int, threads: int) -> None:
    """Inputs built to be refused: a typed error, never a result or a hang."""
    w = width_of(m)
    bad = ints_to_limbs([m + rng.randrange(3)], w + 1)  # a value >= m
    good = ints_to_limbs([1], w + 1)
    calls: list[Callable[[], object]] = [
        lambda: be.mulmod(bad, good, m, threads=threads),
        lambda: be.mulmod(good, bad, m, threads=threads),
        lambda: be.prodmod(bad, m, threads=threads),
        lambda: be.powmod(bad, good, m, threads=threads),
        lambda: be.multi_powmod(bad, good, m, threads=threads),
        lambda: be.powmod(good, good, m & ~1 if m > 3 else 4, secret=True),  # even modulus
        lambda: be.fixed_base(1, m, 8, secret=False).pow(ints_to_limbs([1 << 8])),  # too wide
    ]
    call = rng.choice(calls)
    with pytest.raises(FedCryptoError) as info:
        call()
    assert isinstance(info.value, InvalidArgumentError), repr(info.value)


CASES = [
    _case_mulmod,
    _case_mulmod,
    _case_prodmod,
    _case_powmod,
    _case_fixed_base,
    _case_multi_powmod,
    _case_crt,
    _case_invalid,
]


def _seed() -> int:
    raw = os.environ.get(_SEED_ENV, "").strip()
    return int(raw) if raw else time.time_ns() % (1 << 63)


def test_kernel_fuzz() -> None:
    be = get_backend()
    seed = _seed()
    print(f"kernel fuzz: {_SEED_ENV}={seed} (backend {be.name})")
    deadline = time.monotonic() + SECONDS
    faulthandler.dump_traceback_later(SECONDS + 4 * WATCHDOG_SECONDS, exit=True)
    done = 0
    try:
        while done < MAX_CASES and (done == 0 or time.monotonic() < deadline):
            rng = random.Random(f"{seed}:{done}")
            case = rng.choice(CASES)
            m = _modulus(rng)
            threads = rng.choice([1, 1, 2, 3])
            what = f"case {done} ({case.__name__[6:]}, modulus {describe(m)}, {threads} threads)"
            try:
                bounded(partial(case, be, rng, m, threads), what)
            except BaseException as exc:
                raise AssertionError(
                    f"kernel fuzz failed: {what}; reproduce with {_SEED_ENV}={seed}: {exc!r}"
                ) from exc
            done += 1
    finally:
        faulthandler.cancel_dump_traceback_later()
    assert done > 0
    print(f"kernel fuzz: {done} cases in {SECONDS:.0f} s")
