"""The backend interface: batch modular arithmetic on limb arrays.

Three implementations exist (``native`` over GMP in C, ``gmpy2``, ``pure`` Python
ints); all take and return limb arrays in the layout of :mod:`._limbs` and give
bit-identical results.  The public methods here check shapes, types and moduli
once, in Python, then call the implementation's ``_``-prefixed method.  Checks
that need the values (each base below the modulus) are done by the
implementation, under the GIL, before any arithmetic.
"""

from __future__ import annotations

import operator
import os
from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from ..exceptions import InvalidArgumentError, InvalidTypeError
from ._limbs import LimbArray, check_limbs, width_of

__all__ = ["Backend", "FixedBaseTable", "default_threads", "check_modulus", "check_threads"]


def default_threads() -> int:
    """Number of cores this process may run on (the default ``threads``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def check_threads(threads: int | None) -> int:
    """Resolve ``threads`` (None = all cores) and validate it."""
    if threads is None:
        return default_threads()
    if isinstance(threads, bool) or not isinstance(threads, int):
        raise InvalidTypeError("threads must be an int or None")
    if threads < 1:
        raise InvalidArgumentError("threads must be at least 1")
    return threads


def check_modulus(mod: object, *, odd: bool = False) -> int:
    """Validate a modulus: an int > 1, odd when ``odd`` (constant-time paths, Montgomery)."""
    if isinstance(mod, bool) or not hasattr(mod, "__index__"):
        raise InvalidTypeError(f"modulus must be an integer, got {type(mod).__name__}")
    m = operator.index(mod)
    if m <= 1:
        raise InvalidArgumentError("modulus must be greater than 1")
    if odd and m % 2 == 0:
        raise InvalidArgumentError("modulus must be odd for this operation")
    return int(m)


def _check_pair(a: LimbArray, b: LimbArray, what_a: str, what_b: str, *, broadcast_b: bool) -> None:
    n_a, n_b = a.shape[0], b.shape[0]
    if n_a != n_b and not (broadcast_b and n_b == 1):
        raise InvalidArgumentError(
            f"{what_a} and {what_b} have different lengths ({n_a} and {n_b})"
        )


class FixedBaseTable(ABC):
    """Precomputed powers of one base modulo one modulus; immutable and thread-safe.

    ``pow(exps)`` returns ``base ** e mod m`` for each exponent row, faster than a
    plain exponentiation because the squarings were done once, at construction.
    Exponents wider than ``max_exp_bits`` are rejected.
    """

    def __init__(self, base: int, mod: int, max_exp_bits: int, secret: bool = False) -> None:
        self._base = base
        self._mod = mod
        self._max_exp_bits = max_exp_bits
        self._secret = secret

    @property
    def base(self) -> int:
        return self._base

    @property
    def mod(self) -> int:
        return self._mod

    @property
    def max_exp_bits(self) -> int:
        return self._max_exp_bits

    @property
    def secret(self) -> bool:
        """Whether ``pow`` is constant time in the exponent."""
        return self._secret

    def pow(self, exps: LimbArray, *, threads: int | None = None) -> LimbArray:
        """``base ** e mod m`` for every row ``e`` of the limb array ``exps``."""
        exps = check_limbs(exps, "exponents")
        nthreads = check_threads(threads)
        return self._pow(exps, nthreads)

    @abstractmethod
    def _pow(self, exps: LimbArray, threads: int) -> LimbArray: ...

    def __reduce__(self) -> Any:
        raise TypeError("fixed-base tables are process-local and cannot be pickled")


class Backend(ABC):
    """Batch modular arithmetic over limb arrays (see :mod:`._limbs` for the layout)."""

    name: str = "abstract"

    # -- public, validated entry points ------------------------------------------------
    def powmod(
        self,
        bases: LimbArray,
        exps: LimbArray,
        mod: int,
        *,
        secret: bool = False,
        threads: int | None = None,
    ) -> LimbArray:
        """``bases[i] ** exps[i] mod mod`` for every row.

        ``exps`` has one row per base, or a single row shared by all bases.
        ``secret=True`` uses constant-time exponentiation (requires an odd modulus).
        Every base must be below ``mod``.
        """
        bases = check_limbs(bases, "bases")
        exps = check_limbs(exps, "exponents")
        m = check_modulus(mod, odd=secret)
        _check_pair(bases, exps, "bases", "exponents", broadcast_b=True)
        return self._powmod(bases, exps, m, bool(secret), check_threads(threads))

    def mulmod(
        self, a: LimbArray, b: LimbArray, mod: int, *, threads: int | None = None
    ) -> LimbArray:
        """``a[i] * b[i] mod mod`` elementwise; both operands below ``mod``."""
        a = check_limbs(a, "left operands")
        b = check_limbs(b, "right operands")
        m = check_modulus(mod)
        _check_pair(a, b, "left operands", "right operands", broadcast_b=True)
        return self._mulmod(a, b, m, check_threads(threads))

    def prodmod(self, values: LimbArray, mod: int, *, threads: int | None = None) -> LimbArray:
        """The product of all rows mod ``mod`` as a ``(1, width)`` array (1 for an empty batch)."""
        values = check_limbs(values, "values")
        m = check_modulus(mod)
        return self._prodmod(values, m, check_threads(threads))

    def multi_powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, *, threads: int | None = None
    ) -> LimbArray:
        """``prod(bases[i] ** exps[i]) mod mod`` as a ``(1, width)`` array (1 when empty)."""
        bases = check_limbs(bases, "bases")
        exps = check_limbs(exps, "exponents")
        m = check_modulus(mod)
        _check_pair(bases, exps, "bases", "exponents", broadcast_b=False)
        return self._multi_powmod(bases, exps, m, check_threads(threads))

    def fixed_base(
        self, base: int, mod: int, max_exp_bits: int, *, secret: bool = False
    ) -> FixedBaseTable:
        """Precompute a table for raising ``base`` to exponents of up to ``max_exp_bits`` bits.

        ``secret=True`` makes ``pow`` constant time in the exponent (every table row is read
        whole, a fixed number of products per exponent; odd modulus required): use it
        whenever the exponent is secret, e.g. Paillier DJN randomizers.
        """
        m = check_modulus(mod, odd=secret)
        if isinstance(base, bool) or not isinstance(base, int):
            raise InvalidTypeError("base must be an int")
        if not 0 <= base < m:
            raise InvalidArgumentError("base must be in [0, modulus)")
        if isinstance(max_exp_bits, bool) or not isinstance(max_exp_bits, int):
            raise InvalidTypeError("max_exp_bits must be an int")
        if not 1 <= max_exp_bits <= 1 << 16:
            raise InvalidArgumentError("max_exp_bits must be between 1 and 65536")
        return self._fixed_base(base, m, max_exp_bits, bool(secret))

    def crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, *, threads: int | None = None
    ) -> LimbArray:
        """The unique ``x mod p*q`` with ``x = rp[i] mod p`` and ``x = rq[i] mod q``.

        ``p`` and ``q`` must be coprime; ``rp`` rows below ``p``, ``rq`` rows below ``q``.
        """
        rp = check_limbs(rp, "residues mod p")
        rq = check_limbs(rq, "residues mod q")
        pp = check_modulus(p)
        qq = check_modulus(q)
        _check_pair(rp, rq, "residues mod p", "residues mod q", broadcast_b=False)
        try:
            q_inv = pow(qq, -1, pp)
        except ValueError:
            raise InvalidArgumentError("CRT moduli must be coprime") from None
        return self._crt(rp, rq, pp, qq, q_inv, check_threads(threads))

    def info(self) -> dict[str, str]:
        """Name and library versions of this backend."""
        return {"name": self.name}

    # -- implementation hooks ----------------------------------------------------------
    @abstractmethod
    def _powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, secret: bool, threads: int
    ) -> LimbArray: ...

    @abstractmethod
    def _mulmod(self, a: LimbArray, b: LimbArray, mod: int, threads: int) -> LimbArray: ...

    @abstractmethod
    def _prodmod(self, values: LimbArray, mod: int, threads: int) -> LimbArray: ...

    @abstractmethod
    def _multi_powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, threads: int
    ) -> LimbArray: ...

    @abstractmethod
    def _fixed_base(
        self, base: int, mod: int, max_exp_bits: int, secret: bool
    ) -> FixedBaseTable: ...

    @abstractmethod
    def _crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, q_inv: int, threads: int
    ) -> LimbArray: ...


def output_width(mod: int) -> int:
    """Limb width of results modulo ``mod``."""
    return width_of(mod - 1)


def empty_result(mod: int) -> LimbArray:
    return np.zeros((0, output_width(mod)), dtype=np.uint64)
