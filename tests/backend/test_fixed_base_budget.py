"""Fixed-base table memory (issue 8 finding 4): one budget for constant-time and
variable-time tables, checked before the kernel allocates, with a typed error naming
the bytes needed and allowed."""

from __future__ import annotations

import secrets

import pytest

from fedcrypto._backend import (
    BACKEND_NAMES,
    DEFAULT_MAX_TABLE_BYTES,
    Backend,
    fixed_base_table_bytes,
    fixed_base_window,
    get_backend,
    ints_to_limbs,
    limbs_to_ints,
    load_backend,
)
from fedcrypto.exceptions import BackendUnavailableError, InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat.modmath import FixedBase


def _available() -> list[Backend]:
    out = []
    for name in BACKEND_NAMES:
        try:
            out.append(load_backend(name))
        except BackendUnavailableError:
            continue
    return out


BACKENDS = _available()
NATIVE = next((b for b in BACKENDS if b.name == "native"), None)
M2048 = (1 << 2047) + secrets.randbits(2046) * 2 + 1  # odd, 2048 bits
M16384 = (1 << 16384) - 1  # odd, 16384 bits: 2 KiB per table entry


@pytest.fixture(params=[b.name for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    return next(b for b in BACKENDS if b.name == request.param)


def test_geometry() -> None:
    # 2048-bit modulus = 32 limbs = 256 bytes per power
    assert fixed_base_table_bytes(M2048, 100, 5, secret=False) == 20 * 31 * 256
    assert fixed_base_table_bytes(M2048, 100, 5, secret=True) == 20 * 32 * 256
    assert fixed_base_window(M2048, 1024, secret=False) == 10
    assert fixed_base_window(M2048, 1024, secret=True) == 6  # 5 below 32 limbs (issue 12)
    assert fixed_base_window(M2048 >> 65, 1024, secret=True) == 5
    assert fixed_base_window(M2048, 3, secret=True) == 3  # never wider than the exponent
    assert DEFAULT_MAX_TABLE_BYTES == 96 * 1024 * 1024


@pytest.mark.parametrize("secret", [False, True])
@pytest.mark.parametrize("budget", [1 << 12, 1 << 16, 1 << 20, 96 << 20])
def test_window_fits_the_budget(secret: bool, budget: int) -> None:
    for bits in (64, 256, 2048, 65536):
        try:
            k = fixed_base_window(M2048, bits, secret=secret, max_table_bytes=budget)
        except InvalidArgumentError:
            assert fixed_base_table_bytes(M2048, bits, 1, secret) > budget
            continue
        assert fixed_base_table_bytes(M2048, bits, k, secret) <= budget
        if k < (6 if secret else 10) and k < bits:  # the widest that fits was taken
            assert fixed_base_table_bytes(M2048, bits, k + 1, secret) > budget


@pytest.mark.parametrize("secret", [False, True])
def test_over_budget_is_a_typed_error_naming_both_sizes(backend: Backend, secret: bool) -> None:
    need = fixed_base_table_bytes(M16384, 65536, 1, secret)
    assert need > DEFAULT_MAX_TABLE_BYTES
    with pytest.raises(InvalidArgumentError) as info:
        backend.fixed_base(3, M16384, 65536, secret=secret)
    msg = str(info.value)
    assert f"{need:,} bytes" in msg and f"{DEFAULT_MAX_TABLE_BYTES:,} bytes" in msg
    assert "max_table_bytes" in msg
    with pytest.raises(InvalidArgumentError, match="needs"):
        FixedBase(3, M16384, max_exp_bits=65536, secret=secret)
    # a small explicit budget is enforced the same way
    with pytest.raises(InvalidArgumentError, match="above the limit of 1,000 bytes"):
        backend.fixed_base(3, M2048, 64, secret=secret, max_table_bytes=1000)


@pytest.mark.parametrize("secret", [False, True])
def test_small_budget_gives_narrow_window_same_results(backend: Backend, secret: bool) -> None:
    g = secrets.randbelow(M2048)
    budget = fixed_base_table_bytes(M2048, 256, 2, secret)  # room for a 2-bit window only
    table = backend.fixed_base(g, M2048, 256, secret=secret, max_table_bytes=budget)
    assert table.window == 2 and table.table_bytes <= budget
    es = [0, 1, (1 << 256) - 1] + [secrets.randbits(256) for _ in range(3)]
    assert limbs_to_ints(table.pow(ints_to_limbs(es))) == [pow(g, e, M2048) for e in es]
    fb = FixedBase(g, M2048, max_exp_bits=256, secret=secret, max_table_bytes=budget)
    assert fb.table_bytes <= budget and fb.pow_many(es) == [pow(g, e, M2048) for e in es]


@pytest.mark.skipif(NATIVE is None, reason="native kernel not built")
@pytest.mark.parametrize("secret", [False, True])
def test_native_table_memory_as_the_kernel_reports_it(secret: bool) -> None:
    """The kernel's own count of the bytes it allocated stays within the budget."""
    assert NATIVE is not None
    for bits, budget in ((64, 1 << 16), (1000, 1 << 20), (4096, 1 << 22)):
        table = NATIVE.fixed_base(5, M2048, bits, secret=secret, max_table_bytes=budget)
        assert table.table_bytes <= budget
        assert table.table_bytes == fixed_base_table_bytes(M2048, bits, table.window, secret)


@pytest.mark.slow
@pytest.mark.skipif(get_backend().name != "native", reason="a 67 MB table: native run only")
def test_default_budget_holds_for_constant_time_tables() -> None:
    """2048-bit modulus, 65536-bit exponents, constant time: the fixed 5-bit window used to
    take 107 MB, above the 96 MiB the variable-time table respects; now the window shrinks."""
    assert fixed_base_table_bytes(M2048, 65536, 5, True) > DEFAULT_MAX_TABLE_BYTES
    fb = FixedBase(7, M2048, max_exp_bits=65536, secret=True)
    assert fb.table_bytes <= DEFAULT_MAX_TABLE_BYTES and fb.table.window == 4
    e = secrets.randbits(65536)
    assert fb.pow(e) == pow(7, e, M2048)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"max_table_bytes": 0}, InvalidArgumentError),
        ({"max_table_bytes": -1}, InvalidArgumentError),
        ({"max_table_bytes": 1.5e9}, InvalidTypeError),
        ({"max_table_bytes": True}, InvalidTypeError),
        ({"secret": "no"}, InvalidTypeError),
        ({"secret": 1}, InvalidTypeError),
    ],
)
def test_budget_and_secret_types(backend: Backend, kwargs: dict, error: type) -> None:
    with pytest.raises(error):
        backend.fixed_base(3, M2048, 64, **kwargs)
