"""RFC 9380 hashing to elliptic curves, written from the RFC.

Implements

* ``expand_message_xmd`` (RFC 9380 section 5.3.1) with SHA-256 and SHA-512;
* ``hash_to_field`` (section 5.2) for prime fields (``m = 1``);
* ``curve25519_XMD:SHA-512_ELL2_RO_`` and ``..._NU_`` (sections 6.7.1, 6.8.2 (Montgomery form),
  8.5): Elligator 2 onto the Montgomery curve ``v^2 = u^3 + 486662 u^2 + u`` over
  ``GF(2^255 - 19)``; the RO variant adds two mapped points and clears the cofactor 8;
* ``P256_XMD:SHA-256_SSWU_RO_`` (sections 6.6.2, 8.2): simplified SWU onto NIST P-256
  (cofactor 1).

The field arithmetic uses gmpy2 (a runtime dependency).  This code is *not*
constant time: it hashes public-to-be identifiers whose hashes are immediately
masked by a secret scalar; nothing secret flows through it.

Points are affine ``(x, y)`` tuples of ints, ``None`` is the point at infinity.
For curve25519 ``x`` is the X25519 u-coordinate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import gmpy2

from ..exceptions import InvalidArgumentError

__all__ = [
    "expand_message_xmd",
    "hash_to_field",
    "curve25519_map_to_curve",
    "curve25519_hash_to_curve",
    "curve25519_encode_to_curve",
    "curve25519_hash_to_u_many",
    "p256_map_to_curve",
    "p256_hash_to_curve",
    "p256_hash_to_compressed_many",
    "p256_decompress",
    "CURVE25519_P",
    "P256_P",
    "P256_N",
    "P256_B",
    "SUITE_CURVE25519_RO",
    "SUITE_P256_RO",
]

Point = tuple[int, int] | None

SUITE_CURVE25519_RO = "curve25519_XMD:SHA-512_ELL2_RO_"
SUITE_CURVE25519_NU = "curve25519_XMD:SHA-512_ELL2_NU_"
SUITE_P256_RO = "P256_XMD:SHA-256_SSWU_RO_"

_HASHES = {"sha256": (hashlib.sha256, 32, 64), "sha512": (hashlib.sha512, 64, 128)}


# ---------------------------------------------------------------------------------------
# expand_message_xmd and hash_to_field
# ---------------------------------------------------------------------------------------
def expand_message_xmd(
    msg: bytes, dst: bytes, len_in_bytes: int, hash_name: str = "sha256"
) -> bytes:
    """RFC 9380 ``expand_message_xmd``: stretch ``msg`` into ``len_in_bytes`` uniform bytes.

    The message is hashed once with a zero block prefix (``b_0``), then ``ell`` chained
    blocks ``b_i = H(b_0 xor b_{i-1} || i || DST')`` are concatenated and truncated.

    :param msg: the message.
    :param dst: domain separation tag, at least 1 byte; a tag longer than 255 bytes is
        first hashed as ``H("H2C-OVERSIZE-DST-" || DST)`` (section 5.3.3).
    :param len_in_bytes: output length, at most ``255 * digest size`` and 65535.
    :param hash_name: ``"sha256"`` or ``"sha512"``.
    :returns: ``len_in_bytes`` pseudo-random bytes.
    :raises InvalidArgumentError: on an unsupported hash, an empty DST, or a bad length.
    """
    try:
        h, b_in_bytes, s_in_bytes = _HASHES[hash_name]
    except KeyError:
        raise InvalidArgumentError(f"unsupported hash {hash_name!r}") from None
    if len(dst) < 1:
        raise InvalidArgumentError("DST must not be empty")
    if len(dst) > 255:
        dst = h(b"H2C-OVERSIZE-DST-" + dst).digest()
    ell = -(-len_in_bytes // b_in_bytes)
    if len_in_bytes < 1 or ell > 255 or len_in_bytes > 65535:
        raise InvalidArgumentError("requested length is out of range for expand_message_xmd")
    dst_prime = dst + bytes([len(dst)])
    b0 = h(bytes(s_in_bytes) + msg + len_in_bytes.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    prev = h(b0 + b"\x01" + dst_prime).digest()
    out = [prev]
    b0_int = int.from_bytes(b0, "big")
    for i in range(2, ell + 1):
        x = (b0_int ^ int.from_bytes(prev, "big")).to_bytes(b_in_bytes, "big")
        prev = h(x + bytes([i]) + dst_prime).digest()
        out.append(prev)
    return b"".join(out)[:len_in_bytes]


def hash_to_field(msg: bytes, dst: bytes, count: int, p: int, L: int, hash_name: str) -> list[int]:
    """RFC 9380 ``hash_to_field`` for a prime field ``GF(p)`` (extension degree 1).

    :param L: bytes per element, ``ceil((ceil(log2 p) + k) / 8)`` for security level ``k``.
    :returns: ``count`` field elements, each an ``L``-byte big-endian string reduced mod ``p``.
    """
    data = expand_message_xmd(msg, dst, count * L, hash_name)
    return [int.from_bytes(data[i * L : (i + 1) * L], "big") % p for i in range(count)]


# ---------------------------------------------------------------------------------------
# curve25519 (Montgomery form, B = 1)
# ---------------------------------------------------------------------------------------
CURVE25519_P = 2**255 - 19
_P25 = gmpy2.mpz(CURVE25519_P)
_A25 = gmpy2.mpz(486662)
_Z25 = gmpy2.mpz(2)
_SQRT_M1_25 = gmpy2.powmod(2, (CURVE25519_P - 1) // 4, CURVE25519_P)
_SQRT_EXP_25 = (CURVE25519_P + 3) // 8
_A24_25 = gmpy2.mpz(121666)  # (A + 2) / 4
_L25 = 48  # ceil((255 + 128) / 8)


def _sqrt25(a: gmpy2.mpz) -> gmpy2.mpz:
    """A square root of a square ``a`` mod 2^255-19 (p = 5 mod 8, Atkin-style)."""
    c = gmpy2.powmod(a, _SQRT_EXP_25, _P25)
    if (c * c - a) % _P25:
        c = c * _SQRT_M1_25 % _P25
    return c


def curve25519_map_to_curve(u: int) -> tuple[int, int]:
    """RFC 9380 section 6.7.1 Elligator 2 for curve25519 (J = 486662, K = 1, Z = 2).

    Maps a field element ``u`` to a point of the Montgomery curve: ``x1 = -J / (1 + Z u^2)``
    (``-J`` when the denominator vanishes); if ``g(x1)`` is a square the point is
    ``(x1, sqrt(g(x1)))`` with an odd ``y``, otherwise ``(x2, sqrt(g(x2)))`` with
    ``x2 = -x1 - J`` and an even ``y``.

    One exponentiation per call: with ``c = g(x1)^((p+3)/8)``, ``c^2`` is ``g(x1)`` times a
    fourth root of unity — ``+-1`` when ``g(x1)`` is a square (then ``y = c`` or ``c sqrt(-1)``),
    ``+-i`` when it is not.  In the second case ``x2 = Z u^2 x1`` and
    ``g(x2) = Z u^2 g(x1)`` (both quadratic factors equal ``1 - x1 x2`` because
    ``x1 + x2 = -J``), so ``sqrt(g(x2)) = u c (1 -+ i)`` since ``(1 -+ i)^2 = -+2i``.
    """
    p = _P25
    u = gmpy2.mpz(u)
    u2 = u * u % p
    den = (1 + _Z25 * u2) % p
    if not den:  # pragma: no cover - impossible here: -1/Z = -1/2 is not a square mod p
        return _curve25519_map_slow(u)
    x1 = (-_A25 * gmpy2.invert(den, p)) % p
    gx1 = (x1 * (x1 * (x1 + _A25) + 1)) % p
    c = gmpy2.powmod(gx1, _SQRT_EXP_25, p)
    c2 = c * c % p
    if c2 == gx1:
        x, y, odd = x1, c, True
    elif c2 == p - gx1:
        x, y, odd = x1, c * _SQRT_M1_25 % p, True
    elif c2 == gx1 * _SQRT_M1_25 % p:
        x, y, odd = _Z25 * u2 * x1 % p, u * c * (1 - _SQRT_M1_25) % p, False
    else:
        x, y, odd = _Z25 * u2 * x1 % p, u * c * (1 + _SQRT_M1_25) % p, False
    if bool(y & 1) != odd and y:
        y = p - y
    return int(x), int(y)


def _curve25519_map_slow(u: gmpy2.mpz) -> tuple[int, int]:
    """The RFC 9380 steps verbatim, with a Legendre test and up to two exponentiations
    (reference for the fast path; also covers the RFC's ``1 + Z u^2 = 0`` case)."""
    p = _P25
    den = (1 + _Z25 * u * u) % p
    x1 = (-_A25 * gmpy2.invert(den, p)) % p if den else (-_A25) % p
    if x1 == 0:
        x1 = (-_A25) % p
    gx1 = (x1 * (x1 * (x1 + _A25) + 1)) % p
    if gmpy2.jacobi(gx1, p) >= 0:
        x, y = x1, _sqrt25(gx1)
        if not y & 1:
            y = p - y if y else y
    else:
        x = (-x1 - _A25) % p
        gx2 = (x * (x * (x + _A25) + 1)) % p
        y = _sqrt25(gx2)
        if y & 1:
            y = p - y
    return int(x), int(y)


def _mont_add(P: Point, Q: Point) -> Point:
    """Affine addition on the Montgomery curve v^2 = u^3 + A u^2 + u."""
    if P is None:
        return Q
    if Q is None:
        return P
    p = _P25
    x1, y1 = gmpy2.mpz(P[0]), gmpy2.mpz(P[1])
    x2, y2 = gmpy2.mpz(Q[0]), gmpy2.mpz(Q[1])
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + 2 * _A25 * x1 + 1) * gmpy2.invert(2 * y1, p) % p
    else:
        lam = (y2 - y1) * gmpy2.invert((x2 - x1) % p, p) % p
    x3 = (lam * lam - _A25 - x1 - x2) % p
    y3 = (lam * (x1 - x3) - y1) % p
    return int(x3), int(y3)


def _mont_clear_cofactor(P: Point) -> Point:
    """Multiply by the cofactor h_eff = 8 (three doublings)."""
    for _ in range(3):
        P = _mont_add(P, P)
    return P


def curve25519_hash_to_curve(msg: bytes, dst: bytes) -> Point:
    """``curve25519_XMD:SHA-512_ELL2_RO_`` hash_to_curve (RFC 9380 section 3, random oracle).

    ``u0, u1 = hash_to_field(msg, 2)``; ``P = 8 * (map(u0) + map(u1))``.

    :returns: an affine point ``(u, v)`` of the prime-order subgroup (``None`` with
        negligible probability).
    """
    u0, u1 = hash_to_field(msg, dst, 2, CURVE25519_P, _L25, "sha512")
    return _mont_clear_cofactor(_mont_add(curve25519_map_to_curve(u0), curve25519_map_to_curve(u1)))


def curve25519_encode_to_curve(msg: bytes, dst: bytes) -> Point:
    """``curve25519_XMD:SHA-512_ELL2_NU_`` encode_to_curve (non-uniform, one map)."""
    (u0,) = hash_to_field(msg, dst, 1, CURVE25519_P, _L25, "sha512")
    return _mont_clear_cofactor(curve25519_map_to_curve(u0))


def _xdbl_u(P: Point) -> int:
    """The u-coordinate of 8P, by three x-only projective doublings and one inversion.

    Returns 0 for a result at infinity (X25519 treats u = 0 as a low-order input).
    """
    if P is None:
        return 0
    p = _P25
    X, Z = gmpy2.mpz(P[0]), gmpy2.mpz(1)
    for _ in range(3):
        s = (X + Z) ** 2 % p
        d = (X - Z) ** 2 % p
        e = s - d
        X = s * d % p
        Z = e * (d + _A24_25 * e) % p
    if Z == 0:
        return 0
    return int(X * gmpy2.invert(Z, p) % p)


def _curve25519_uniform_many(msgs: Sequence[bytes], dst: bytes) -> bytes:
    """``expand_message_xmd(msg, dst, 96, SHA-512)`` for every message, concatenated.

    Inlined for speed (three SHA-512 calls per message); the same bytes as
    :func:`expand_message_xmd` (checked by the tests).
    """
    if len(dst) < 1:
        raise InvalidArgumentError("DST must not be empty")
    if len(dst) > 255:
        dst = hashlib.sha512(b"H2C-OVERSIZE-DST-" + dst).digest()
    dst_prime = dst + bytes([len(dst)])
    zpad_state = hashlib.sha512(bytes(128))  # Z_pad is exactly one SHA-512 block
    tail0 = (96).to_bytes(2, "big") + b"\x00" + dst_prime
    tail1 = b"\x01" + dst_prime
    tail2 = b"\x02" + dst_prime
    sha512 = hashlib.sha512
    from_bytes = int.from_bytes
    out = []
    for msg in msgs:
        h0 = zpad_state.copy()
        h0.update(msg + tail0)
        b0 = h0.digest()
        b1 = sha512(b0 + tail1).digest()
        x = (from_bytes(b0, "big") ^ from_bytes(b1, "big")).to_bytes(64, "big")
        out.append(b1)
        out.append(sha512(x + tail2).digest()[:32])
    return b"".join(out)


def _curve25519_u_from_uniform_py(uniform: bytes) -> bytes:
    """The Python/gmpy2 reference for the native kernel: for every 96-byte record,
    ``u0, u1`` = the two 48-byte big-endian halves mod p, and the 32-byte
    little-endian u-coordinate of ``8 (map(u0) + map(u1))`` (0 for infinity)."""
    if len(uniform) % 96:
        raise InvalidArgumentError("uniform bytes must be a multiple of 96 bytes")
    p = CURVE25519_P
    mp = curve25519_map_to_curve
    out = bytearray()
    for i in range(0, len(uniform), 96):
        u0 = int.from_bytes(uniform[i : i + 48], "big") % p
        u1 = int.from_bytes(uniform[i + 48 : i + 96], "big") % p
        out += _xdbl_u(_mont_add(mp(u0), mp(u1))).to_bytes(32, "little")
    return bytes(out)


def _native_h2c() -> Callable[[bytes, int], bytes] | None:
    """The native kernel's ``curve25519_h2c_u`` when the native backend is active."""
    from .._backend import get_backend

    if get_backend().name != "native":
        return None
    from .. import _native

    return _native.curve25519_h2c_u


def curve25519_hash_to_u_many(
    msgs: Sequence[bytes], dst: bytes, *, threads: int | None = 1
) -> bytes:
    """Hash many messages with ``curve25519_XMD:SHA-512_ELL2_RO_``; return the X25519
    u-coordinates as concatenated 32-byte little-endian strings (the X25519 encoding).

    Same result as :func:`curve25519_hash_to_curve` per message.  ``expand_message_xmd``
    runs here (hashlib SHA-512, three calls per message); the field arithmetic — two
    Elligator 2 maps, one point addition, cofactor clearing by three x-only doublings,
    one inversion — runs in the native kernel (``fedcrypto._native.curve25519_h2c_u``,
    GIL released, ``threads`` POSIX threads) when the native backend is active, else
    in Python over gmpy2.

    :param msgs: the messages (bytes-like).
    :param dst: the domain separation tag (non-empty).
    :param threads: threads for the native kernel (default 1, as PSI already runs one
        worker process per core; None = all cores).  Results do not depend on it.
    :returns: ``32 * len(msgs)`` bytes.
    :raises InvalidArgumentError: on an empty DST or a bad thread count.
    """
    from .._backend._base import check_threads

    nthreads = check_threads(threads)
    uniform = _curve25519_uniform_many(msgs, dst)
    native = _native_h2c()
    if native is not None:
        return native(uniform, nthreads)
    return _curve25519_u_from_uniform_py(uniform)


# ---------------------------------------------------------------------------------------
# NIST P-256 (short Weierstrass, a = -3)
# ---------------------------------------------------------------------------------------
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_PP = gmpy2.mpz(P256_P)
_AP = gmpy2.mpz(P256_P - 3)
_BP = gmpy2.mpz(P256_B)
_ZP = gmpy2.mpz(P256_P - 10)
_SQRT_EXP_P = (P256_P + 1) // 4
_LP = 48  # ceil((256 + 128) / 8)


def _g_p256(x: gmpy2.mpz) -> gmpy2.mpz:
    return (x * (x * x + _AP) + _BP) % _PP


def p256_map_to_curve(u: int) -> tuple[int, int]:
    """RFC 9380 section 6.6.2 simplified SWU for P-256 (Z = -10).

    ``x1 = (-B/A)(1 + 1/(Z^2 u^4 + Z u^2))`` (``B/(Z A)`` when that inverse is zero); if
    ``g(x1)`` is a square take ``x1``, else ``x2 = Z u^2 x1``; ``y`` gets the parity of ``u``.
    """
    p = _PP
    u = gmpy2.mpz(u)
    zu2 = _ZP * u * u % p
    t = (zu2 * zu2 + zu2) % p
    if t:
        tv1 = gmpy2.invert(t, p)
        x1 = (-_BP) * gmpy2.invert(_AP, p) * (1 + tv1) % p
    else:
        x1 = _BP * gmpy2.invert(_ZP * _AP % p, p) % p
    gx1 = _g_p256(x1)
    if gmpy2.jacobi(gx1, p) >= 0:
        x, y = x1, gmpy2.powmod(gx1, _SQRT_EXP_P, p)
    else:
        x = zu2 * x1 % p
        y = gmpy2.powmod(_g_p256(x), _SQRT_EXP_P, p)
    if (u & 1) != (y & 1):
        y = (-y) % p
    return int(x), int(y)


def _p256_add(P: Point, Q: Point) -> Point:
    """Affine addition on P-256 (handles doubling, inverses and infinity)."""
    if P is None:
        return Q
    if Q is None:
        return P
    p = _PP
    x1, y1 = gmpy2.mpz(P[0]), gmpy2.mpz(P[1])
    x2, y2 = gmpy2.mpz(Q[0]), gmpy2.mpz(Q[1])
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + _AP) * gmpy2.invert(2 * y1, p) % p
    else:
        lam = (y2 - y1) * gmpy2.invert((x2 - x1) % p, p) % p
    x3 = (lam * lam - x1 - x2) % p
    y3 = (lam * (x1 - x3) - y1) % p
    return int(x3), int(y3)


