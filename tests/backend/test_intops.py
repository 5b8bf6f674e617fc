"""Int-level backend operations (int_powmod, int_invert, jacobi, is_square,
is_probable_prime): every backend agrees with Python's own arithmetic, edge cases
pinned, typed errors for bad arguments."""

from __future__ import annotations

import math
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._backend import BACKEND_NAMES, Backend, load_backend
from fedcrypto._backend._intops import SMALL_PRIMES, PureIntOps
from fedcrypto.exceptions import BackendUnavailableError, InvalidArgumentError, InvalidTypeError


def _available() -> list[Backend]:
    out = []
    for name in BACKEND_NAMES:
        try:
            out.append(load_backend(name))
        except BackendUnavailableError:
            continue
    return out


BACKENDS = _available()
M127 = (1 << 127) - 1
#: strong pseudoprimes to bases 2, 3, 5 and 7 with no prime factor below 100
SPSP_2357 = 3215031751  # = 151 * 751 * 28351
#: Carmichael numbers (Fermat liars to every coprime base); the last two (Chernick's
#: (6k+1)(12k+1)(18k+1), k = 35, 45) have no prime factor below 100
CARMICHAEL = [561, 1105, 1729, 2465, 2821, 6601, 8911, 41041, 56052361, 118901521]


@pytest.fixture(params=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return next(b for b in BACKENDS if b.name == request.param)


def _euler(a: int, p: int) -> int:
    r = pow(a, (p - 1) // 2, p)
    return -1 if r == p - 1 else r


@settings(max_examples=60, deadline=None)
@given(
    a=st.integers(min_value=-(2**300), max_value=2**300),
    n=st.integers(min_value=1, max_value=2**300).map(lambda x: 2 * x + 1),
)
def test_jacobi_agrees_across_backends(a: int, n: int) -> None:
    got = {b.name: b.jacobi(a, n) for b in BACKENDS}
    assert len(set(got.values())) == 1, got
    assert next(iter(got.values())) in (-1, 0, 1)


def test_jacobi_is_legendre_for_primes(backend: Backend) -> None:
    for p in (3, 5, 7, 97, M127, 2**255 - 19):
        for a in [0, 1, 2, 3, p - 1, p, p + 2, -1, -3] + [secrets.randbelow(p) for _ in range(20)]:
            assert backend.jacobi(a, p) == _euler(a % p, p)
    # a composite: Jacobi (2/15) = (2/3)(2/5) = (-1)(-1) = 1 though 2 is no square mod 15
    assert backend.jacobi(2, 15) == 1 and backend.jacobi(5, 15) == 0


@pytest.mark.parametrize("n", [0, 1, 2, 4, -3, 10**6])
def test_jacobi_needs_an_odd_modulus_above_one(backend: Backend, n: int) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.jacobi(3, n)


@settings(max_examples=60, deadline=None)
@given(
    b=st.integers(min_value=-(2**200), max_value=2**200),
    e=st.integers(min_value=0, max_value=2**300),
    m=st.integers(min_value=2, max_value=2**200),
)
def test_int_powmod_and_invert_agree_with_python(b: int, e: int, m: int) -> None:
    for be in BACKENDS:
        assert be.int_powmod(b, e, m) == pow(b, e, m)
        if math.gcd(b, m) == 1:
            inv = be.int_invert(b, m)
            assert 0 < inv < m and inv * b % m == 1 % m
        else:
            with pytest.raises(InvalidArgumentError):
                be.int_invert(b, m)


def test_int_ops_bad_arguments(backend: Backend) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.int_powmod(2, -1, 7)
    with pytest.raises(InvalidArgumentError):
        backend.int_powmod(2, 3, 1)
    with pytest.raises(InvalidTypeError):
        backend.int_powmod(2.0, 3, 7)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        backend.int_invert(True, 7)
    with pytest.raises(InvalidTypeError):
        backend.is_square("4")  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        backend.int_invert(0, 7)


def test_is_square(backend: Backend) -> None:
    for r in (0, 1, 2, 10**40 + 7, M127):
        assert backend.is_square(r * r)
        if r > 1:
            assert not backend.is_square(r * r + 1) and not backend.is_square(r * r - 1)
    assert not backend.is_square(-4)


def test_miller_rabin_rounds_are_exact(backend: Backend) -> None:
    """A strong pseudoprime to bases 2, 3, 5, 7 passes exactly those rounds: the test is
    Miller-Rabin to the given bases, no more, no less."""
    assert backend.is_probable_prime(SPSP_2357, [2, 3, 5, 7])
    assert not backend.is_probable_prime(SPSP_2357, [2, 3, 5, 7, 11])
    assert not backend.is_probable_prime(SPSP_2357, [151])  # a base sharing a factor with n
    # Carmichael numbers fool Fermat tests, not Miller-Rabin (nor, below 100, trial division)
    assert sum(c > 101 * 101 and all(c % p for p in SMALL_PRIMES) for c in CARMICHAEL) == 2
    for c in CARMICHAEL:
        assert pow(2, c - 1, c) == 1
        assert not backend.is_probable_prime(c, [2])


def test_probable_prime_known_values(backend: Backend) -> None:
    for p in (2, 3, 97, 101, 10007, M127, 2**255 - 19):
        assert backend.is_probable_prime(p, [2, 3])
    for c in (-7, 0, 1, 4, 91, 10201, M127 * ((1 << 61) - 1)):
        assert not backend.is_probable_prime(c, [2, 3])


def test_probable_prime_bases_are_checked(backend: Backend) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.is_probable_prime(M127, [])
    with pytest.raises(InvalidArgumentError):
        backend.is_probable_prime(M127, [1])
    with pytest.raises(InvalidArgumentError):
        backend.is_probable_prime(M127, [M127 - 1])
    with pytest.raises(InvalidTypeError):
        backend.is_probable_prime(M127, 2)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        backend.is_probable_prime(M127, [2.0])  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        backend.is_probable_prime(float(M127), [2])  # type: ignore[arg-type]


def test_pure_int_ops_stay_python_ints() -> None:
    ops = PureIntOps()
    assert type(ops.powmod(3, 5, 7)) is int and type(ops.invert(3, 7)) is int
    assert ops.invert(6, 9) is None
