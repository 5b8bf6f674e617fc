"""Integer operations one value at a time: the number type under each backend.

:class:`IntOps` is what the loop backends iterate with and what the backend's
int-level methods (``int_powmod``, ``jacobi``, ``is_probable_prime`` ...) and the
Python curve25519 hash-to-curve run on.  Two implementations:

* :class:`PureIntOps`: Python ints only (``pow``, ``math.isqrt``, a binary Jacobi
  symbol), always available;
* :class:`Gmpy2IntOps`: gmpy2's ``mpz`` (GMP), several times faster on big values.

This module and ``_intloop``/``_native`` are the only places that import gmpy2.
Values handed out are the implementation's number type; callers convert with
``int()`` where a Python int must leave the backend.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

_T = TypeVar("_T")

__all__ = ["IntOps", "PureIntOps", "Gmpy2IntOps", "best_int_ops", "SMALL_PRIMES"]

#: Odd and even primes below 100: trial division before any Miller–Rabin round.
SMALL_PRIMES = (
    2,
    3,
    5,
    7,
    11,
    13,
    17,
    19,
    23,
    29,
    31,
    37,
    41,
    43,
    47,
    53,
    59,
    61,
    67,
    71,
    73,
    79,
    83,
    89,
    97,
)


class IntOps(ABC):
    """One number type and the handful of operations the backends need on it.

    Preconditions are the caller's (the :class:`~fedcrypto._backend.Backend` methods
    check them): moduli > 1, odd ``n`` for ``jacobi``, ``2 <= a <= n - 2`` and odd
    ``n > 3`` for ``is_strong_prp``.
    """

    name: str = "abstract"

    def __init__(self) -> None:
        self._memo: dict[str, Any] = {}

    def cached(self, key: str, make: Callable[[IntOps], _T]) -> _T:
        """``make(self)``, computed once per ``key`` and kept with this number type.

        For constants converted to the number type (a curve's ``p``, ``A``, ``B`` ...):
        hot loops then skip the conversions.  ``make`` must be a pure function of its
        argument; keys are fixed strings in the library's code, so the memo stays small.
        """
        try:
            return self._memo[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self._memo[key] = make(self)
            return value

    @abstractmethod
    def num(self, value: int) -> Any:
        """``value`` as this implementation's number type."""

    @abstractmethod
    def powmod(self, base: Any, exp: Any, mod: Any) -> Any:
        """``base ** exp mod mod`` (variable time), ``exp >= 0``."""

    @abstractmethod
    def powmod_sec(self, base: Any, exp: Any, mod: Any) -> Any:
        """``base ** exp mod mod`` in constant time where the implementation can (odd ``mod``)."""

    @abstractmethod
    def invert(self, value: Any, mod: Any) -> Any | None:
        """The inverse of ``value`` modulo ``mod``, or None when there is none."""

    @abstractmethod
    def jacobi(self, a: Any, n: Any) -> int:
        """The Jacobi symbol ``(a / n)`` for odd ``n > 0``: -1, 0 or 1."""

    @abstractmethod
    def is_square(self, n: Any) -> bool:
        """Whether ``n >= 0`` is a perfect square."""

    @abstractmethod
    def is_strong_prp(self, n: Any, a: Any) -> bool:
        """One Miller–Rabin round: is odd ``n`` a strong probable prime to base ``a``?"""


class PureIntOps(IntOps):
    """Python ints: always available, not constant time."""

    name = "pure"

    def num(self, value: int) -> int:
        return int(value)

    def powmod(self, base: Any, exp: Any, mod: Any) -> int:
        return pow(int(base), int(exp), int(mod))

    def powmod_sec(self, base: Any, exp: Any, mod: Any) -> int:
        return pow(int(base), int(exp), int(mod))  # not constant time; info() says so

    def invert(self, value: Any, mod: Any) -> int | None:
        try:
            return pow(int(value), -1, int(mod))
        except ValueError:
            return None

    def jacobi(self, a: Any, n: Any) -> int:
        # Binary Jacobi symbol: strip factors of two ((2/n) = -1 iff n = 3, 5 mod 8), then
        # swap by quadratic reciprocity (a sign flip iff a = n = 3 mod 4) and reduce.
        a, n = int(a) % int(n), int(n)
        sign = 1
        while a:
            twos = (a & -a).bit_length() - 1
            a >>= twos
            if twos & 1 and n & 7 in (3, 5):
                sign = -sign
            a, n = n, a
            if a & 3 == 3 and n & 3 == 3:
                sign = -sign
            a %= n
        return sign if n == 1 else 0

    def is_square(self, n: Any) -> bool:
        v = int(n)
        r = math.isqrt(v)
        return r * r == v

    def is_strong_prp(self, n: Any, a: Any) -> bool:
        n, a = int(n), int(a)
        d = n - 1
        s = (d & -d).bit_length() - 1
        d >>= s
        x = pow(a, d, n)
        if x == 1 or x == n - 1:
            return True
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                return True
        return False


class Gmpy2IntOps(IntOps):
    """gmpy2's mpz (the GMP bundled with gmpy2)."""

    name = "gmpy2"

    def __init__(self) -> None:
        import gmpy2  # ImportError when missing: the caller falls back

        super().__init__()
        self.gmpy2 = gmpy2

    def num(self, value: int) -> Any:
        return self.gmpy2.mpz(value)

    def powmod(self, base: Any, exp: Any, mod: Any) -> Any:
        return self.gmpy2.powmod(base, exp, mod)

    def powmod_sec(self, base: Any, exp: Any, mod: Any) -> Any:
        return self.gmpy2.powmod_sec(base, exp, mod)

    def invert(self, value: Any, mod: Any) -> Any | None:
        try:
            return self.gmpy2.invert(value, mod)
        except ZeroDivisionError:
            return None

    def jacobi(self, a: Any, n: Any) -> int:
        return int(self.gmpy2.jacobi(a, n))

    def is_square(self, n: Any) -> bool:
        return bool(self.gmpy2.is_square(n))

    def is_strong_prp(self, n: Any, a: Any) -> bool:
        try:
            return bool(self.gmpy2.is_strong_prp(n, a))
        except ValueError:  # gcd(n, a) > 1: a shares a factor with n, so n is composite
            return False


def best_int_ops() -> IntOps:
    """gmpy2 when it can be imported, else Python ints."""
    try:
        return Gmpy2IntOps()
    except ImportError:  # pragma: no cover - gmpy2 is a dependency
        return PureIntOps()