def p256_hash_to_curve(msg: bytes, dst: bytes) -> Point:
    """``P256_XMD:SHA-256_SSWU_RO_`` hash_to_curve: ``map(u0) + map(u1)`` (cofactor 1)."""
    u0, u1 = hash_to_field(msg, dst, 2, P256_P, _LP, "sha256")
    return _p256_add(p256_map_to_curve(u0), p256_map_to_curve(u1))


def p256_hash_to_compressed_many(msgs: Sequence[bytes], dst: bytes) -> list[bytes]:
    """Hash many messages to P-256; return SEC1 compressed encodings (33 bytes each).

    :raises InvalidArgumentError: if a hash lands on the point at infinity (probability
        about 2^-256; never observed).
    """
    out = []
    for msg in msgs:
        P = p256_hash_to_curve(msg, dst)
        if P is None:  # pragma: no cover - negligible probability
            raise InvalidArgumentError("hash_to_curve gave the point at infinity")
        out.append(bytes([2 + (P[1] & 1)]) + P[0].to_bytes(32, "big"))
    return out


def p256_decompress(x: int, odd: bool) -> tuple[int, int] | None:
    """The P-256 point with abscissa ``x`` and the given ``y`` parity, or None if ``x`` is
    not the abscissa of a curve point."""
    if not 0 <= x < P256_P:
        return None
    gx = _g_p256(gmpy2.mpz(x))
    y = gmpy2.powmod(gx, _SQRT_EXP_P, _PP)
    if y * y % _PP != gx:
        return None
    if (y & 1) != int(odd):
        y = (-y) % _PP
    return x, int(y)
