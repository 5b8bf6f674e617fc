"""Compact transport of the Shamir shares secure aggregation exchanges.

Every secret shared in the protocol is 32 bytes (an X25519 private key ``s_u^SK`` or
a self-mask seed ``b_u``), split with :func:`fedcrypto.sharing.shamir_split_many`.
Inside the protocol the share metadata is implied by the session (threshold ``t``,
share count = number of holders, index = the holder's position + 1, secret length
32), so a share travels as ``split id (16 bytes) || share data (44 bytes)`` and is
rebuilt, with full validation, by :class:`fedcrypto.sharing.Share` (one at a time) or
:meth:`fedcrypto.sharing.Share.many` (in bulk, validated with numpy).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..exceptions import FedCryptoError, LocalProtocolError, RemoteProtocolError
from ..sharing import SHAMIR_FIELD_PRIME, Share

__all__ = [
    "SECRET_BYTES",
    "SHARE_WIRE_BYTES",
    "share_to_wire",
    "share_from_wire",
    "shares_from_wire",
    "first_bad_share",
]

SECRET_BYTES = 32
_SPLIT_ID_BYTES = 16
_DATA_BYTES = 4 * ((SECRET_BYTES + 2) // 3)
SHARE_WIRE_BYTES = _SPLIT_ID_BYTES + _DATA_BYTES


def share_to_wire(share: Share) -> bytes:
    """``split_id || data`` of a share of a 32-byte secret."""
    if share.secret_length != SECRET_BYTES:  # pragma: no cover - internal invariant
        raise LocalProtocolError("secure aggregation only shares 32-byte secrets")
    return share.split_id + share.data


def first_bad_share(items: Sequence[bytes]) -> int | None:
    """Position of the first wire share that has the wrong length or a value outside the
    field, or ``None`` when all are well-formed (checked together with numpy)."""
    if not items:
        return None
    if set(map(len, items)) != {SHARE_WIRE_BYTES}:
        return next(k for k, raw in enumerate(items) if len(raw) != SHARE_WIRE_BYTES)
    values = np.frombuffer(b"".join(items), dtype=">u4").reshape(len(items), -1)
    bad = np.flatnonzero((values[:, _SPLIT_ID_BYTES // 4 :] >= SHAMIR_FIELD_PRIME).any(axis=1))
    return int(bad[0]) if bad.size else None


def share_from_wire(raw: bytes, *, index: int, threshold: int, share_count: int, who: int) -> Share:
    """Rebuild and validate a share received from client ``who``.

    Raises:
        RemoteProtocolError: wrong length, values outside the field, or bad parameters.
    """
    if len(raw) != SHARE_WIRE_BYTES:
        raise RemoteProtocolError(f"share from client {who} has the wrong length")
    try:
        return Share(
            index,
            threshold,
            share_count,
            raw[:_SPLIT_ID_BYTES],
            SECRET_BYTES,
            raw[_SPLIT_ID_BYTES:],
        )
    except (FedCryptoError, ValueError, TypeError):
        raise RemoteProtocolError(f"share from client {who} is invalid") from None


def shares_from_wire(
    received: Sequence[tuple[int, int, bytes]], *, threshold: int, share_count: int
) -> list[Share]:
    """Rebuild many shares of one secret at once: ``received`` holds ``(sender, index, raw)``.

    Built with :meth:`Share.many`, which validates lengths, indices and field ranges for
    the whole batch with numpy (the server rebuilds ~10^5 shares per round; it already
    refused malformed shares, with their sender, at its door: :func:`first_bad_share`).

    Raises:
        RemoteProtocolError: a share of the wrong length, with an index out of range or
            with values outside the field.
    """
    try:
        return Share.many(
            [index for _, index, _ in received],
            [raw[:_SPLIT_ID_BYTES] for _, _, raw in received],
            [raw[_SPLIT_ID_BYTES:] for _, _, raw in received],
            threshold=threshold,
            share_count=share_count,
            secret_length=SECRET_BYTES,
        )
    except FedCryptoError as exc:  # indices and parameters come from the session itself
        raise RemoteProtocolError(f"invalid shares: {exc}") from None
