"""The constant-time exponentiation (src_native/ct_powmod.c, issue 12 item 1).

``powmod(secret=True)`` runs OpenSSL's ``BN_mod_exp_mont_consttime`` when every exponent
row of the batch has a non-zero top limb, else GMP's ``mpn_sec_powm`` over the full row
width.  Checked here against Python's ``pow`` and against the GMP-only hook
``_powmod_gmp_sec``: moduli at and around limb boundaries (1-3 limbs, 16/17 limbs: the
1024-bit size OpenSSL runs through its RSAZ code, 32/33, 48, 64), edge bases and
exponents, normalized and padded exponent rows (both code paths, and a batch mixing
them), shared exponents, batch counts around the thread split; the typed errors (even,
zero, unit moduli, oversize exponent rows); and a coarse statistical check that the
time does not depend on the exponent's Hamming weight.
"""

from __future__ import annotations

import random
import statistics
import time

import numpy as np
import pytest

from fedcrypto import _native, backend_info
from fedcrypto._backend import get_backend
from fedcrypto._backend._base import MAX_EXP_BITS
from fedcrypto._backend._limbs import int_to_limbs, ints_to_limbs, limbs_to_ints, width_of
from fedcrypto.exceptions import InvalidArgumentError
from fedcrypto.hazmat import modmath

pytestmark = pytest.mark.skipif(
    backend_info()["name"] != "native", reason="native kernel tests (FEDCRYPTO_BACKEND=native)"
)

#: Limb counts around the switches that matter to OpenSSL and to mpn_sec_powm.
LIMB_COUNTS = (1, 2, 3, 16, 17, 32, 33, 48, 64)


def _odd_moduli(j: int) -> dict[str, int]:
    """Odd moduli at and around 2^(64 j)."""
    k = 64 * j
    mods = {
        f"2^{k}-1": (1 << k) - 1,
        f"2^{k}+1": (1 << k) + 1,
        f"2^{k - 1}+1": (1 << (k - 1)) + 1,
        f"2^{k}-2^{k - 64}+1 (top limb all ones)": (1 << k) - (1 << (k - 64)) + 1 if j > 1 else 3,
        f"random {k}-bit": random.Random(k).getrandbits(k) | (1 << (k - 1)) | 1,
    }
    return {name: m for name, m in mods.items() if m > 1}


MODULI = {name: m for j in LIMB_COUNTS for name, m in _odd_moduli(j).items()}


def _ct(bases: list[int], exps: list[int], m: int, ew: int | None, threads: int = 1) -> list[int]:
    out = np.empty((len(bases), width_of(m)), dtype=np.uint64)
    _native.powmod(
        ints_to_limbs(bases, width_of(m)),
        ints_to_limbs(exps, ew),
        int_to_limbs(m),
        out,
        True,
        threads,
    )
    return limbs_to_ints(out)


def _gmp(bases: list[int], exps: list[int], m: int, ew: int | None) -> list[int]:
    out = np.empty((len(bases), width_of(m)), dtype=np.uint64)
    _native._powmod_gmp_sec(
        ints_to_limbs(bases, width_of(m)), ints_to_limbs(exps, ew), int_to_limbs(m), out, 1
    )
    return limbs_to_ints(out)


def test_openssl_is_linked_and_reported() -> None:
    """setup.sh builds with -Dnative=enabled, which requires libcrypto."""
    version = _native.openssl_version()
    assert version is not None and version.startswith("OpenSSL")
    info = backend_info()
    assert info["openssl"] == version
    assert info["ct_powmod"] == "OpenSSL BN_mod_exp_mont_consttime"


