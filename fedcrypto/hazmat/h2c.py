"""RFC 9380 hashing to elliptic curves, written from the RFC.

.. warning::
   Hazardous material.  These are building blocks: a hash-to-curve output is only
   as good as the protocol around it (domain separation tags, masking with a secret
   scalar, validation of what comes back).  :mod:`fedcrypto.psi` shows one such use.

Implements

* ``expand_message_xmd`` (RFC 9380 section 5.3.1) with SHA-256 and SHA-512;
* ``hash_to_field`` (section 5.2) for prime fields (``m = 1``);
* ``curve25519_XMD:SHA-512_ELL2_RO_`` and ``..._NU_`` (sections 6.7.1, 6.8.2 (Montgomery form),
  8.5): Elligator 2 onto the Montgomery curve ``v^2 = u^3 + 486662 u^2 + u`` over
  ``GF(2^255 - 19)``; the RO variant adds two mapped points and clears the cofactor 8;
* ``P256_XMD:SHA-256_SSWU_RO_`` (sections 6.6.2, 8.2): simplified SWU onto NIST P-256
  (cofactor 1).

The field arithmetic is on Python ints, with exponentiations, inversions and Legendre
symbols from the arithmetic backend (gmpy2 where installed).  The batch
:func:`curve25519_hash_to_u_many` runs the backend's hash-to-curve capability (the C
kernel on the native backend).  Nothing here is constant time: it hashes identifiers
whose images are immediately masked by a secret scalar; nothing secret flows through it.

Points are affine ``(x, y)`` tuples of ints, ``None`` is the point at infinity.
For curve25519 ``x`` is the X25519 u-coordinate.

Types: messages and DSTs are ``bytes``, ``bytearray`` or ``memoryview``; integers are
``int`` (not ``bool``).  Anything else raises
:class:`~fedcrypto.exceptions.InvalidTypeError`; out-of-range values
:class:`~fedcrypto.exceptions.InvalidArgumentError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from .._backend import IntOps, check_threads, get_backend
from ..exceptions import InvalidArgumentError, InvalidTypeError

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
    "Point",
    "CURVE25519_P",
    "CURVE25519_A",
    "P256_P",
    "P256_N",
    "P256_B",
    "SUITE_CURVE25519_RO",
    "SUITE_CURVE25519_NU",
    "SUITE_P256_RO",
    "MAX_XMD_BYTES",
]

Point = tuple[int, int] | None
Bytes = bytes | bytearray | memoryview

SUITE_CURVE25519_RO = "curve25519_XMD:SHA-512_ELL2_RO_"
SUITE_CURVE25519_NU = "curve25519_XMD:SHA-512_ELL2_NU_"
SUITE_P256_RO = "P256_XMD:SHA-256_SSWU_RO_"

_HASHES = {"sha256": (hashlib.sha256, 32, 64), "sha512": (hashlib.sha512, 64, 128)}
#: Longest output of expand_message_xmd (RFC 9380: at most 65535 bytes and 255 blocks).
MAX_XMD_BYTES = 65535


def _bytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise InvalidTypeError(f"{what} must be bytes, got {type(value).__name__}")


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"{what} must be an int, got {type(value).__name__}")
    return value


def _messages(msgs: object) -> Sequence[object]:
    if isinstance(msgs, (str, bytes, bytearray, memoryview)) or not isinstance(msgs, Sequence):
        raise InvalidTypeError(f"messages must be a sequence of bytes, got {type(msgs).__name__}")
    return msgs


def _dst(dst: object, h: object) -> bytes:
    """The DST as bytes; a tag over 255 bytes is hashed first (RFC 9380 section 5.3.3)."""
    tag = dst if type(dst) is bytes else _bytes(dst, "DST")
    if not tag:
        raise InvalidArgumentError("DST must not be empty")
    if len(tag) > 255:
        tag = h(b"H2C-OVERSIZE-DST-" + tag).digest()  # type: ignore[operator]
    return tag


# ---------------------------------------------------------------------------------------
# expand_message_xmd and hash_to_field
# ---------------------------------------------------------------------------------------
def expand_message_xmd(
    msg: Bytes, dst: Bytes, len_in_bytes: int, hash_name: str = "sha256"
) -> bytes:
    """RFC 9380 ``expand_message_xmd``: stretch ``msg`` into ``len_in_bytes`` uniform bytes.

    The message is hashed once with a zero block prefix (``b_0``), then ``ell`` chained
    blocks ``b_i = H(b_0 xor b_{i-1} || i || DST')`` are concatenated and truncated.

    :param msg: the message.
    :param dst: domain separation tag, at least 1 byte; a tag longer than 255 bytes is
        first hashed as ``H("H2C-OVERSIZE-DST-" || DST)`` (section 5.3.3).
    :param len_in_bytes: output length, at least 1, at most ``255 * digest size`` and 65535.
    :param hash_name: ``"sha256"`` or ``"sha512"``.
    :returns: ``len_in_bytes`` pseudo-random bytes.
    :raises InvalidArgumentError: on an unsupported hash, an empty DST, or a bad length.
    :raises InvalidTypeError: ``msg``/``dst`` not bytes-like, ``len_in_bytes`` not an int.
    """
    if not isinstance(hash_name, str) or hash_name not in _HASHES:
        raise InvalidArgumentError(f"unsupported hash {hash_name!r}")
    h, b_in_bytes, s_in_bytes = _HASHES[hash_name]
    data = msg if type(msg) is bytes else _bytes(msg, "message")
    n = len_in_bytes if type(len_in_bytes) is int else _int(len_in_bytes, "len_in_bytes")
    tag = _dst(dst, h)
    ell = -(-n // b_in_bytes)
    if n < 1 or ell > 255 or n > MAX_XMD_BYTES:
        raise InvalidArgumentError("requested length is out of range for expand_message_xmd")
    dst_prime = tag + bytes([len(tag)])
    b0 = h(bytes(s_in_bytes) + data + n.to_bytes(2, "big") + b"\x00" + dst_prime).digest()
    prev = h(b0 + b"\x01" + dst_prime).digest()
    out = [prev]
    b0_int = int.from_bytes(b0, "big")
    for i in range(2, ell + 1):
        x = (b0_int ^ int.from_bytes(prev, "big")).to_bytes(b_in_bytes, "big")
        prev = h(x + bytes([i]) + dst_prime).digest()
        out.append(prev)
    return b"".join(out)[:n]


def hash_to_field(
    msg: Bytes,
    dst: Bytes,
    count: int,
    p: int,
    L: int,
    hash_name: str,  # noqa: N803
) -> list[int]:
    """RFC 9380 ``hash_to_field`` for a prime field ``GF(p)`` (extension degree 1).

    :param count: number of field elements, at least 1.
    :param p: the field's characteristic (> 1).
    :param L: bytes per element, ``ceil((ceil(log2 p) + k) / 8)`` for security level ``k``.
    :returns: ``count`` field elements, each an ``L``-byte big-endian string reduced mod ``p``.
    :raises InvalidArgumentError: ``count`` or ``L`` below 1, ``count * L`` over 65535,
        ``p <= 1``, or the :func:`expand_message_xmd` errors.
    """
    c, modulus, width = _int(count, "count"), _int(p, "p"), _int(L, "L")
    if c < 1 or width < 1 or modulus <= 1:
        raise InvalidArgumentError("hash_to_field needs count >= 1, L >= 1 and p > 1")
    if c * width > MAX_XMD_BYTES:
        raise InvalidArgumentError("count * L is out of range for expand_message_xmd")
    data = expand_message_xmd(msg, dst, c * width, hash_name)
    return [int.from_bytes(data[i * width : (i + 1) * width], "big") % modulus for i in range(c)]


def _field(u: object, p: int) -> int:
    v = u if type(u) is int else _int(u, "field element")
    if not 0 <= v < p:
        raise InvalidArgumentError("field element must be in [0, p)")
    return v


# ---------------------------------------------------------------------------------------
# curve25519 (Montgomery form, B = 1)
# ---------------------------------------------------------------------------------------
CURVE25519_P = 2**255 - 19
CURVE25519_A = 486662
_P25 = CURVE25519_P
_A25 = CURVE25519_A
_Z25 = 2
_SQRT_M1_25 = 0x2B8324804FC1DF0B2B4D00993DFBD7A72F431806AD2FE478C4EE1B274A0EA0B0  # 2^((p-1)/4)
_SQRT_EXP_25 = (CURVE25519_P + 3) // 8
_L25 = 48  # ceil((255 + 128) / 8)


def _ops() -> IntOps:
    """The backend's number type (gmpy2 mpz or Python int) and its field operations."""
    return get_backend().int_ops


def _inv(ops: IntOps, x: Any, p: Any) -> Any:
    """``1/x mod p`` for a non-zero ``x`` (never zero where it is called: see each caller)."""
    inv = ops.invert(x, p)
    if inv is None:  # pragma: no cover - the callers only invert non-zero field elements
        raise InvalidArgumentError("division by zero in the field")
    return inv


def _c25_consts(ops: IntOps) -> tuple[Any, ...]:
    return tuple(ops.num(v) for v in (_P25, _A25, _SQRT_EXP_25, _SQRT_M1_25))


def _sqrt25(ops: IntOps, a: Any) -> Any:
    """A square root of a square ``a`` mod 2^255-19 (p = 5 mod 8, Atkin-style)."""
    p, _a, sqrt_exp, sqrt_m1 = ops.cached("curve25519", _c25_consts)
    c = ops.powmod(a, sqrt_exp, p)
    if (c * c - a) % p:
        c = c * sqrt_m1 % p
    return c


def curve25519_map_to_curve(u: int) -> tuple[int, int]:
    """RFC 9380 section 6.7.1 Elligator 2 for curve25519 (J = 486662, K = 1, Z = 2).

    Maps a field element ``u`` (in ``[0, p)``) to a point of the Montgomery curve:
    ``x1 = -J / (1 + Z u^2)`` (``-J`` when that is 0); if ``g(x1) = x1^3 + J x1^2 + x1``
    is a square the point is ``(x1, sqrt(g(x1)))`` with an odd ``y``, otherwise
    ``(x2, sqrt(g(x2)))`` with ``x2 = -x1 - J`` and an even ``y`` — the RFC's steps,
    one Legendre symbol and one square root.
    """
    ops = _ops()
    num = ops.num
    uu = num(_field(u, _P25))
    p, a = ops.cached("curve25519", _c25_consts)[:2]
    den = (1 + _Z25 * uu * uu) % p
    x1 = -a * _inv(ops, den, p) % p if den else num(0)
    if x1 == 0:
        x1 = -a % p
    gx1 = x1 * (x1 * (x1 + a) + 1) % p
    if ops.jacobi(gx1, p) >= 0:
        x, y = x1, _sqrt25(ops, gx1)
        if y and not y & 1:
            y = p - y
    else:
        x = (-x1 - a) % p
        y = _sqrt25(ops, x * (x * (x + a) + 1) % p)
        if y & 1:
            y = p - y
    return int(x), int(y)


def _mont_add(P: Point, Q: Point) -> Point:
    """Affine addition on the Montgomery curve v^2 = u^3 + A u^2 + u."""
    if P is None:
        return Q
    if Q is None:
        return P
    ops = _ops()
    num = ops.num
    p, a = ops.cached("curve25519", _c25_consts)[:2]
    x1, y1, x2, y2 = num(P[0]), num(P[1]), num(Q[0]), num(Q[1])
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + 2 * a * x1 + 1) * _inv(ops, 2 * y1 % p, p) % p
    else:
        lam = (y2 - y1) * _inv(ops, (x2 - x1) % p, p) % p
    x3 = (lam * lam - a - x1 - x2) % p
    y3 = (lam * (x1 - x3) - y1) % p
    return int(x3), int(y3)


