"""Per-bucket randomness derived from one secret seed (resumable partitioned runs).

A resumed partitioned run must never show the peer a bucket twice with different
randomness: a bucket that was half-way when the run died is re-run with exactly the same
secret scalar, permutation, dummies and count-mode shuffle, so every message it sends is
byte-for-byte the one sent before and the peer learns nothing new.  The caller keeps a
32-byte secret seed (as secret as a private key) in its checkpoint; bucket ``b`` derives
``HMAC-SHA256(seed, "fedcrypto-psi-bucket-seed" || u32(b))`` and from it, per purpose,
keys of :class:`~fedcrypto._random.VectorRNG` (AES-256-CTR).  ECDH and DH only.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from .._random import SEED_BYTES, VectorRNG
from ..hazmat.h2c import P256_N
from ._dh import exponent_bits

__all__ = ["bucket_seed", "purpose_rng", "seeded_secret"]


def bucket_seed(seed: bytes, bucket: int) -> bytes:
    """The 32-byte seed of bucket ``bucket``."""
    return hmac.digest(
        seed, b"fedcrypto-psi-bucket-seed" + bucket.to_bytes(4, "big"), hashlib.sha256
    )


def purpose_rng(seed: bytes, purpose: str) -> VectorRNG:
    """An AES-CTR generator keyed for one purpose of one bucket."""
    key = hmac.digest(seed, purpose.encode(), hashlib.sha256)
    assert len(key) == SEED_BYTES
    return VectorRNG(key)


def seeded_secret(protocol: str, group: str, seed: bytes) -> Any:
    """The secret scalar / exponent of a bucket, distributed as the fresh ones are."""
    rng = purpose_rng(seed, "secret")
    if protocol == "dh":
        k = exponent_bits(group)
        return 2 + rng.ints_below((1 << k) - 2, 1)[0]
    if group == "curve25519":
        return rng.bytes(32)
    return (1 + rng.ints_below(P256_N - 1, 1)[0]).to_bytes(32, "big")
