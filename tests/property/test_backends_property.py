"""Differential property tests: every backend agrees with Python's own ``pow`` and ``*``.

Moduli of 64 to 6144 bits (odd and even), batches of 0..6 values that include the
pinned edge values 0, 1 and m - 1, exponents of 0..1024 bits (a few full-size),
secret and public paths, thread counts 1 and 2.
"""

from __future__ import annotations

import secrets

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fedcrypto._backend import BACKEND_NAMES, Backend, get_backend, load_backend
from fedcrypto._backend._limbs import int_to_limbs, ints_to_limbs, limbs_to_ints, width_of
from fedcrypto.exceptions import BackendUnavailableError


def _available() -> list[Backend]:
    out = []
    for name in BACKEND_NAMES:
        try:
            out.append(load_backend(name))
        except BackendUnavailableError:
            pass
    return out


BACKENDS = _available()
LIGHT = get_backend().name == "pure"
MAX_BITS = 2048 if LIGHT else 6144
EXAMPLES = 15 if LIGHT else 40

SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@st.composite
def moduli(draw: st.DrawFn, *, odd: bool | None = None) -> int:
    bits = draw(st.sampled_from([64, 65, 127, 128, 200, 512, 1024, 2048, 3072, 4096, MAX_BITS]))
    bits = min(bits, MAX_BITS)
    m = draw(st.integers(min_value=1 << (bits - 1), max_value=(1 << bits) - 1))
    make_odd = draw(st.booleans()) if odd is None else odd
    m = m | 1 if make_odd else m & ~1
    return max(m, 3)


@st.composite
def residues(draw: st.DrawFn, m: int, max_size: int = 6) -> list[int]:
    special = st.sampled_from([0, 1, m - 1])
    values = st.one_of(special, st.integers(min_value=0, max_value=m - 1))
    return draw(st.lists(values, max_size=max_size))


exponent_bits = st.sampled_from([0, 1, 2, 17, 64, 65, 256, 1024])


@st.composite
def exponent(draw: st.DrawFn) -> int:
    return draw(st.integers(min_value=0, max_value=(1 << draw(exponent_bits)) - 1))


def _prod(values: list[int], m: int) -> int:
    acc = 1
    for v in values:
        acc = acc * v % m
    return acc


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
@SETTINGS
@given(data=st.data(), secret=st.booleans(), shared=st.booleans())
def test_powmod_agrees_with_pow(
    backend: Backend, data: st.DataObject, secret: bool, shared: bool
) -> None:
    m = data.draw(moduli(odd=True if secret else None))
    bs = data.draw(residues(m))
    es = [data.draw(exponent())] if shared else [data.draw(exponent()) for _ in bs]
    per_base = es * len(bs) if shared else es
    b_arr = ints_to_limbs(bs, width_of(m))
    e_arr = ints_to_limbs(es)
    expected = [pow(b, e, m) for b, e in zip(bs, per_base, strict=True)]
    results = {
        threads: limbs_to_ints(backend.powmod(b_arr, e_arr, m, secret=secret, threads=threads))
        for threads in (1, 2)
    }
    assert results[1] == expected
    assert results[2] == expected


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
@SETTINGS
@given(data=st.data())
def test_mulmod_and_prodmod_agree(backend: Backend, data: st.DataObject) -> None:
    m = data.draw(moduli())
    xs = data.draw(residues(m))
    ys = data.draw(
        st.lists(st.integers(min_value=0, max_value=m - 1), min_size=len(xs), max_size=len(xs))
    )
    w = width_of(m)
    for threads in (1, 2):
        out = backend.mulmod(ints_to_limbs(xs, w), ints_to_limbs(ys, w), m, threads=threads)
        assert limbs_to_ints(out) == [x * y % m for x, y in zip(xs, ys, strict=True)]
        assert limbs_to_ints(backend.prodmod(ints_to_limbs(xs, w), m, threads=threads)) == [
            _prod(xs, m)
        ]
    if xs:
        c = ys[0] if ys else 0
        out = backend.mulmod(ints_to_limbs(xs, w), int_to_limbs(c, w), m)
        assert limbs_to_ints(out) == [x * c % m for x in xs]


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
@SETTINGS
@given(data=st.data())
def test_multi_powmod_agrees(backend: Backend, data: st.DataObject) -> None:
    m = data.draw(moduli())
    bs = data.draw(residues(m, max_size=12))
    bits = data.draw(st.sampled_from([1, 8, 64, 200]))
    es = [data.draw(st.integers(min_value=0, max_value=(1 << bits) - 1)) for _ in bs]
    expected = _prod([pow(b, e, m) for b, e in zip(bs, es, strict=True)], m)
    b_arr = ints_to_limbs(bs, width_of(m))
    e_arr = ints_to_limbs(es)
    for threads in (1, 2):
        assert limbs_to_ints(backend.multi_powmod(b_arr, e_arr, m, threads=threads)) == [expected]


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
@SETTINGS
@given(data=st.data())
def test_fixed_base_agrees(backend: Backend, data: st.DataObject) -> None:
    m = data.draw(moduli())
    if m.bit_length() > 2048 and backend.name == "native":
        m >>= m.bit_length() - 2048  # keep table precomputation cheap in the property run
        m = max(m, 3)
    g = data.draw(st.integers(min_value=0, max_value=m - 1))
    max_bits = data.draw(st.sampled_from([1, 16, 64, 100, 256]))
    es = data.draw(st.lists(st.integers(min_value=0, max_value=(1 << max_bits) - 1), max_size=5))
    table = backend.fixed_base(g, m, max_bits)
    for threads in (1, 2):
        out = table.pow(ints_to_limbs(es), threads=threads)
        assert limbs_to_ints(out) == [pow(g, e, m) for e in es]


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.name for b in BACKENDS])
@SETTINGS
@given(data=st.data())
def test_crt_agrees(backend: Backend, data: st.DataObject) -> None:
    from fedcrypto._random import random_prime

    pbits = data.draw(st.sampled_from([16, 64, 100, 512]))
    qbits = data.draw(st.sampled_from([16, 64, 130, 512]))
    count = data.draw(st.integers(0, 4))  # every draw before the primes: same draws every run
    p = random_prime(pbits)
    q = random_prime(qbits)
    while q == p:  # two random 16-bit primes collide now and then
        q = random_prime(qbits)
    xs = [secrets.randbelow(p * q) for _ in range(count)] + [0, p * q - 1]
    out = backend.crt(ints_to_limbs([x % p for x in xs]), ints_to_limbs([x % q for x in xs]), p, q)
    assert limbs_to_ints(out) == xs
