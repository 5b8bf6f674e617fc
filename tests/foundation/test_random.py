"""Tests of fedcrypto._random: ranges, uniformity smoke checks, determinism, fork safety."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from fedcrypto import _random as R
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError


def test_scalar_ranges() -> None:
    for n in (1, 2, 3, 1000, 2**130 + 7):
        assert all(0 <= R.randbelow(n) < n for _ in range(50))
    assert R.randbits(0) == 0
    assert all(R.randbits(5) < 32 for _ in range(50))
    assert all(3 <= R.randrange(3, 5) < 5 for _ in range(50))
    with pytest.raises(InvalidArgumentError):
        R.randbelow(0)
    with pytest.raises(InvalidArgumentError):
        R.randrange(5, 5)


def test_random_unit_is_coprime() -> None:
    n = 3 * 5 * 7 * 11
    for _ in range(200):
        assert math.gcd(R.random_unit(n), n) == 1


@pytest.mark.parametrize("bits", [16, 64, 257])
def test_random_prime_exact_length(bits: int) -> None:
    p = R.random_prime(bits)
    assert p.bit_length() == bits
    assert p >> (bits - 2) == 3  # top two bits set: p*q has exactly 2*bits bits
    assert R.is_probable_prime(p)


def test_is_probable_prime_known_values() -> None:
    is_probable_prime = R.is_probable_prime
    assert is_probable_prime(2**127 - 1)
    assert not is_probable_prime(2**128 + 1)
    assert not is_probable_prime(561)  # Carmichael number
    assert [n for n in range(30) if is_probable_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]


def test_seeded_streams_are_deterministic_and_distinct() -> None:
    seed = bytes(range(32))
    a, b = R.VectorRNG(seed), R.VectorRNG(seed)
    assert np.array_equal(a.uint64(100), b.uint64(100))
    assert a.bytes(10) == b.bytes(10)
    other = R.VectorRNG(bytes(31) + b"\x01")
    assert not np.array_equal(R.VectorRNG(seed).uint64(8), other.uint64(8))


def test_seeded_stream_is_aes256_ctr() -> None:
    # Known answer: AES-256-CTR keystream with an all-zero counter block.
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    seed = bytes(range(32))
    enc = Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor()
    assert R.VectorRNG(seed).bytes(64) == enc.update(bytes(64))


def test_unseeded_generators_differ() -> None:
    assert not np.array_equal(R.VectorRNG().uint64(4), R.VectorRNG().uint64(4))


def test_seed_validation_and_no_leaks() -> None:
    with pytest.raises(InvalidArgumentError):
        R.VectorRNG(b"short")
    with pytest.raises(InvalidTypeError):
        R.VectorRNG("x" * 32)  # type: ignore[arg-type]
    seed = b"\xab" * 32
    rng = R.VectorRNG(seed)
    assert "ab" not in repr(rng).lower().replace("seeded", "")
    import pickle  # only to prove pickling is refused

    with pytest.raises(TypeError):
        pickle.dumps(rng)


@pytest.mark.parametrize("bound", [1, 2, 3, 7, 1000, 2**33 + 1, 2**63 + 5, 2**64])
def test_below_stays_in_range(bound: int) -> None:
    v = R.VectorRNG().below(bound, 5000)
    assert v.dtype == np.uint64 and v.shape == (5000,)
    if bound < 2**64:
        assert int(v.max()) < bound


def test_below_is_unbiased_for_awkward_bound() -> None:
    # bound 3 over 2-bit draws: modulo reduction would give 0 twice as often as 2.
    v = R.VectorRNG(b"\x07" * 32).below(3, 60000)
    counts = np.bincount(v.astype(np.int64), minlength=3)
    assert counts.min() > 19000 and counts.max() < 21000


def test_bits_and_uniform() -> None:
    rng = R.VectorRNG()
    for k in (1, 13, 32, 63, 64):
        v = rng.bits(1000, k)
        assert k == 64 or int(v.max()) < 2**k
    u = rng.uniform(10000)
    assert u.min() >= 0.0 and u.max() < 1.0 and 0.45 < u.mean() < 0.55
    with pytest.raises(InvalidArgumentError):
        rng.bits(1, 65)


def test_ints_below_big_bound() -> None:
    bound = 2**521 - 1
    vals = R.VectorRNG().ints_below(bound, 200)
    assert len(vals) == 200 and all(0 <= v < bound for v in vals)
    assert max(vals).bit_length() > 500  # would fail if values were truncated to a word
    assert R.VectorRNG().ints_below(1, 3) == [0, 0, 0]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_rekeys_unseeded_generator() -> None:
    rng = R.VectorRNG()
    rng.uint64(1)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: write its next words and exit without running pytest machinery
        os.write(w, rng.bytes(32))
        os._exit(0)
    os.close(w)
    child = os.read(r, 32)
    os.waitpid(pid, 0)
    assert len(child) == 32 and child != rng.bytes(32)


@pytest.mark.parametrize(
    "call",
    [
        lambda: R.randbits(1.5),
        lambda: R.randbits("8"),
        lambda: R.randbelow(10.0),
        lambda: R.randbelow(True),
        lambda: R.randrange(0, 2.5),
        lambda: R.random_unit(None),
        lambda: R.random_bytes(4.0),
        lambda: R.random_prime(64.0),
        lambda: R.random_prime(64, top_two_bits="yes"),
        lambda: R.is_probable_prime(97.0),
        lambda: R.is_probable_prime(97, rounds=2.0),
        lambda: R.VectorRNG().uint64(3.0),
        lambda: R.VectorRNG().bits(3, 8.0),
        lambda: R.VectorRNG().below(10.0, 3),
        lambda: R.VectorRNG().ints_below(10, "3"),
    ],
)
def test_wrong_types_are_typed_errors(call: object) -> None:
    with pytest.raises(InvalidTypeError):
        call()  # type: ignore[operator]


@pytest.mark.parametrize(
    "call",
    [
        lambda: R.randbits(-1),
        lambda: R.random_bytes(-1),
        lambda: R.random_prime(8),
        lambda: R.random_prime(1 << 20),
        lambda: R.is_probable_prime(97, rounds=0),
        lambda: R.is_probable_prime(97, rounds=10**6),
        lambda: R.VectorRNG().uint64(-1),
        lambda: R.VectorRNG().ints_below(10, -1),
    ],
)
def test_out_of_range_values_are_typed_errors(call: object) -> None:
    with pytest.raises(InvalidArgumentError):
        call()  # type: ignore[operator]


def test_prime_test_runs_below_hazmat() -> None:
    """_random draws the Miller-Rabin bases and the backend runs the rounds: _random no
    longer imports hazmat (which sits above it)."""
    import ast
    from pathlib import Path

    tree = ast.parse(Path(R.__file__).read_text())
    ours = [
        n.module or ""
        for n in ast.walk(tree)
        if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith("fedcrypto"))
    ]
    assert ours and not any("hazmat" in m for m in ours)
    assert R.is_probable_prime(2**89 - 1) and not R.is_probable_prime(3215031751)
