"""Secret sharing: Shamir t-of-n over a word-size prime field (vectorised).

* :func:`shamir_split` / :func:`shamir_combine` share a byte string (e.g. a 32-byte key)
  among ``n`` parties so that any ``t`` reconstruct it and ``t - 1`` learn nothing;
  :func:`shamir_split_many` / :func:`shamir_combine_many` do the same for many secrets
  at once (Lagrange coefficients computed once per index set).
* :class:`Share` is an immutable share that serializes through the fedcrypto envelope.

See ``docs/sharing.md`` for the threat model, parameters and wire formats.
"""

from __future__ import annotations

from ._shamir import (
    MAX_SHARES,
    SHAMIR_FIELD_PRIME,
    Share,
    shamir_combine,
    shamir_combine_many,
    shamir_split,
    shamir_split_many,
)

__all__ = [
    "MAX_SHARES",
    "SHAMIR_FIELD_PRIME",
    "Share",
    "shamir_combine",
    "shamir_combine_many",
    "shamir_split",
    "shamir_split_many",
]
