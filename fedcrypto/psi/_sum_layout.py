"""Exact integer packing of value columns into Paillier plaintexts (intersection-sum).

A row's ``c`` signed values of at most ``b`` bits (``-2^(b-1) <= v < 2^(b-1)``) are offset
to ``u = v + 2^(b-1)`` (``0 <= u < 2^b``) and packed, ``slots`` per plaintext, into slots of
``w`` bits: ``P = sum_j u_j * 2^(j*w)``.  Adding the plaintexts of ``m`` rows adds the slots
independently as long as no slot carries: a slot sum is below ``m * 2^b``, so
``w = b + bitlen(max_rows)`` never carries for ``m <= max_rows``.  The learner removes the
offset with ``m`` (which it learns with the sums): ``sum v = slot - m * 2^(b-1)``.

Room is left above the packed bits for a statistical mask: the matcher may add
``r < 2^(slots*w + STAT_BITS)`` before the key holder decrypts, which hides the sum up to a
statistical distance of ``2^-STAT_BITS``; ``P + r`` still decodes as a non-negative integer
below Paillier's integer range ``n/3`` because ``slots*w + STAT_BITS + 4 <= |n|``.

Unlike BatchCrypt packing (:class:`fedcrypto.paillier.PackingScheme`, quantized floats),
this packing is exact: sums of integers come back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError, RemoteProtocolError

__all__ = [
    "SumLayout",
    "plan_layout",
    "check_values",
    "MAX_COLUMNS",
    "MAX_VALUE_BITS",
    "STAT_BITS",
]

#: Most value columns in one run (each is one slot; bounds every size derived from it).
MAX_COLUMNS = 256
#: Widest value accepted, in bits (two's complement range).
MAX_VALUE_BITS = 1024
#: Statistical hiding of the mask the matcher adds when only it learns the sums.
STAT_BITS = 64


@dataclass(frozen=True)
class SumLayout(Immutable):
    """How ``columns`` values of ``value_bits`` bits are packed into ``slot_bits``-bit slots,
    ``slots`` per plaintext; each row has :attr:`ciphertexts` ciphertexts."""

    columns: int
    value_bits: int
    slot_bits: int
    slots: int

    @property
    def ciphertexts(self) -> int:
        """Ciphertexts per row: ``ceil(columns / slots)``."""
        return -(-self.columns // self.slots)

    @property
    def mask_bits(self) -> int:
        """Bits of the statistical mask: ``slots * slot_bits + STAT_BITS``."""
        return self.slots * self.slot_bits + STAT_BITS

    def check(self, key_bits: int, max_rows: int) -> None:
        """Check a layout announced by the peer for a key of ``key_bits`` and sums over at
        most ``max_rows`` rows.

        :raises RemoteProtocolError: any field out of range, slots that could carry, or
            slots that do not fit the plaintext with the mask.
        """
        if not 1 <= self.columns <= MAX_COLUMNS:
            raise RemoteProtocolError(f"value columns must be between 1 and {MAX_COLUMNS}")
        if not 1 <= self.value_bits <= MAX_VALUE_BITS:
            raise RemoteProtocolError(f"value bits must be between 1 and {MAX_VALUE_BITS}")
        if self.slot_bits < self.value_bits + max(1, max_rows).bit_length():
            raise RemoteProtocolError("the value slots are too narrow for the announced rows")
        if not 1 <= self.slots <= self.columns:
            raise RemoteProtocolError("invalid number of slots per ciphertext")
        if self.mask_bits + 4 > key_bits:
            raise RemoteProtocolError("the value slots do not fit the Paillier plaintext")

    def pack(self, values: np.ndarray) -> list[int]:
        """Pack a ``(rows, columns)`` array of checked ints into ``rows * ciphertexts``
        plaintext integers (row-major: the ciphertexts of row 0, then row 1, ...)."""
        rows = values.shape[0]
        offset = 1 << (self.value_bits - 1)
        if self.value_bits <= 62 and values.dtype != object:
            u = values.astype(np.int64) + offset
            if self.slots == 1 or self.columns == 1:
                return [int(x) for x in u.reshape(-1).tolist()]
            cols: list[list[int]] = [u[:, j].tolist() for j in range(self.columns)]
        else:
            cols = [[int(x) + offset for x in values[:, j].tolist()] for j in range(self.columns)]
        out: list[int] = []
        w = self.slot_bits
        for i in range(rows):
            for k in range(self.ciphertexts):
                p = 0
                for s, j in enumerate(
                    range(k * self.slots, min(self.columns, (k + 1) * self.slots))
                ):
                    p |= cols[j][i] << (s * w)
                out.append(p)
        return out

    def unpack(self, plaintexts: list[int], count: int) -> tuple[int, ...]:
        """The column sums from the summed plaintexts of ``count`` rows.

        :raises RemoteProtocolError: a plaintext that no honest sum of ``count`` rows can
            produce (bits outside the slots, a slot above ``count * (2^b - 1)``).
        """
        if len(plaintexts) != self.ciphertexts:
            raise RemoteProtocolError("wrong number of sum plaintexts")
        w = self.slot_bits
        mask = (1 << w) - 1
        top = count * ((1 << self.value_bits) - 1)
        offset = count << (self.value_bits - 1)
        sums: list[int] = []
        for k, p in enumerate(plaintexts):
            used = min(self.columns, (k + 1) * self.slots) - k * self.slots
            if p < 0 or p >> (used * w):
                raise RemoteProtocolError("a sum is outside the range of the value slots")
            for s in range(used):
                slot = (p >> (s * w)) & mask
                if slot > top:
                    raise RemoteProtocolError("a column sum exceeds what the rows can add up to")
                sums.append(slot - offset)
        return tuple(sums)


def plan_layout(columns: int, value_bits: int, max_rows: int, key_bits: int) -> SumLayout:
    """The densest layout for ``columns`` values of ``value_bits`` bits summed over at most
    ``max_rows`` rows under a ``key_bits``-bit Paillier modulus.

    :raises InvalidArgumentError: no column count / value width in range, or one slot does
        not fit the plaintext (use fewer value bits or a larger key).
    """
    for name, v in (("columns", columns), ("value_bits", value_bits), ("max_rows", max_rows)):
        if isinstance(v, bool) or not isinstance(v, int):
            raise InvalidTypeError(f"{name} must be an int")
    if not 1 <= columns <= MAX_COLUMNS:
        raise InvalidArgumentError(f"between 1 and {MAX_COLUMNS} value columns are supported")
    if not 1 <= value_bits <= MAX_VALUE_BITS:
        raise InvalidArgumentError(f"value_bits must be between 1 and {MAX_VALUE_BITS}")
    w = value_bits + max(1, max_rows).bit_length()
    slots = min(columns, (key_bits - 4 - STAT_BITS) // w)
    if slots < 1:
        raise InvalidArgumentError(
            f"values of {value_bits} bits summed over up to {max_rows} rows do not fit a "
            f"{key_bits}-bit Paillier plaintext; use fewer value bits or a larger key"
        )
    return SumLayout(columns=columns, value_bits=value_bits, slot_bits=w, slots=slots)


def check_values(values: Any, rows: int, value_bits: int) -> np.ndarray:
    """Validate a value table: ``rows`` rows (1-D = one column), integers only, each in
    ``[-2^(value_bits-1), 2^(value_bits-1))``.  Returns a ``(rows, columns)`` array (int64,
    or object of Python ints for wide values).

    :raises InvalidTypeError: not a table of integers.
    :raises InvalidArgumentError: wrong row count, no column, or a value out of range
        (the message names the 0-based row and column).
    """
    if isinstance(values, (str, bytes, bytearray)):
        raise InvalidTypeError("values must be a table of integers")
    arr = np.asarray(values) if isinstance(values, np.ndarray) else None
    if arr is None:
        try:
            seq = list(values)
        except TypeError:
            raise InvalidTypeError("values must be a 1-D or 2-D table of integers") from None
        arr = np.empty(len(seq), dtype=object)
        arr[:] = seq
        if len(seq) and all(isinstance(r, (list, tuple, np.ndarray)) for r in seq):
            width = {len(r) for r in seq}
            if len(width) != 1:
                raise InvalidArgumentError("every row must have the same number of values")
            arr = np.empty((len(seq), width.pop()), dtype=object)
            for i, r in enumerate(seq):
                arr[i, :] = list(r)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise InvalidArgumentError("values must be 1-D (one column) or 2-D (rows, columns)")
    if arr.shape[0] != rows:
        raise InvalidArgumentError(f"values have {arr.shape[0]} rows, items {rows}")
    if arr.shape[1] < 1:
        raise InvalidArgumentError("values need at least one column")
    lo, hi = -(1 << (value_bits - 1)), 1 << (value_bits - 1)
    if arr.dtype.kind in "iu" and value_bits <= 62:
        if arr.dtype.kind == "u" and arr.size and int(arr.max()) >= hi:
            bad = np.argwhere(arr >= hi)
        else:
            a64 = arr.astype(np.int64)
            bad = np.argwhere((a64 < lo) | (a64 >= hi))
        if len(bad):
            i, j = (int(x) for x in bad[0])
            raise InvalidArgumentError(
                f"value in row {i}, column {j} does not fit {value_bits} signed bits"
            )
        return arr.astype(np.int64)
    if arr.dtype.kind in "iu":
        arr = arr.astype(object)
    if arr.dtype != object:
        raise InvalidTypeError("values must be integers (convert floats yourself)")
    for (i, j), v in np.ndenumerate(arr):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise InvalidTypeError(f"value in row {i}, column {j} is not an integer")
        if not lo <= int(v) < hi:
            raise InvalidArgumentError(
                f"value in row {i}, column {j} does not fit {value_bits} signed bits"
            )
    if value_bits <= 62:
        return arr.astype(np.int64)
    return np.vectorize(int, otypes=[object])(arr) if arr.size else arr
