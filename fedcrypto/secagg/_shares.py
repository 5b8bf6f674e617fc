"""Compact transport of the Shamir shares secure aggregation exchanges.

Every secret shared in the protocol is 32 bytes (an X25519 private key ``s_u^SK`` or
a self-mask seed ``b_u``), split with :func:`fedcrypto.sharing.shamir_split_many`.
Inside the protocol the share metadata is implied by the session (threshold ``t``,
share count = number of holders, index = the holder's position + 1, secret length
32), so a share travels as ``split id (16 bytes) || share data (44 bytes)`` and is
rebuilt, with full validation, by :class:`fedcrypto.sharing.Share`'s constructor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..exceptions import FedCryptoError, ProtocolError
from ..sharing import SHAMIR_FIELD_PRIME, Share

_trusted_share: Callable[[int, int, int, bytes, int, bytes], Share] | None
try:  # the sharing package's unchecked constructor: we validate in bulk below
    from ..sharing._shamir import _new_share as _trusted_share
except ImportError:  # pragma: no cover - fall back to the validating constructor
    _trusted_share = None

__all__ = [
    "SECRET_BYTES",
    "SHARE_WIRE_BYTES",
    "share_to_wire",
    "share_from_wire",
    "shares_from_wire",
]

SECRET_BYTES = 32
_SPLIT_ID_BYTES = 16
_DATA_BYTES = 4 * ((SECRET_BYTES + 2) // 3)
SHARE_WIRE_BYTES = _SPLIT_ID_BYTES + _DATA_BYTES


def share_to_wire(share: Share) -> bytes:
    """``split_id || data`` of a share of a 32-byte secret."""
    if share.secret_length != SECRET_BYTES:  # pragma: no cover - internal invariant
        raise ProtocolError("secure aggregation only shares 32-byte secrets")
    return share.split_id + share.data


def share_from_wire(raw: bytes, *, index: int, threshold: int, share_count: int, who: int) -> Share:
    """Rebuild and validate a share received from client ``who``.

    Raises:
        ProtocolError: wrong length, values outside the field, or bad parameters.
    """
    if len(raw) != SHARE_WIRE_BYTES:
        raise ProtocolError(f"share from client {who} has the wrong length")
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
        raise ProtocolError(f"share from client {who} is invalid") from None


def shares_from_wire(
    received: Sequence[tuple[int, int, bytes]], *, threshold: int, share_count: int
) -> list[Share]:
    """Rebuild many shares of one secret at once: ``received`` holds ``(sender, index, raw)``.

    Lengths and field ranges are checked for the whole batch with numpy, then the
    shares are built without per-share re-validation (the server rebuilds ~10^5 of them).

    Raises:
        ProtocolError: a share of the wrong length or with values outside the field
            (naming the sender).
    """
    for sender, _, raw in received:
        if len(raw) != SHARE_WIRE_BYTES:
            raise ProtocolError(f"share from client {sender} has the wrong length")
    if _trusted_share is None or not 1 <= threshold <= share_count:  # pragma: no cover
        return [
            share_from_wire(raw, index=i, threshold=threshold, share_count=share_count, who=s)
            for s, i, raw in received
        ]
    data = b"".join(raw[_SPLIT_ID_BYTES:] for _, _, raw in received)
    values = np.frombuffer(data, dtype=">u4").reshape(len(received), -1)
    bad = np.flatnonzero((values >= SHAMIR_FIELD_PRIME).any(axis=1))
    if bad.size:
        raise ProtocolError(f"share from client {received[int(bad[0])][0]} is invalid")
    for sender, index, _ in received:
        if not 1 <= index <= share_count:
            raise ProtocolError(f"share from client {sender} has an index out of range")
    make = _trusted_share
    return [
        make(
            index,
            threshold,
            share_count,
            raw[:_SPLIT_ID_BYTES],
            SECRET_BYTES,
            raw[_SPLIT_ID_BYTES:],
        )
        for _, index, raw in received
    ]
