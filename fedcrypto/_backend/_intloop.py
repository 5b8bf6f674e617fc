"""Backends that loop over Python-level integers: ``pure`` (int) and ``gmpy2`` (mpz).

They are the reference and the fallback: simple, obviously correct, single
threaded (``threads`` is accepted and ignored).  The ``pure`` backend's
"constant-time" path is Python's ``pow``, which is *not* constant time; it exists
so the library works without GMP, and :func:`fedcrypto.backend_info` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..exceptions import InvalidArgumentError
from ._base import Backend, FixedBaseTable, output_width
from ._intops import Gmpy2IntOps, IntOps, PureIntOps
from ._limbs import LimbArray, ints_to_limbs, limbs_to_ints

__all__ = ["IntLoopBackend", "PureBackend", "Gmpy2Backend"]


def _check_below(values: Sequence[int], bound: int, what: str) -> None:
    for v in values:
        if v >= bound:
            raise InvalidArgumentError(f"every {what} must be below the modulus")


class _LoopFixedBase(FixedBaseTable):
    """Fixed-base 'table' of the loop backends: plain exponentiation (they are references).

    No rows are stored; ``window``/``table_bytes`` describe the table the native backend
    would build, so the memory budget is enforced identically on every backend.
    """

    __slots__ = ("_ops",)
    _ops: IntOps

    def __init__(
        self, ops: IntOps, base: int, mod: int, max_exp_bits: int, secret: bool, window: int
    ) -> None:
        super().__init__(base, mod, max_exp_bits, secret, window)
        self._set(_ops=ops)

    def _pow(self, exps: LimbArray, threads: int) -> LimbArray:
        es = limbs_to_ints(exps)
        if any(e.bit_length() > self.max_exp_bits for e in es):
            raise InvalidArgumentError(f"exponent wider than the table's {self.max_exp_bits} bits")
        ops = self._ops
        b = ops.num(self.base)
        m = ops.num(self.mod)
        pow_fn = ops.powmod_sec if self.secret else ops.powmod
        out = [int(pow_fn(b, ops.num(e), m)) if e else 1 for e in es]
        return ints_to_limbs(out, output_width(self.mod))


class IntLoopBackend(Backend):
    """Batch operations as loops over one :class:`IntOps` number type."""

    def __init__(self, name: str, ops: IntOps) -> None:
        self.name = name
        self._ops = ops

    def _make_int_ops(self) -> IntOps:
        return self._ops

    def _load(self, arr: LimbArray, mod: int, what: str) -> list[Any]:
        values = limbs_to_ints(arr)
        _check_below(values, mod, what)
        num = self._ops.num
        return [num(v) for v in values]

    def _powmod(
        self, bases: LimbArray, exps: LimbArray, mod: int, secret: bool, threads: int
    ) -> LimbArray:
        ops = self._ops
        bs = self._load(bases, mod, "base")
        es = [ops.num(e) for e in limbs_to_ints(exps)]
        if len(es) == 1:
            es = es * len(bs)
        m = ops.num(mod)
        pow_fn = ops.powmod_sec if secret else ops.powmod
        out = [int(pow_fn(b, e, m)) if e else 1 for b, e in zip(bs, es, strict=True)]
        return ints_to_limbs(out, output_width(mod))

    def _mulmod(self, a: LimbArray, b: LimbArray, mod: int, threads: int) -> LimbArray:
        xs = self._load(a, mod, "left operand")
        ys = self._load(b, mod, "right operand")
        if len(ys) == 1:
            ys = ys * len(xs)
        m = self._ops.num(mod)
        return ints_to_limbs(
            [int(x * y % m) for x, y in zip(xs, ys, strict=True)], output_width(mod)
        )

    def _prodmod(self, values: LimbArray, mod: int, threads: int) -> LimbArray:
        m = self._ops.num(mod)
        acc = self._ops.num(1)
        for v in self._load(values, mod, "value"):
            acc = acc * v % m
        return ints_to_limbs([int(acc)], output_width(mod))

    def _multi_powmod(self, bases: LimbArray, exps: LimbArray, mod: int, threads: int) -> LimbArray:
        ops = self._ops
        m = ops.num(mod)
        acc = ops.num(1)
        for b, e in zip(self._load(bases, mod, "base"), limbs_to_ints(exps), strict=True):
            acc = acc * ops.powmod(b, ops.num(e), m) % m
        return ints_to_limbs([int(acc)], output_width(mod))

    def _fixed_base(
        self, base: int, mod: int, max_exp_bits: int, secret: bool, window: int
    ) -> FixedBaseTable:
        return _LoopFixedBase(self._ops, base, mod, max_exp_bits, secret, window)

    def _crt(
        self, rp: LimbArray, rq: LimbArray, p: int, q: int, q_inv: int, threads: int
    ) -> LimbArray:
        xs = self._load(rp, p, "residue mod p")
        ys = self._load(rq, q, "residue mod q")
        num = self._ops.num
        pn, qn, qi = num(p), num(q), num(q_inv)
        out = [int(y + qn * ((x - y) * qi % pn)) for x, y in zip(xs, ys, strict=True)]
        return ints_to_limbs(out, output_width(p * q))


class PureBackend(IntLoopBackend):
    """Python ints only: always available, slow, and not constant time."""

    def __init__(self) -> None:
        super().__init__("pure", PureIntOps())

    def info(self) -> dict[str, str]:
        return {"name": self.name, "constant_time": "no"}


class Gmpy2Backend(IntLoopBackend):
    """gmpy2's mpz arithmetic (GMP bundled with gmpy2), one element at a time."""

    def __init__(self) -> None:
        ops = Gmpy2IntOps()  # ImportError when gmpy2 is missing
        super().__init__("gmpy2", ops)
        self._gmpy2 = ops.gmpy2

    def info(self) -> dict[str, str]:
        g = self._gmpy2
        return {
            "name": self.name,
            "gmpy2": g.version(),
            "gmp": g.mp_version(),
            "constant_time": "yes",
        }
