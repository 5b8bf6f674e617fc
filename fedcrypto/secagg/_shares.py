"""Compact transport of the Shamir shares secure aggregation exchanges.

Every secret shared in the protocol is 32 bytes (an X25519 private key ``s_u^SK`` or
a self-mask seed ``b_u``), split with :func:`fedcrypto.sharing.shamir_split_many`.
Inside the protocol the share metadata is implied by the session (threshold ``t``,
share count = number of holders, index = the holder's position + 1, secret length
32), so a share travels as ``split id (16 bytes) || share data (44 bytes)`` and is
rebuilt, with full validation, by :class:`fedcrypto.sharing.Share`'s constructor.
"""

from __future__ import annotations

from ..exceptions import FedCryptoError, ProtocolError
from ..sharing import Share

__all__ = ["SECRET_BYTES", "SHARE_WIRE_BYTES", "share_to_wire", "share_from_wire"]

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
