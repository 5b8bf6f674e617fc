"""fedcrypto: cryptographic protocols for federated learning.

Packages: :mod:`fedcrypto.paillier` (additively homomorphic encryption with
BatchCrypt-style packing), :mod:`fedcrypto.psi` (private set intersection),
:mod:`fedcrypto.sharing` (additive and Shamir secret sharing),
:mod:`fedcrypto.secagg` (Bonawitz secure aggregation) and
:mod:`fedcrypto.hazmat` (raw building blocks).  Arithmetic runs on the backend
reported by :func:`backend_info`.
"""

from __future__ import annotations

from importlib import metadata as _metadata

from ._backend import get_backend as _get_backend
from .exceptions import FedCryptoError

try:
    __version__ = _metadata.version("fedcrypto")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__", "backend_info", "FedCryptoError"]


def backend_info() -> dict[str, str]:
    """Which arithmetic backend runs, with library versions.

    Returns a mapping whose ``"name"`` is ``"native"``, ``"gmpy2"`` or ``"pure"``;
    ``"gmp"``/``"gmpy2"`` give library versions where relevant, and
    ``"constant_time"`` says whether secret exponents use constant-time code.
    """
    return dict(_get_backend().info())
