"""The algebraic domains additive shares live in: the ring Z_2^64 and prime fields.

* :class:`Ring64` -- integers mod ``2**64`` as numpy ``uint64`` with wrapping arithmetic
  (the fastest choice; fixed-point multiplication with truncation works here).
* :class:`PrimeField` -- integers mod a prime ``p``.  For ``p < 2**32`` elements are numpy
  ``uint64`` and products fit a word (vectorised); for larger primes elements are Python
  ints held in numpy ``object`` arrays (any size, slower).

Domains are immutable value objects; two domains are equal when they have the same
modulus.  Element arrays are validated (dtype, range) wherever they enter from outside.

A prime field read from the wire costs at most one primality test per *distinct*
prime: results are kept in a small bounded cache (:data:`FIELD_CACHE_SIZE` primes), and
a parser given the expected domain (``domain=`` on ``from_bytes``) compares the prime
with it instead of testing it at all.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from ..hazmat.modmath import is_probable_prime
from ..serialization import Reader, Writer, param_id
from . import _field

__all__ = [
    "Domain",
    "Ring64",
    "PrimeField",
    "RING64",
    "MAX_FIELD_BITS",
    "FIELD_CACHE_SIZE",
    "domain_from_reader",
]

Elements = npt.NDArray[Any]

_KIND_RING64 = 1
_KIND_FIELD = 2
#: Largest prime accepted for a field domain (bits).
MAX_FIELD_BITS = 4096
#: How many distinct field moduli keep their primality verdict (least recently used first out).
FIELD_CACHE_SIZE = 64


@functools.lru_cache(maxsize=FIELD_CACHE_SIZE)
def _is_field_prime(p: int) -> bool:
    """``is_probable_prime(p)``, remembered for the last few moduli (ints are immutable keys)."""
    return is_probable_prime(p)


class Domain(Immutable):
    """Base class of share domains (do not instantiate directly)."""

    __slots__ = ()

    modulus: int

    @property
    def element_bytes(self) -> int:
        """Bytes per element in the wire format."""
        raise NotImplementedError

    @property
    def vectorised(self) -> bool:
        """Whether elements are machine words (numpy uint64) rather than Python ints."""
        return True

    @property
    def param_id(self) -> bytes:
        """A 16-byte id of the domain, used as the envelope parameter id."""
        raise NotImplementedError

    # ---- element operations (inputs assumed valid) ----
    def random(self, rng: VectorRNG, shape: tuple[int, ...]) -> Elements:
        """Uniform elements of the given shape (rejection sampling, no bias)."""
        raise NotImplementedError

    def add(self, a: Elements, b: Elements) -> Elements:
        raise NotImplementedError

    def sub(self, a: Elements, b: Elements) -> Elements:
        raise NotImplementedError

    def neg(self, a: Elements) -> Elements:
        raise NotImplementedError

    def add_into(self, acc: Elements, b: Elements) -> Elements:
        """``acc + b``, reusing ``acc``'s memory when possible (``acc`` must be a fresh array)."""
        return self.add(acc, b)

    def sub_into(self, acc: Elements, b: Elements) -> Elements:
        """``acc - b``, reusing ``acc``'s memory when possible (``acc`` must be a fresh array)."""
        return self.sub(acc, b)

    def mul(self, a: Elements, b: Elements) -> Elements:
        raise NotImplementedError

    def matmul(self, a: Elements, b: Elements) -> Elements:
        raise NotImplementedError

    def from_ints(self, values: object) -> Elements:
        """Reduce integers (numpy integer arrays, Python ints, lists; may be negative)."""
        raise NotImplementedError

    def to_signed(self, values: Elements) -> Elements:
        """The centred lift: the representative in ``[-m/2, m/2)`` (int64 or Python ints)."""
        raise NotImplementedError

    def validate(self, values: object, what: str = "values") -> Elements:
        """Check dtype and range of an element array from outside; return it."""
        raise NotImplementedError

    def write(self, w: Writer, values: Elements) -> None:
        """Append the elements (flattened, fixed width) to ``w``."""
        raise NotImplementedError

    def read(self, r: Reader, count: int) -> Elements:
        """Read ``count`` elements written by :meth:`write` (range-checked)."""
        raise NotImplementedError

    def write_header(self, w: Writer) -> None:
        raise NotImplementedError


