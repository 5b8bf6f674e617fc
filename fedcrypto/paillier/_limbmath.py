"""Small vectorised helpers on limb arrays (numpy only, no per-element Python).

Layout as in :mod:`fedcrypto._backend._limbs`: ``(count, width)`` uint64, limb 0
least significant.  These are the few operations Paillier needs between backend
calls (add one, compare with a bound, subtract from a constant, widen) and that
the backend interface does not offer.  Every function loops over the *limbs*
(at most a few dozen columns) and is vectorised over the rows.
"""

from __future__ import annotations

import numpy as np

from .._backend import LimbArray

__all__ = [
    "widen",
    "add_one",
    "is_zero",
    "less_than_row",
    "row_minus",
    "int64_to_residues",
    "fits_bits",
]

_U64_MAX = np.uint64(0xFFFFFFFFFFFFFFFF)


def widen(arr: LimbArray, width: int) -> LimbArray:
    """``arr`` padded with zero high limbs (or returned as is) to ``width`` limbs."""
    count, w = arr.shape
    if w == width:
        return arr
    if w > width:
        if arr[:, width:].any():
            raise ValueError("value does not fit the requested width")
        return np.ascontiguousarray(arr[:, :width])
    out = np.zeros((count, width), dtype=np.uint64)
    out[:, :w] = arr
    return out


def add_one(arr: LimbArray) -> LimbArray:
    """``arr + 1`` in place (carry propagated); the caller guarantees no overflow of the width."""
    carry = np.ones(arr.shape[0], dtype=bool)
    for i in range(arr.shape[1]):
        if not carry.any():
            break
        col = arr[:, i]
        col += carry.astype(np.uint64)
        carry = carry & (col == 0)
    return arr


def is_zero(arr: LimbArray) -> np.ndarray:
    """Boolean mask of the rows equal to zero."""
    return np.asarray(~arr.any(axis=1), dtype=bool)


def less_than_row(arr: LimbArray, row: LimbArray) -> np.ndarray:
    """Boolean mask of the rows of ``arr`` strictly below the single value ``row`` (same width)."""
    result = np.zeros(arr.shape[0], dtype=bool)
    undecided = np.ones(arr.shape[0], dtype=bool)
    for i in range(arr.shape[1] - 1, -1, -1):
        col = arr[:, i]
        r = row[0, i]
        lt = col < r
        result |= undecided & lt
        undecided &= col == r
        if not undecided.any():
            break
    return result


def row_minus(row: LimbArray, arr: LimbArray) -> LimbArray:
    """``row - arr[i]`` for each row (caller guarantees ``arr[i] <= row``)."""
    count, width = arr.shape
    out = np.empty((count, width), dtype=np.uint64)
    borrow = np.zeros(count, dtype=bool)
    for i in range(width):
        a = row[0, i]
        b = arr[:, i]
        d = a - b  # wraps modulo 2**64
        b_in = borrow.astype(np.uint64)
        out[:, i] = d - b_in
        borrow = (b > a) | ((b == a) & borrow)
    return out


def int64_to_residues(values: np.ndarray, n_row: LimbArray) -> LimbArray:
    """Signed int64 values as residues modulo ``n`` (wider than 64 bits): ``v`` or ``n - |v|``."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    count = values.shape[0]
    width = n_row.shape[1]
    out = np.zeros((count, width), dtype=np.uint64)
    neg = values < 0
    out[:, 0] = values.view(np.uint64)
    if neg.any():
        mags = np.zeros((int(neg.sum()), width), dtype=np.uint64)
        mags[:, 0] = np.negative(values[neg]).view(np.uint64)  # -(-2**63) wraps to 2**63: right
        out[neg] = row_minus(n_row, mags)
    return out


def fits_bits(arr: LimbArray, bits: int) -> np.ndarray:
    """Boolean mask of the rows whose value is below ``2**bits``."""
    full, rem = divmod(bits, 64)
    width = arr.shape[1]
    if full >= width:
        return np.ones(arr.shape[0], dtype=bool)
    ok = ~arr[:, full + 1 :].any(axis=1) if full + 1 < width else np.ones(arr.shape[0], dtype=bool)
    col = arr[:, full]
    if rem == 0:
        ok &= col == 0
    else:
        ok &= (col >> np.uint64(rem)) == 0
    return np.asarray(ok, dtype=bool)
