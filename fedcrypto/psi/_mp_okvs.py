"""A small oblivious key-value store (OKVS) over 16-byte values, and the zero-sharing PRF.

Encoding (a "garbled" 3-hash XOR table, the construction of XOR filters): every key maps to
three cells, one in each third of a table of ``cells`` 16-byte cells; the table is filled so
that the XOR of a key's three cells is its value.  Keys are peeled (a cell used by one
remaining key fixes that key last), then assigned in reverse order; the cells no key fixes
stay uniformly random.  With ``cells = 3 * ceil((1.23 n + 32) / 3)`` peeling fails with small
probability; the encoder then retries with the next hash ``nonce`` (sent with the table).

Obliviousness: every cell is a uniformly random value or a random value XOR a stored value.
When the stored values are pseudo-random to the decoder (here: zero-shares it cannot
compute), decoding any point gives a value that looks uniformly random, whether or not
the point is a key; the table reveals the number of keys (its size) and nothing else.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .._random import random_bytes

__all__ = ["table_cells", "positions", "encode", "decode", "prf_many", "MAX_NONCE"]

#: Encoding attempts before giving up (each fails with probability well below 1/2).
MAX_NONCE = 64
U64x2 = npt.NDArray[np.uint64]


def table_cells(n: int) -> int:
    """Number of cells of the table for ``n`` keys (a multiple of 3)."""
    return 3 * (-(-(123 * n + 3200) // 300))


def positions(keys: Sequence[bytes], cells: int, hash_key: bytes) -> npt.NDArray[np.int64]:
    """The three cells of each key: an ``(len(keys), 3)`` int64 array, one cell per third."""
    seg = cells // 3
    b2 = hashlib.blake2b
    raw = b"".join(b2(k, digest_size=24, key=hash_key).digest() for k in keys)
    h = np.frombuffer(raw, dtype="<u8").reshape(-1, 3) % np.uint64(seg)
    return h.astype(np.int64) + np.array([0, seg, 2 * seg], dtype=np.int64)


def encode(pos: npt.NDArray[np.int64], values: bytes, cells: int) -> bytes | None:
    """The table (``cells * 16`` bytes) whose decoding at key ``i`` is ``values[16i:16i+16]``,
    or None when this hash (``pos``) does not peel (retry with another nonce)."""
    n = pos.shape[0]
    if n == 0:
        return random_bytes(16 * cells)
    # flat typed arrays, not lists of Python ints: about 60 bytes per key at the peak
    deg = array("q", np.bincount(pos.ravel(), minlength=cells).astype(np.int64).tobytes())
    xr_arr = np.zeros(cells, dtype=np.int64)
    ids = np.arange(n, dtype=np.int64)
    for k in range(3):
        np.bitwise_xor.at(xr_arr, pos[:, k], ids)
    xr = array("q", xr_arr.tobytes())
    del xr_arr, ids
    flat = array("q", np.ascontiguousarray(pos, dtype=np.int64).tobytes())
    stack = array("q", np.flatnonzero(np.frombuffer(deg, dtype=np.int64) == 1).tobytes())
    order_items = array("q")
    order_cells = array("q")
    while stack:
        c = stack.pop()
        if deg[c] != 1:
            continue
        it = xr[c]
        order_items.append(it)
        order_cells.append(c)
        for c2 in flat[3 * it : 3 * it + 3]:
            deg[c2] -= 1
            xr[c2] ^= it
            if deg[c2] == 1:
                stack.append(c2)
    if len(order_items) < n:
        return None
    del deg, xr, stack
    table = array("Q", random_bytes(16 * cells))  # cell i = (table[2i], table[2i+1])
    vals = array("Q", values)
    for j in range(n - 1, -1, -1):
        it, c = order_items[j], order_cells[j]
        a, b, d = flat[3 * it], flat[3 * it + 1], flat[3 * it + 2]
        table[2 * c] ^= vals[2 * it] ^ table[2 * a] ^ table[2 * b] ^ table[2 * d]
        table[2 * c + 1] ^= (
            vals[2 * it + 1] ^ table[2 * a + 1] ^ table[2 * b + 1] ^ table[2 * d + 1]
        )
    return table.tobytes()


def decode(table: U64x2, pos: npt.NDArray[np.int64]) -> U64x2:
    """Decode the table (an ``(cells, 2)`` uint64 array) at each row of ``pos``."""
    out: U64x2 = table[pos[:, 0]] ^ table[pos[:, 1]] ^ table[pos[:, 2]]
    return out


def prf_many(keys: Sequence[bytes], seed: bytes) -> U64x2:
    """Keyed BLAKE2b-128 of each key under ``seed``, as an ``(len(keys), 2)`` uint64 array."""
    b2 = hashlib.blake2b
    raw = b"".join(b2(k, digest_size=16, key=seed).digest() for k in keys)
    return np.frombuffer(raw, dtype="<u8").reshape(-1, 2).copy()
