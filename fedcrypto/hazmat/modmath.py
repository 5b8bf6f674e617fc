"""Raw modular arithmetic on Python ints, dispatched to the active backend.

.. warning::
   Hazardous material.  These are building blocks for framework authors; they do
   no protocol-level checks.  Prefer :mod:`fedcrypto.paillier`, :mod:`fedcrypto.psi`
   and friends.

Every function validates its arguments (integers, non-negative, values below the
modulus, modulus > 1, odd modulus for the constant-time path, matching lengths)
and raises :class:`~fedcrypto.exceptions.InvalidArgumentError` (a ``ValueError``)
or :class:`~fedcrypto.exceptions.InvalidTypeError` (a ``TypeError``).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

from .._backend import FixedBaseTable, check_modulus, get_backend
from .._backend._limbs import (
    int_to_limbs,
    ints_to_limbs,
    limbs_for_bits,
    limbs_to_int,
    limbs_to_ints,
    width_of,
)
from ..exceptions import InvalidArgumentError, InvalidTypeError

__all__ = [
    "powmod",
    "powmod_many",
    "mulmod_many",
    "prod_mod",
    "multi_powmod",
    "FixedBase",
    "invert",
    "crt",
    "is_probable_prime",
]


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    return int(operator.index(value))


def _residues(values: Sequence[int], mod: int, what: str) -> list[int]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InvalidTypeError(f"{what} must be a sequence of integers")
    out = [_int(v, what) for v in values]
    for v in out:
        if not 0 <= v < mod:
            raise InvalidArgumentError(f"every {what} must be in [0, modulus)")
    return out


def _exponents(exps: int | Sequence[int], count: int) -> list[int]:
    if hasattr(exps, "__index__") and not isinstance(exps, bool):
        es = [_int(exps, "exponent")]
    else:
        if isinstance(exps, (str, bytes)) or not hasattr(exps, "__len__"):
            raise InvalidTypeError("exponents must be an int or a sequence of ints")
        es = [_int(e, "exponent") for e in exps]  # type: ignore[union-attr]
        if len(es) != count:
            raise InvalidArgumentError(f"got {count} bases but {len(es)} exponents")
    if any(e < 0 for e in es):
        raise InvalidArgumentError(
            "exponents must be non-negative (use invert for negative powers)"
        )
    return es


def powmod(base: int, exp: int, mod: int, *, secret: bool = False) -> int:
    """``base ** exp mod mod`` for one base (``0 <= base < mod``, ``exp >= 0``)."""
    return powmod_many([base], exp, mod, secret=secret, threads=1)[0]


def powmod_many(
    bases: Sequence[int],
    exps: int | Sequence[int],
    mod: int,
    *,
    secret: bool = False,
    exp_bits: int | None = None,
    threads: int | None = None,
) -> list[int]:
    """``b ** e mod mod`` for each base; ``exps`` is one shared int or one per base.

    ``secret=True`` selects constant-time exponentiation (``mpz_powm_sec``) for
    secret exponents and requires an odd modulus.  Its running time depends on the
    width of the exponent rows, so pass ``exp_bits``, a public bound on the exponents
    (e.g. the group order's size): rows are then that wide whatever the exponents'
    values.  Without it the width follows the largest exponent in the batch.
    ``threads`` defaults to all cores.
    """
    m = check_modulus(mod, odd=secret)
    bs = _residues(bases, m, "base")
    es = _exponents(exps, len(bs))
    if not bs:
        return []
    e_width = None
    if exp_bits is not None:
        bound = _int(exp_bits, "exp_bits")
        if bound < 1 or any(e.bit_length() > bound for e in es):
            raise InvalidArgumentError("every exponent must fit in exp_bits bits")
        e_width = limbs_for_bits(bound)
    b_arr = ints_to_limbs(bs, width_of(m))
    e_arr = ints_to_limbs(es, e_width)
    return limbs_to_ints(get_backend().powmod(b_arr, e_arr, m, secret=secret, threads=threads))


def mulmod_many(
    a: Sequence[int], b: Sequence[int], mod: int, *, threads: int | None = None
) -> list[int]:
    """``a[i] * b[i] mod mod`` elementwise (equal lengths, values in ``[0, mod)``)."""
    m = check_modulus(mod)
    xs = _residues(a, m, "left operand")
    ys = _residues(b, m, "right operand")
    if len(xs) != len(ys):
        raise InvalidArgumentError(f"operands have different lengths ({len(xs)} and {len(ys)})")
    if not xs:
        return []
    w = width_of(m)
    return limbs_to_ints(
        get_backend().mulmod(ints_to_limbs(xs, w), ints_to_limbs(ys, w), m, threads=threads)
    )


def prod_mod(values: Sequence[int], mod: int) -> int:
    """The product of ``values`` mod ``mod`` (1 for an empty sequence)."""
    m = check_modulus(mod)
    xs = _residues(values, m, "value")
    if not xs:
        return 1
    return limbs_to_int(get_backend().prodmod(ints_to_limbs(xs, width_of(m)), m))


def multi_powmod(
    bases: Sequence[int], exps: Sequence[int], mod: int, *, threads: int | None = None
) -> int:
    """``prod(b ** e) mod mod`` computed as one multi-exponentiation (1 when empty)."""
    m = check_modulus(mod)
    bs = _residues(bases, m, "base")
    if isinstance(exps, int):
        raise InvalidTypeError("multi_powmod takes one exponent per base")
    es = _exponents(exps, len(bs))
    if not bs:
        return 1
    out = get_backend().multi_powmod(
        ints_to_limbs(bs, width_of(m)), ints_to_limbs(es), m, threads=threads
    )
    return limbs_to_int(out)


class FixedBase:
    """A base raised to many exponents, with its powers precomputed once.

    The table is immutable and can be shared by threads.  Exponents must be
    non-negative and at most ``max_exp_bits`` bits wide.
    """

    __slots__ = ("_table",)

    def __init__(self, base: int, mod: int, *, max_exp_bits: int, secret: bool = False) -> None:
        """Precompute the table; ``secret=True`` makes every ``pow`` constant time in the
        exponent (odd modulus required) — use it when exponents are secret."""
        m = check_modulus(mod, odd=secret)
        b = _int(base, "base")
        if not 0 <= b < m:
            raise InvalidArgumentError("base must be in [0, modulus)")
        self._table: FixedBaseTable = get_backend().fixed_base(
            b, m, _int(max_exp_bits, "max_exp_bits"), secret=secret
        )

    @property
    def table(self) -> FixedBaseTable:
        """The backend table, for callers working on limb arrays."""
        return self._table

    @property
    def max_exp_bits(self) -> int:
        return self._table.max_exp_bits

    def pow(self, exp: int) -> int:
        """``base ** exp mod mod``."""
        return self.pow_many([exp], threads=1)[0]

    def pow_many(self, exps: Sequence[int], *, threads: int | None = None) -> list[int]:
        """``base ** e mod mod`` for each exponent."""
        es = _exponents(list(exps), len(exps))
        if not es:
            return []
        for e in es:
            if e.bit_length() > self._table.max_exp_bits:
                raise InvalidArgumentError(
                    f"exponent wider than the table's {self._table.max_exp_bits} bits"
                )
        return limbs_to_ints(self._table.pow(ints_to_limbs(es), threads=threads))

    def __repr__(self) -> str:
        return (
            f"FixedBase(mod_bits={self._table.mod.bit_length()}, max_exp_bits={self.max_exp_bits}, "
            f"secret={self._table.secret})"
        )


def invert(value: int, mod: int) -> int:
    """The inverse of ``value`` modulo ``mod``; InvalidArgumentError if none exists."""
    m = check_modulus(mod)
    v = _int(value, "value")
    try:
        return pow(v, -1, m)
    except ValueError:
        raise InvalidArgumentError("value is not invertible modulo the modulus") from None


def crt(residues: Sequence[int], moduli: Sequence[int]) -> int:
    """The unique ``x`` modulo ``prod(moduli)`` with ``x = r_i mod m_i`` (pairwise coprime moduli).

    Two moduli go through the backend's CRT kernel; more are folded pairwise.
    """
    ms = [check_modulus(m) for m in moduli]
    if not ms:
        raise InvalidArgumentError("crt needs at least one modulus")
    rs = [_int(r, "residue") for r in residues]
    if len(rs) != len(ms):
        raise InvalidArgumentError("crt needs one residue per modulus")
    for r, m in zip(rs, ms, strict=True):
        if not 0 <= r < m:
            raise InvalidArgumentError("every residue must be in [0, its modulus)")
    x, m_acc = rs[0], ms[0]
    backend = get_backend()
    for r, m in zip(rs[1:], ms[1:], strict=True):
        out = backend.crt(
            int_to_limbs(x, width_of(m_acc)), int_to_limbs(r, width_of(m)), m_acc, m, threads=1
        )
        x, m_acc = limbs_to_int(out), m_acc * m
    return x


def is_probable_prime(n: int, *, rounds: int = 40) -> bool:
    """Miller–Rabin with ``rounds`` random bases from ``secrets`` (error below 4**-rounds)."""
    import secrets

    n = _int(n, "n")
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    try:
        import gmpy2

        return bool(gmpy2.is_strong_prp(n, 2)) and all(
            gmpy2.is_strong_prp(n, 2 + secrets.randbelow(n - 3)) for _ in range(rounds)
        )
    except ImportError:  # pragma: no cover - gmpy2 is a dependency
        pass
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for _ in range(rounds):
        a = 2 + secrets.randbelow(n - 3)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


_SMALL_PRIMES = (
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
