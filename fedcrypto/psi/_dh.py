"""Finite-field DH group operations for PSI over RFC 3526 / RFC 7919 safe-prime groups.

For a safe prime ``p = 2q + 1`` the quadratic residues mod ``p`` form the subgroup ``G`` of
prime order ``q``.

* ``H(x)``: ``expand_message_xmd(SHA-256)`` of the item to ``|p| + 128`` bits, reduced mod
  ``p`` (statistical distance to uniform below 2^-128), then squared: a uniform-looking
  element of ``G`` (squaring maps ``Z*_p`` 2-to-1 onto ``G``).
* Secret exponent: uniform in ``[2, 2^k)`` from the OS CSPRNG, a short exponent of twice the
  group's security strength, as RFC 7919 section 5.2 recommends: ``k`` = 225 / 275 / 325 bits
  for the 2048- / 3072- / 4096-bit groups (the same for the RFC 3526 groups of the same
  size; NIST SP 800-56A asks for 224 bits at 2048).  Discrete logarithms with short
  exponents cost about ``2^(k/2)`` (Pollard kangaroo / van Oorschot-Wiener), matching the
  groups' 112 / 128 / ~152-bit strength.
* Masking ``y -> y^k mod p`` runs in batches through the arithmetic backend with
  ``secret=True`` (constant-time exponentiation, ``mpz_powm_sec`` in the native kernel).
* Peer elements must satisfy ``1 < y < p - 1`` and have Legendre symbol ``(y/p) = 1``,
  i.e. lie in ``G`` (for a safe prime, Euler's criterion equals subgroup membership).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._backend import get_backend, int_to_limbs, ints_to_limbs, limbs_to_be_bytes
from .._random import randrange
from ..exceptions import InvalidArgumentError, InvalidGroupElementError
from ..hazmat.groups import DH_GROUPS
from ..hazmat.h2c import expand_message_xmd
from ._ecdh import tag_many

__all__ = ["group_params", "exponent_bits", "new_exponent", "dh_mask_own", "dh_mask_peer"]


def group_params(group: str) -> tuple[int, int]:
    """``(p, element size in bytes)`` of a named group."""
    try:
        g = DH_GROUPS[group]
    except KeyError:
        raise InvalidArgumentError(f"unknown DH group {group!r}") from None
    return g.p, g.element_bytes


_EXPONENT_BITS = {2048: 225, 3072: 275, 4096: 325}


def exponent_bits(group: str) -> int:
    """Secret exponent size in bits (RFC 7919 section 5.2: twice the security strength)."""
    return _EXPONENT_BITS[DH_GROUPS[group].bits]


def new_exponent(group: str) -> int:
    """A fresh secret exponent, uniform in ``[2, 2^k)``."""
    return randrange(2, 1 << exponent_bits(group))


def _hash_to_group(items: Sequence[bytes], p: int, dst: bytes) -> list[int]:
    L = (p.bit_length() + 128 + 7) // 8
    out = []
    for x in items:
        h = int.from_bytes(expand_message_xmd(x, dst, L, "sha256"), "big") % p
        h = h * h % p
        if h <= 1:  # pragma: no cover - probability ~2^-2047
            raise InvalidArgumentError("an identifier hashed to a degenerate group element")
        out.append(h)
    return out


def _powmod(values: list[int], exp: int, p: int, nbytes: int) -> bytes:
    width = (p.bit_length() + 63) // 64
    if not values:
        return b""
    res = get_backend().powmod(
        ints_to_limbs(values, width), int_to_limbs(exp), p, secret=True, threads=1
    )
    return limbs_to_be_bytes(res, nbytes)


def dh_mask_own(items: Sequence[bytes], exp: int, group: str, dst: bytes) -> bytes:
    """``H(item)^k mod p`` for each item, fixed-width big-endian."""
    p, nbytes = group_params(group)
    return _powmod(_hash_to_group(items, p, dst), exp, p, nbytes)


def dh_mask_peer(elements: Sequence[bytes], exp: int, group: str, tag_key: bytes | None) -> bytes:
    """Check the peer's elements are in the prime-order subgroup, then ``y^k mod p``.

    :returns: concatenated 16-byte tags when ``tag_key`` is given, else the masked values.
    :raises InvalidGroupElementError: an element outside ``(1, p-1)`` or not a residue.
    """
    p, nbytes = group_params(group)
    jacobi = get_backend().jacobi
    values = []
    for e in elements:
        y = int.from_bytes(e, "big")
        if not 1 < y < p - 1:
            raise InvalidGroupElementError("peer sent a DH element outside 1 < y < p-1")
        if jacobi(y, p) != 1:
            raise InvalidGroupElementError(
                "peer sent a DH element outside the prime-order subgroup (not a quadratic residue)"
            )
        values.append(y)
    masked = _powmod(values, exp, p, nbytes)
    if tag_key is None:
        return masked
    return tag_many([masked[i : i + nbytes] for i in range(0, len(masked), nbytes)], tag_key)
