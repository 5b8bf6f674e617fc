"""Shared fixtures for the raw-primitive tests."""

from __future__ import annotations

import pytest

from fedcrypto.hazmat.rsa_blind import RsaBlindKey


@pytest.fixture(scope="session")
def rsa_key() -> RsaBlindKey:
    """One 2048-bit signer key for the whole session (key generation takes ~1 s)."""
    return RsaBlindKey.generate(2048)


@pytest.fixture(scope="session")
def rsa_key3() -> RsaBlindKey:
    """A 2048-bit three-prime key (what PSI sessions generate)."""
    return RsaBlindKey.generate(2048, primes=3)
