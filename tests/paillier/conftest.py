"""Shared Paillier fixtures: one small key per session (small keys only via the unsafe flag)."""

from __future__ import annotations

import os

import pytest

from fedcrypto import backend_info, paillier

#: The pure-Python backend is slow: shrink the heavy cases there (never skip silently).
PURE = backend_info()["name"] == "pure"
SMALL_BITS = 512 if PURE else 1024


@pytest.fixture(scope="session")
def sk() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(SMALL_BITS, unsafe_allow_small_keys=True)


@pytest.fixture(scope="session")
def pk(sk: paillier.PaillierPrivateKey) -> paillier.PaillierPublicKey:
    return sk.public_key()


@pytest.fixture(scope="session")
def other_sk() -> paillier.PaillierPrivateKey:
    return paillier.generate_private_key(SMALL_BITS, unsafe_allow_small_keys=True)


def scale(full: int, pure: int) -> int:
    """A test size: ``full`` on compiled backends, ``pure`` on the pure-Python one."""
    return pure if PURE or os.environ.get("FEDCRYPTO_TEST_SMALL") else full
