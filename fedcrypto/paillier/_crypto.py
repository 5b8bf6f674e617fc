"""Paillier arithmetic on limb arrays: randomizers, encryption, decryption, validation, inversion.

Everything here works on batches (``(count, width)`` uint64 limb arrays) and calls
the backend; Python-level loops run over chunks or tree levels, never over
elements, except where the backend offers no operation (reduction modulo ``p**2``
and the division ``L(x) = (x - 1) / p`` in decryption, see :func:`decrypt_residues`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from .._backend import (
    LimbArray,
    get_backend,
    int_to_limbs,
    ints_to_limbs,
    limbs_for_bits,
    limbs_to_int,
    limbs_to_ints,
    width_of,
)
from .._random import VectorRNG
from ..exceptions import InvalidArgumentError, InvalidCiphertext
from ._limbmath import add_one, is_zero, less_than_row, widen
from ._params import PrivateParams, PublicParams

__all__ = [
    "CHUNK",
    "Randomness",
    "random_exponents",
    "uniform_below",
    "randomizers",
    "plaintext_factors",
    "encrypt_residues",
    "rerandomize",
    "decrypt_residues",
    "validate_ciphertexts",
    "batch_invert",
    "signed_powmod",
]

#: Rows processed per backend call in the big loops: bounds temporaries (a 4096-bit
#: chunk of 8192 rows is 4 MiB) while keeping per-call overhead negligible.
CHUNK = 8192

#: How randomizers are made: ``h_s**alpha`` with a short ``alpha`` (DJN) or ``r**n`` (full).
Randomness = Literal["djn", "full"]


def _check_randomness(randomness: str) -> None:
    if randomness not in ("djn", "full"):
        raise InvalidArgumentError('randomness must be "djn" or "full"')


def random_exponents(rng: VectorRNG, count: int, bits: int) -> LimbArray:
    """``count`` uniform exponents of ``bits`` bits as a limb array."""
    w = limbs_for_bits(bits)
    arr = rng.uint64(count * w).reshape(count, w)
    top = bits - 64 * (w - 1)
    if top < 64:
        arr[:, -1] &= np.uint64((1 << top) - 1)
    return arr


def uniform_below(rng: VectorRNG, bound: int, count: int, *, nonzero: bool = True) -> LimbArray:
    """``count`` uniform values in ``[1, bound)`` (or ``[0, bound)``) by vectorised rejection."""
    bits = bound.bit_length()
    width = width_of(bound)
    row = int_to_limbs(bound, width)
    out = np.empty((count, width), dtype=np.uint64)
    filled = 0
    while filled < count:
        need = count - filled
        cand = random_exponents(rng, need + need // 4 + 8, bits)
        ok = less_than_row(cand, row)
        if nonzero:
            ok &= ~is_zero(cand)
        good = cand[ok][:need]
        out[filled : filled + good.shape[0]] = good
        filled += good.shape[0]
    return out


def _uniform_units(rng: VectorRNG, n: int, count: int) -> LimbArray:
    """Uniform elements of ``Z*_n``: uniform in ``[1, n)``, the batch checked coprime to ``n``.

    A non-unit would reveal a factor of ``n`` (probability about ``2**-(|n|/2)``); the
    batch is redrawn in that case.
    """
    be = get_backend()
    while True:
        r = uniform_below(rng, n, count)
        if count == 0 or math.gcd(limbs_to_int(be.prodmod(r, n)), n) == 1:
            return r


def randomizers(
    pk: PublicParams,
    count: int,
    *,
    randomness: str = "djn",
    threads: int | None = None,
    private_key: PrivateParams | None = None,
    rng: VectorRNG | None = None,
    variable_time: bool = False,
) -> LimbArray:
    """``count`` fresh n-th residues modulo ``n**2`` (the randomness of Paillier ciphertexts).

    ``"djn"``: ``h_s**alpha`` with ``alpha`` uniform of ``ceil(|n|/2)`` bits, through the
    cached fixed-base table (or plain exponentiation when the table would exceed its
    memory budget), constant time in ``alpha`` unless ``variable_time``.
    ``"full"``: ``r**n`` with ``r`` uniform in ``Z*_n``.
    With ``private_key`` both are computed modulo ``p**2`` and ``q**2`` and recombined
    by CRT (for ``"full"``, ``r**n mod p**2`` only depends on ``r mod p``, so ``r`` is
    drawn as independent uniform residues mod ``p`` and ``q``).
    """
    _check_randomness(randomness)
    be = get_backend()
    rng = rng or VectorRNG()
    nsq = pk.nsquare
    wc = pk.ciphertext_width
    if count == 0:
        return np.zeros((0, wc), dtype=np.uint64)
    if randomness == "djn":
        alpha = random_exponents(rng, count, pk.djn_exponent_bits)
        if private_key is None:
            return widen(pk.djn_powers(alpha, variable_time=variable_time, threads=threads), wc)
        rp, rq = private_key.djn_powers_crt(alpha, variable_time=variable_time, threads=threads)
        return widen(be.crt(rp, rq, private_key._psq, private_key._qsq, threads=threads), wc)
    n = pk.n
    if private_key is None:
        r = _uniform_units(rng, n, count)
        return widen(be.powmod(widen(r, wc), widen(pk._n_row, wc), nsq, threads=threads), wc)
    p, q = private_key._p, private_key._q
    psq, qsq = private_key._psq, private_key._qsq
    rp = widen(uniform_below(rng, p, count), width_of(psq - 1))
    rq = widen(uniform_below(rng, q, count), width_of(qsq - 1))
    xp = be.powmod(rp, int_to_limbs(n % (p * (p - 1))), psq, threads=threads)
    xq = be.powmod(rq, int_to_limbs(n % (q * (q - 1))), qsq, threads=threads)
    return widen(be.crt(xp, xq, psq, qsq, threads=threads), wc)


def plaintext_factors(pk: PublicParams, m: LimbArray, *, threads: int | None = None) -> LimbArray:
    """``(1 + m*n) mod n**2`` for residues ``m`` in ``[0, n)``: ``g**m`` with ``g = n + 1``.

    ``m*n < n**2`` so the backend's modular product is the plain product; adding one
    cannot overflow the width of ``n**2``.
    """
    wc = pk.ciphertext_width
    prod = get_backend().mulmod(widen(m, wc), widen(pk._n_row, wc), pk.nsquare, threads=threads)
    return add_one(widen(prod, wc))


def encrypt_residues(
    pk: PublicParams,
    m: LimbArray,
    *,
    randomness: str = "djn",
    pooled: LimbArray | None = None,
    threads: int | None = None,
    private_key: PrivateParams | None = None,
    variable_time: bool = False,
) -> LimbArray:
    """Encrypt plaintext residues ``m`` (rows in ``[0, n)``): ``c = (1 + m*n) * rho mod n**2``.

    ``pooled`` holds precomputed randomizers (from a :class:`RandomizerPool` of this
    key) for the first rows; the rest get fresh ones.
    """
    _check_randomness(randomness)
    be = get_backend()
    count = m.shape[0]
    wc = pk.ciphertext_width
    out = np.empty((count, wc), dtype=np.uint64)
    rng = VectorRNG()
    start = 0
    if pooled is not None:
        k = min(count, pooled.shape[0])
        if k:
            base = plaintext_factors(pk, np.ascontiguousarray(m[:k]), threads=threads)
            out[:k] = be.mulmod(base, np.ascontiguousarray(pooled[:k]), pk.nsquare, threads=threads)
            start = k
    for s in range(start, count, CHUNK):
        e = min(count, s + CHUNK)
        base = plaintext_factors(pk, np.ascontiguousarray(m[s:e]), threads=threads)
        rho = randomizers(
            pk,
            e - s,
            randomness=randomness,
            threads=threads,
            private_key=private_key,
            rng=rng,
            variable_time=variable_time,
        )
        out[s:e] = widen(be.mulmod(base, rho, pk.nsquare, threads=threads), wc)
    return out


def rerandomize(
    pk: PublicParams, c: LimbArray, *, randomness: str = "djn", threads: int | None = None
) -> LimbArray:
    """Multiply each ciphertext by a fresh randomizer (same plaintexts, unlinkable ciphertexts)."""
    be = get_backend()
    count, wc = c.shape
    out = np.empty((count, wc), dtype=np.uint64)
    rng = VectorRNG()
    for s in range(0, count, CHUNK):
        e = min(count, s + CHUNK)
        rho = randomizers(pk, e - s, randomness=randomness, threads=threads, rng=rng)
        out[s:e] = widen(
            be.mulmod(np.ascontiguousarray(c[s:e]), rho, pk.nsquare, threads=threads), wc
        )
    return out


def decrypt_residues(
    sk: PrivateParams, c: LimbArray, *, threads: int | None = None, secret: bool = True
) -> LimbArray:
    """Decrypt ciphertext rows to plaintext residues in ``[0, n)`` (limb array of ``n``'s width).

    Per prime: ``x = (c mod p**2)**(p-1) mod p**2`` by the backend (constant time
    when ``secret``), ``m_p = (x - 1)/p * h_p mod p``; then ``m = CRT(m_p, m_q)`` by
    the backend.  The reductions ``c mod p**2`` and ``(x - 1)/p`` are done on Python
    ints (the backend has no reduction kernel); they cost about 1% of the
    exponentiations.
    """
    be = get_backend()
    pk = sk._pub
    p, q, psq, qsq, hp, hq = sk._p, sk._q, sk._psq, sk._qsq, sk._hp, sk._hq
    wp, wq = width_of(psq - 1), width_of(qsq - 1)
    ep, eq = int_to_limbs(p - 1), int_to_limbs(q - 1)
    count = c.shape[0]
    out = np.empty((count, pk.plaintext_width), dtype=np.uint64)
    for s in range(0, count, CHUNK):
        e = min(count, s + CHUNK)
        ints = limbs_to_ints(np.ascontiguousarray(c[s:e]))
        cp = ints_to_limbs([x % psq for x in ints], wp)
        cq = ints_to_limbs([x % qsq for x in ints], wq)
        xp = limbs_to_ints(be.powmod(cp, ep, psq, secret=secret, threads=threads))
        xq = limbs_to_ints(be.powmod(cq, eq, qsq, secret=secret, threads=threads))
        mp = ints_to_limbs([(x - 1) // p * hp % p for x in xp], width_of(p - 1))
        mq = ints_to_limbs([(x - 1) // q * hq % q for x in xq], width_of(q - 1))
        out[s:e] = widen(be.crt(mp, mq, p, q, threads=threads), pk.plaintext_width)
    return out


def validate_ciphertexts(pk: PublicParams, c: LimbArray) -> None:
    """Check every row is in ``(0, n**2)`` and a unit modulo ``n``; raise InvalidCiphertext.

    The unit check is batched: the product of all ciphertexts modulo ``n**2`` is
    coprime to ``n`` exactly when each ciphertext is (``p`` divides a product iff it
    divides a factor), so one backend product and one gcd suffice.
    """
    if c.shape[0] == 0:
        return
    if c.shape[1] != pk.ciphertext_width:
        raise InvalidCiphertext("ciphertexts have the wrong width for this key")
    if is_zero(c).any():
        raise InvalidCiphertext("a ciphertext is zero")
    if not less_than_row(c, pk._nsq_row).all():
        raise InvalidCiphertext("a ciphertext is not below n**2")
    prod = limbs_to_int(get_backend().prodmod(c, pk.nsquare))
    if math.gcd(prod, pk.n) != 1:
        raise InvalidCiphertext("a ciphertext is not a unit modulo n")


def batch_invert(c: LimbArray, mod: int, *, threads: int | None = None) -> LimbArray:
    """Inverses of all rows modulo ``mod`` with one modular inversion (Montgomery's trick).

    A product tree is built level by level with the backend's elementwise product;
    the root is inverted once; inverses flow down (the inverse of a left child is
    the parent's inverse times the right child, and vice versa).  About three
    products per element, ``log2(count)`` backend calls per pass; chunks of
    :data:`CHUNK` rows each get their own tree (bounded temporaries).

    Raises:
        InvalidCiphertext: some row is not invertible.
    """
    count, width = c.shape
    if count > CHUNK:  # one inversion per chunk bounds the tree's temporaries
        out = np.empty_like(c)
        for s in range(0, count, CHUNK):
            e = min(count, s + CHUNK)
            out[s:e] = batch_invert(np.ascontiguousarray(c[s:e]), mod, threads=threads)
        return out
    be = get_backend()
    if count == 0:
        return c.copy()
    one = int_to_limbs(1, width)
    levels: list[LimbArray] = []
    cur = c
    while cur.shape[0] > 1:
        if cur.shape[0] % 2:
            cur = np.concatenate([cur, one])
        levels.append(cur)
        cur = widen(
            be.mulmod(
                np.ascontiguousarray(cur[0::2]),
                np.ascontiguousarray(cur[1::2]),
                mod,
                threads=threads,
            ),
            width,
        )
    root = limbs_to_int(cur)
    try:
        inv = int_to_limbs(pow(root, -1, mod), width)
    except ValueError:
        raise InvalidCiphertext("a ciphertext is not invertible") from None
    for level in reversed(levels):
        inv = np.ascontiguousarray(inv[: level.shape[0] // 2])  # drop the parent level's padding
        nxt = np.empty_like(level)
        left = np.ascontiguousarray(level[0::2])
        right = np.ascontiguousarray(level[1::2])
        nxt[0::2] = widen(be.mulmod(inv, right, mod, threads=threads), width)
        nxt[1::2] = widen(be.mulmod(inv, left, mod, threads=threads), width)
        inv = nxt
    return np.ascontiguousarray(inv[:count])


def signed_powmod(
    pk: PublicParams,
    c: LimbArray,
    exps: LimbArray,
    negative: np.ndarray | None,
    *,
    threads: int | None = None,
) -> LimbArray:
    """``c[i] ** (+-exps[i]) mod n**2``: rows flagged ``negative`` use the inverse ciphertext.

    ``exps`` is one row per ciphertext or a single shared row (then ``negative`` has
    one entry).  Encrypts ``+-k * m`` (scalar multiplication of the plaintexts).
    """
    be = get_backend()
    wc = pk.ciphertext_width
    if c.shape[0] == 0:
        return c.copy()
    bases = c
    if negative is not None and negative.any():
        if negative.shape[0] == 1:
            bases = batch_invert(c, pk.nsquare, threads=threads)
        else:
            bases = c.copy()
            bases[negative] = batch_invert(
                np.ascontiguousarray(c[negative]), pk.nsquare, threads=threads
            )
    out = np.empty_like(c)
    for s in range(0, c.shape[0], CHUNK):
        e = min(c.shape[0], s + CHUNK)
        ex = exps if exps.shape[0] == 1 else np.ascontiguousarray(exps[s:e])
        out[s:e] = widen(
            be.powmod(np.ascontiguousarray(bases[s:e]), ex, pk.nsquare, threads=threads), wc
        )
    return out