@pytest.mark.parametrize("name", sorted(MODULI))
def test_matches_pow_at_limb_boundaries(name: str) -> None:
    m = MODULI[name]
    rng = random.Random(name)
    bits = m.bit_length()
    bases = [0, 1, 2, m - 1, m - 2] + [rng.randrange(m) for _ in range(6 if bits < 3000 else 3)]
    bases = [b % m for b in bases]
    # Exponents: 0, 1, small, the modulus' size, one limb short, random widths.
    exps = [0, 1, 2, (1 << bits) - 1, m - 1, 1 << (bits - 1), 65537][: len(bases)]
    exps += [rng.getrandbits(rng.randrange(1, bits + 130)) for _ in range(len(bases) - len(exps))]
    want = [pow(b, e, m) for b, e in zip(bases, exps, strict=True)]
    # Natural width (rows of the widest exponent: mixed top limbs -> mpn_sec_powm batch).
    assert _ct(bases, exps, m, None) == want
    # One exponent per call (normalized rows: OpenSSL whenever e > 0).
    for b, e, w in zip(bases, exps, want, strict=True):
        assert _ct([b], [e], m, None) == [w], (name, b, e)
    # Padded rows: one extra zero limb forces the full-width GMP path.
    ew = max(width_of(max(exps)), 1) + 1
    assert _ct(bases, exps, m, ew) == want
    assert _gmp(bases, exps, m, ew) == want


@pytest.mark.parametrize("count", [1, 2, 3, 16, 17, 33])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_batches_and_threads(count: int, threads: int) -> None:
    """Batch counts around the thread split: the result never depends on threads."""
    rng = random.Random(count * 10 + threads)
    m = rng.getrandbits(2048) | (1 << 2047) | 1
    bases = [rng.randrange(m) for _ in range(count)]
    exps = [rng.getrandbits(1024) | (1 << 1023) for _ in range(count)]
    want = [pow(b, e, m) for b, e in zip(bases, exps, strict=True)]
    assert _ct(bases, exps, m, None, threads) == want
    # one shared exponent row
    out = np.empty((count, width_of(m)), dtype=np.uint64)
    _native.powmod(
        ints_to_limbs(bases, 32), int_to_limbs(exps[0]), int_to_limbs(m), out, True, threads
    )
    assert limbs_to_ints(out) == [pow(b, exps[0], m) for b in bases]


def test_backend_and_modmath_paths_agree_with_pow() -> None:
    """The public paths (backend, hazmat.modmath with and without exp_bits)."""
    rng = random.Random(7)
    p = 0xFFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1 | 1
    m = p * p
    bases = [rng.randrange(m) for _ in range(9)]
    exps = [rng.getrandbits(rng.randrange(1, 400)) for _ in range(9)]
    want = [pow(b, e, m) for b, e in zip(bases, exps, strict=True)]
    assert modmath.powmod_many(bases, exps, m, secret=True) == want
    assert modmath.powmod_many(bases, exps, m, secret=True, exp_bits=512) == want
    assert modmath.powmod(bases[0], exps[0], m, secret=True) == want[0]
    be = get_backend()
    got = be.powmod(ints_to_limbs(bases, width_of(m)), ints_to_limbs(exps), m, secret=True)
    assert limbs_to_ints(got) == want


@pytest.mark.parametrize("mod", [0, 1, 2, 4, 1 << 64, (1 << 2048) + 2])
def test_even_zero_and_unit_moduli_raise_typed_errors(mod: int) -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([1], [3], mod, secret=True)
    out = np.empty((1, max(width_of(mod), 1)), dtype=np.uint64)
    with pytest.raises(InvalidArgumentError):
        _native.powmod(int_to_limbs(1), int_to_limbs(3), int_to_limbs(mod), out, True, 1)


