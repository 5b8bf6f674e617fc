"""An ECDH oblivious PRF (x-only, curve25519 or P-256), for payload transfer and unbalanced PSI.

``F_k(x) = x(k * H(x))`` with ``H`` the RFC 9380 hash to the curve.  The client learns
``F_k(x)`` for its own ``x`` without revealing ``x``, and without learning ``k``:

1. blind: a random scalar ``r``; send ``B = x(r * H(x))`` (:func:`blind`);
2. evaluate: the key holder returns ``E = x(k * B)`` (:func:`evaluate`, which checks ``B`` is
   a valid point: canonical, on the curve, not the twist, not of low order);
3. unblind: ``x(r^-1 * E) = x(k * H(x))`` (:func:`unblind`).

x-only arithmetic is consistent because ``x(s * (+-P)) = x(s * P)``.  On curve25519 every
scalar goes through X25519, which *clamps* it to ``8 * m`` with ``2^251 <= m < 2^252``; the
unblinding scalar must then be a clamped integer congruent to ``r^-1`` modulo the group order
``L`` (the points involved lie in the prime-order subgroup after the first clamped
multiplication).  :func:`new_blind` draws ``r`` until ``r^-1 / 8 mod L`` falls in
``[2^251, 2^252)`` (probability about 1/2 per draw), so both scalars are valid X25519 keys.

Security: the unblinded value is ``k * H(x)``; without ``k`` it is pseudo-random for every
``x`` the client did not query (one-more Diffie-Hellman), so the client can compute ``F`` only
for elements it asked about, one per evaluation.  One blinding scalar per request is enough:
the blinded values ``r * H(x_i)`` are pseudo-random under DDH, like the first masking stage of
ECDH PSI.
"""

from __future__ import annotations

from collections.abc import Sequence

from .._random import randbelow, random_bytes
from ..hazmat.h2c import P256_N
from . import _ecdh

__all__ = [
    "OPRF_GROUPS",
    "CURVE25519_ORDER",
    "new_key",
    "new_blind",
    "blind",
    "evaluate",
    "unblind",
    "evaluate_own",
]

OPRF_GROUPS = ("curve25519", "p256")
#: Order of the prime-order subgroup of curve25519.
CURVE25519_ORDER = 2**252 + 27742317777372353535851937790883648493
_INV8 = pow(8, -1, CURVE25519_ORDER)


def new_key(group: str) -> bytes:
    """A fresh OPRF key (32 bytes) for ``group``."""
    return _ecdh.new_scalar(group)


def _clamp(key: bytes) -> int:
    k = bytearray(key)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(k, "little")


def new_blind(group: str) -> tuple[bytes, bytes]:
    """A fresh ``(blind, unblind)`` pair of 32-byte scalars, inverse of each other in the
    group (see the module docstring for the curve25519 clamping)."""
    if group == "p256":
        r = 1 + randbelow(P256_N - 1)
        return r.to_bytes(32, "big"), pow(r, -1, P256_N).to_bytes(32, "big")
    while True:
        key = random_bytes(32)
        c = _clamp(key)
        m = pow(c, -1, CURVE25519_ORDER) * _INV8 % CURVE25519_ORDER
        if 1 << 251 <= m < 1 << 252:
            inv = 8 * m
            return key, inv.to_bytes(32, "little")


def blind(items: Sequence[bytes], group: str, blind_key: bytes, dst: bytes) -> bytes:
    """``x(r * H(x))`` for each item, 32 bytes each, concatenated."""
    if group == "p256":
        return _ecdh.p256_mask_own(items, blind_key, dst)
    return _ecdh.x25519_mask_own(items, blind_key, dst)


def evaluate_own(items: Sequence[bytes], group: str, key: bytes, dst: bytes) -> bytes:
    """The key holder's direct evaluation ``F_k(y) = x(k * H(y))`` of its own items."""
    return blind(items, group, key, dst)


def evaluate(elements: Sequence[bytes], group: str, key: bytes) -> bytes:
    """``x(k * B)`` for each blinded element ``B`` (validated: raises
    :class:`~fedcrypto.exceptions.InvalidGroupElementError`)."""
    if group == "p256":
        return _ecdh.p256_mask_peer(elements, key, None)
    return _ecdh.x25519_mask_peer(elements, key, None)


def unblind(elements: Sequence[bytes], group: str, unblind_key: bytes) -> bytes:
    """``x(r^-1 * E)`` for each evaluated element ``E`` (validated like :func:`evaluate`)."""
    return evaluate(elements, group, unblind_key)
