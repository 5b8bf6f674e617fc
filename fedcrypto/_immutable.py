"""The one idiom for immutable values.

Every immutable fedcrypto class (keys, messages, ciphertext containers, settings)
subclasses :class:`Immutable`.  It gives them, in one place:

- no attribute assignment or deletion after construction;
- no pickling or ``copy`` through ``__reduce__`` (serialize with ``to_bytes()``);
  ``copy.copy``/``copy.deepcopy`` return the object itself, which is safe because
  it never changes;
- :meth:`Immutable._set` for ``__init__`` (and a dataclass's ``__post_init__``)
  to store validated fields;
- :meth:`Immutable._trusted`, the sanctioned internal constructor that skips
  validation for values the library itself just computed.  Only the module that
  owns a class calls it; other packages use the public, bulk-validated
  constructors the owner offers.

Plain records may combine it with ``@dataclass(frozen=True)`` for the generated
``__init__``/``__eq__``/``__repr__``; the dataclass's own ``__setattr__`` then raises
:class:`dataclasses.FrozenInstanceError`, which is an ``AttributeError`` like ours.
(Not ``slots=True``: on Python 3.11 its frozen ``__setattr__`` breaks with a
``TypeError`` for unknown names.)  Hot-path values declare ``__slots__`` and use
:meth:`_set` instead.
"""

from __future__ import annotations

from typing import Any, NoReturn, Self

__all__ = ["Immutable"]

_setattr = object.__setattr__


class Immutable:
    """Base class of every immutable fedcrypto value (see the module docstring)."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"{type(self).__name__} cannot be pickled; serialize it explicitly "
            "(to_bytes() / private_bytes())"
        )

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        self.__reduce__()

    def __copy__(self) -> Self:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self

    def _set(self, **fields: object) -> None:
        """Store fields during construction (``__init__`` / ``__post_init__`` only)."""
        for name, value in fields.items():
            _setattr(self, name, value)

    @classmethod
    def _trusted(cls, **fields: object) -> Self:
        """Build an instance from values the owning module already validated."""
        obj = object.__new__(cls)
        for name, value in fields.items():
            _setattr(obj, name, value)
        return obj
