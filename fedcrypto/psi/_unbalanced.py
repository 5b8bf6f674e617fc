"""Unbalanced PSI: a big server set masked once under a long-term OPRF key, served as a
compact cache of truncated tags, queried by many small clients (curve25519, :mod:`._oprf`).

* The server holds a long-term key ``k`` and a random 16-byte **epoch** naming it.  Its cache
  is the sorted list of 8-byte tags ``t(y) = BLAKE2b-64_epoch(F_k(y))`` of every server ID
  (:func:`build_cache`): at most 8 bytes per ID.
* A client downloads the cache once per epoch (:class:`CacheReceiver`), then for its IDs runs
  the OPRF (blind, the server evaluates, unblind: :class:`OprfClient` /
  :class:`OprfServer`) and matches ``t(x)`` against the cache locally.
* False positives: a client ID not in the server set matches only if its 64-bit tag equals
  one of the ``N`` cached tags: probability at most ``N / 2^64`` per client ID, so at most
  ``m * N / 2^64`` for ``m`` client IDs (10^3 against 10^7: about 5.4e-10).
* Rotating the key (a new epoch) invalidates every cache: a request for another epoch gets a
  *stale* answer, and the client raises :class:`StaleCacheError` asking to re-download.

Who learns what: the client learns the intersection (and the server set size, from the
cache); the server learns how many IDs each client queried, nothing about which.  The
cache reveals nothing else about the server's IDs to anyone without ``k`` (one-more DH),
except that a client can test any ID it queries — so the number of queries is the budget
the server controls (``max_query``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import random_bytes
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    RemoteProtocolError,
)
from . import _oprf
from ._messages import PsiMessage
from ._unbalanced_messages import (
    CACHE_TAG_BYTES,
    EPOCH_BYTES,
    MAX_CACHE_CHUNK,
    MAX_QUERY_BATCH,
    UNBALANCED_PARAM,
    CacheChunk,
    CacheHeader,
    OprfRequest,
    OprfResponse,
    decode_unbalanced_message,
)

__all__ = [
    "StaleCacheError",
    "TagCache",
    "OprfServer",
    "OprfClient",
    "CacheReceiver",
    "build_cache",
    "new_server_key",
    "run_unbalanced",
    "cache_messages",
    "UNBALANCED_DST",
    "false_positive_bound",
]

UNBALANCED_DST = b"fedcrypto-psi-unbalanced-v1:curve25519_XMD:SHA-512_ELL2_RO_"
_GROUP = "curve25519"


class StaleCacheError(LocalProtocolError):
    """This side's cache belongs to an older key epoch than the server's: download the cache
    again (the server rotated its key)."""


def new_server_key() -> tuple[bytes, bytes]:
    """A fresh long-term OPRF key and its random epoch id: ``(key, epoch)``."""
    return _oprf.new_key(_GROUP), random_bytes(EPOCH_BYTES)


def _tags(prf: bytes, epoch: bytes) -> npt.NDArray[np.uint64]:
    out = np.empty(len(prf) // 32, dtype=np.uint64)
    b2 = hashlib.blake2b
    for i in range(len(out)):
        d = b2(prf[32 * i : 32 * i + 32], digest_size=CACHE_TAG_BYTES, key=epoch).digest()
        out[i] = int.from_bytes(d, "little")
    return out


def build_cache(items: Sequence[bytes], key: bytes, epoch: bytes) -> npt.NDArray[np.uint64]:
    """The server's cache: sorted 8-byte tags of ``F_k(y)`` for every item (the one-time
    masking of the big set; callers may split ``items`` over processes and merge the sorted
    parts)."""
    if not isinstance(epoch, bytes) or len(epoch) != EPOCH_BYTES:
        raise InvalidArgumentError("epoch must be 16 bytes")
    prf = _oprf.evaluate_own(list(items), _GROUP, key, UNBALANCED_DST)
    tags = _tags(prf, epoch)
    tags.sort()
    return tags


def false_positive_bound(client_ids: int, server_ids: int) -> float:
    """Upper bound on the probability that any of ``client_ids`` non-members matches one of
    ``server_ids`` 64-bit tags: ``client_ids * server_ids / 2^64``."""
    return client_ids * server_ids / 2.0**64


class TagCache(Immutable):
    """A downloaded cache: the key ``epoch`` and the sorted tags (read-only uint64 array)."""

    __slots__ = ("epoch", "tags")
    epoch: bytes
    tags: npt.NDArray[np.uint64]

    def __init__(self, epoch: bytes, tags: npt.NDArray[np.uint64]) -> None:
        if not isinstance(epoch, bytes) or len(epoch) != EPOCH_BYTES:
            raise InvalidArgumentError("epoch must be 16 bytes")
        if not isinstance(tags, np.ndarray) or tags.dtype != np.uint64 or tags.ndim != 1:
            raise InvalidTypeError("tags must be a 1-D uint64 array")
        if len(tags) > 1 and bool(np.any(tags[1:] < tags[:-1])):
            raise InvalidArgumentError("cache tags must be sorted")
        tags = np.array(tags, copy=True)
        tags.setflags(write=False)
        self._set(epoch=epoch, tags=tags)

    def to_bytes(self) -> bytes:
        """``epoch || u64 count || tags (little-endian u64)`` (the local cache file body)."""
        return self.epoch + len(self.tags).to_bytes(8, "big") + self.tags.astype("<u8").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, *, max_ids: int = 1 << 32) -> TagCache:
        """Parse :meth:`to_bytes` output (a file): sizes checked before reading the tags.

        :raises InvalidArgumentError: malformed, more than ``max_ids`` tags, or unsorted.
        """
        if len(data) < EPOCH_BYTES + 8:
            raise InvalidArgumentError("cache file is truncated")
        n = int.from_bytes(data[EPOCH_BYTES : EPOCH_BYTES + 8], "big")
        if n > max_ids or len(data) != EPOCH_BYTES + 8 + 8 * n:
            raise InvalidArgumentError("cache file has the wrong size")
        tags = np.frombuffer(data, dtype="<u8", offset=EPOCH_BYTES + 8).astype(np.uint64)
        return cls(data[:EPOCH_BYTES], tags)


def cache_messages(cache: TagCache) -> list[PsiMessage]:
    """The server's answer to a :class:`CacheRequest`: a header and the chunks."""
    n = len(cache.tags)
    total = max(1, -(-n // MAX_CACHE_CHUNK))
    raw = cache.tags.astype("<u8").tobytes()
    step = MAX_CACHE_CHUNK * CACHE_TAG_BYTES
    out: list[PsiMessage] = [
        CacheHeader(param=UNBALANCED_PARAM, epoch=cache.epoch, count=n, chunks=total)
    ]
    out += [
        CacheChunk(
            param=UNBALANCED_PARAM, index=j, total=total, data=raw[j * step : (j + 1) * step]
        )
        for j in range(total)
    ]
    return out


class CacheReceiver:
    """Assembles a downloaded cache: feed the :class:`CacheHeader` then every
    :class:`CacheChunk` to :meth:`handle`; :meth:`result` gives the :class:`TagCache`.

    :param max_ids: refuse a cache announcing more tags than this (before allocating).
    """

    def __init__(self, *, max_ids: int = 1 << 32) -> None:
        self._max = max_ids
        self._header: CacheHeader | None = None
        self._parts: list[bytes] = []
        self._got = 0
        self._result: TagCache | None = None

    @property
    def done(self) -> bool:
        """True once every chunk arrived."""
        return self._result is not None

    def handle(self, msg: PsiMessage) -> None:
        """Consume a header or chunk.

        :raises RemoteProtocolError: out of order, other sizes than announced, too many IDs,
            unsorted tags.
        """
        if self._result is not None:
            raise RemoteProtocolError("cache data after the cache was complete")
        if isinstance(msg, CacheHeader):
            if self._header is not None:
                raise RemoteProtocolError("two cache headers")
            if msg.count > self._max:
                raise RemoteProtocolError(
                    f"the server's cache holds {msg.count} IDs, more than this side accepts "
                    f"({self._max})"
                )
            self._header = msg
            return
        if not isinstance(msg, CacheChunk) or self._header is None:
            raise RemoteProtocolError(
                f"unexpected {type(msg).__name__} while downloading the cache"
            )
        h = self._header
        j = len(self._parts)
        expected = min(MAX_CACHE_CHUNK, h.count - j * MAX_CACHE_CHUNK)
        if msg.index != j or msg.total != h.chunks or msg.count != max(0, expected):
            raise RemoteProtocolError(f"cache chunk {msg.index} out of order or of the wrong size")
        self._parts.append(msg.data)
        if len(self._parts) == h.chunks:
            tags = np.frombuffer(b"".join(self._parts), dtype="<u8").astype(np.uint64)
            self._parts = []
            try:
                self._result = TagCache(h.epoch, tags)
            except InvalidArgumentError as exc:
                raise RemoteProtocolError(f"the server's cache is malformed: {exc}") from None

    def result(self) -> TagCache:
        """The assembled cache.

        :raises LocalProtocolError: before the last chunk.
        """
        if self._result is None:
            raise LocalProtocolError("the cache is not complete")
        return self._result


class OprfServer:
    """The server side of queries: evaluates blinded IDs under the long-term key, for the
    current epoch only.  Stateless per request (safe to share between threads)."""

    def __init__(self, key: bytes, epoch: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != 32:
            raise InvalidArgumentError("key must be 32 bytes")
        if not isinstance(epoch, bytes) or len(epoch) != EPOCH_BYTES:
            raise InvalidArgumentError("epoch must be 16 bytes")
        self._key = key
        self.epoch = epoch

    def __repr__(self) -> str:
        return f"OprfServer(epoch={self.epoch.hex()})"

    def __reduce__(self) -> str:
        raise TypeError("the server holds a secret key and cannot be pickled")

    def answer(self, msg: OprfRequest) -> OprfResponse:
        """Evaluate one request (or answer *stale* for another epoch).

        :raises InvalidGroupElementError: a blinded element that is not a valid point.
        """
        if not isinstance(msg, OprfRequest) or isinstance(msg, OprfResponse):
            raise RemoteProtocolError("expected an OPRF request")
        if msg.epoch != self.epoch:
            return OprfResponse(
                param=UNBALANCED_PARAM,
                epoch=self.epoch,
                index=msg.index,
                total=msg.total,
                data=b"",
                stale=True,
            )
        data = _oprf.evaluate(msg.elements(), _GROUP, self._key)
        return OprfResponse(
            param=UNBALANCED_PARAM, epoch=self.epoch, index=msg.index, total=msg.total, data=data
        )


class OprfClient:
    """A client query against a downloaded cache: :meth:`start` gives the requests, feed each
    response to :meth:`handle`, then :meth:`result` gives the sorted matched positions.

    :raises StaleCacheError: (from :meth:`handle`) the server's key epoch is not the cache's.
    :raises RemoteProtocolError: more answers than requests, out of order, another count.
    """

    def __init__(self, items: Sequence[bytes], cache: TagCache, *, batch: int = 4096) -> None:
        if not isinstance(cache, TagCache):
            raise InvalidTypeError("cache must be a TagCache")
        if not 1 <= batch <= MAX_QUERY_BATCH:
            raise InvalidArgumentError(f"batch must be between 1 and {MAX_QUERY_BATCH}")
        self._items = list(items)
        self._cache = cache
        self._bs = batch
        self._blind, self._unblind = _oprf.new_blind(_GROUP)
        self._total = max(1, -(-len(self._items) // batch))
        self._answered = 0
        self._tags: list[npt.NDArray[np.uint64]] = []
        self._result: npt.NDArray[np.int64] | None = None
        self._started = False

    def start(self) -> list[OprfRequest]:
        """Every request, in order (the blinded IDs)."""
        if self._started:
            raise LocalProtocolError("start() was already called")
        self._started = True
        out = []
        for j in range(self._total):
            chunk = self._items[j * self._bs : (j + 1) * self._bs]
            data = _oprf.blind(chunk, _GROUP, self._blind, UNBALANCED_DST)
            out.append(
                OprfRequest(
                    param=UNBALANCED_PARAM,
                    epoch=self._cache.epoch,
                    index=j,
                    total=self._total,
                    data=data,
                )
            )
        return out

    @property
    def done(self) -> bool:
        """True once every request was answered."""
        return self._result is not None

    @property
    def answered(self) -> int:
        """Requests answered so far (for flow control: keep a small window in flight)."""
        return self._answered

    def handle(self, msg: PsiMessage) -> None:
        """Consume one response."""
        if not self._started:
            raise LocalProtocolError("handle() before start()")
        if not isinstance(msg, OprfResponse):
            raise RemoteProtocolError(f"expected an OPRF response, got {type(msg).__name__}")
        if msg.stale:
            raise StaleCacheError(
                "the server's key epoch changed (its key was rotated): this cache is stale; "
                "download the cache again"
            )
        if msg.epoch != self._cache.epoch:
            raise RemoteProtocolError("the server answered for another key epoch")
        j = self._answered
        if self._result is not None or j >= self._total:
            raise RemoteProtocolError("the server sent more answers than were asked")
        if msg.index != j or msg.total != self._total:
            raise RemoteProtocolError(f"answer {msg.index} out of order (expected {j})")
        expected = len(self._items[j * self._bs : (j + 1) * self._bs])
        if msg.count != expected:
            raise RemoteProtocolError(
                f"answer {j} holds {msg.count} evaluations, {expected} were asked"
            )
        prf = _oprf.unblind(msg.elements(), _GROUP, self._unblind)
        self._tags.append(_tags(prf, self._cache.epoch))
        self._answered += 1
        if self._answered == self._total:
            mine = np.concatenate(self._tags) if self._tags else np.empty(0, np.uint64)
            # binary search in the sorted cache: O(m log N), independent of N's scan cost
            tags = self._cache.tags
            pos = np.searchsorted(tags, mine)
            hit = pos < len(tags)
            hit[hit] = tags[pos[hit]] == mine[hit]
            self._result = np.flatnonzero(hit).astype(np.int64)

    def result(self) -> npt.NDArray[np.int64]:
        """Sorted positions of this client's items found in the server's cache."""
        if self._result is None:
            raise LocalProtocolError("the query is not complete")
        return self._result


def run_unbalanced(
    server_items: Sequence[bytes],
    client_items: Sequence[Sequence[bytes]],
    *,
    key: bytes | None = None,
    epoch: bytes | None = None,
) -> list[npt.NDArray[np.int64]]:
    """In-process unbalanced PSI: build the server cache once, then run every client's query
    through serialized messages.  Returns each client's matched positions."""
    if key is None or epoch is None:
        key, epoch = new_server_key()
    cache = TagCache(epoch, build_cache(server_items, key, epoch))
    server = OprfServer(key, epoch)
    out = []
    for items in client_items:
        receiver = CacheReceiver()
        for m in cache_messages(cache):
            receiver.handle(decode_unbalanced_message(m.to_bytes()))
        client = OprfClient(items, receiver.result())
        for req in client.start():
            parsed = decode_unbalanced_message(req.to_bytes())
            assert isinstance(parsed, OprfRequest)
            client.handle(decode_unbalanced_message(server.answer(parsed).to_bytes()))
        out.append(client.result())
    return out
