"""Shamir t-of-n secret sharing of byte strings, vectorised over GF(2**31 - 1).

How a secret is shared
----------------------
The secret bytes are cut into 3-byte chunks (the last one zero-padded), each read as a
big-endian integer below ``2**24`` and so an element of GF(p), ``p = 2**31 - 1``.  For
every chunk ``s`` an independent polynomial ``f(x) = s + a_1 x + ... + a_{t-1} x^{t-1}``
is drawn with coefficients uniform in GF(p) (rejection sampling from the AES-CTR
:class:`~fedcrypto._random.VectorRNG`, so without bias); share ``i`` (``1 <= i <= n``)
holds ``f(i)`` for every chunk.  Any ``t - 1`` shares are uniformly distributed and
independent of the secret (perfect secrecy, per chunk); any ``t`` shares give ``f(0)``
by Lagrange interpolation.

Integrity for free: the secret chunks are below ``2**24`` while a wrong reconstruction
(corrupted share, shares of different polynomials) gives field elements that are
essentially uniform below ``2**31``, so it passes the range check with probability about
``2**-7`` per chunk (``2**-77`` for a 32-byte secret).  This catches accidents, it is not
a MAC: a malicious share holder can still shift the secret by a chosen multiple of its
Lagrange coefficient; authenticate shares at the protocol level.

Every split gets a fresh random 16-byte ``split_id`` carried by its shares (and used as
the envelope parameter id), so shares of different splits are never silently mixed.
"""

from __future__ import annotations

import hmac
import struct
from collections.abc import Sequence

import numpy as np

from .._immutable import Immutable
from .._random import VectorRNG, random_bytes
from ..exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from ..serialization import PARAM_ID_BYTES, ObjectType, Reader, Writer, pack, unpack
from ._field import P31, lagrange_at, lagrange_at_zero, matmul, random_elements

__all__ = [
    "Share",
    "shamir_split",
    "shamir_combine",
    "shamir_split_many",
    "shamir_combine_many",
    "MAX_SHARES",
    "SHAMIR_FIELD_PRIME",
]

#: The prime of the share field.
SHAMIR_FIELD_PRIME = P31
#: Largest number of shares per split (indices are 1..n, n <= MAX_SHARES).
MAX_SHARES = 65535
#: Secret bytes per field element.
_CHUNK = 3
#: Field code written in the wire format (1 = GF(2**31 - 1), 3-byte chunks).
_FIELD_CODE = 1
_SPLIT_ID_BYTES = PARAM_ID_BYTES
_ELEM_DTYPE = np.dtype(">u4")
# Use the Vandermonde matrix product when it is small, else Horner's rule.
_MATMUL_LIMIT = 1 << 22


