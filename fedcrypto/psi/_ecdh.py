"""ECDH group operations for PSI: curve25519 through X25519, and P-256 through OpenSSL ECDH.

Both groups are used *x-only*: a masked element is the x (u) coordinate of ``k * P``.
x-only masking commutes because ``x(k * (+-Q)) = x(k * Q)``: the second party re-masks the
first party's x-coordinate by decoding either of the two points with that x.

curve25519
    ``H(x)`` is ``curve25519_XMD:SHA-512_ELL2_RO_`` (RFC 9380) with a session DST; masking
    is ``X25519(k, u)``: the native backend's constant-time batch ladder
    (``Backend.x25519_many``, one C call per batch, GIL released), else ``cryptography``'s
    X25519 per element.  X25519 clamps ``k`` to ``8 * k'``; products of
    clamped scalars still commute (``ka * (kb * P) == kb * (ka * P)``, both integers) and
    the factor 8 kills any small-order component of a peer point.  Peer u-coordinates are
    checked: canonical (``u < p``), on the curve and not on its twist
    (``u^3 + A u^2 + u`` a square), and not of low order (X25519 refuses an all-zero output).

P-256
    ``H(x)`` is ``P256_XMD:SHA-256_SSWU_RO_``; masking is OpenSSL's ECDH
    (``derive_private_key(k)`` / ``exchange``), which validates the peer point (on the
    curve, cofactor 1, not infinity) and runs in constant time.  Peer elements are 32-byte
    x-coordinates decoded with SEC1 point decompression.

Functions here are module-level so worker processes can run them (see ``_parallel``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from .._backend import get_backend
from .._random import randbelow, random_bytes
from ..exceptions import InvalidGroupElementError
from ..hazmat.h2c import CURVE25519_P, P256_N, curve25519_hash_to_u_many, p256_hash_to_curve
from ._settings import TAG_BYTES

__all__ = [
    "new_scalar",
    "x25519_mask_own",
    "x25519_mask_peer",
    "p256_mask_own",
    "p256_mask_peer",
    "tag_many",
]

_A = 486662


def new_scalar(group: str) -> bytes:
    """A fresh secret scalar: 32 random bytes for X25519 (clamped by X25519 itself),
    a uniform integer in ``[1, n)`` for P-256 (32 bytes big-endian)."""
    if group == "curve25519":
        return random_bytes(32)
    return (1 + randbelow(P256_N - 1)).to_bytes(32, "big")


def tag_many(values: Sequence[bytes], tag_key: bytes) -> bytes:
    """Second-stage tags: keyed BLAKE2b-128 of each double-masked value, concatenated."""
    b2 = hashlib.blake2b
    return b"".join(b2(v, digest_size=TAG_BYTES, key=tag_key).digest() for v in values)


# -- curve25519 ------------------------------------------------------------------------
def _has_zero_block(values: bytes) -> bool:
    """Whether any 32-byte block is all zero (X25519's output for a low-order input)."""
    if not values:
        return False
    blocks = np.frombuffer(values, dtype=np.uint8).reshape(-1, 32)
    return not bool(blocks.any(axis=1).all())


def x25519_mask_own(items: Sequence[bytes], key: bytes, dst: bytes) -> bytes:
    """``X25519(k, H(item))`` for each item, 32 bytes each (little-endian u).

    With the native backend the whole batch is one call of the constant-time C ladder
    (``Backend.x25519_many``); otherwise ``cryptography``'s X25519 per item.
    """
    us = curve25519_hash_to_u_many(items, dst)
    be = get_backend()
    if be.native_x25519:
        out = be.x25519_many(key, us)
        if _has_zero_block(out):  # pragma: no cover - H(x) of low order: probability ~2^-252
            raise InvalidGroupElementError("an identifier hashed to a low-order point")
        return out
    sk = X25519PrivateKey.from_private_bytes(key)
    from_bytes = X25519PublicKey.from_public_bytes
    outs = []
    for i in range(0, len(us), 32):
        try:
            outs.append(sk.exchange(from_bytes(us[i : i + 32])))
        except ValueError:  # pragma: no cover - H(x) at infinity has probability ~2^-252
            raise InvalidGroupElementError("an identifier hashed to a low-order point") from None
    return b"".join(outs)


def _check_u(u_bytes: bytes) -> None:
    u = int.from_bytes(u_bytes, "little")
    if u >= CURVE25519_P:
        raise InvalidGroupElementError("peer sent a non-canonical curve25519 u-coordinate")
    g = (u * (u * (u + _A) + 1)) % CURVE25519_P
    if get_backend().jacobi(g, CURVE25519_P) < 0:
        raise InvalidGroupElementError("peer sent a point that is not on curve25519 (twist point)")


def x25519_mask_peer(elements: Sequence[bytes], key: bytes, tag_key: bytes | None) -> bytes:
    """Validate the peer's u-coordinates and re-mask them: ``X25519(k, u)``.

    :returns: concatenated 16-byte tags when ``tag_key`` is given, else the 32-byte values.
    :raises InvalidGroupElementError: non-canonical, twist or low-order input.
    """
    be = get_backend()
    if be.native_x25519:
        if any(len(e) != 32 for e in elements):
            raise InvalidGroupElementError("peer sent a curve25519 element that is not 32 bytes")
        blob = b"".join(elements)
        status = be.curve25519_u_status(blob)
        if status.count(0) != len(status):
            if 1 in status:
                raise InvalidGroupElementError("peer sent a non-canonical curve25519 u-coordinate")
            raise InvalidGroupElementError(
                "peer sent a point that is not on curve25519 (twist point)"
            )
        masked = be.x25519_many(key, blob)
        if _has_zero_block(masked):
            raise InvalidGroupElementError("peer sent a low-order curve25519 point")
        if tag_key is None:
            return masked
        return tag_many([masked[i : i + 32] for i in range(0, len(masked), 32)], tag_key)
    sk = X25519PrivateKey.from_private_bytes(key)
    from_bytes = X25519PublicKey.from_public_bytes
    out = []
    for e in elements:
        _check_u(e)
        try:
            out.append(sk.exchange(from_bytes(e)))
        except ValueError:
            raise InvalidGroupElementError("peer sent a low-order curve25519 point") from None
    return tag_many(out, tag_key) if tag_key is not None else b"".join(out)


# -- P-256 -------------------------------------------------------------------------------
_P256 = ec.SECP256R1()


def p256_mask_own(items: Sequence[bytes], key: bytes, dst: bytes) -> bytes:
    """``x(k * H(item))`` for each item, 32 bytes big-endian each."""
    sk = ec.derive_private_key(int.from_bytes(key, "big"), _P256)
    decode = ec.EllipticCurvePublicKey.from_encoded_point
    ecdh = ec.ECDH()
    out = []
    for item in items:
        P = p256_hash_to_curve(item, dst)
        if P is None:  # pragma: no cover - probability ~2^-256
            raise InvalidGroupElementError("an identifier hashed to the point at infinity")
        # uncompressed SEC1: OpenSSL only checks the curve equation (no square root)
        out.append(
            sk.exchange(
                ecdh, decode(_P256, b"\x04" + P[0].to_bytes(32, "big") + P[1].to_bytes(32, "big"))
            )
        )
    return b"".join(out)


def p256_mask_peer(elements: Sequence[bytes], key: bytes, tag_key: bytes | None) -> bytes:
    """Decode the peer's x-coordinates as P-256 points and re-mask them: ``x(k * P)``.

    :raises InvalidGroupElementError: an x that is not the abscissa of a curve point.
    """
    sk = ec.derive_private_key(int.from_bytes(key, "big"), _P256)
    decode = ec.EllipticCurvePublicKey.from_encoded_point
    ecdh = ec.ECDH()
    out = []
    for e in elements:
        try:
            point = decode(_P256, b"\x02" + e)
        except ValueError:
            raise InvalidGroupElementError("peer sent an x-coordinate not on P-256") from None
        out.append(sk.exchange(ecdh, point))
    return tag_many(out, tag_key) if tag_key is not None else b"".join(out)
