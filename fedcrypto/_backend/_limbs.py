"""Conversion between Python ints and the limb arrays that cross the backend boundary.

Layout (the one every backend and the native kernel use): a batch of ``count``
non-negative integers is a C-contiguous ``numpy.ndarray`` of dtype ``uint64`` and
shape ``(count, width)``.  Row ``i`` holds integer ``i`` as ``width`` 64-bit limbs,
least significant limb first (column 0), each limb in the machine's native byte
order.  ``width`` is fixed for the whole batch; unused high limbs are zero.  This
is exactly GMP's ``mpz_import(order=-1, size=8, endian=0, nails=0)`` layout, so the
kernel reads rows without per-element Python objects.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ..exceptions import InvalidArgumentError, InvalidTypeError

__all__ = [
    "LimbArray",
    "limbs_for_bits",
    "width_of",
    "ints_to_limbs",
    "int_to_limbs",
    "limbs_to_ints",
    "limbs_to_int",
    "check_limbs",
    "limbs_to_be_bytes",
    "be_bytes_to_limbs",
]

LimbArray = npt.NDArray[np.uint64]

_LIMB_BITS = 64
_LIMB_BYTES = 8


def limbs_for_bits(bits: int) -> int:
    """Number of 64-bit limbs needed to hold ``bits`` bits (at least one)."""
    return max(1, -(-bits // _LIMB_BITS))


def width_of(value: int) -> int:
    """Number of limbs needed to hold the non-negative int ``value``."""
    return limbs_for_bits(value.bit_length())


def _as_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    return operator.index(value)


def ints_to_limbs(
    values: Iterable[int], width: int | None = None, *, what: str = "value"
) -> LimbArray:
    """Pack non-negative ints into a ``(count, width)`` limb array.

    ``width`` defaults to the width of the largest value.  Raises
    :class:`InvalidTypeError` for non-integers and :class:`InvalidArgumentError`
    for negative values or values wider than ``width``.
    """
    ints = [_as_int(v, what) for v in values]
    if any(v < 0 for v in ints):
        raise InvalidArgumentError(f"{what} must be non-negative")
    if width is None:
        width = max((width_of(v) for v in ints), default=1)
    nbytes = width * _LIMB_BYTES
    try:
        raw = b"".join(v.to_bytes(nbytes, "little") for v in ints)
    except OverflowError:
        raise InvalidArgumentError(f"{what} does not fit in {width * _LIMB_BITS} bits") from None
    arr = (
        np.frombuffer(raw, dtype="<u8").astype(np.uint64, copy=True)
        if ints
        else np.zeros(0, np.uint64)
    )
    return arr.reshape(len(ints), width)


def int_to_limbs(value: int, width: int | None = None, *, what: str = "value") -> LimbArray:
    """One int as a ``(1, width)`` limb array."""
    return ints_to_limbs([value], width, what=what)


def limbs_to_ints(arr: LimbArray) -> list[int]:
    """Unpack a ``(count, width)`` limb array into Python ints."""
    arr = check_limbs(arr, "limb array")
    raw = arr.astype("<u8", copy=False).tobytes()
    step = arr.shape[1] * _LIMB_BYTES
    return [int.from_bytes(raw[i : i + step], "little") for i in range(0, len(raw), step)]


def limbs_to_int(arr: LimbArray) -> int:
    """The single int held in a ``(1, width)`` or ``(width,)`` limb array."""
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr.reshape(1, -1)
    values = limbs_to_ints(arr)
    if len(values) != 1:
        raise InvalidArgumentError("expected exactly one integer")
    return values[0]


def check_limbs(arr: object, what: str) -> LimbArray:
    """Check that ``arr`` is a 2-D C-contiguous uint64 limb array and return it.

    Raises :class:`InvalidTypeError` for anything else (wrong dtype, 1-D,
    non-contiguous views): the kernel reads raw memory, so no silent copies of
    unexpected layouts.
    """
    if not isinstance(arr, np.ndarray):
        raise InvalidTypeError(f"{what} must be a numpy uint64 array, got {type(arr).__name__}")
    if arr.dtype != np.uint64:
        raise InvalidTypeError(f"{what} must have dtype uint64, got {arr.dtype}")
    if arr.ndim != 2:
        raise InvalidTypeError(f"{what} must be 2-D (count, limbs), got {arr.ndim}-D")
    if arr.shape[1] < 1:
        raise InvalidTypeError(f"{what} must have at least one limb per integer")
    if not arr.flags.c_contiguous:
        raise InvalidTypeError(f"{what} must be C-contiguous")
    return arr


def limbs_to_be_bytes(arr: LimbArray, nbytes: int) -> bytes:
    """Serialize each row as a fixed-width ``nbytes`` big-endian integer, concatenated.

    Raises :class:`InvalidArgumentError` when a value needs more than ``nbytes`` bytes.
    """
    arr = check_limbs(arr, "limb array")
    count, width = arr.shape
    total = width * _LIMB_BYTES
    be = np.ascontiguousarray(arr[:, ::-1]).astype(">u8").view(np.uint8).reshape(count, total)
    if nbytes < total:
        if be[:, : total - nbytes].any():
            raise InvalidArgumentError(f"value does not fit in {nbytes} bytes")
        be = be[:, total - nbytes :]
    elif nbytes > total:
        be = np.concatenate([np.zeros((count, nbytes - total), np.uint8), be], axis=1)
    return np.ascontiguousarray(be).tobytes()


def be_bytes_to_limbs(
    data: bytes | bytearray | memoryview, count: int, nbytes: int, width: int | None = None
) -> LimbArray:
    """Parse ``count`` fixed-width big-endian ``nbytes`` integers into a limb array."""
    if len(data) != count * nbytes:
        raise InvalidArgumentError(f"expected {count * nbytes} bytes, got {len(data)}")
    if width is None:
        width = limbs_for_bits(nbytes * 8)
    total = width * _LIMB_BYTES
    be = np.frombuffer(data, dtype=np.uint8).reshape(count, nbytes)
    if nbytes > total:
        if be[:, : nbytes - total].any():
            raise InvalidArgumentError(f"value does not fit in {width} limbs")
        be = be[:, nbytes - total :]
    elif nbytes < total:
        be = np.concatenate([np.zeros((count, total - nbytes), np.uint8), be], axis=1)
    limbs = np.ascontiguousarray(be).view(">u8").astype(np.uint64)
    return np.ascontiguousarray(limbs[:, ::-1])