def _mont_clear_cofactor(P: Point) -> Point:
    """Multiply by the cofactor h_eff = 8 (three doublings)."""
    for _ in range(3):
        P = _mont_add(P, P)
    return P


def curve25519_hash_to_curve(msg: Bytes, dst: Bytes) -> Point:
    """``curve25519_XMD:SHA-512_ELL2_RO_`` hash_to_curve (RFC 9380 section 3, random oracle).

    ``u0, u1 = hash_to_field(msg, 2)``; ``P = 8 * (map(u0) + map(u1))``.

    :returns: an affine point ``(u, v)`` of the prime-order subgroup (``None`` with
        negligible probability).
    """
    u0, u1 = hash_to_field(msg, dst, 2, CURVE25519_P, _L25, "sha512")
    return _mont_clear_cofactor(_mont_add(curve25519_map_to_curve(u0), curve25519_map_to_curve(u1)))


def curve25519_encode_to_curve(msg: Bytes, dst: Bytes) -> Point:
    """``curve25519_XMD:SHA-512_ELL2_NU_`` encode_to_curve (non-uniform, one map)."""
    (u0,) = hash_to_field(msg, dst, 1, CURVE25519_P, _L25, "sha512")
    return _mont_clear_cofactor(curve25519_map_to_curve(u0))


