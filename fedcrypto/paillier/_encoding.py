"""Scalar encodings of EncryptedVector plaintexts: exact integers and fixed point.

* Integer encoding: ``v -> v mod n`` for ``|v| <= max_int = n // 3 - 1``.
* Fixed point with ``f`` fractional bits: ``v -> round(v * 2**f) mod n`` (round half
  to even), decoded as ``m / 2**f``.

Decoding maps ``[0, max_int]`` to itself, ``[n - max_int, n)`` to negatives, and
reports anything in between as :class:`EncodingOverflowError`: a sum or product
that wrapped around ``n`` lands there with overwhelming probability, instead of
silently decoding to garbage.  Python-paillier uses the same integer convention,
so raw ciphertexts of integers interoperate.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .._backend import LimbArray, ints_to_limbs, limbs_to_ints
from .._immutable import Immutable
from ..exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
)
from ._limbmath import fits_bits, int64_to_residues, row_minus
from ._params import PublicParams

__all__ = [
    "Encoding",
    "INTEGER",
    "DEFAULT_FRAC_BITS",
    "MAX_FRAC_BITS",
    "encode",
    "decode",
    "to_integers",
]

#: Fractional bits of the fixed-point encoding of floats when none are given.
DEFAULT_FRAC_BITS = 48
#: Largest number of fractional bits accepted (products add them up).
MAX_FRAC_BITS = 4096


@dataclass(frozen=True)
class Encoding(Immutable):
    """How plaintext integers map to values: exact ints (``is_float=False, frac_bits=0``)
    or fixed point with ``frac_bits`` fractional bits (decoded as float64).

    Raises:
        InvalidTypeError: ``is_float`` is not a bool or ``frac_bits`` not an int.
        InvalidArgumentError: ``frac_bits`` outside ``[0, MAX_FRAC_BITS]``, or non-zero
            for the integer encoding.
    """

    is_float: bool
    frac_bits: int

    def __post_init__(self) -> None:
        if not isinstance(self.is_float, (bool, np.bool_)):
            raise InvalidTypeError("is_float must be a bool")
        f = _check_frac_bits(self.frac_bits)
        if not self.is_float and f:
            raise InvalidArgumentError("the integer encoding has no fractional bits")
        self._set(is_float=bool(self.is_float), frac_bits=f)

    def __str__(self) -> str:
        return f"fixed-point({self.frac_bits})" if self.is_float else "integer"


def _check_frac_bits(frac_bits: object) -> int:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)):
        raise InvalidTypeError("frac_bits must be an int")
    f = int(frac_bits)
    if not 0 <= f <= MAX_FRAC_BITS:
        raise InvalidArgumentError(f"frac_bits must be between 0 and {MAX_FRAC_BITS}")
    return f


#: The exact integer encoding.
INTEGER = Encoding(False, 0)


def _as_1d(values: Any) -> np.ndarray:
    if isinstance(values, (str, bytes, bytearray)):
        raise InvalidTypeError("values must be numbers, not text or bytes")
    if isinstance(values, np.ndarray):
        arr = values
    else:
        if isinstance(values, numbers.Number) or not hasattr(values, "__len__"):
            raise InvalidTypeError("expected a 1-D sequence or numpy array (wrap a scalar as [x])")
        seq = list(values)
        arr = np.empty(len(seq), dtype=object)
        arr[:] = seq
    if arr.ndim != 1:
        raise EncodingError(
            f"expected a 1-D sequence or array, got {arr.ndim}-D (flatten it first)"
        )
    return arr


def _check_python_number(v: object) -> None:
    if isinstance(v, (bool, np.bool_)):
        raise InvalidTypeError("booleans are not numbers here; convert them to int")
    if not isinstance(v, (int, float, np.integer, np.floating)):
        raise InvalidTypeError(f"cannot encode a value of type {type(v).__name__}")


def _fixed(v: float, f: int) -> int:
    """``round(v * 2**f)`` exactly (half to even), for any finite float and ``f``."""
    return round(Fraction(v) * (1 << f))


def to_integers(values: Any, frac_bits: int | None) -> tuple[np.ndarray | list[int], Encoding]:
    """Scale ``values`` to plaintext integers.

    Returns an int64 array (fast path, every ``|v| < 2**62``) or a list of Python
    ints, and the encoding.  Ints without ``frac_bits`` use the integer encoding;
    floats, or anything with ``frac_bits``, fixed point.
    """
    arr = _as_1d(values)
    kind = arr.dtype.kind
    if kind == "b":
        raise InvalidTypeError("booleans are not numbers here; convert them to int")
    if kind == "O":
        for v in arr:
            _check_python_number(v)
        if any(isinstance(v, (float, np.floating)) for v in arr) or frac_bits is not None:
            f = DEFAULT_FRAC_BITS if frac_bits is None else _check_frac_bits(frac_bits)
            ints: list[int] = []
            for v in arr:
                if isinstance(v, (float, np.floating)):
                    fv = float(v)
                    if not math.isfinite(fv):
                        raise EncodingError("cannot encode NaN or infinity")
                    ints.append(_fixed(fv, f))
                else:
                    ints.append(int(v) << f)
            return ints, Encoding(True, f)
        return [int(v) for v in arr], INTEGER
    if kind in "iu":
        if frac_bits is None:
            if kind == "u" and arr.size and int(arr.max()) >= 1 << 62:
                return [int(v) for v in arr], INTEGER
            return arr.astype(np.int64), INTEGER
        f = _check_frac_bits(frac_bits)
        big = arr.size and max(abs(int(arr.max())), abs(int(arr.min()))) >= 1 << max(0, 62 - f)
        if big or f >= 62:
            return [int(v) << f for v in arr], Encoding(True, f)
        return arr.astype(np.int64) << np.int64(f), Encoding(True, f)
    if kind == "f":
        f = DEFAULT_FRAC_BITS if frac_bits is None else _check_frac_bits(frac_bits)
        x = arr.astype(np.float64)
        if not np.isfinite(x).all():
            raise EncodingError("cannot encode NaN or infinity")
        with np.errstate(over="ignore"):
            scaled = np.rint(np.ldexp(x, f)) if f < 1024 else None
        if scaled is not None and (scaled.size == 0 or float(np.abs(scaled).max()) < 2.0**62):
            return scaled.astype(np.int64), Encoding(True, f)
        if scaled is not None and np.isfinite(scaled).all():
            # x * 2**f is exact in float64 (a power-of-two scaling that did not overflow) and
            # rint is exact, so converting the floats to ints is exact too.
            return [int(v) for v in scaled.tolist()], Encoding(True, f)
        return [_fixed(float(v), f) for v in x], Encoding(True, f)
    raise InvalidTypeError(f"cannot encode values of dtype {arr.dtype}")


def residues(pk: PublicParams, ints: np.ndarray | list[int]) -> LimbArray:
    """Plaintext residues ``v mod n`` of scaled integers, range-checked against ``max_int``."""
    if isinstance(ints, np.ndarray):
        return int64_to_residues(ints, pk._n_row)  # |v| < 2**63 <= max_int for any allowed key
    n, max_int = pk.n, pk.max_int
    out = []
    for v in ints:
        if not -max_int <= v <= max_int:
            raise EncodingOverflowError("a value is too large for this key's plaintext space")
        out.append(v % n)
    return ints_to_limbs(out, pk.plaintext_width)


def encode(
    pk: PublicParams, values: Any, *, frac_bits: int | None = None
) -> tuple[LimbArray, Encoding]:
    """Encode ``values`` to plaintext residues for ``pk``; returns ``(limbs, encoding)``."""
    ints, enc = to_integers(values, frac_bits)
    return residues(pk, ints), enc


def encode_with(pk: PublicParams, values: Any, encoding: Encoding) -> LimbArray:
    """Encode plaintext operands to match an existing ``encoding`` (for ``+``/``-``)."""
    if encoding.is_float:
        ints, _ = to_integers(values, encoding.frac_bits)
    else:
        ints, enc = to_integers(values, None)
        if enc.is_float:
            raise EncodingError(
                "cannot add floats to an integer-encoded vector; encrypt it with frac_bits / floats"
            )
    return residues(pk, ints)


def decode(pk: PublicParams, m: LimbArray, encoding: Encoding) -> np.ndarray:
    """Decode plaintext residues; raise EncodingOverflowError for values in the overflow gap."""
    count = m.shape[0]
    if count == 0:
        return np.zeros(0, dtype=np.float64 if encoding.is_float else np.int64)
    pos = fits_bits(m, 62)
    neg_mag = row_minus(pk._n_row, m)
    neg = fits_bits(neg_mag, 62) & ~pos
    fast = pos | neg
    f = encoding.frac_bits
    if fast.all():
        vals = np.where(pos, m[:, 0].view(np.int64), -neg_mag[:, 0].view(np.int64))
        if encoding.is_float:
            return np.ldexp(vals.astype(np.float64), -f)
        return vals
    n, max_int = pk.n, pk.max_int
    ints: list[int] = []
    for v in limbs_to_ints(m):
        if v <= max_int:
            ints.append(v)
        elif v >= n - max_int:
            ints.append(v - n)
        else:
            raise EncodingOverflowError(
                "a decrypted value is outside the encoding's range (homomorphic overflow)"
            )
    if encoding.is_float:
        try:
            return np.array([v / (1 << f) if f else float(v) for v in ints], dtype=np.float64)
        except OverflowError:
            raise EncodingOverflowError("a decrypted value does not fit a float64") from None
    if all(-(1 << 63) <= v < 1 << 63 for v in ints):
        return np.array(ints, dtype=np.int64)
    out = np.empty(count, dtype=object)
    out[:] = ints
    return out
