"""fedcrypto.hazmat.modmath on Python ints: results, argument types, ranges, lengths."""

from __future__ import annotations

import secrets

import pytest

from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat import modmath

M = (1 << 521) - 1  # a Mersenne prime
EVEN = 1 << 200


def test_powmod_and_many() -> None:
    b, e = secrets.randbelow(M), secrets.randbits(300)
    assert modmath.powmod(b, e, M) == pow(b, e, M)
    assert modmath.powmod(b, e, M, secret=True) == pow(b, e, M)
    assert modmath.powmod(b, 0, M, secret=True) == 1
    bs = [secrets.randbelow(M) for _ in range(5)]
    es = [secrets.randbits(100) for _ in bs]
    assert modmath.powmod_many(bs, es, M) == [pow(x, y, M) for x, y in zip(bs, es, strict=True)]
    assert modmath.powmod_many(bs, 7, M, threads=2) == [pow(x, 7, M) for x in bs]
    assert modmath.powmod_many([], 7, M) == []
    small = [x % EVEN for x in bs]
    assert modmath.powmod_many(small, 3, EVEN) == [pow(x, 3, EVEN) for x in small]


def test_mulmod_prod_multi() -> None:
    xs = [secrets.randbelow(M) for _ in range(6)]
    ys = [secrets.randbelow(M) for _ in range(6)]
    assert modmath.mulmod_many(xs, ys, M) == [x * y % M for x, y in zip(xs, ys, strict=True)]
    prod = 1
    for x in xs:
        prod = prod * x % M
    assert modmath.prod_mod(xs, M) == prod
    assert modmath.prod_mod([], M) == 1
    es = [secrets.randbits(64) for _ in xs]
    expected = 1
    for x, e in zip(xs, es, strict=True):
        expected = expected * pow(x, e, M) % M
    assert modmath.multi_powmod(xs, es, M) == expected
    assert modmath.multi_powmod([], [], M) == 1


def test_fixed_base() -> None:
    g = secrets.randbelow(M)
    fb = modmath.FixedBase(g, M, max_exp_bits=128)
    es = [0, 1, secrets.randbits(128), (1 << 128) - 1]
    assert fb.pow_many(es) == [pow(g, e, M) for e in es]
    assert fb.pow(es[2]) == pow(g, es[2], M)
    assert fb.max_exp_bits == 128
    assert "max_exp_bits=128" in repr(fb)
    with pytest.raises(InvalidArgumentError):
        fb.pow(1 << 128)
    with pytest.raises(InvalidArgumentError):
        fb.pow(-1)
    with pytest.raises(InvalidArgumentError):
        modmath.FixedBase(M, M, max_exp_bits=8)
    with pytest.raises(InvalidTypeError):
        modmath.FixedBase(2, M, max_exp_bits=True)


def test_invert_and_crt() -> None:
    x = secrets.randbelow(M - 1) + 1
    assert modmath.invert(x, M) * x % M == 1
    with pytest.raises(InvalidArgumentError):
        modmath.invert(6, 9)
    assert modmath.crt([2, 3, 2], [3, 5, 7]) == 23
    p, q = (1 << 127) - 1, (1 << 89) - 1
    v = secrets.randbelow(p * q)
    assert modmath.crt([v % p, v % q], [p, q]) == v
    with pytest.raises(InvalidArgumentError):
        modmath.crt([1, 1], [6, 9])
    with pytest.raises(InvalidArgumentError):
        modmath.crt([1], [5, 7])
    with pytest.raises(InvalidArgumentError):
        modmath.crt([], [])
    with pytest.raises(InvalidArgumentError):
        modmath.crt([7], [5])


def test_is_probable_prime() -> None:
    assert modmath.is_probable_prime(M)
    assert not modmath.is_probable_prime(M + 2)  # 2^521 + 1 is divisible by 3
    assert modmath.is_probable_prime(2) and modmath.is_probable_prime(97)
    assert not modmath.is_probable_prime(1) and not modmath.is_probable_prime(0)
    assert not modmath.is_probable_prime(561)  # Carmichael number


@pytest.mark.parametrize("bad", [True, 1.0, "3", None, b"\x01"])
def test_non_integers_rejected(bad: object) -> None:
    with pytest.raises(InvalidTypeError):
        modmath.powmod(bad, 3, M)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.powmod(3, bad, M)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.powmod(3, 3, bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.mulmod_many([bad], [1], M)  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        modmath.prod_mod([1, bad], M)  # type: ignore[list-item]


def test_negative_and_out_of_range_rejected() -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod(-1, 3, M)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod(M, 3, M)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod(2, -3, M)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([2], [-1], M)
    with pytest.raises(InvalidArgumentError):
        modmath.mulmod_many([M], [1], M)
    with pytest.raises(InvalidArgumentError):
        modmath.prod_mod([-2], M)
    with pytest.raises(InvalidArgumentError):
        modmath.multi_powmod([2], [-1], M)


@pytest.mark.parametrize("mod", [0, 1, -5])
def test_small_moduli_rejected(mod: int) -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod(0, 1, mod)
    with pytest.raises(InvalidArgumentError):
        modmath.prod_mod([], mod)
    with pytest.raises(InvalidArgumentError):
        modmath.invert(1, mod)


def test_even_modulus_rejected_for_secret() -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod(3, 5, EVEN, secret=True)
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([3], 5, EVEN, secret=True)


def test_length_mismatches() -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([1, 2], [1], M)
    with pytest.raises(InvalidArgumentError):
        modmath.mulmod_many([1, 2], [1], M)
    with pytest.raises(InvalidArgumentError):
        modmath.multi_powmod([1, 2], [1], M)
    with pytest.raises(InvalidTypeError):
        modmath.multi_powmod([1, 2], 3, M)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.powmod_many(5, 3, M)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        modmath.powmod_many("ab", 3, M)  # type: ignore[arg-type]


@pytest.mark.parametrize("secret", [False, True])
def test_fixed_base_secret_flag_matches_pow(secret: bool) -> None:
    m = (1 << 521) - 1  # odd prime modulus
    fb = modmath.FixedBase(3, m, max_exp_bits=300, secret=secret)
    exps = [0, 1, 2**299 + 12345, 2**300 - 1]
    assert fb.pow_many(exps) == [pow(3, e, m) for e in exps]
    assert f"secret={secret}" in repr(fb)


def test_fixed_base_secret_needs_odd_modulus() -> None:
    with pytest.raises(InvalidArgumentError):
        modmath.FixedBase(3, 2**127, max_exp_bits=64, secret=True)


def test_powmod_many_exp_bits_bound() -> None:
    m = (1 << 127) - 1
    assert modmath.powmod_many([2, 3], [5, 7], m, secret=True, exp_bits=256) == [32, 3**7]
    with pytest.raises(InvalidArgumentError):
        modmath.powmod_many([2], [2**300], m, secret=True, exp_bits=256)