def _curve25519_uniform_many(msgs: Sequence[object], dst: Bytes) -> bytes:
    """``expand_message_xmd(msg, dst, 96, SHA-512)`` for every message, concatenated.

    Inlined for speed (three SHA-512 calls per message); the same bytes as
    :func:`expand_message_xmd` (checked by the tests).
    """
    tag = _dst(dst, hashlib.sha512)
    dst_prime = tag + bytes([len(tag)])
    zpad_state = hashlib.sha512(bytes(128))  # Z_pad is exactly one SHA-512 block
    tail0 = (96).to_bytes(2, "big") + b"\x00" + dst_prime
    tail1 = b"\x01" + dst_prime
    tail2 = b"\x02" + dst_prime
    sha512 = hashlib.sha512
    from_bytes = int.from_bytes
    out = []
    for msg in msgs:
        if type(msg) is not bytes:
            msg = _bytes(msg, "message")
        h0 = zpad_state.copy()
        h0.update(msg + tail0)
        b0 = h0.digest()
        b1 = sha512(b0 + tail1).digest()
        x = (from_bytes(b0, "big") ^ from_bytes(b1, "big")).to_bytes(64, "big")
        out.append(b1)
        out.append(sha512(x + tail2).digest()[:32])
    return b"".join(out)


def curve25519_hash_to_u_many(
    msgs: Sequence[Bytes], dst: Bytes, *, threads: int | None = 1
) -> bytes:
    """Hash many messages with ``curve25519_XMD:SHA-512_ELL2_RO_``; return the X25519
    u-coordinates as concatenated 32-byte little-endian strings (the X25519 encoding).

    Same result as :func:`curve25519_hash_to_curve` per message (u = 0 for the point at
    infinity).  ``expand_message_xmd`` runs here (hashlib SHA-512, three calls per
    message); the field arithmetic — two Elligator 2 maps, one point addition, cofactor
    clearing by three x-only doublings, one inversion — runs in the backend's
    ``curve25519_h2c_u`` (the C kernel with the GIL released on the native backend,
    Python over gmpy2 or Python ints on the others).

    :param msgs: a sequence of messages (bytes-like).
    :param dst: the domain separation tag (non-empty).
    :param threads: threads for the native kernel (default 1, as PSI already runs one
        worker process per core; None = all cores).  Results do not depend on it.
    :returns: ``32 * len(msgs)`` bytes.
    :raises InvalidArgumentError: on an empty DST or a bad thread count.
    :raises InvalidTypeError: ``msgs`` not a sequence of bytes-like objects.
    """
    nthreads = check_threads(threads)
    uniform = _curve25519_uniform_many(_messages(msgs), dst)
    return get_backend().curve25519_h2c_u(uniform, threads=nthreads)


