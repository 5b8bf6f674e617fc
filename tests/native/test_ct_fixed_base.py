"""Constant-time fixed-base tables after issue 12 item 2: the vectorized whole-row select
and the window chosen per modulus size (5 bits below 32 limbs, 6 from 32 limbs up).

Differential tests against ``pow`` at and around the 32-limb switch and at the Paillier
sizes, for the automatic and every explicit window of 4-7 bits, with edge exponents
(0, all ones, one bit per window); the window and table memory reported by the table, the
backend and Paillier's estimate agree.
"""

from __future__ import annotations

import random

import pytest
from kernel_oracle import check_fixed_base

from fedcrypto import backend_info
from fedcrypto._backend import fixed_base_table_bytes, get_backend, secret_window
from fedcrypto._backend._base import SECRET_WINDOW, SECRET_WINDOW_WIDE
from fedcrypto._backend._limbs import ints_to_limbs, limbs_to_ints
from fedcrypto._backend._native import NativeFixedBase
from fedcrypto.paillier._params import table_bytes

pytestmark = pytest.mark.skipif(
    backend_info()["name"] != "native", reason="native kernel tests (FEDCRYPTO_BACKEND=native)"
)


@pytest.mark.parametrize(
    ("bits", "window"),
    [
        (1024, SECRET_WINDOW),
        (1984, SECRET_WINDOW),
        (1985, SECRET_WINDOW_WIDE),
        (2048, SECRET_WINDOW_WIDE),
        (4096, SECRET_WINDOW_WIDE),
    ],
)
def test_window_by_modulus_size(bits: int, window: int) -> None:
    m = (1 << (bits - 1)) + 1
    assert secret_window(m) == window
    table = get_backend().fixed_base(3, m, 256, secret=True)
    assert table.window == window
    assert table.table_bytes == fixed_base_table_bytes(m, 256, window, True)
    assert table_bytes(m, 256, secret=True) == table.table_bytes


@pytest.mark.parametrize("bits", [1983, 2047, 2048, 2049, 4096])
def test_select_and_windows_match_pow(bits: int) -> None:
    rng = random.Random(bits)
    m = rng.getrandbits(bits) | (1 << (bits - 1)) | 1
    base = rng.randrange(2, m)
    ebits = 160
    one_bit_per_window = sum(1 << (6 * i) for i in range(ebits // 6))
    es = [0, 1, (1 << ebits) - 1, one_bit_per_window]
    es += [rng.getrandbits(ebits) for _ in range(4)]
    be = get_backend()
    check_fixed_base(be, m, base, ebits, es, secret=True)
    for window in (4, 5, 6, 7):
        table = NativeFixedBase(base, m, ebits, window=window, secret=True)
        got = limbs_to_ints(table.pow(ints_to_limbs(es, 3), threads=2))
        assert got == [pow(base, e, m) for e in es], window