class Ring64(Domain):
    """The ring of integers mod ``2**64`` (numpy ``uint64``, wrapping arithmetic)."""

    __slots__ = ()
    modulus = 1 << 64

    def __repr__(self) -> str:
        return "Ring64()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ring64)

    def __hash__(self) -> int:
        return hash("Ring64")

    @property
    def element_bytes(self) -> int:
        return 8

    @property
    def param_id(self) -> bytes:
        return param_id(b"fedcrypto/sharing/ring64")

    def random(self, rng: VectorRNG, shape: tuple[int, ...]) -> Elements:
        count = int(np.prod(shape, dtype=np.int64))
        # A read-only view on the keystream bytes: no copy (shares are read-only anyway).
        words = np.frombuffer(rng.bytes(8 * count), dtype="<u8")
        if words.dtype != np.uint64:  # big-endian host
            words = words.astype(np.uint64)
        return words.reshape(shape)

    def add_into(self, acc: Elements, b: Elements) -> Elements:
        return np.add(acc, b, out=acc, dtype=np.uint64)

    def sub_into(self, acc: Elements, b: Elements) -> Elements:
        return np.subtract(acc, b, out=acc, dtype=np.uint64)

    def add(self, a: Elements, b: Elements) -> Elements:
        return np.add(a, b, dtype=np.uint64)

    def sub(self, a: Elements, b: Elements) -> Elements:
        return np.subtract(a, b, dtype=np.uint64)

    def neg(self, a: Elements) -> Elements:
        return np.negative(a, dtype=np.uint64)

    def mul(self, a: Elements, b: Elements) -> Elements:
        return np.multiply(a, b, dtype=np.uint64)

    def matmul(self, a: Elements, b: Elements) -> Elements:
        out: Elements = np.matmul(a, b, dtype=np.uint64)  # integer matmul wraps mod 2**64
        return out

    def from_ints(self, values: object) -> Elements:
        arr = np.asarray(values)
        if arr.dtype == object:
            flat = [int(v) % (1 << 64) for v in arr.ravel().tolist()]
            return np.array(flat, dtype=np.uint64).reshape(arr.shape)
        if not np.issubdtype(arr.dtype, np.integer):
            raise InvalidTypeError(f"expected integers, got dtype {arr.dtype}")
        if arr.dtype == np.uint64:
            return arr.copy()
        return arr.astype(np.int64).view(np.uint64)

    def to_signed(self, values: Elements) -> Elements:
        return np.asarray(values, dtype=np.uint64).view(np.int64)

    def validate(self, values: object, what: str = "values") -> Elements:
        if not isinstance(values, np.ndarray) or values.dtype != np.uint64:
            raise InvalidTypeError(f"{what} must be a numpy uint64 array for Ring64")
        return values

    def write_header(self, w: Writer) -> None:
        w.u8(_KIND_RING64)

    def write(self, w: Writer, values: Elements) -> None:
        w.raw(np.ascontiguousarray(values, dtype=">u8").tobytes())

    def read(self, r: Reader, count: int) -> Elements:
        return np.frombuffer(r.raw(8 * count), dtype=">u8").astype(np.uint64)