# ---------------------------------------------------------------------------------------
# NIST P-256 (short Weierstrass, a = -3)
# ---------------------------------------------------------------------------------------
P256_P = 2**256 - 2**224 + 2**192 + 2**96 - 1
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
_PP = P256_P
_AP = P256_P - 3
_BP = P256_B
_ZP = P256_P - 10
_SQRT_EXP_P = (P256_P + 1) // 4
_LP = 48  # ceil((256 + 128) / 8)
_MINUS_B_OVER_A = -_BP * pow(_AP, -1, _PP) % _PP
_B_OVER_ZA = _BP * pow(_ZP * _AP % _PP, -1, _PP) % _PP


def _p256_consts(ops: IntOps) -> tuple[Any, ...]:
    num = ops.num
    return tuple(num(v) for v in (_PP, _AP, _BP, _ZP, _MINUS_B_OVER_A, _B_OVER_ZA, _SQRT_EXP_P))


def p256_map_to_curve(u: int) -> tuple[int, int]:
    """RFC 9380 section 6.6.2 simplified SWU for P-256 (Z = -10), as in appendix F.2.

    With ``t = Z u^2``: ``x1 = (-B/A)(1 + 1/(t^2 + t))`` (``B/(Z A)`` when ``t^2 + t = 0``).
    If ``g(x1) = x1^3 + A x1 + B`` is a square the point is ``(x1, sqrt(g(x1)))``, else
    ``(x2, sqrt(g(x2)))`` with ``x2 = t x1`` and ``g(x2) = t^3 g(x1)``; ``y`` gets the parity
    of ``u``.  ``u`` is a field element in ``[0, p)``.  One inversion, one Legendre symbol,
    one square root (``p = 3 mod 4``: ``sqrt(a) = a^((p+1)/4)``).
    """
    ops = _ops()
    x, y = _p256_map(ops, ops.num(_field(u, _PP)))
    return int(x), int(y)


