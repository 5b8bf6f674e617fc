"""Party counts, read-only arrays and array shapes, with the caps every shape obeys.

Shapes travel on the wire as ``u8 ndim`` followed by one ``u64`` per dimension.  A
peer controls those numbers, so every shape is checked *before* anything is
allocated:

* at most :data:`MAX_NDIM` dimensions;
* every dimension at most :data:`MAX_DIMENSION`;
* the product of the dimensions, with zero dimensions counted as 1, at most
  :data:`MAX_ELEMENTS` (so a zero-element shape such as ``(2**62, 0)`` is refused:
  numpy could not represent it);
* on the wire, the elements the shapes announce must fill the rest of the payload
  exactly (:func:`expect_elements`).

Violations are :class:`~fedcrypto.exceptions.SerializationError` when parsing and
:class:`~fedcrypto.exceptions.InvalidArgumentError` for local arguments.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from ..exceptions import InvalidArgumentError, InvalidTypeError, SerializationError
from ..serialization import Reader, Writer

__all__ = [
    "MAX_PARTIES",
    "MAX_NDIM",
    "MAX_DIMENSION",
    "MAX_ELEMENTS",
    "check_parties",
    "check_party",
    "check_shape",
    "element_count",
    "readonly",
    "write_shape",
    "read_shapes",
    "expect_elements",
]

Elements = npt.NDArray[Any]

#: Largest number of parties of an additive sharing (party numbers travel as ``u16``).
MAX_PARTIES = 65535
#: Most dimensions an array may have.
MAX_NDIM = 8
#: Largest single dimension.
MAX_DIMENSION = (1 << 32) - 1
#: Largest product of the dimensions (zero dimensions counted as 1).
MAX_ELEMENTS = 1 << 32


def check_parties(parties: object) -> int:
    """Validate a party count (2..65535)."""
    if not isinstance(parties, int) or isinstance(parties, bool):
        raise InvalidTypeError("parties must be an int")
    if not 2 <= parties <= MAX_PARTIES:
        raise InvalidArgumentError(f"parties must be between 2 and {MAX_PARTIES}")
    return parties


def check_party(party: object, parties: int) -> int:
    """Validate a party index ``0 <= party < parties``."""
    if not isinstance(party, int) or isinstance(party, bool):
        raise InvalidTypeError("party must be an int")
    if not 0 <= party < parties:
        raise InvalidArgumentError(f"party must be between 0 and {parties - 1}")
    return party


def _shape_problem(shape: tuple[int, ...]) -> str | None:
    """Why ``shape`` breaks the caps, or ``None`` (dimensions already known to be ints >= 0)."""
    if len(shape) > MAX_NDIM:
        return f"{len(shape)} dimensions (at most {MAX_NDIM})"
    bound = 1
    for d in shape:
        if d > MAX_DIMENSION:
            return f"a dimension of {d} (at most {MAX_DIMENSION})"
        bound *= max(d, 1)
    if bound > MAX_ELEMENTS:
        return f"shape {shape} is too large (at most {MAX_ELEMENTS} elements)"
    return None


def check_shape(shape: object, what: str = "shape") -> tuple[int, ...]:
    """Validate a local shape argument (an int or a tuple of non-negative ints) against the caps.

    Raises:
        InvalidTypeError: not an int or a tuple of non-negative ints.
        InvalidArgumentError: beyond :data:`MAX_NDIM`, :data:`MAX_DIMENSION` or
            :data:`MAX_ELEMENTS`.
    """
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
    ):
        raise InvalidTypeError(f"{what} must be a tuple of non-negative ints")
    dims = tuple(int(d) for d in shape)
    problem = _shape_problem(dims)
    if problem is not None:
        raise InvalidArgumentError(f"{what}: {problem}")
    return dims


def element_count(shape: tuple[int, ...]) -> int:
    """The number of elements of a (validated) shape."""
    count = 1
    for d in shape:
        count *= d
    return count


def readonly(a: Elements) -> Elements:
    """Mark an array read-only (shares are immutable) and return it."""
    a.flags.writeable = False
    return a


def write_shape(w: Writer, shape: tuple[int, ...]) -> None:
    """Write ``u8 ndim`` then ``u64`` per dimension."""
    w.u8(len(shape))
    for d in shape:
        w.u64(d)


def read_shapes(r: Reader, count: int) -> list[tuple[int, ...]]:
    """Read ``count`` shapes written by :func:`write_shape`, each checked against the caps.

    Raises:
        SerializationError: truncated, or a shape beyond the caps.
    """
    shapes = []
    for _ in range(count):
        ndim = r.u8()
        if ndim > MAX_NDIM:
            raise SerializationError(f"{ndim} dimensions (at most {MAX_NDIM})")
        shape = tuple(r.u64() for _ in range(ndim))
        problem = _shape_problem(shape)
        if problem is not None:
            raise SerializationError(problem)
        shapes.append(shape)
    return shapes


def expect_elements(r: Reader, elements: int, element_bytes: int) -> None:
    """Check that exactly ``elements`` fixed-width elements remain, before reading them.

    Raises:
        SerializationError: the payload is shorter or longer than the shapes announce.
    """
    if elements * element_bytes != r.remaining():
        raise SerializationError(
            f"the shapes announce {elements} elements of {element_bytes} bytes, "
            f"the payload holds {r.remaining()} bytes"
        )
