"""Raw modular arithmetic on Python ints, dispatched to the active backend.

.. warning::
   Hazardous material.  These are building blocks for framework authors; they do
   no protocol-level checks.  Prefer :mod:`fedcrypto.paillier`, :mod:`fedcrypto.psi`
   and friends.

Accepted types, everywhere in this module:

* an *integer* is a Python ``int`` or a numpy integer scalar (never ``bool``,
  ``numpy.bool_``, ``float`` or ``str``);
* a *sequence of integers* is a ``list``, ``tuple``, ``range`` or other
  :class:`~collections.abc.Sequence` of integers, or a 1-D numpy array of an integer
  (or object) dtype.  Iterators and generators are refused (they have no length to
  check and could be unbounded): pass ``list(gen)``;
* ``secret`` is a real ``bool``; ``rounds``, ``exp_bits``, ``max_exp_bits``,
  ``max_table_bytes`` and ``threads`` are integers.

Anything else raises :class:`~fedcrypto.exceptions.InvalidTypeError` (a ``TypeError``);
values out of range (negative, not below the modulus, modulus <= 1, even modulus on
a constant-time path, mismatched lengths, over a cap) raise
:class:`~fedcrypto.exceptions.InvalidArgumentError` (a ``ValueError``).

Caps: exponents given with ``exp_bits`` and fixed-base tables take at most 65,536-bit
exponents; a fixed-base table takes at most ``max_table_bytes`` (96 MiB by default).
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import numpy as np

from .._backend import (
    DEFAULT_MAX_TABLE_BYTES,
    MAX_EXP_BITS,
    FixedBaseTable,
    check_bool,
    check_modulus,
    get_backend,
    int_to_limbs,
    ints_to_limbs,
    limbs_for_bits,
    limbs_to_int,
    limbs_to_ints,
    width_of,
)
from .._immutable import Immutable
from .._random import DEFAULT_PRIME_ROUNDS, MAX_PRIME_ROUNDS
from .._random import is_probable_prime as _is_probable_prime
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
    "MAX_EXP_BITS",
    "DEFAULT_MAX_TABLE_BYTES",
    "MAX_PRIME_ROUNDS",
]

IntSeq = Sequence[int] | np.ndarray


def _int(value: object, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    try:
        return int(operator.index(value))
    except TypeError:  # e.g. a numpy array of several elements has __index__ but refuses it
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}") from None


def _is_scalar(value: object) -> bool:
    """A Python int or a numpy integer scalar / 0-d integer array (bools excluded)."""
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iu"
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _int_list(values: object, what: str) -> list[int]:
    """A sequence of integers (see the module docstring) as a list of Python ints."""
    if isinstance(values, np.ndarray):
        if values.ndim != 1 or values.dtype.kind not in "iuO":
            raise InvalidTypeError(
                f"{what}s must be a 1-D integer array, got {values.ndim}-D {values.dtype}"
            )
        items: Sequence[object] = values.tolist()
    elif isinstance(values, (str, bytes, bytearray)) or not isinstance(values, Sequence):
        raise InvalidTypeError(
            f"{what}s must be a sequence of integers, got {type(values).__name__}"
        )
    else:
        items = values
    return [_int(v, what) for v in items]


def _residues(values: object, mod: int, what: str) -> list[int]:
    out = _int_list(values, what)
    for v in out:
        if not 0 <= v < mod:
            raise InvalidArgumentError(f"every {what} must be in [0, modulus)")
    return out


def _non_negative(es: list[int]) -> list[int]:
    if any(e < 0 for e in es):
        raise InvalidArgumentError(
            "exponents must be non-negative (use invert for negative powers)"
        )
    return es


def _exponents(exps: object, count: int, *, shared: bool) -> list[int]:
    """One shared exponent (when ``shared``) or exactly ``count`` of them."""
    if shared and _is_scalar(exps):
        return _non_negative([_int(exps, "exponent")])
    es = _int_list(exps, "exponent")
    if len(es) != count:
        raise InvalidArgumentError(f"got {count} bases but {len(es)} exponents")
    return _non_negative(es)


def _threads(threads: object) -> int | None:
    # the backend validates the value; this only keeps non-integers out
    return None if threads is None else _int(threads, "threads")


def powmod(base: int, exp: int, mod: int, *, secret: bool = False) -> int:
    """``base ** exp mod mod`` for one base (``0 <= base < mod``, ``exp >= 0``).

    ``secret=True`` runs in constant time in the exponent (odd modulus required).
    """
    return powmod_many([_int(base, "base")], _int(exp, "exponent"), mod, secret=secret, threads=1)[
        0
    ]


def powmod_many(
    bases: IntSeq,
    exps: int | IntSeq,
    mod: int,
    *,
    secret: bool = False,
    exp_bits: int | None = None,
    threads: int | None = None,
) -> list[int]:
    """``b ** e mod mod`` for each base; ``exps`` is one shared integer or one per base.

    ``secret=True`` selects constant-time exponentiation (OpenSSL's
    ``BN_mod_exp_mont_consttime`` in the native kernel, ``mpz_powm_sec`` in gmpy2) for
    secret exponents and requires an odd modulus.  Its running time depends on the
    width of the exponent rows, so pass ``exp_bits``, a public bound on the exponents
    (e.g. the group order's size, at most 65,536): rows are then that wide whatever the
    exponents' values.  Without it the width follows the largest exponent in the batch.
    ``threads`` defaults to all cores.
    """
    sec = check_bool(secret, "secret")
    m = check_modulus(mod, odd=sec)
    bs = _residues(bases, m, "base")
    es = _exponents(exps, len(bs), shared=True)
    e_width = None
    if exp_bits is not None:
        bound = _int(exp_bits, "exp_bits")
        if not 1 <= bound <= MAX_EXP_BITS:
            raise InvalidArgumentError(f"exp_bits must be between 1 and {MAX_EXP_BITS}")
        if any(e.bit_length() > bound for e in es):
            raise InvalidArgumentError("every exponent must fit in exp_bits bits")
        e_width = limbs_for_bits(bound)
    nthreads = _threads(threads)
    if not bs:
        return []
    b_arr = ints_to_limbs(bs, width_of(m))
    e_arr = ints_to_limbs(es, e_width)
    return limbs_to_ints(get_backend().powmod(b_arr, e_arr, m, secret=sec, threads=nthreads))


def mulmod_many(a: IntSeq, b: IntSeq, mod: int, *, threads: int | None = None) -> list[int]:
    """``a[i] * b[i] mod mod`` elementwise (equal lengths, values in ``[0, mod)``)."""
    m = check_modulus(mod)
    xs = _residues(a, m, "left operand")
    ys = _residues(b, m, "right operand")
    if len(xs) != len(ys):
        raise InvalidArgumentError(f"operands have different lengths ({len(xs)} and {len(ys)})")
    nthreads = _threads(threads)
    if not xs:
        return []
    w = width_of(m)
    return limbs_to_ints(
        get_backend().mulmod(ints_to_limbs(xs, w), ints_to_limbs(ys, w), m, threads=nthreads)
    )


def prod_mod(values: IntSeq, mod: int) -> int:
    """The product of ``values`` mod ``mod`` (1 for an empty sequence)."""
    m = check_modulus(mod)
    xs = _residues(values, m, "value")
    if not xs:
        return 1
    return limbs_to_int(get_backend().prodmod(ints_to_limbs(xs, width_of(m)), m))


def multi_powmod(bases: IntSeq, exps: IntSeq, mod: int, *, threads: int | None = None) -> int:
    """``prod(b ** e) mod mod`` computed as one multi-exponentiation (1 when empty).

    ``exps`` has exactly one non-negative integer per base (no shared scalar).
    """
    m = check_modulus(mod)
    bs = _residues(bases, m, "base")
    if _is_scalar(exps):
        raise InvalidTypeError("multi_powmod takes one exponent per base, not one integer")
    es = _exponents(exps, len(bs), shared=False)
    nthreads = _threads(threads)
    if not bs:
        return 1
    out = get_backend().multi_powmod(
        ints_to_limbs(bs, width_of(m)), ints_to_limbs(es), m, threads=nthreads
    )
    return limbs_to_int(out)


class FixedBase(Immutable):
    """A base raised to many exponents, with its powers precomputed once.

    The table is immutable and can be shared by threads.  Exponents must be
    non-negative and at most ``max_exp_bits`` bits wide (``1 <= max_exp_bits <= 65536``).

    Memory: a table with a ``k``-bit window holds ``ceil(max_exp_bits / k)`` rows of
    ``2^k - 1`` powers (``2^k`` when ``secret``), each as wide as the modulus.  The
    widest window up to 10 bits (5 when ``secret``) that fits ``max_table_bytes`` is
    used; if even a 1-bit window does not fit, the constructor refuses with an
    :class:`~fedcrypto.exceptions.InvalidArgumentError` naming the bytes needed and
    allowed, before anything is allocated.
    """

    __slots__ = ("_table",)
    _table: FixedBaseTable

    def __init__(
        self,
        base: int,
        mod: int,
        *,
        max_exp_bits: int,
        secret: bool = False,
        max_table_bytes: int = DEFAULT_MAX_TABLE_BYTES,
    ) -> None:
        """Precompute the table; ``secret=True`` makes every ``pow`` constant time in the
        exponent (odd modulus required) — use it when exponents are secret.

        :param max_table_bytes: memory budget of the table (default 96 MiB); the same
            budget applies to constant-time and variable-time tables.
        :raises InvalidArgumentError: base outside ``[0, mod)``, ``max_exp_bits`` outside
            ``[1, 65536]``, an even modulus with ``secret``, a table over the budget.
        :raises InvalidTypeError: non-integer arguments, ``secret`` not a bool.
        """
        sec = check_bool(secret, "secret")
        m = check_modulus(mod, odd=sec)
        b = _int(base, "base")
        if not 0 <= b < m:
            raise InvalidArgumentError("base must be in [0, modulus)")
        table = get_backend().fixed_base(
            b,
            m,
            _int(max_exp_bits, "max_exp_bits"),
            secret=sec,
            max_table_bytes=_int(max_table_bytes, "max_table_bytes"),
        )
        self._set(_table=table)

    @property
    def table(self) -> FixedBaseTable:
        """The backend table, for callers working on limb arrays."""
        return self._table

    @property
    def max_exp_bits(self) -> int:
        """The widest exponent the table takes."""
        return self._table.max_exp_bits

    @property
    def table_bytes(self) -> int:
        """Memory of the precomputed rows in bytes."""
        return self._table.table_bytes

    def pow(self, exp: int) -> int:
        """``base ** exp mod mod``."""
        return self.pow_many([_int(exp, "exponent")], threads=1)[0]

    def pow_many(self, exps: IntSeq, *, threads: int | None = None) -> list[int]:
        """``base ** e mod mod`` for each exponent (a sequence, see the module docstring)."""
        es = _non_negative(_int_list(exps, "exponent"))
        nthreads = _threads(threads)
        if not es:
            return []
        for e in es:
            if e.bit_length() > self._table.max_exp_bits:
                raise InvalidArgumentError(
                    f"exponent wider than the table's {self._table.max_exp_bits} bits"
                )
        return limbs_to_ints(self._table.pow(ints_to_limbs(es), threads=nthreads))

    def __repr__(self) -> str:
        return (
            f"FixedBase(mod_bits={self._table.mod.bit_length()}, max_exp_bits={self.max_exp_bits}, "
            f"secret={self._table.secret})"
        )


def invert(value: int, mod: int) -> int:
    """The inverse of ``value`` modulo ``mod``, in ``[1, mod)``.

    ``value`` is any integer (reduced modulo ``mod`` first).

    :raises InvalidArgumentError: when ``gcd(value, mod) != 1`` or ``mod <= 1``.
    """
    m = check_modulus(mod)
    return get_backend().int_invert(_int(value, "value"), m)


def crt(residues: IntSeq, moduli: IntSeq) -> int:
    """The unique ``x`` modulo ``prod(moduli)`` with ``x = r_i mod m_i`` (pairwise coprime moduli).

    Two moduli go through the backend's CRT kernel; more are folded pairwise.

    :raises InvalidArgumentError: no moduli, a count mismatch, a residue outside
        ``[0, m_i)``, a modulus <= 1, moduli that are not coprime.
    """
    ms = [check_modulus(m) for m in _int_list(moduli, "modulus")]
    if not ms:
        raise InvalidArgumentError("crt needs at least one modulus")
    rs = _int_list(residues, "residue")
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


def is_probable_prime(n: int, *, rounds: int = DEFAULT_PRIME_ROUNDS) -> bool:
    """Miller–Rabin: is ``n`` prime, up to an error below ``4**-rounds``?

    Trial division by the primes below 100, one round to base 2, then ``rounds``
    rounds to bases drawn uniformly with :mod:`secrets` (so even a composite chosen by
    an adversary passes with probability below ``4**-rounds``).

    :param n: any integer (below 2 is not prime).
    :param rounds: random-base rounds, an integer in ``[1, 256]`` (default 40).
    :raises InvalidTypeError: ``n`` or ``rounds`` not an integer.
    :raises InvalidArgumentError: ``rounds`` outside ``[1, 256]`` (``rounds=0`` would
        prove nothing).
    """
    return _is_probable_prime(n, rounds=rounds)