def _p256_map(ops: IntOps, u: Any) -> tuple[Any, Any]:
    """:func:`p256_map_to_curve` on the backend's number type (``u`` reduced)."""
    p, a, b, z, minus_b_over_a, b_over_za, sqrt_exp = ops.cached("p256", _p256_consts)
    tv1 = z * u * u % p
    tv2 = tv1 * tv1 % p
    den = (tv1 + tv2) % p
    x1 = (_inv(ops, den, p) + 1) * minus_b_over_a % p if den else b_over_za
    gx1 = ((x1 * x1 + a) * x1 + b) % p
    if ops.jacobi(gx1, p) >= 0:
        x, gx = x1, gx1
    else:
        x, gx = tv1 * x1 % p, gx1 * (tv1 * tv2 % p) % p
    y = ops.powmod(gx, sqrt_exp, p)
    if (u & 1) != (y & 1):
        y = (-y) % p
    return x, y


def _p256_add(ops: IntOps, P: tuple[Any, Any], Q: tuple[Any, Any]) -> Point:
    """Affine addition on P-256 (doubling, inverses; infinity = None), ints out."""
    p, a = ops.cached("p256", _p256_consts)[:2]
    (x1, y1), (x2, y2) = P, Q
    if x1 == x2:
        if (y1 + y2) % p == 0:
            return None
        lam = (3 * x1 * x1 + a) * _inv(ops, 2 * y1 % p, p) % p
    else:
        lam = (y2 - y1) * _inv(ops, (x2 - x1) % p, p) % p
    x3 = (lam * lam - x1 - x2) % p
    y3 = (lam * (x1 - x3) - y1) % p
    return int(x3), int(y3)


def p256_hash_to_curve(msg: Bytes, dst: Bytes) -> Point:
    """``P256_XMD:SHA-256_SSWU_RO_`` hash_to_curve: ``map(u0) + map(u1)`` (cofactor 1)."""
    u0, u1 = hash_to_field(msg, dst, 2, P256_P, _LP, "sha256")
    ops = _ops()
    return _p256_add(ops, _p256_map(ops, ops.num(u0)), _p256_map(ops, ops.num(u1)))


def p256_hash_to_compressed_many(msgs: Sequence[Bytes], dst: Bytes) -> list[bytes]:
    """Hash many messages to P-256; return SEC1 compressed encodings (33 bytes each).

    :raises InvalidArgumentError: if a hash lands on the point at infinity (probability
        about 2^-256; never observed).
    :raises InvalidTypeError: ``msgs`` not a sequence of bytes-like objects.
    """
    out = []
    for msg in _messages(msgs):
        P = p256_hash_to_curve(msg, dst)  # type: ignore[arg-type]
        if P is None:  # pragma: no cover - negligible probability
            raise InvalidArgumentError("hash_to_curve gave the point at infinity")
        out.append(bytes([2 + (P[1] & 1)]) + P[0].to_bytes(32, "big"))
    return out


def p256_decompress(x: int, odd: bool) -> tuple[int, int] | None:
    """The P-256 point with abscissa ``x`` and the given ``y`` parity, or None if ``x`` is
    not the abscissa of a curve point (including ``x`` outside ``[0, p)``).

    :raises InvalidTypeError: ``x`` not an int or ``odd`` not a bool.
    """
    xx = _int(x, "x")
    if not isinstance(odd, bool):
        raise InvalidTypeError("odd must be a bool")
    if not 0 <= xx < P256_P:
        return None
    gx = (xx * (xx * xx + _AP) + _BP) % _PP
    y = get_backend().int_powmod(gx, _SQRT_EXP_P, _PP)
    if y * y % _PP != gx:
        return None
    if (y & 1) != int(odd):
        y = (-y) % _PP
    return xx, y