def _n_elements(secret_length: int) -> int:
    return -(-secret_length // _CHUNK)


class Share(Immutable):
    """One share of a Shamir split of a byte string.

    Attributes:
        index: the evaluation point ``x`` of this share, ``1 <= index <= share_count``.
        threshold: ``t``, the number of shares needed to reconstruct.
        share_count: ``n``, the number of shares the secret was split into.
        split_id: 16 random bytes identifying the split (the same for all its shares).
        secret_length: length of the secret in bytes.
        data: the share values, one 4-byte big-endian field element per 3-byte chunk
            of the secret (secret material: never logged, not shown in ``repr``).

    Shares are immutable, compare in constant time on ``data``, refuse pickling and
    serialize with :meth:`to_bytes` / :meth:`from_bytes` through the fedcrypto envelope.
    Build them with :func:`shamir_split`; the constructor validates every field, and
    :meth:`many` builds many shares of one scheme at once, validated in bulk.

    Raises:
        InvalidTypeError, InvalidArgumentError: on construction with bad fields.
    """

    # One slot holding a tuple: creating hundreds of thousands of shares stays cheap.
    __slots__ = ("_v",)
    _v: tuple[int, int, int, bytes, int, bytes]

    def __init__(
        self,
        index: int,
        threshold: int,
        share_count: int,
        split_id: bytes,
        secret_length: int,
        data: bytes,
    ) -> None:
        if not (
            type(index) is int
            and type(threshold) is int
            and type(share_count) is int
            and type(secret_length) is int
        ):
            # slow path: int subclasses are fine, bool and everything else are not
            for name, v in (
                ("index", index),
                ("threshold", threshold),
                ("share_count", share_count),
                ("secret_length", secret_length),
            ):
                if not isinstance(v, int) or isinstance(v, bool):
                    raise InvalidTypeError(f"{name} must be an int")
            index, threshold = int(index), int(threshold)
            share_count, secret_length = int(share_count), int(secret_length)
        if type(split_id) is not bytes or len(split_id) != _SPLIT_ID_BYTES:
            if not isinstance(split_id, bytes) or len(split_id) != _SPLIT_ID_BYTES:
                raise InvalidArgumentError(f"split_id must be {_SPLIT_ID_BYTES} bytes")
            split_id = bytes(split_id)
        if type(data) is not bytes:
            if not isinstance(data, bytes):
                raise InvalidTypeError("data must be bytes")
            data = bytes(data)
        if not (1 <= threshold <= share_count <= MAX_SHARES):
            _check_params(threshold, share_count)
        if not 1 <= index <= share_count:
            raise InvalidArgumentError(f"share index {index} is outside 1..{share_count}")
        if secret_length < 0:
            raise InvalidArgumentError("secret_length must be non-negative")
        m = -(-secret_length // _CHUNK)
        if len(data) != 4 * m:
            raise InvalidArgumentError("share data length does not match the secret length")
        if m and max(struct.unpack(f">{m}I", data)) >= P31:
            raise InvalidArgumentError("share value outside the field")
        self._set(_v=(index, threshold, share_count, split_id, secret_length, data))

    @classmethod
    def many(
        cls,
        indices: Sequence[int],
        split_ids: Sequence[bytes],
        data: Sequence[bytes],
        *,
        threshold: int,
        share_count: int,
        secret_length: int,
    ) -> list[Share]:
        """Build many shares with common parameters at once, validated in bulk.

        The public fast path for protocols that receive shares by the thousand (the
        secure-aggregation server rebuilds about 10^5 per round): the common parameters
        are checked once, the per-share fields together with numpy (indices in
        ``1..share_count``, 16-byte split ids, data of ``4 * ceil(secret_length / 3)``
        bytes whose every u32 is below the field prime), and the shares are then built
        without re-checking each one.  The result equals ``[Share(i, threshold,
        share_count, s, secret_length, d) for i, s, d in zip(indices, split_ids, data)]``.

        Args:
            indices: each share's index.
            split_ids: each share's 16-byte split id.
            data: each share's values (big-endian u32 field elements).
            threshold: ``t``, common to all shares.
            share_count: ``n``, common to all shares.
            secret_length: the secret length in bytes, common to all shares.

        Returns:
            The shares, in input order.

        Raises:
            InvalidTypeError: arguments of the wrong type (bytes are required for split
                ids and data; ints for indices and parameters).
            InvalidArgumentError: bad common parameters, sequences of different lengths,
                or a bad share; the message names the position of the first bad share.
        """
        for name, v in (
            ("threshold", threshold),
            ("share_count", share_count),
            ("secret_length", secret_length),
        ):
            if not isinstance(v, int) or isinstance(v, bool):
                raise InvalidTypeError(f"{name} must be an int")
        t, n, length = int(threshold), int(share_count), int(secret_length)
        _check_params(t, n)
        if length < 0:
            raise InvalidArgumentError("secret_length must be non-negative")
        count = len(indices)
        if len(split_ids) != count or len(data) != count:
            raise InvalidArgumentError("indices, split_ids and data must have the same length")
        if count == 0:
            return []
        if not set(map(type, split_ids)) <= {bytes} or not set(map(type, data)) <= {bytes}:
            raise InvalidTypeError("split ids and share data must be bytes")
        idx = np.asarray(indices)
        if idx.shape != (count,) or idx.dtype.kind not in "iu":
            raise InvalidTypeError("indices must be a sequence of ints")
        width = 4 * _n_elements(length)
        sid_lens = np.fromiter(map(len, split_ids), dtype=np.int64, count=count)
        data_lens = np.fromiter(map(len, data), dtype=np.int64, count=count)
        bad = (idx < 1) | (idx > n) | (sid_lens != _SPLIT_ID_BYTES) | (data_lens != width)
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise InvalidArgumentError(
                f"share {k}: index outside 1..{n}, split id not {_SPLIT_ID_BYTES} bytes, "
                f"or data not {width} bytes"
            )
        if width:
            values = np.frombuffer(b"".join(data), dtype=_ELEM_DTYPE).reshape(count, -1)
            out_of_field = (values >= P31).any(axis=1)
            if out_of_field.any():
                k = int(np.flatnonzero(out_of_field)[0])
                raise InvalidArgumentError(f"share {k}: value outside the field")
        make = cls._trusted
        return [
            make(_v=(i, t, n, sid, length, d))
            for i, sid, d in zip(idx.tolist(), split_ids, data, strict=True)
        ]

    @property
    def index(self) -> int:
        """The evaluation point of this share (1..share_count)."""
        return self._v[0]

    @property
    def threshold(self) -> int:
        """How many shares reconstruct the secret."""
        return self._v[1]

    @property
    def share_count(self) -> int:
        """How many shares the secret was split into."""
        return self._v[2]

    @property
    def split_id(self) -> bytes:
        """The random 16-byte id common to all shares of one split."""
        return self._v[3]

    @property
    def secret_length(self) -> int:
        """Length of the shared secret in bytes."""
        return self._v[4]

    @property
    def data(self) -> bytes:
        """The share values (u32 big-endian field elements; secret material)."""
        return self._v[5]

    def __repr__(self) -> str:
        return (
            f"Share(index={self.index}, threshold={self.threshold}, "
            f"share_count={self.share_count}, secret_length={self.secret_length}, "
            f"split_id={self.split_id.hex()[:8]}...)"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Share):
            return NotImplemented
        return (
            self.index == other.index
            and self.threshold == other.threshold
            and self.share_count == other.share_count
            and self.secret_length == other.secret_length
            and self.split_id == other.split_id
            and hmac.compare_digest(self.data, other.data)
        )

    def __hash__(self) -> int:
        return hash((self.split_id, self.index))

    def to_bytes(self) -> bytes:
        """Serialize in the fedcrypto envelope (type ``SHAMIR_SHARE``, parameter id = split id).

        Payload: ``u8 field code (1)``, ``u32 index``, ``u32 threshold``,
        ``u32 share_count``, ``u32 secret_length``, then ``ceil(secret_length / 3)``
        field elements as ``u32`` big-endian.
        """
        payload = (
            Writer()
            .u8(_FIELD_CODE)
            .u32(self.index)
            .u32(self.threshold)
            .u32(self.share_count)
            .u32(self.secret_length)
            .raw(self.data)
            .getvalue()
        )
        return pack(ObjectType.SHAMIR_SHARE, payload, param=self.split_id)

    @classmethod
    def from_bytes(cls, data: bytes, *, expected_split_id: bytes | None = None) -> Share:
        """Parse and validate a share produced by :meth:`to_bytes`.

        Args:
            data: the serialized share.
            expected_split_id: if given, the share must belong to this split.

        Returns:
            The share.

        Raises:
            SerializationError: malformed envelope or payload, unknown field code,
                out-of-range index or threshold, values outside the field, wrong split.
        """
        env = unpack(data, ObjectType.SHAMIR_SHARE, expected_param=expected_split_id)
        r = Reader(env.payload)
        field = r.u8()
        if field != _FIELD_CODE:
            raise SerializationError(f"unknown Shamir field code {field}")
        index, threshold, count, length = r.u32(), r.u32(), r.u32(), r.u32()
        if r.remaining() != 4 * _n_elements(length):
            raise SerializationError("share data length does not match the secret length")
        body = r.raw(r.remaining())
        try:
            return cls(index, threshold, count, env.param_id, length, body)
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid Shamir share: {exc}") from None


def _check_params(threshold: object, shares: object) -> None:
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise InvalidTypeError("threshold must be an int")
    if not isinstance(shares, int) or isinstance(shares, bool):
        raise InvalidTypeError("shares must be an int")
    if not 1 <= shares <= MAX_SHARES:
        raise InvalidArgumentError(f"number of shares must be between 1 and {MAX_SHARES}")
    if not 1 <= threshold <= shares:
        raise InvalidArgumentError(
            f"threshold must be between 1 and the number of shares ({shares})"
        )


def _encode(secret: bytes) -> np.ndarray:
    """Secret bytes -> field elements (3 big-endian bytes each, last chunk zero-padded)."""
    m = _n_elements(len(secret))
    buf = np.zeros(3 * m, dtype=np.uint8)
    buf[: len(secret)] = np.frombuffer(secret, dtype=np.uint8)
    b = buf.reshape(m, 3).astype(np.uint64)
    out: np.ndarray = (b[:, 0] << np.uint64(16)) | (b[:, 1] << np.uint64(8)) | b[:, 2]
    return out


def _evaluate(coeffs: np.ndarray, n: int) -> np.ndarray:
    """Evaluate the polynomials whose coefficients are the columns of ``coeffs`` (t x M,
    constant term first) at x = 1..n; returns an n x M array."""
    t, m = coeffs.shape
    xs = np.arange(1, n + 1, dtype=np.uint64)
    p = np.uint64(P31)
    if n * t <= _MATMUL_LIMIT:
        # Vandermonde matrix x**j by doubling: columns [w, 2w) = columns [0, w) * x**w.
        vander = np.empty((n, t), dtype=np.uint64)
        vander[:, 0] = 1
        w = 1
        xw = xs.copy()  # x**w mod p
        while w < t:
            hi = min(2 * w, t)
            np.multiply(vander[:, : hi - w], xw[:, None], out=vander[:, w:hi])
            vander[:, w:hi] %= p
            xw = (xw * xw) % p
            w = hi
        return matmul(vander, coeffs)
    acc = np.broadcast_to(coeffs[t - 1], (n, m)).copy()
    xcol = xs[:, None]
    for j in range(t - 2, -1, -1):
        acc *= xcol
        acc += coeffs[j]
        acc %= p
    return acc


def _as_secret(secret: object) -> bytes:
    if not isinstance(secret, (bytes, bytearray, memoryview)):
        raise InvalidTypeError(f"secret must be bytes, got {type(secret).__name__}")
    return bytes(secret)


def shamir_split_many(
    secrets: Sequence[bytes], *, threshold: int, shares: int
) -> list[list[Share]]:
    """Split many byte-string secrets at once, each into ``shares`` Shamir shares.

    All polynomials of all secrets are evaluated in one vectorised pass; each secret gets
    its own fresh random split id.

    Args:
        secrets: the secrets (any lengths, including empty).
        threshold: ``t``, how many shares reconstruct a secret (``1 <= t <= shares``;
            ``t = 1`` makes every share reveal the secret).
        shares: ``n``, the number of shares per secret (``1 <= n <= 65535``).

    Returns:
        ``result[k][i]`` is share ``i + 1`` of ``secrets[k]``.

    Raises:
        InvalidTypeError: a secret is not bytes, or threshold/shares are not ints.
        InvalidArgumentError: threshold or shares out of range.
    """
    _check_params(threshold, shares)
    secs = [_as_secret(s) for s in secrets]
    if not secs:
        return []
    blocks = [_encode(s) for s in secs]
    sizes = [b.shape[0] for b in blocks]
    total = sum(sizes)
    split_ids = [random_bytes(_SPLIT_ID_BYTES) for _ in secs]
    if total == 0:
        make = Share._trusted
        return [
            [make(_v=(i, threshold, shares, sid, 0, b"")) for i in range(1, shares + 1)]
            for sid in split_ids
        ]
    coeffs = np.empty((threshold, total), dtype=np.uint64)
    coeffs[0] = np.concatenate(blocks)
    if threshold > 1:
        rng = VectorRNG()
        coeffs[1:] = random_elements(rng, (threshold - 1) * total).reshape(threshold - 1, total)
    values = _evaluate(coeffs, shares).astype(_ELEM_DTYPE)  # n x total, big-endian u32
    out: list[list[Share]] = []
    offset = 0
    make = Share._trusted
    for k, sec in enumerate(secs):
        m = sizes[k]
        raw = np.ascontiguousarray(values[:, offset : offset + m]).tobytes()
        offset += m
        w = 4 * m
        sid = split_ids[k]
        length = len(sec)
        out.append(
            [
                make(_v=(i + 1, threshold, shares, sid, length, raw[i * w : (i + 1) * w]))
                for i in range(shares)
            ]
        )
    return out


def shamir_split(secret: bytes, *, threshold: int, shares: int) -> list[Share]:
    """Split ``secret`` into ``shares`` Shamir shares, any ``threshold`` of which reconstruct it.

    Args:
        secret: the secret bytes (any length, e.g. a 32-byte key).
        threshold: ``t`` (``1 <= t <= shares``); fewer than ``t`` shares reveal nothing.
        shares: ``n`` (``1 <= n <= 65535``); share ``i`` has ``index == i`` for ``i`` in 1..n.

    Returns:
        The ``n`` shares, in index order.

    Raises:
        InvalidTypeError, InvalidArgumentError: bad secret type or parameters.
    """
    return shamir_split_many([secret], threshold=threshold, shares=shares)[0]


def _select(shares: Sequence[Share], which: str) -> tuple[tuple[Share, ...], tuple[Share, ...]]:
    """Validate one share set; return its ``t`` lowest-index shares and the rest, sorted."""
    if isinstance(shares, (bytes, str)) or not isinstance(shares, Sequence):
        raise InvalidTypeError(f"{which}: expected a sequence of Share")
    if not shares:
        raise InvalidArgumentError(f"{which}: no shares given")
    first = shares[0]
    if not isinstance(first, Share):
        raise InvalidTypeError(f"{which}: expected Share objects, got {type(first).__name__}")
    _, t, n, sid, length, _ = first._v
    vals = []
    for s in shares:  # the hot loop of the secagg server: keep it lean
        if not isinstance(s, Share):
            raise InvalidTypeError(f"{which}: expected Share objects, got {type(s).__name__}")
        v = s._v
        if v[3] != sid or v[1] != t or v[2] != n or v[4] != length:
            raise KeyMismatchError(
                f"{which}: shares come from different splits (split id, threshold, "
                "share count or secret length differ)"
            )
        vals.append(v)
    indices = [v[0] for v in vals]  # each in 1..n: checked when the Share was built
    if len(set(indices)) != len(indices):
        seen: set[int] = set()
        dup = next(i for i in indices if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise InvalidArgumentError(f"{which}: duplicate share index {dup}")
    if len(shares) < t:
        raise InvalidArgumentError(f"{which}: {len(shares)} shares given, the threshold is {t}")
    order = sorted(range(len(indices)), key=indices.__getitem__)
    return tuple(shares[i] for i in order[:t]), tuple(shares[i] for i in order[t:])


def _decode(elems: np.ndarray, length: int, which: str) -> bytes:
    if elems.size and int(elems.max()) >= 1 << 24:
        raise InvalidArgumentError(
            f"{which}: reconstruction failed the integrity check "
            "(a share is corrupted or the shares are not from the same split)"
        )
    raw = elems.astype(">u4").view(np.uint8).reshape(-1, 4)[:, 1:].tobytes()
    if any(raw[length:]):
        raise InvalidArgumentError(
            f"{which}: reconstruction failed the integrity check "
            "(a share is corrupted or the shares are not from the same split)"
        )
    return raw[:length]


def shamir_combine_many(
    share_sets: Sequence[Sequence[Share]], *, verify: bool = False
) -> list[bytes]:
    """Reconstruct many secrets; Lagrange coefficients are computed once per index set.

    Each element of ``share_sets`` holds at least ``t`` shares of one split; the ``t``
    shares with the lowest indices are used.  Extra shares are validated for type and
    metadata and, with ``verify=True``, checked to lie on the same polynomial (so a
    corrupted or inconsistently dealt share is detected for certain whenever more than
    ``t`` shares are available).  Sets that use the same indices (e.g. the secure
    aggregation server reconstructing many clients' seeds from one survivor set) are
    interpolated together in one matrix product.

    Args:
        share_sets: one sequence of shares per secret.
        verify: also check every extra share against the interpolated polynomial
            (one more matrix product per index set).

    Returns:
        The secrets, in the order of ``share_sets``.

    Raises:
        InvalidTypeError: something other than Share objects.
        InvalidArgumentError: fewer than ``t`` shares, a duplicate index, a
            reconstruction that fails the integrity check (corrupted shares), or, with
            ``verify``, shares that are not consistent.
        KeyMismatchError: a set mixes shares of different splits.
    """
    if isinstance(share_sets, (bytes, str)) or not isinstance(share_sets, Sequence):
        raise InvalidTypeError("share_sets must be a sequence of share sequences")
    return _combine(share_sets, [f"share set {k}" for k in range(len(share_sets))], bool(verify))


def _stack(sets: list[tuple[Share, ...]], rows: int) -> np.ndarray:
    """Row ``i`` = the data of share ``i`` of every set, concatenated (rows x total elements)."""
    raw = b"".join(b"".join(sel[i].data for sel in sets) for i in range(rows))
    return np.frombuffer(raw, dtype=_ELEM_DTYPE).reshape(rows, -1).astype(np.uint64)


def _combine(
    share_sets: Sequence[Sequence[Share]], labels: Sequence[str], verify: bool
) -> list[bytes]:
    picked = [_select(s, labels[k]) for k, s in enumerate(share_sets)]
    selected = [p[0] for p in picked]
    groups: dict[tuple[tuple[int, ...], tuple[int, ...]], list[int]] = {}
    for k, (sel, extra) in enumerate(picked):
        key = (tuple(s.index for s in sel), tuple(s.index for s in extra) if verify else ())
        groups.setdefault(key, []).append(k)
    results: list[bytes] = [b""] * len(selected)
    for (indices, extra_idx), members in groups.items():
        t = len(indices)
        widths = [len(selected[k][0].data) for k in members]
        if sum(widths) == 0:
            continue
        xs = np.array(indices, dtype=np.uint64)
        y = _stack([selected[k] for k in members], t)
        if extra_idx:
            # Every extra share must lie on the polynomial the first t shares define.
            coeffs = lagrange_at(xs, np.array(extra_idx, dtype=np.uint64))
            predicted = matmul(coeffs, y)
            actual = _stack([picked[k][1] for k in members], len(extra_idx))
            if not np.array_equal(predicted, actual):
                bad = int(np.flatnonzero((predicted != actual).any(axis=0))[0])
                k = members[int(np.searchsorted(np.cumsum(widths) // 4, bad, side="right"))]
                raise InvalidArgumentError(
                    f"{labels[k]}: shares are inconsistent (they do not lie on one polynomial "
                    "of degree below the threshold: a share is corrupted)"
                )
        lam = lagrange_at_zero(xs)
        secrets_elems = matmul(lam[None, :], y)[0]
        offset = 0
        for k, w in zip(members, widths, strict=True):
            m = w // 4
            results[k] = _decode(
                secrets_elems[offset : offset + m],
                selected[k][0].secret_length,
                labels[k],
            )
            offset += m
    return results


def shamir_combine(shares: Sequence[Share], *, verify: bool = False) -> bytes:
    """Reconstruct a secret from at least ``threshold`` of its shares.

    Args:
        shares: shares of one split, any order; the ``t`` lowest indices are used.
        verify: check that the extra shares (beyond ``t``) lie on the same polynomial.

    Returns:
        The secret bytes.

    Raises:
        InvalidTypeError: something other than Share objects.
        InvalidArgumentError: fewer than ``t`` shares, a duplicate index, a failed
            integrity check (a corrupted share) or, with ``verify``, inconsistent shares.
        KeyMismatchError: shares from different splits.
    """
    if isinstance(shares, (bytes, str)) or not isinstance(shares, Sequence):
        raise InvalidTypeError("shares must be a sequence of Share")
    return _combine([shares], ["shares"], bool(verify))[0]
