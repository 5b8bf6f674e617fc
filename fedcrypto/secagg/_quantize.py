"""Quantization of float updates into ``Z_{2^k}`` for secure aggregation.

Encoding: clip each value to ``[-clip, clip]``, multiply by ``scale``, round
*stochastically* to an integer (``floor(v) + 1`` with probability ``v - floor(v)``,
using the AES-CTR :class:`~fedcrypto._random.VectorRNG`, so the rounding is unbiased:
``E[q] = v``), and store the integer mod ``2^k`` (negatives in two's complement).

Decoding a sum of ``n`` encodings reads it as a signed integer in
``[-2^(k-1), 2^(k-1))`` and divides by ``scale``.  This is exact as long as
``|sum| < 2^(k-1)``; each encoding is at most ``ceil(clip * scale)`` in absolute
value, so the *headroom check* ``n * ceil(clip * scale) < 2^(k-1)`` guarantees the
sum over ``n`` clients can never wrap.  :class:`Quantizer` refuses any configuration
that fails it (``EncodingOverflowError``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import EncodingError, EncodingOverflowError, InvalidArgumentError

__all__ = ["Quantizer", "check_headroom"]


def check_headroom(*, clip: float, scale: float, modulus_bits: int, num_clients: int) -> None:
    """Refuse parameters whose sum over ``num_clients`` clients could wrap mod ``2^k``.

    Condition: ``num_clients * ceil(clip * scale) < 2^(k - 1)``.

    Raises:
        EncodingOverflowError: the sum could wrap.
        InvalidArgumentError: non-positive or non-finite parameters.
    """
    if not (math.isfinite(clip) and clip > 0 and math.isfinite(scale) and scale > 0):
        raise InvalidArgumentError("clip and scale must be positive finite numbers")
    if not isinstance(modulus_bits, int) or not 2 <= modulus_bits <= 64:
        raise InvalidArgumentError("modulus_bits must be between 2 and 64")
    if not isinstance(num_clients, int) or num_clients < 1:
        raise InvalidArgumentError("num_clients must be a positive integer")
    bound = math.ceil(clip * scale)
    if num_clients * bound >= 1 << (modulus_bits - 1):
        raise EncodingOverflowError(
            f"the sum of {num_clients} values of magnitude up to {bound} could wrap modulo "
            f"2^{modulus_bits}: lower the scale or clip, or raise modulus_bits"
        )


@dataclass(frozen=True)
class Quantizer(Immutable):
    """Float vectors <-> ``Z_{2^k}`` with clipping, stochastic rounding and a headroom guarantee.

    Build with :meth:`create` (explicit scale) or :meth:`for_clients` (largest safe scale).

    Attributes:
        clip: values are clipped to ``[-clip, clip]``.
        scale: quantization steps per unit (resolution ``1 / scale``).
        modulus_bits: ``k``.
        num_clients: the largest number of clients whose sum must not wrap.
    """

    clip: float
    scale: float
    modulus_bits: int
    num_clients: int

    @classmethod
    def create(cls, *, clip: float, scale: float, modulus_bits: int, num_clients: int) -> Quantizer:
        """Validate with :func:`check_headroom` and build.

        Raises:
            EncodingOverflowError: the sum over ``num_clients`` could wrap.
        """
        check_headroom(clip=clip, scale=scale, modulus_bits=modulus_bits, num_clients=num_clients)
        return cls(float(clip), float(scale), modulus_bits, num_clients)

    @classmethod
    def for_clients(cls, *, clip: float, modulus_bits: int, num_clients: int) -> Quantizer:
        """The finest power-of-two scale that passes the headroom check.

        ``scale = 2^floor(log2((2^(k-1) - 1) / (n * clip)))`` reduced until the check holds.

        Raises:
            EncodingOverflowError: not even ``scale = 2^-30`` fits.
        """
        if not (math.isfinite(clip) and clip > 0):
            raise InvalidArgumentError("clip must be a positive finite number")
        if not isinstance(num_clients, int) or num_clients < 1:
            raise InvalidArgumentError("num_clients must be a positive integer")
        limit = ((1 << (modulus_bits - 1)) - 1) / num_clients
        e = math.floor(math.log2(limit / clip)) if limit > 0 else -31
        while e >= -30:
            scale = math.ldexp(1.0, e)
            if num_clients * math.ceil(clip * scale) < 1 << (modulus_bits - 1):
                return cls.create(
                    clip=clip, scale=scale, modulus_bits=modulus_bits, num_clients=num_clients
                )
            e -= 1
        raise EncodingOverflowError("no usable scale: raise modulus_bits or lower num_clients")

    def quantize(
        self, values: npt.ArrayLike, *, rng: VectorRNG | None = None
    ) -> npt.NDArray[np.uint64]:
        """Encode floats: clip, scale, stochastic rounding, mod ``2^k``.

        Args:
            values: a 1-D float array.
            rng: randomness for the rounding (default: a fresh OS-keyed VectorRNG).

        Returns:
            uint64 array of values in ``[0, 2^k)``.

        Raises:
            EncodingError: NaN or infinite values, or not a 1-D numeric array.
        """
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim != 1:
            raise EncodingError("quantize expects a 1-D vector")
        if not np.all(np.isfinite(arr)):
            raise EncodingError("cannot quantize NaN or infinite values")
        rng = rng if rng is not None else VectorRNG()
        scaled = np.clip(arr, -self.clip, self.clip) * self.scale
        low = np.floor(scaled)
        q = low + (rng.uniform(arr.size) < (scaled - low))
        ints = q.astype(np.int64)
        out = ints.astype(np.uint64)  # two's complement wrap
        if self.modulus_bits < 64:
            out &= np.uint64((1 << self.modulus_bits) - 1)
        return out

    def dequantize(
        self, aggregate: npt.ArrayLike, *, count: int | None = None
    ) -> npt.NDArray[np.float64]:
        """Decode a sum of encodings (mod ``2^k``) into floats: signed reading, divide by scale.

        Args:
            aggregate: values in ``[0, 2^k)`` (e.g. ``AggregationResult.aggregate``).
            count: how many clients were summed; if given and above ``num_clients``,
                the sum may have wrapped and an error is raised.

        Raises:
            EncodingOverflowError: ``count > num_clients``.
        """
        if count is not None and count > self.num_clients:
            raise EncodingOverflowError(
                f"{count} clients exceed the {self.num_clients} this quantizer was sized for"
            )
        arr = np.ascontiguousarray(aggregate, dtype=np.uint64)
        shift = np.uint64(64 - self.modulus_bits)
        # Sign-extend from k bits: move bit k-1 to the top, then shift back arithmetically.
        signed = (arr << shift).view(np.int64) >> shift.astype(np.int64)
        return signed.astype(np.float64) / self.scale
