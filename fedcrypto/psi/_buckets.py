"""Partitioned PSI arithmetic: bucket assignment, the public padded size, derived session ids.

* **Assignment.**  Item ``x`` goes to bucket ``HMAC-SHA256(K, x)[:8] mod B`` (big-endian),
  where ``K = SHA-256(session_tag(settings, sid, "bucket"))`` depends on the session id
  agreed in the handshake.  Both parties use the same ``K``, so equal items land in equal
  buckets; a new session re-keys the assignment, so bucket contents of two runs are not
  linkable (a raw hash would put the same ID in the same bucket forever).  The modulo bias
  is below ``B / 2**64``.
* **Padding.**  Every bucket of a party holding ``n`` items is padded with dummy items
  (32 random bytes each, which match nothing except with probability ``2**-256``) to
  ``M(n, B) = ceil(mu + t)`` with ``mu = n / B``, ``lam = ln(B) + 40 ln 2`` and
  ``t = lam/3 + sqrt(lam**2/9 + 2*mu*lam)``.  For pseudo-random assignment the count of one
  bucket is Binomial(n, 1/B); Bernstein's inequality gives ``P[count >= mu + t] <=
  exp(-t**2 / (2 (mu + t/3))) = exp(-lam)``, and the union over ``B`` buckets bounds the
  probability that any bucket overflows by ``2**-40``.  ``M`` depends only on the announced
  set size and ``B``, both public, so the peer learns nothing from per-bucket counts.
* **Abort and rekey.**  A party checks its own counts against ``M`` before it sends
  anything; an overflow raises :class:`~fedcrypto.exceptions.BucketOverflowError` and
  the run stops (no truncation, nothing about the buckets is sent).  Re-running with a new
  session id draws a new ``K``, which independently re-assigns every item.  Inputs chosen
  *after* seeing the session id could force an overflow, but only of the chooser's own
  buckets: a denial of service it could cause anyway.
* **Sub-sessions.**  Bucket ``b`` runs as a complete PSI session with the session id
  ``SHA-256("fedcrypto-psi-bucket" || u32(B) || u32(b) || sid)``, so a message of one
  bucket (or of another run) is rejected by every other bucket.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Sequence
from concurrent.futures import Executor

import numpy as np
import numpy.typing as npt

from .._random import random_bytes
from ..exceptions import InvalidArgumentError
from ._parallel import map_chunks
from ._settings import MAX_BUCKETS, PsiSettings, session_tag

__all__ = [
    "OVERFLOW_BITS",
    "DUMMY_BYTES",
    "bucket_key",
    "assign_buckets",
    "padded_bucket_size",
    "bucket_session_id",
    "dummy_items",
]

#: The padded size makes any bucket overflow less likely than 2**-OVERFLOW_BITS per run.
OVERFLOW_BITS = 40
#: Size of one dummy item.
DUMMY_BYTES = 32
_ASSIGN_CHUNK = 1 << 16


def bucket_key(settings: PsiSettings, session_id: bytes) -> bytes:
    """The 32-byte HMAC key of the bucket assignment, derived from the session."""
    return hashlib.sha256(session_tag(settings, session_id, "bucket")).digest()


def _assign_chunk(items: Sequence[bytes], key: bytes, buckets: int) -> npt.NDArray[np.uint32]:
    digest = hmac.digest
    raw = b"".join(digest(key, x, "sha256")[:8] for x in items)
    return (np.frombuffer(raw, dtype=">u8") % np.uint64(buckets)).astype(np.uint32)


def assign_buckets(
    items: Sequence[bytes], key: bytes, buckets: int, executor: Executor | None = None
) -> npt.NDArray[np.uint32]:
    """The bucket of every item (``HMAC-SHA256(key, item)[:8] mod buckets``), in input order.

    Runs in chunks on ``executor`` (None = inline); the result never depends on it.
    """
    if not items:
        return np.empty(0, dtype=np.uint32)
    parts = map_chunks(executor, _assign_chunk, items, key, buckets, min_items=_ASSIGN_CHUNK)
    return np.concatenate(parts)


def padded_bucket_size(n: int, buckets: int) -> int:
    """The public size ``M(n, B)`` every bucket of an ``n``-item party is padded to.

    One bucket (``B = 1``) is never padded: ``M(n, 1) = n``.
    """
    if buckets == 1:
        return n
    if not 1 <= buckets <= MAX_BUCKETS or n < 0:
        raise InvalidArgumentError("bucket count or set size out of range")
    mu = n / buckets
    lam = math.log(buckets) + OVERFLOW_BITS * math.log(2)
    t = lam / 3 + math.sqrt(lam * lam / 9 + 2 * mu * lam)
    return min(n, math.ceil(mu + t))


def bucket_session_id(session_id: bytes, buckets: int, bucket: int) -> bytes:
    """The 32-byte session id of bucket ``bucket``'s sub-session."""
    h = hashlib.sha256(b"fedcrypto-psi-bucket")
    h.update(buckets.to_bytes(4, "big") + bucket.to_bytes(4, "big"))
    h.update(session_id)
    return h.digest()


def dummy_items(count: int) -> list[bytes]:
    """``count`` fresh random dummy items of :data:`DUMMY_BYTES` bytes."""
    raw = random_bytes(DUMMY_BYTES * count) if count else b""
    return [raw[i : i + DUMMY_BYTES] for i in range(0, len(raw), DUMMY_BYTES)]
