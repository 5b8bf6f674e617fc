"""The one immutability helper: no mutation, no pickling, a trusted constructor."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from fedcrypto._immutable import Immutable


class Point(Immutable):
    __slots__ = ("x", "y")
    x: int
    y: int

    def __init__(self, x: int, y: int) -> None:
        if x < 0:
            raise ValueError("x must be non-negative")
        self._set(x=x, y=y)


@dataclasses.dataclass(frozen=True)
class Record(Immutable):
    a: int
    b: str


def test_init_and_trusted_constructor() -> None:
    p = Point(1, 2)
    assert (p.x, p.y) == (1, 2)
    q = Point._trusted(x=-5, y=0)  # skips validation by design
    assert q.x == -5
    with pytest.raises(ValueError):
        Point(-5, 0)


@pytest.mark.parametrize("obj", [Point(1, 2), Record(1, "b")])
def test_cannot_mutate_or_pickle(obj: object) -> None:
    with pytest.raises(AttributeError):
        obj.x = 3  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        del obj.x  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        obj.new_attribute = 1  # type: ignore[attr-defined]
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj, protocol=protocol)
    assert copy.copy(obj) is obj
    assert copy.deepcopy(obj) is obj


def test_dataclass_record_keeps_generated_methods() -> None:
    assert Record(1, "b") == Record(1, "b")
    assert "a=1" in repr(Record(1, "b"))