class PrimeField(Domain):
    """The field of integers mod a prime ``p`` (``p >= 3``).

    Primes below ``2**32`` are vectorised (numpy ``uint64``; a product of two elements is
    below ``2**64``).  Larger primes (up to 4096 bits) use Python ints in numpy ``object``
    arrays.

    Args:
        p: the prime modulus (checked with a probabilistic primality test).

    Raises:
        InvalidTypeError: ``p`` is not an int.
        InvalidArgumentError: ``p`` is not a prime >= 3 or is too large.
    """

    __slots__ = ("_p",)
    _p: int

    def __init__(self, p: int) -> None:
        if not isinstance(p, int) or isinstance(p, bool):
            raise InvalidTypeError("the field modulus must be an int")
        p = int(p)
        if p < 3 or p.bit_length() > MAX_FIELD_BITS or not _is_field_prime(p):
            raise InvalidArgumentError(
                f"the field modulus must be an odd prime of at most {MAX_FIELD_BITS} bits"
            )
        self._set(_p=p)

    @property
    def modulus(self) -> int:  # type: ignore[override]
        """The prime ``p``."""
        return self._p

    def __repr__(self) -> str:
        return f"PrimeField({self._p})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PrimeField) and other._p == self._p

    def __hash__(self) -> int:
        return hash(("PrimeField", self._p))

    @property
    def vectorised(self) -> bool:
        return self._p < 1 << 32

    @property
    def element_bytes(self) -> int:
        return 4 if self.vectorised else (self._p.bit_length() + 7) // 8

    @property
    def param_id(self) -> bytes:
        return param_id(b"fedcrypto/sharing/field", self._p.to_bytes(self.element_bytes, "big"))

    def random(self, rng: VectorRNG, shape: tuple[int, ...]) -> Elements:
        count = int(np.prod(shape, dtype=np.int64))
        if self.vectorised:
            return rng.below(self._p, count).reshape(shape)
        return _object_array(rng.ints_below(self._p, count), shape)

    def add(self, a: Elements, b: Elements) -> Elements:
        if self.vectorised:
            return (a + b) % np.uint64(self._p)
        return (a + b) % self._p

    def sub(self, a: Elements, b: Elements) -> Elements:
        if self.vectorised:
            return (a + (np.uint64(self._p) - b)) % np.uint64(self._p)
        return (a - b) % self._p

    def neg(self, a: Elements) -> Elements:
        if self.vectorised:
            return (np.uint64(self._p) - a) % np.uint64(self._p)
        return (-a) % self._p

    def mul(self, a: Elements, b: Elements) -> Elements:
        if self.vectorised:
            return (a * b) % np.uint64(self._p)
        return (a * b) % self._p

    def matmul(self, a: Elements, b: Elements) -> Elements:
        if self.vectorised:
            if a.ndim != 2 or b.ndim != 2:
                raise InvalidArgumentError("matrix products need 2-D operands")
            return _field.matmul(a, b, self._p)
        prod: Elements = np.matmul(a, b) % self._p
        return prod

    def from_ints(self, values: object) -> Elements:
        arr = np.asarray(values)
        p = self._p
        if arr.dtype == object or not self.vectorised:
            if arr.dtype != object and not np.issubdtype(arr.dtype, np.integer):
                raise InvalidTypeError(f"expected integers, got dtype {arr.dtype}")
            flat = [int(v) % p for v in arr.ravel().tolist()]
            if self.vectorised:
                return np.array(flat, dtype=np.uint64).reshape(arr.shape)
            return _object_array(flat, arr.shape)
        if not np.issubdtype(arr.dtype, np.integer):
            raise InvalidTypeError(f"expected integers, got dtype {arr.dtype}")
        if arr.dtype == np.uint64:
            return arr % np.uint64(p)
        signed = arr.astype(np.int64)
        return (signed % np.int64(p)).astype(np.uint64)  # numpy % is floored: result >= 0

    def to_signed(self, values: Elements) -> Elements:
        p = self._p
        if self.vectorised:
            v = np.asarray(values, dtype=np.uint64).astype(np.int64)
            return np.where(v >= (p + 1) // 2, v - p, v)
        flat = [int(v) - p if int(v) >= (p + 1) // 2 else int(v) for v in values.ravel().tolist()]
        return _object_array(flat, values.shape)

    def validate(self, values: object, what: str = "values") -> Elements:
        if not isinstance(values, np.ndarray):
            raise InvalidTypeError(f"{what} must be a numpy array")
        if self.vectorised:
            if values.dtype != np.uint64:
                raise InvalidTypeError(f"{what} must be a uint64 array for {self!r}")
            if values.size and int(values.max()) >= self._p:
                raise InvalidArgumentError(f"{what} contain values outside the field")
            return values
        if values.dtype != object:
            raise InvalidTypeError(f"{what} must be an object array of ints for a big field")
        for v in values.ravel().tolist():
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v < self._p:
                raise InvalidArgumentError(f"{what} contain values outside the field")
        return values

    def write_header(self, w: Writer) -> None:
        w.u8(_KIND_FIELD).big(self._p)

    def write(self, w: Writer, values: Elements) -> None:
        if self.vectorised:
            w.raw(np.ascontiguousarray(values, dtype=">u4").tobytes())
            return
        n = self.element_bytes
        w.raw(b"".join(int(v).to_bytes(n, "big") for v in values.ravel().tolist()))

    def read(self, r: Reader, count: int) -> Elements:
        if self.vectorised:
            out = np.frombuffer(r.raw(4 * count), dtype=">u4").astype(np.uint64)
            if out.size and int(out.max()) >= self._p:
                raise SerializationError("element outside the field")
            return out
        n = self.element_bytes
        raw = r.raw(n * count)
        flat = [int.from_bytes(raw[i : i + n], "big") for i in range(0, n * count, n)]
        if any(v >= self._p for v in flat):
            raise SerializationError("element outside the field")
        return _object_array(flat, (count,))


def _object_array(flat: list[int], shape: tuple[int, ...]) -> Elements:
    out = np.empty(len(flat), dtype=object)
    out[:] = flat
    return out.reshape(shape)


#: The default domain, Z_2^64.
RING64 = Ring64()


def domain_from_reader(r: Reader, expected: Domain | None = None) -> Domain:
    """Read a domain header written by :meth:`Domain.write_header`.

    Args:
        r: the payload reader.
        expected: the domain the caller expects (pinned).  The header must describe
            exactly this domain, which is then returned as is: the prime is compared,
            never re-tested.  Without it a field prime is tested for primality (at most
            once per distinct prime, see :data:`FIELD_CACHE_SIZE`).

    Raises:
        SerializationError: unknown kind, a modulus that is not an acceptable prime, or
            a domain other than ``expected``.
    """
    kind = r.u8()
    if kind == _KIND_RING64:
        if expected is not None and not isinstance(expected, Ring64):
            raise SerializationError("expected a prime-field share, got one of Z_2^64")
        return RING64
    if kind == _KIND_FIELD:
        p = r.big(max_bits=MAX_FIELD_BITS)
        if expected is not None:
            if not isinstance(expected, PrimeField) or expected.modulus != p:
                raise SerializationError("the share belongs to another domain than expected")
            return expected
        try:
            return PrimeField(p)
        except InvalidArgumentError as exc:
            raise SerializationError(f"bad field modulus: {exc}") from None
    raise SerializationError(f"unknown share domain kind {kind}")
