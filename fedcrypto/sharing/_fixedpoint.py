"""Fixed-point encoding of floats as ring or field elements.

A real ``x`` is encoded as the integer ``v = round(x * 2**f)`` (round half to even),
stored as its residue in the domain: in Z_2^64 as 64-bit two's complement, in a prime
field ``p`` as ``v mod p``.  Decoding takes the centred representative (``[-2**63, 2**63)``
in the ring, ``(-p/2, p/2)`` in a field) and divides by ``2**f``, so negative values
decode exactly.

Ranges (``f`` fractional bits, default 16):

* Z_2^64: ``|x| < 2**(63 - f)`` (about 1.4e14 for f = 16); resolution ``2**-f``.
  Decoding converts to float64, exact while ``|v| <= 2**53``.
* GF(p): ``|x| <= (p - 1) / 2 / 2**f`` (16383.99 for p = 2**31 - 1 and f = 16).
* Products: multiplying two encodings gives ``2f`` fractional bits and must be truncated
  (see :mod:`fedcrypto.sharing._beaver`); the product ``x * y`` must satisfy
  ``|x * y| < 2**(62 - 2f)`` (1.07e9 for f = 16) for the dealer-assisted truncation, and
  smaller for the two-party local truncation (failure probability ``2**(l + 1 - 64)``
  where ``2**l`` bounds ``|x * y| * 2**(2f)``).
* Sums of ``k`` encodings need ``|sum| `` within the same range; nothing wraps silently
  at encode time, but sums computed on shares cannot be checked and wrap modulo the domain.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from ..exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
)
from ._domain import RING64, Domain, Ring64

__all__ = ["FixedPoint", "DEFAULT_FRAC_BITS"]

DEFAULT_FRAC_BITS = 16
#: Elements per block when encoding large arrays (256 KiB of float64: stays in L2 cache).
_BLOCK = 1 << 15


class FixedPoint(Immutable):
    """Fixed-point codec with ``frac_bits`` fractional bits over a share domain.

    Args:
        frac_bits: ``f``, the number of fractional bits (0..40; default 16).
        domain: :data:`~fedcrypto.sharing.RING64` (default) or a
            :class:`~fedcrypto.sharing.PrimeField`.

    Raises:
        InvalidTypeError, InvalidArgumentError: bad arguments, or a field too small to
            hold at least one integer bit.
    """

    __slots__ = ("_f", "_domain", "_max_int")
    _f: int
    _domain: Domain
    _max_int: int

    def __init__(self, frac_bits: int = DEFAULT_FRAC_BITS, *, domain: Domain = RING64) -> None:
        if not isinstance(frac_bits, int) or isinstance(frac_bits, bool):
            raise InvalidTypeError("frac_bits must be an int")
        if not 0 <= frac_bits <= 40:
            raise InvalidArgumentError("frac_bits must be between 0 and 40")
        if not isinstance(domain, Domain):
            raise InvalidTypeError("domain must be RING64 or a PrimeField")
        max_int = (1 << 63) - 1 if isinstance(domain, Ring64) else (domain.modulus - 1) // 2
        if max_int < 1 << frac_bits:
            raise InvalidArgumentError("the field is too small for this many fractional bits")
        self._set(_f=frac_bits, _domain=domain, _max_int=max_int)

    def __repr__(self) -> str:
        return f"FixedPoint(frac_bits={self._f}, domain={self._domain!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, FixedPoint) and other._f == self._f and other._domain == self._domain
        )

    def __hash__(self) -> int:
        return hash((self._f, self._domain))

    @property
    def frac_bits(self) -> int:
        """``f``, the number of fractional bits."""
        return self._f

    @property
    def domain(self) -> Domain:
        """The domain encodings live in."""
        return self._domain

    @property
    def max_abs(self) -> float:
        """The largest magnitude that can be encoded (``max_int / 2**f``)."""
        return self._max_int / float(1 << self._f)

    @property
    def resolution(self) -> float:
        """One unit in the last place, ``2**-f``."""
        return 1.0 / float(1 << self._f)

    def encode(self, values: npt.ArrayLike) -> npt.NDArray[Any]:
        """Encode reals as domain elements ``round(x * 2**f) mod m``.

        Args:
            values: a float array (or anything numpy turns into one), any shape.

        Returns:
            Domain elements of the same shape (uint64, or object ints for big fields).

        Raises:
            EncodingError: NaN, infinity, or non-numeric input.
            EncodingOverflowError: some ``|x| * 2**f`` exceeds the domain's range.
        """
        try:
            x = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise EncodingError("fixed-point encoding needs real numbers") from None
        dom = self._domain
        if isinstance(dom, Ring64) and x.size > _BLOCK:
            return self._encode_ring_blocked(x)
        scaled = np.asarray(x * float(1 << self._f))  # 0-d input: an array, not a scalar
        np.rint(scaled, out=scaled)
        overflow = EncodingOverflowError(
            f"value out of the fixed-point range (|x| <= {self.max_abs:.6g})"
        )
        # max/min propagate NaN, so one check catches NaN, infinities and overflow.
        biggest = max(float(scaled.max()), -float(scaled.min())) if scaled.size else 0.0
        if not biggest <= 2.0**1023:
            if not np.isfinite(x).all():
                raise EncodingError("cannot encode NaN or infinity")
            raise overflow  # finite but |x| * 2**f overflows a float: beyond every domain
        if isinstance(dom, Ring64):
            if biggest >= 2.0**63:  # every float below 2**63 fits an int64 exactly
                raise overflow
            return scaled.astype(np.int64).view(np.uint64)  # exact two's complement
        if dom.vectorised:  # max_int < 2**31: the float comparison is exact
            if biggest > float(self._max_int):
                raise overflow
            return dom.from_ints(scaled.astype(np.int64))
        flat = [int(v) for v in scaled.ravel().tolist()]
        if any(abs(v) > self._max_int for v in flat):
            raise overflow
        ints = np.empty(len(flat), dtype=object)
        ints[:] = flat
        return dom.from_ints(ints.reshape(scaled.shape))

    def _encode_ring_blocked(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.uint64]:
        """The Z_2^64 encoding of a large array, block by block so each pass stays in cache."""
        flat = x.reshape(-1)
        out = np.empty(flat.size, dtype=np.int64)
        buf = np.empty(_BLOCK, dtype=np.float64)
        scale = float(1 << self._f)
        for i in range(0, flat.size, _BLOCK):
            chunk = flat[i : i + _BLOCK]
            b = buf[: chunk.size]
            np.multiply(chunk, scale, out=b)
            np.rint(b, out=b)
            biggest = max(float(b.max()), -float(b.min()))
            if not biggest < 2.0**63:  # also catches NaN (comparisons with NaN are false)
                if not np.isfinite(chunk).all():
                    raise EncodingError("cannot encode NaN or infinity")
                raise EncodingOverflowError(
                    f"value out of the fixed-point range (|x| <= {self.max_abs:.6g})"
                )
            out[i : i + chunk.size] = b  # exact: integral floats below 2**63 in magnitude
        return out.view(np.uint64).reshape(x.shape)

    def decode(
        self, values: npt.NDArray[Any], *, frac_bits: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Decode domain elements to floats (centred lift, divided by ``2**f``).

        Args:
            values: domain elements (as returned by :meth:`encode` or a reconstruction).
            frac_bits: override ``f`` (e.g. ``2f`` for an untruncated product).

        Returns:
            A float64 array of the same shape.

        Raises:
            InvalidTypeError, InvalidArgumentError: values not valid domain elements.
        """
        f = self._f if frac_bits is None else int(frac_bits)
        dom = self._domain
        vals = dom.validate(np.asarray(values) if not isinstance(values, np.ndarray) else values)
        signed = dom.to_signed(vals)
        if signed.dtype == object:
            flat = [float(int(v)) / float(1 << f) for v in signed.ravel().tolist()]
            return np.array(flat, dtype=np.float64).reshape(signed.shape)
        out: npt.NDArray[np.float64] = np.multiply(
            signed, 1.0 / float(1 << f), dtype=np.float64
        )  # one pass: the int64 -> float64 conversion happens inside the loop
        return out
