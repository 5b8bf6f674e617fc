"""curve25519 hash-to-curve u-coordinates in Python, over any :class:`IntOps` number type.

The same computation as the native kernel ``curve25519_h2c_u`` (``src_native/h2c25519.c``):
for every 96-byte ``expand_message_xmd`` output, ``u0`` and ``u1`` are its two 48-byte
big-endian halves reduced mod ``p = 2^255 - 19``; the result is the little-endian
32-byte u-coordinate of ``8 * (map(u0) + map(u1))`` (0 for the point at infinity), where
``map`` is RFC 9380 Elligator 2 (section 6.7.1) onto ``v^2 = u^3 + 486662 u^2 + u``.

The ``gmpy2`` backend runs it over mpz, the ``pure`` backend over Python ints.  Not
constant time: it hashes identifiers that are about to be masked by a secret scalar.
The RFC-literal version with affine points is :mod:`fedcrypto.hazmat.h2c`; the tests
check the two against each other and against the RFC vectors.
"""

from __future__ import annotations

from typing import Any

from ._intops import IntOps

__all__ = ["Curve25519Hasher", "UNIFORM_BYTES", "U_BYTES"]

#: Bytes of expand_message_xmd output per message (two 48-byte field elements).
UNIFORM_BYTES = 96
#: Bytes of one u-coordinate in the result (X25519 encoding).
U_BYTES = 32

_P = 2**255 - 19
_A = 486662


class Curve25519Hasher:
    """Elligator 2, point addition and cofactor clearing over one number type."""

    def __init__(self, ops: IntOps) -> None:
        num = ops.num
        self._ops = ops
        self._p = num(_P)
        self._a = num(_A)
        self._z = num(2)
        self._a24 = num((_A + 2) // 4)
        self._sqrt_m1 = ops.powmod(num(2), num((_P - 1) // 4), self._p)
        self._sqrt_exp = num((_P + 3) // 8)

    def map_to_curve(self, u: Any) -> tuple[Any, Any]:
        """Elligator 2 with one exponentiation (``u`` already reduced mod p).

        With ``c = g(x1)^((p+3)/8)``, ``c^2`` is ``g(x1)`` times a fourth root of unity:
        ``+-1`` when ``g(x1)`` is a square (``y = c`` or ``c sqrt(-1)``), ``+-i`` when it
        is not; then ``x2 = Z u^2 x1`` and ``g(x2) = Z u^2 g(x1)`` (``x1 + x2 = -J``), so
        ``sqrt(g(x2)) = u c (1 -+ i)`` because ``(1 -+ i)^2 = -+2i``.  The RFC's
        exceptional case ``1 + Z u^2 = 0`` cannot occur (``-1/2`` is not a square mod p).
        """
        p, a, i = self._p, self._a, self._sqrt_m1
        u2 = u * u % p
        den = (1 + self._z * u2) % p
        x1 = -a * self._ops.invert(den, p) % p
        gx1 = x1 * (x1 * (x1 + a) + 1) % p
        c = self._ops.powmod(gx1, self._sqrt_exp, p)
        c2 = c * c % p
        if c2 == gx1:
            x, y, odd = x1, c, True
        elif c2 == p - gx1:
            x, y, odd = x1, c * i % p, True
        elif c2 == gx1 * i % p:
            x, y, odd = self._z * u2 * x1 % p, u * c * (1 - i) % p, False
        else:
            x, y, odd = self._z * u2 * x1 % p, u * c * (1 + i) % p, False
        if bool(y & 1) != odd and y:
            y = p - y
        return x, y

    def add(self, P: tuple[Any, Any] | None, Q: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
        """Affine addition on the Montgomery curve (doubling, inverses, infinity = None)."""
        if P is None:
            return Q
        if Q is None:
            return P
        p, a = self._p, self._a
        (x1, y1), (x2, y2) = P, Q
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None
            lam = (3 * x1 * x1 + 2 * a * x1 + 1) * self._ops.invert(2 * y1 % p, p) % p
        else:
            lam = (y2 - y1) * self._ops.invert((x2 - x1) % p, p) % p
        x3 = (lam * lam - a - x1 - x2) % p
        return x3, (lam * (x1 - x3) - y1) % p

    def times8_u(self, P: tuple[Any, Any] | None) -> int:
        """The u-coordinate of ``8 P`` by three x-only doublings and one inversion (0 at
        infinity, which X25519 treats as a low-order input)."""
        if P is None:
            return 0
        p, a24 = self._p, self._a24
        X, Z = P[0], self._ops.num(1)
        for _ in range(3):
            s = (X + Z) ** 2 % p
            d = (X - Z) ** 2 % p
            e = s - d
            X = s * d % p
            Z = e * (d + a24 * e) % p
        if Z == 0:
            return 0
        return int(X * self._ops.invert(Z, p) % p)

    def u_from_uniform(self, uniform: bytes) -> bytes:
        """The 32-byte u-coordinates for every 96-byte record of ``uniform`` (length
        already checked to be a multiple of 96)."""
        num, p = self._ops.num, self._p
        from_bytes = int.from_bytes
        out = bytearray()
        for i in range(0, len(uniform), UNIFORM_BYTES):
            u0 = num(from_bytes(uniform[i : i + 48], "big")) % p
            u1 = num(from_bytes(uniform[i + 48 : i + 96], "big")) % p
            point = self.add(self.map_to_curve(u0), self.map_to_curve(u1))
            out += self.times8_u(point).to_bytes(U_BYTES, "little")
        return bytes(out)
