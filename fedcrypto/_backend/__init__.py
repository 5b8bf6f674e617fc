"""Arithmetic backend: one interface, three implementations (native | gmpy2 | pure).

The backend is chosen once, at import: ``FEDCRYPTO_BACKEND=native|gmpy2|pure``
forces one (raising :class:`~fedcrypto.exceptions.BackendUnavailableError` if it
cannot be loaded); otherwise the native GMP kernel is used when it was built, then
gmpy2, then pure Python, with a :class:`RuntimeWarning` for each fallback.

This package is the only place that imports ``fedcrypto._native`` or ``gmpy2``.
Higher layers use the names exported here: :func:`get_backend` (batch arithmetic on
limb arrays, int-level operations, curve25519 hash-to-curve) and the limb-array
conversions.
"""

from __future__ import annotations

import os
import warnings

from ..exceptions import BackendUnavailableError
from ._base import (
    DEFAULT_MAX_TABLE_BYTES,
    MAX_EXP_BITS,
    Backend,
    FixedBaseTable,
    check_bool,
    check_modulus,
    check_threads,
    default_threads,
    fixed_base_table_bytes,
    fixed_base_window,
    secret_window,
)
from ._intops import IntOps
from ._limbs import (
    LimbArray,
    be_bytes_to_limbs,
    check_limbs,
    int_to_limbs,
    ints_to_limbs,
    limbs_for_bits,
    limbs_to_be_bytes,
    limbs_to_int,
    limbs_to_ints,
    width_of,
)

__all__ = [
    "Backend",
    "FixedBaseTable",
    "IntOps",
    "LimbArray",
    "BACKEND_NAMES",
    "DEFAULT_MAX_TABLE_BYTES",
    "MAX_EXP_BITS",
    "load_backend",
    "get_backend",
    "check_bool",
    "check_modulus",
    "check_threads",
    "default_threads",
    "fixed_base_table_bytes",
    "secret_window",
    "fixed_base_window",
    "be_bytes_to_limbs",
    "check_limbs",
    "int_to_limbs",
    "ints_to_limbs",
    "limbs_for_bits",
    "limbs_to_be_bytes",
    "limbs_to_int",
    "limbs_to_ints",
    "width_of",
]

BACKEND_NAMES = ("native", "gmpy2", "pure")


def load_backend(name: str) -> Backend:
    """Instantiate the backend ``name``; raise BackendUnavailableError if it is missing."""
    if name == "native":
        try:
            from ._native import NativeBackend
        except ImportError as exc:
            raise BackendUnavailableError(
                "the native GMP kernel (fedcrypto._native) is not built: install libgmp-dev and "
                f"reinstall fedcrypto ({exc})"
            ) from None
        return NativeBackend()
    if name == "gmpy2":
        try:
            from ._intloop import Gmpy2Backend

            return Gmpy2Backend()
        except ImportError:
            raise BackendUnavailableError("gmpy2 is not installed") from None
    if name == "pure":
        from ._intloop import PureBackend

        return PureBackend()
    raise BackendUnavailableError(
        f"unknown backend {name!r}; FEDCRYPTO_BACKEND must be one of {', '.join(BACKEND_NAMES)}"
    )


def _select() -> Backend:
    forced = os.environ.get("FEDCRYPTO_BACKEND", "").strip().lower()
    if forced:
        return load_backend(forced)
    for name in BACKEND_NAMES:
        try:
            backend = load_backend(name)
        except BackendUnavailableError as exc:
            warnings.warn(
                f"fedcrypto: backend {name!r} unavailable, falling back ({exc})",
                RuntimeWarning,
                stacklevel=3,
            )
            continue
        return backend
    raise BackendUnavailableError("no backend available")  # pragma: no cover - pure always loads


_BACKEND = _select()


def get_backend() -> Backend:
    """The backend chosen at import."""
    return _BACKEND