def test_oversize_exponent_rows_raise_typed_errors() -> None:
    m = (1 << 127) - 1
    wide = np.zeros((1, MAX_EXP_BITS // 64 + 1), dtype=np.uint64)
    wide[0, 0] = 3
    ok = np.zeros((1, MAX_EXP_BITS // 64), dtype=np.uint64)
    ok[0, 0] = 3
    out = np.empty((1, 2), dtype=np.uint64)
    base = int_to_limbs(5, 2)
    with pytest.raises(InvalidArgumentError, match="65536 bits"):
        _native.powmod(base, wide, int_to_limbs(m), out, True, 1)
    with pytest.raises(InvalidArgumentError, match="65536 bits"):
        get_backend().powmod(base, wide, m, secret=True)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([5], [1 << MAX_EXP_BITS], m, secret=True)
    # The cap itself is accepted; the variable-time path has no such cap.
    _native.powmod(base, ok, int_to_limbs(m), out, True, 1)
    assert limbs_to_ints(out) == [pow(5, 3, m)]
    _native.powmod(base, wide, int_to_limbs(m), out, False, 1)
    assert limbs_to_ints(out) == [pow(5, 3, m)]


def _median_ratio(secret: bool, rounds: int) -> float:
    """Median over interleaved rounds of time(low-weight) / time(high-weight) exponents.

    Both exponents have 1024 bits (top bit set, so the same limb count and the same
    OpenSSL path); one has Hamming weight 2, the other 1024.  Each round times one batch
    of each, in alternating order, so machine load affects both alike.
    """
    rng = random.Random(99)
    m = rng.getrandbits(2048) | (1 << 2047) | 1
    bases = ints_to_limbs([rng.randrange(m) for _ in range(8)], 32)
    low = int_to_limbs((1 << 1023) | 1)
    high = int_to_limbs((1 << 1024) - 1)
    mod = int_to_limbs(m)
    out = np.empty((8, 32), dtype=np.uint64)
    ratios = []
    for r in range(rounds):
        times = {}
        for key in ("low", "high") if r % 2 else ("high", "low"):
            e = low if key == "low" else high
            t0 = time.process_time()
            _native.powmod(bases, e, mod, out, secret, 1)
            times[key] = time.process_time() - t0
        ratios.append(times["low"] / times["high"])
    return statistics.median(ratios)


def test_time_does_not_depend_on_hamming_weight() -> None:
    """Coarse statistics, not a speed assertion: with the variable-time path the low-weight
    exponent is clearly cheaper (fewer multiplications), which shows the check can fail;
    the constant-time path stays within a few percent of 1."""
    ct = _median_ratio(True, 41)
    vt = _median_ratio(False, 41)
    assert 0.93 < ct < 1.07, f"constant-time ratio {ct:.3f}"
    assert vt < 0.93, f"variable-time ratio {vt:.3f} (the check would not detect a leak)"


@pytest.mark.parametrize("limbs", [7, 8, 9, 16, 33, 63, 64, 65])
def test_variable_time_openssl_range_matches_pow(limbs: int) -> None:
    """Public exponents on odd moduli of 8-64 limbs run OpenSSL's BN_mod_exp_mont; check
    both sides of the range against pow: small (scalar-multiplication) and full exponents,
    exponent 0 and 1, per-row and shared exponent rows, 1 and 2 threads."""
    rng = random.Random(limbs)
    k = 64 * limbs
    for m in ((1 << k) - 1, (1 << (k - 1)) + 1, rng.getrandbits(k) | (1 << (k - 1)) | 1):
        bases = [0, 1, m - 1] + [rng.randrange(m) for _ in range(5)]
        exps = [0, 1, 2, rng.getrandbits(32), rng.getrandbits(64), (1 << 31) - 1]
        exps += [rng.getrandbits(k), rng.getrandbits(17)]
        want = [pow(b, e, m) for b, e in zip(bases, exps, strict=True)]
        for threads in (1, 2):
            out = np.empty((len(bases), width_of(m)), dtype=np.uint64)
            _native.powmod(
                ints_to_limbs(bases, width_of(m)),
                ints_to_limbs(exps),
                int_to_limbs(m),
                out,
                False,
                threads,
            )
            assert limbs_to_ints(out) == want
        shared = get_backend().powmod(
            ints_to_limbs(bases, width_of(m)), int_to_limbs(exps[3]), m, threads=2
        )
        assert limbs_to_ints(shared) == [pow(b, exps[3], m) for b in bases]
