"""Group keys of a multi-party PSI party: a masking key, a one-time blinding key and the
combined "unblind then mask" key, over curve25519, P-256 or a DH group.

Masking reuses the two-party helpers of :mod:`._ecdh` / :mod:`._dh` (hash-to-group, peer
element validation, constant-time exponentiation); this module only adds the scalar
arithmetic the ring needs.

Every set travels the ring blinded by its owner's one-time scalar ``r`` (see
``docs/psi-multiparty.md``).  When it comes home the owner applies ``c = k / r`` (mod the
group order) in one masking step, removing ``r`` and adding its masking key ``k``.

curve25519 has a catch: X25519 clamps every scalar to ``2^254 + 8 t`` (``0 <= t < 2^251``).
Hashed points lie in the prime-order subgroup (order ``L``, the RFC 9380 RO suite clears
the cofactor) so only the scalar mod ``L`` matters, and ``c`` must have a clamped
representative.  For a random ``r`` half of the residues qualify; we draw ``r`` again
until both ``r``'s inverse times ``k`` and ``r`` itself are clamped values (about two draws).
Inverses use Fermat's little theorem with the backend's constant-time exponentiation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .._random import random_bytes, randrange
from ..hazmat.groups import DH_GROUPS
from ..hazmat.h2c import P256_N
from ..hazmat.modmath import powmod
from . import _dh, _ecdh
from ._commutative import mask_own
from ._commutative import mask_peer as _mask_peer

__all__ = ["MpKeys", "mask_own", "mask_peer", "CURVE25519_L"]

# mask_own: ``H(item)^key`` for each item, the two-party helper (hash to the group, then mask).

#: Order of the prime-order subgroup of curve25519.
CURVE25519_L = (1 << 252) + 27742317777372353535851937790883648493
_CLAMP_HIGH = 1 << 254
_T_LIMIT = 1 << 251


def _clamp(raw: bytes) -> int:
    k = bytearray(raw)
    k[0] &= 248
    k[31] &= 127
    k[31] |= 64
    return int.from_bytes(k, "little")


def _unclamp_mod_l(value: int) -> int | None:
    """The clamped scalar congruent to ``value`` mod L, or None if there is none."""
    t = (value - _CLAMP_HIGH) * powmod(8, CURVE25519_L - 2, CURVE25519_L) % CURVE25519_L
    return _CLAMP_HIGH + 8 * t if t < _T_LIMIT else None


def _inverse(value: int, order: int) -> int:
    return powmod(value % order, order - 2, order, secret=True)


class MpKeys:
    """The three secret scalars of one party (never leave the process but for its own
    worker processes): ``mask`` (``k``), ``blind`` (``r``) and ``home`` (``k / r``)."""

    def __init__(self, protocol: str, group: str) -> None:
        self.protocol = protocol
        self.group = group
        self.mask: Any
        self.blind: Any
        self.home: Any
        if protocol == "dh":
            q = DH_GROUPS[group].q
            self.mask = _dh.new_exponent(group)
            self.blind = randrange(2, q)
            self.home = self.mask * _inverse(self.blind, q) % q
        elif group == "p256":
            k = int.from_bytes(_ecdh.new_scalar(group), "big")
            r = int.from_bytes(_ecdh.new_scalar(group), "big")
            c = k * _inverse(r, P256_N) % P256_N
            self.mask, self.blind, self.home = (v.to_bytes(32, "big") for v in (k, r, c))
        else:
            self.mask = random_bytes(32)
            k = _clamp(self.mask)
            found: tuple[int, int] | None = None
            while found is None:
                r = _clamp(random_bytes(32))
                home = _unclamp_mod_l(k * _inverse(r, CURVE25519_L) % CURVE25519_L)
                found = (r, home) if home is not None else None
            r, c_home = found
            self.blind = r.to_bytes(32, "little")
            self.home = c_home.to_bytes(32, "little")

    def __repr__(self) -> str:
        return f"MpKeys(protocol={self.protocol!r}, group={self.group!r})"

    def __reduce__(self) -> Any:
        raise TypeError("secret keys cannot be pickled")


def mask_peer(elements: Sequence[bytes], protocol: str, group: str, key: Any) -> bytes:
    """Validate peer elements (in the group, canonical) and raise each to ``key``.

    :raises InvalidGroupElementError: for an element outside the group.
    """
    return _mask_peer(elements, protocol, group, key, None)
