"""Limb layout conversions and backend selection."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fedcrypto
from fedcrypto._backend import BACKEND_NAMES, load_backend
from fedcrypto._backend._limbs import (
    check_limbs,
    int_to_limbs,
    ints_to_limbs,
    limbs_for_bits,
    limbs_to_int,
    limbs_to_ints,
)
from fedcrypto.exceptions import BackendUnavailableError, InvalidArgumentError, InvalidTypeError


@given(st.lists(st.integers(min_value=0, max_value=2**700), max_size=30))
def test_ints_limbs_round_trip(values: list[int]) -> None:
    arr = ints_to_limbs(values)
    assert arr.dtype == np.uint64 and arr.flags.c_contiguous and arr.ndim == 2
    assert limbs_to_ints(arr) == values


def test_layout_is_little_endian_limbs() -> None:
    arr = int_to_limbs(2**64 * 5 + 7, 3)
    assert arr.tolist() == [[7, 5, 0]]
    assert limbs_to_int(arr) == 2**64 * 5 + 7
    assert limbs_for_bits(64) == 1 and limbs_for_bits(65) == 2 and limbs_for_bits(0) == 1


def test_conversion_errors() -> None:
    with pytest.raises(InvalidArgumentError):
        ints_to_limbs([-1])
    with pytest.raises(InvalidArgumentError):
        ints_to_limbs([2**64], 1)
    with pytest.raises(InvalidTypeError):
        ints_to_limbs([1.5])  # type: ignore[list-item]
    with pytest.raises(InvalidTypeError):
        ints_to_limbs([True])
    with pytest.raises(InvalidTypeError):
        check_limbs(np.zeros((2, 2), np.int64), "x")
    with pytest.raises(InvalidTypeError):
        check_limbs(np.zeros(4, np.uint64), "x")
    with pytest.raises(InvalidTypeError):
        check_limbs(np.zeros((4, 4), np.uint64)[:, ::2], "x")


def test_backend_info_names_a_known_backend() -> None:
    info = fedcrypto.backend_info()
    assert info["name"] in BACKEND_NAMES


def test_forced_backend_guard() -> None:
    """When FEDCRYPTO_BACKEND is set, the backend in use is exactly that one."""
    forced = os.environ.get("FEDCRYPTO_BACKEND")
    if not forced:
        pytest.skip("FEDCRYPTO_BACKEND not set for this run")
    assert fedcrypto.backend_info()["name"] == forced


def test_unknown_backend_is_refused() -> None:
    with pytest.raises(BackendUnavailableError):
        load_backend("cuda")


def test_forcing_a_backend_in_a_subprocess() -> None:
    code = "import fedcrypto; print(fedcrypto.backend_info()['name'])"
    env = dict(os.environ, FEDCRYPTO_BACKEND="pure")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "pure"
    env["FEDCRYPTO_BACKEND"] = "nonexistent"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "BackendUnavailableError" in bad.stderr
