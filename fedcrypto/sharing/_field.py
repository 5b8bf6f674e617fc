"""Vectorised arithmetic in the word-size prime field GF(p), p = 2**31 - 1.

Elements are numpy ``uint64`` arrays with values in ``[0, p)``.  Because ``p < 2**31``
the product of two elements is below ``2**62`` and fits a ``uint64`` exactly, so an
elementwise product is one numpy multiply and one ``%``.  Matrix products split both
operands into 16-bit limbs so that every partial sum is an exact float64 and the
product runs on BLAS (see :func:`matmul`).

This module is private: :mod:`fedcrypto.sharing` builds Shamir and additive sharing on it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from .._random import VectorRNG

__all__ = [
    "P31",
    "MAX_INNER",
    "mul",
    "matmul",
    "pow_vec",
    "inv_vec",
    "random_elements",
    "prod_rows",
    "lagrange_at_zero",
    "lagrange_at",
]

#: The Mersenne prime 2**31 - 1.
P31 = (1 << 31) - 1
_P = np.uint64(P31)
#: Largest inner dimension :func:`matmul` supports exactly (sums of 2**21 limb products < 2**53).
MAX_INNER = 1 << 21

U64Array = npt.NDArray[np.uint64]


def mul(a: U64Array, b: U64Array, p: int = P31) -> U64Array:
    """Elementwise ``a * b mod p`` (broadcasting); inputs reduced, ``p < 2**32``."""
    return (a * b) % np.uint64(p)


def matmul(a: U64Array, b: U64Array, p: int = P31) -> U64Array:
    """The matrix product ``a @ b mod p`` for reduced inputs and ``p < 2**32``, exact, on BLAS.

    Both operands are split into 16-bit limbs, ``a = a1 * 2**16 + a0`` and
    ``b = b1 * 2**16 + b0``.  Each limb product is below ``2**32``, so a sum of up to
    ``2**21`` of them is below ``2**53`` and is computed exactly by a float64 matrix
    product (one BLAS call on the stacked limbs).  The four partial products are then
    reduced mod p and recombined: ``a @ b = P00 + (P01 + P10) * 2**16 + P11 * 2**32``.
    """
    if a.shape[-1] > MAX_INNER:
        raise ValueError("inner dimension too large for exact float64 accumulation")
    n, m = a.shape[0], b.shape[1]
    pp = np.uint64(p)
    mask = np.uint64(0xFFFF)
    sh = np.uint64(16)
    a2 = np.concatenate([a & mask, a >> sh], axis=0).astype(np.float64)  # (2n, k)
    b2 = np.concatenate([b & mask, b >> sh], axis=1).astype(np.float64)  # (k, 2m)
    prod = _gemm(a2, b2).astype(np.uint64) % pp  # exact: every entry < 2**53
    p00, p01 = prod[:n, :m], prod[:n, m:]
    p10, p11 = prod[n:, :m], prod[n:, m:]
    mid = ((p01 + p10) << sh) % pp  # 2p * 2**16 < 2**49
    hi = ((p11 << sh) % pp << sh) % pp
    out: U64Array = (p00 + mid + hi) % pp
    return out


#: Below this many multiply-adds a product is computed in single-threaded BLAS blocks.
_SMALL_GEMM = 1 << 27
_ROW_BLOCK = 64
_COL_BLOCK = 1024


def _gemm(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """``a @ b`` in float64; small and medium products in blocks.

    OpenBLAS hands medium-sized products to all its threads, which is slower than one
    thread when the cores are busy (measured 20-40x on a loaded 2-core machine for the
    Shamir shapes); blocks of at most 64 rows x 1024 columns stay on one thread.
    Large products keep the multi-threaded path.  The result is the same either way
    (every entry is an exact integer below 2**53).
    """
    m, k = a.shape
    n = b.shape[1]
    if m * k * n >= _SMALL_GEMM or (m <= _ROW_BLOCK and n <= _COL_BLOCK):
        out: npt.NDArray[np.float64] = a @ b
        return out
    out = np.empty((m, n), dtype=np.float64)
    for i in range(0, m, _ROW_BLOCK):
        for j in range(0, n, _COL_BLOCK):
            np.matmul(
                a[i : i + _ROW_BLOCK],
                b[:, j : j + _COL_BLOCK],
                out=out[i : i + _ROW_BLOCK, j : j + _COL_BLOCK],
            )
    return out


def pow_vec(base: U64Array, exponent: int, p: int = P31) -> U64Array:
    """Elementwise ``base ** exponent mod p`` by square-and-multiply (public exponent)."""
    pp = np.uint64(p)
    result = np.ones_like(base)
    b = base % pp
    e = int(exponent)
    while e:
        if e & 1:
            result = (result * b) % pp
        e >>= 1
        if e:
            b = (b * b) % pp
    return result


def inv_vec(a: U64Array, p: int = P31) -> U64Array:
    """Elementwise inverse ``a ** (p - 2) mod p`` (Fermat); ``a`` must be non-zero."""
    return pow_vec(a, p - 2, p)


def random_elements(rng: VectorRNG, count: int, p: int = P31) -> U64Array:
    """``count`` uniform field elements from ``rng`` (rejection sampling, no bias)."""
    return rng.below(p, count)


def prod_rows(m: U64Array) -> U64Array:
    """Product mod p of each row of a 2-D array (pairwise tree, log2(cols) numpy steps)."""
    while m.shape[1] > 1:
        if m.shape[1] & 1:
            m = np.concatenate([m, np.ones((m.shape[0], 1), dtype=np.uint64)], axis=1)
        m = (m[:, 0::2] * m[:, 1::2]) % _P
    return m[:, 0]


def lagrange_at_zero(xs: U64Array) -> U64Array:
    """Lagrange coefficients for interpolating at 0 from distinct non-zero points ``xs``.

    ``lambda_i = prod_{j != i} x_j / (x_j - x_i)``, so that ``f(0) = sum_i lambda_i f(x_i)``
    for every polynomial ``f`` of degree below ``len(xs)``.  Computed as
    ``(prod_j x_j) / (x_i * prod_{j != i} (x_j - x_i))`` with one vectorised inversion.
    """
    t = xs.shape[0]
    diff = (xs[None, :] + (_P - xs[:, None])) % _P  # diff[i, j] = x_j - x_i
    diff[np.arange(t), np.arange(t)] = 1
    den = mul(prod_rows(diff), xs)
    total = prod_rows(xs[None, :])[0]
    return mul(inv_vec(den), total)


def lagrange_at(xs: U64Array, points: U64Array) -> U64Array:
    """Lagrange coefficients ``L[e, i]`` to evaluate at ``points[e]`` from values at ``xs``.

    ``L[e, i] = prod_{j != i} (z_e - x_j) / (x_i - x_j)`` so that
    ``f(z_e) = sum_i L[e, i] f(x_i)`` for every polynomial ``f`` of degree below
    ``len(xs)``.  The points must be distinct from every ``x_i`` (and the ``x_i`` distinct).
    """
    t = xs.shape[0]
    dz = (points[:, None] + (_P - xs[None, :])) % _P  # z_e - x_j, never 0
    full = prod_rows(dz)  # prod_j (z_e - x_j)
    dx = (xs[:, None] + (_P - xs[None, :])) % _P  # x_i - x_j
    dx[np.arange(t), np.arange(t)] = 1
    inv_den = inv_vec(prod_rows(dx))
    out: U64Array = mul(mul(inv_vec(dz), full[:, None]), inv_den[None, :])
    return out
