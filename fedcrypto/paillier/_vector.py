"""EncryptedVector: many Paillier ciphertexts in one contiguous limb array.

Also the package's encryption and decryption of vectors (:func:`encrypt_values`,
:func:`decrypt_values`), which the key classes call.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable, Sequence
from concurrent.futures import Executor
from typing import Any

import numpy as np

from .._backend import LimbArray, get_backend, int_to_limbs, ints_to_limbs, limbs_to_ints
from .._immutable import Immutable
from ..exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidCiphertext,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from ..serialization import ObjectType, Reader, Writer, pack, unpack
from . import _crypto
from ._crypto import Randomness
from ._distribute import decrypt_residues_on, encrypt_residues_on
from ._encoding import (
    INTEGER,
    MAX_FRAC_BITS,
    Encoding,
    decode,
    encode,
    encode_with,
    to_integers,
)
from ._limbmath import is_zero, row_minus, widen
from ._params import PrivateParams, PublicParams
from ._pool import RandomizerPool

__all__ = [
    "EncryptedVector",
    "concatenate",
    "encrypt_values",
    "decrypt_values",
    "MAX_VECTOR_LENGTH",
]

#: Largest ciphertext count :meth:`EncryptedVector.from_bytes` accepts (2**32); the
#: payload must also hold exactly that many ciphertexts.
MAX_VECTOR_LENGTH = 1 << 32

#: Types accepted as plaintext operands of + - *.
_PLAIN = (int, float, np.integer, np.floating, np.ndarray, Sequence)


def _multipliers(
    pk: PublicParams, values: Any, rows: int | None
) -> tuple[LimbArray, np.ndarray, Encoding]:
    """Plaintext multipliers as (|k| limbs, negative mask, encoding of k), checked.

    ``values`` is flat; it is read as ``rows`` rows of multipliers, each row applied
    to the whole vector at once (a dot product), or, with ``rows=None``, as
    elementwise multipliers (one row per entry).  Float multipliers use
    fixed point with :data:`DEFAULT_FRAC_BITS`, reduced by the trailing zero bits
    common to all of them (``0.5`` costs one fractional bit, ``2.0`` none).

    Bound: the plaintext of a result is ``sum_j k_j * m_j`` over one row.  It must
    stay within ``[-max_int, max_int]`` for every plaintext vector with entries in
    ``{-1, 0, 1}`` (the smallest non-zero plaintexts): the absolute sum of each row
    is at most ``max_int``.  Otherwise some one-unit input already decrypts to
    garbage (a multiplier beyond ``n`` would even wrap silently, ``k = n + 1``
    acting as ``1``).  Larger plaintexts can still overflow; decryption reports
    that in the overflow gap as for sums.

    Raises:
        EncodingOverflowError: a row's absolute sum exceeds ``max_int``.
    """
    ints, enc = to_integers(values, None)
    count = len(ints)
    if rows is None:
        rows = count
    cols = count // rows if rows else 0
    max_int = pk.max_int
    if isinstance(ints, np.ndarray):
        neg = ints < 0
        mags = np.abs(ints).astype(np.uint64)  # exact for every int64, -2**63 included
        f = enc.frac_bits
        if enc.is_float and f and mags.any():
            nz = mags[mags != 0]
            low = nz & (~nz + np.uint64(1))  # lowest set bit
            tz = int(np.log2(low.astype(np.float64)).min())
            shift = min(tz, f)
            mags = mags >> np.uint64(shift)
            enc = Encoding(True, f - shift)
        if count and cols * int(mags.max()) > max_int:
            sums = mags.reshape(rows, cols).astype(object).sum(axis=1)
            if max(int(v) for v in sums) > max_int:
                raise EncodingOverflowError(_TOO_LARGE)
        return np.ascontiguousarray(mags.reshape(-1, 1)), neg, enc
    mag_list = [abs(v) for v in ints]
    for r in range(rows):
        if sum(mag_list[r * cols : (r + 1) * cols]) > max_int:
            raise EncodingOverflowError(_TOO_LARGE)
    neg = np.array([v < 0 for v in ints], dtype=bool)
    return ints_to_limbs(mag_list), neg, enc


_TOO_LARGE = (
    "plaintext multipliers too large for this key: the absolute value of a multiplier "
    "(or the absolute sum of a row of weights) must be at most max_int, or the product "
    "does not decode"
)


def _broadcast_operand(value: Any) -> tuple[Any, bool]:
    """Wrap a scalar plaintext as a 1-element list; report whether it was a scalar."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.reshape(1), True
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    ):
        if isinstance(value, int) and not -(2**62) < value < 2**62:
            arr = np.empty(1, dtype=object)
            arr[0] = value
            return arr, True
        return np.array([value]), True
    return value, False


class EncryptedVector(Immutable):
    """A 1-D vector of Paillier ciphertexts under one public key, stored contiguously.

    The ciphertexts are rows of a read-only ``(len, width)`` uint64 limb array
    (``width = ceil(|n**2| / 64)``); no Python object per element.  The plaintexts
    follow an :class:`Encoding` (exact integers, or fixed point decoded to float).

    Homomorphic operations return new vectors (Paillier: the product of ciphertexts
    encrypts the sum of plaintexts, a ciphertext raised to ``k`` encrypts ``k`` times
    its plaintext):

    * ``a + b``, ``a - b`` with another vector (same key) or plaintexts (scalar or
      same-length array); ``-a``;
    * ``a * k`` with a scalar or an elementwise plaintext vector (negative values
      through modular inversion of the ciphertexts);
    * :meth:`sum`, :meth:`dot`, ``a @ W`` and ``W @ a`` for plaintext matrices
      (multi-exponentiation);
    * slicing/indexing, :func:`concatenate`, :meth:`rerandomize`.

    Results of operations are marked *not fresh*: :meth:`to_bytes` re-randomizes
    them before they leave the process (their randomness is a function of the
    inputs' and could reveal how they were computed) unless
    ``unsafe_skip_rerandomize=True``.
    """

    __slots__ = ("_pk", "_c", "_encoding", "_fresh")
    __array_ufunc__ = None  # numpy defers to our reflected operators (W @ ev, 2 * ev, ...)
    _pk: PublicParams
    _c: LimbArray
    _encoding: Encoding
    _fresh: bool

    def __init__(self) -> None:
        raise TypeError(
            "use public_key.encrypt(), EncryptedVector.from_ciphertexts() or "
            "EncryptedVector.from_bytes()"
        )

    @classmethod
    def _make(
        cls, pk: PublicParams, c: LimbArray, encoding: Encoding, *, fresh: bool
    ) -> EncryptedVector:
        """The trusted constructor of this module: ``c`` made read-only, nothing validated."""
        c = np.ascontiguousarray(c, dtype=np.uint64)
        c.flags.writeable = False
        return cls._trusted(_pk=pk, _c=c, _encoding=encoding, _fresh=fresh)

    # -- properties ------------------------------------------------------------------
    @property
    def public_key(self) -> PublicParams:
        """The key the ciphertexts are under (a :class:`PaillierPublicKey`)."""
        return self._pk

    @property
    def encoding(self) -> Encoding:
        """How plaintexts decode (integer, or fixed point with ``frac_bits``)."""
        return self._encoding

    @property
    def is_fresh(self) -> bool:
        """True when the ciphertexts came straight from encryption or re-randomization."""
        return self._fresh

    @property
    def limbs(self) -> LimbArray:
        """The read-only ``(len, width)`` uint64 limb array of the ciphertexts, as they are
        (no re-randomization: for framework authors feeding the backend directly)."""
        return self._c

    @property
    def nbytes(self) -> int:
        """Bytes of ciphertext storage."""
        return int(self._c.nbytes)

    def __len__(self) -> int:
        return int(self._c.shape[0])

    @property
    def shape(self) -> tuple[int]:
        """``(len,)``: vectors are one-dimensional."""
        return (len(self),)

    # -- interop ---------------------------------------------------------------------
    def ciphertexts(self, *, unsafe_skip_rerandomize: bool = False) -> list[int]:
        """The ciphertexts as Python ints (e.g. for python-paillier's ``EncryptedNumber``).

        Like :meth:`to_bytes`, results of homomorphic operations are re-randomized
        first (fresh ciphertexts are returned as they are) unless
        ``unsafe_skip_rerandomize``.
        """
        ev = self if self._fresh or unsafe_skip_rerandomize else self.rerandomize()
        return limbs_to_ints(ev._c)

    @classmethod
    def from_ciphertexts(
        cls,
        public_key: PublicParams,
        ciphertexts: Iterable[int],
        *,
        frac_bits: int | None = None,
    ) -> EncryptedVector:
        """Wrap raw ciphertexts (ints) made by any Paillier implementation with ``g = n + 1``.

        The plaintexts are read with the integer encoding, or fixed point with
        ``frac_bits``.  Every ciphertext is validated (``0 < c < n**2``, unit mod ``n``).

        Raises:
            InvalidCiphertext: a ciphertext is out of range or not a unit.
        """
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        vals = list(ciphertexts)
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                raise InvalidTypeError("ciphertexts must be ints")
            if not 0 < v < public_key.nsquare:
                raise InvalidCiphertext("a ciphertext is outside (0, n**2)")
        c = ints_to_limbs([int(v) for v in vals], public_key.ciphertext_width)
        _crypto.validate_ciphertexts(public_key, c)
        enc = INTEGER if frac_bits is None else Encoding(True, _frac(frac_bits))
        return cls._make(public_key, c, enc, fresh=True)

    @classmethod
    def from_limbs(
        cls, public_key: PublicParams, limbs: LimbArray, encoding: Encoding = INTEGER
    ) -> EncryptedVector:
        """Wrap a ``(count, width)`` limb array of ciphertexts (validated like from_ciphertexts)."""
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        if not isinstance(encoding, Encoding):
            raise InvalidTypeError("encoding must be an Encoding")
        if not isinstance(limbs, np.ndarray) or limbs.dtype != np.uint64 or limbs.ndim != 2:
            raise InvalidTypeError("limbs must be a 2-D uint64 array")
        if limbs.shape[1] != public_key.ciphertext_width:
            raise InvalidCiphertext("limb array width does not match the key")
        c = np.ascontiguousarray(limbs).copy()
        _crypto.validate_ciphertexts(public_key, c)
        return cls._make(public_key, c, encoding, fresh=True)

    # -- helpers ---------------------------------------------------------------------
    def _new(self, c: LimbArray, encoding: Encoding | None = None) -> EncryptedVector:
        return EncryptedVector._make(self._pk, c, encoding or self._encoding, fresh=False)

    def _rescaled(self, frac_bits: int) -> EncryptedVector:
        """The same values with more fractional bits (multiply plaintexts by 2**d)."""
        d = frac_bits - self._encoding.frac_bits
        if d == 0 and self._encoding.is_float:
            return self
        if d and 1 << d > self._pk.max_int:  # the same bound as any multiplier
            raise EncodingOverflowError(
                f"aligning to {frac_bits} fractional bits multiplies plaintexts by 2**{d}, "
                "more than this key's max_int"
            )
        c = _crypto.signed_powmod(self._pk, self._c, int_to_limbs(1 << d), None) if d else self._c
        return EncryptedVector._make(
            self._pk, c, Encoding(True, frac_bits), fresh=self._fresh and d == 0
        )

    def _aligned(self, other: EncryptedVector) -> tuple[EncryptedVector, EncryptedVector]:
        self._pk._check_same(other._pk)
        a, b = self._encoding, other._encoding
        if a == b:
            return self, other
        if a.is_float != b.is_float:
            raise EncodingError(
                f"cannot combine an {a} vector with a {b} vector; "
                "encrypt both as ints or both as floats"
            )
        f = max(a.frac_bits, b.frac_bits)
        return self._rescaled(f), other._rescaled(f)

    def _check_length(self, other_len: int, what: str) -> None:
        if other_len != len(self):
            raise InvalidArgumentError(f"{what} has length {other_len}, the vector has {len(self)}")

    # -- arithmetic ------------------------------------------------------------------
    def _add_plain(self, other: Any, *, negate: bool) -> EncryptedVector:
        """``self + other`` (or ``self - other``) for a plaintext ``other`` (scalar or array)."""
        pk = self._pk
        vals, scalar = _broadcast_operand(other)
        m = encode_with(pk, vals, self._encoding)
        if not scalar:
            self._check_length(m.shape[0], "the plaintext")
        if negate:
            zero = is_zero(m)
            m = row_minus(pk._n_row, m)
            m[zero] = 0
        if len(self) == 0:
            return self._new(self._c.copy())
        factors = _crypto.plaintext_factors(pk, m)
        return self._new(
            widen(get_backend().mulmod(self._c, factors, pk.nsquare), pk.ciphertext_width)
        )

    def __add__(self, other: Any) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            a, b = self._aligned(other)
            a._check_length(len(b), "the other vector")
            return a._new(get_backend().mulmod(a._c, b._c, self._pk.nsquare), a._encoding)
        if not isinstance(other, _PLAIN):
            return NotImplemented
        return self._add_plain(other, negate=False)

    __radd__ = __add__

    def __neg__(self) -> EncryptedVector:
        return self._new(_crypto.batch_invert(self._c, self._pk.nsquare))

    def __sub__(self, other: Any) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            a, b = self._aligned(other)
            a._check_length(len(b), "the other vector")
            return a + (-b)
        if not isinstance(other, _PLAIN):
            return NotImplemented
        return self._add_plain(other, negate=True)

    def __rsub__(self, other: Any) -> EncryptedVector:
        if not isinstance(other, _PLAIN):
            return NotImplemented
        return (-self)._add_plain(other, negate=False)

    def __mul__(self, other: Any) -> EncryptedVector:
        if isinstance(other, EncryptedVector):
            raise InvalidTypeError(
                "Paillier cannot multiply two ciphertexts; multiply by plaintexts"
            )
        if not isinstance(other, _PLAIN):
            return NotImplemented
        return self.multiply(other)

    def multiply(self, other: Any, *, threads: int | None = None) -> EncryptedVector:
        """``self * other`` (a plaintext scalar or a same-length array) on ``threads`` kernel
        threads (default all cores): each ciphertext is raised to its multiplier.

        Raises:
            InvalidTypeError: ``other`` is a ciphertext vector or not a number/array.
            EncodingOverflowError: a multiplier exceeds ``max_int`` (see ``docs/paillier.md``).
        """
        if isinstance(other, EncryptedVector) or not isinstance(other, _PLAIN):
            raise InvalidTypeError(
                "Paillier cannot multiply two ciphertexts; multiply by plaintexts"
                if isinstance(other, EncryptedVector)
                else f"cannot multiply by {type(other).__name__}"
            )
        vals, scalar = _broadcast_operand(other)
        exps, neg, kenc = _multipliers(self._pk, vals, None)
        if not scalar:
            self._check_length(exps.shape[0], "the plaintext multiplier")
        enc = self._combine(kenc)
        c = _crypto.signed_powmod(self._pk, self._c, exps, neg, threads=threads)
        return self._new(c, enc)

    __rmul__ = __mul__

    def _combine(self, kenc: Encoding) -> Encoding:
        """Encoding of (this vector) times (plaintexts encoded with ``kenc``)."""
        if not kenc.is_float:
            return self._encoding
        f = self._encoding.frac_bits + kenc.frac_bits
        if f > MAX_FRAC_BITS:
            raise EncodingError("too many fractional bits accumulated; decrypt and re-encrypt")
        return Encoding(True, f)

    def sum(self) -> EncryptedVector:
        """Encryption of the sum of all plaintexts as a length-1 vector (product of ciphertexts)."""
        be = get_backend()
        prod = widen(be.prodmod(self._c, self._pk.nsquare), self._pk.ciphertext_width)
        return self._new(prod)

    def dot(self, weights: Any) -> EncryptedVector:
        """Encryption of ``sum(w[i] * x[i])`` as a vector of length 1.

        Computed as one multi-exponentiation ``prod(c[i] ** w[i]) mod n**2``; negative
        weights use the inverted ciphertexts.  Float weights use fixed point.

        Raises:
            EncodingOverflowError: ``sum(|w[i]|)`` (in plaintext integer units) exceeds
                ``max_int``: the result would not decode even for inputs of one unit.
        """
        return self._matvec(_as_matrix(weights, len(self), row=True))

    def _matvec(self, mat: np.ndarray) -> EncryptedVector:
        """Rows of ``mat`` (shape ``(m, len)``) dotted with this vector: ``m`` results."""
        be = get_backend()
        pk = self._pk
        rows, cols = mat.shape
        self._check_length(cols, "the plaintext matrix inner dimension")
        flat = mat.reshape(-1)
        exps, neg, kenc = _multipliers(pk, flat, rows)
        enc = self._combine(kenc)
        exps = exps.reshape(rows, cols, exps.shape[1])
        neg = neg.reshape(rows, cols)
        inv = _crypto.batch_invert(self._c, pk.nsquare) if neg.any() and cols else None
        out = np.empty((rows, pk.ciphertext_width), dtype=np.uint64)
        for i in range(rows):
            bases = (
                self._c
                if inv is None or not neg[i].any()
                else np.where(neg[i][:, None], inv, self._c)
            )
            res = be.multi_powmod(
                np.ascontiguousarray(bases), np.ascontiguousarray(exps[i]), pk.nsquare
            )
            out[i] = widen(res, pk.ciphertext_width)[0]
        return self._new(out, enc)

    def __matmul__(self, other: Any) -> EncryptedVector:
        """``ev @ W`` for a plaintext matrix ``W`` of shape ``(len, m)`` (or a vector: dot)."""
        if isinstance(other, EncryptedVector):
            raise InvalidTypeError("Paillier cannot multiply two ciphertexts")
        arr = np.asarray(other) if not isinstance(other, np.ndarray) else other
        if arr.ndim == 1:
            return self.dot(arr)
        if arr.ndim != 2:
            raise InvalidArgumentError("matrix products need a 1-D or 2-D plaintext")
        return self._matvec(_as_matrix(arr.T, len(self), row=False))

    def __rmatmul__(self, other: Any) -> EncryptedVector:
        """``W @ ev`` for a plaintext matrix ``W`` of shape ``(m, len)``."""
        arr = np.asarray(other) if not isinstance(other, np.ndarray) else other
        if arr.ndim == 1:
            return self.dot(arr)
        if arr.ndim != 2:
            raise InvalidArgumentError("matrix products need a 1-D or 2-D plaintext")
        return self._matvec(_as_matrix(arr, len(self), row=False))

    # -- structure -------------------------------------------------------------------
    def __getitem__(self, key: Any) -> EncryptedVector:
        """Slicing / integer / boolean / index-array selection; an int gives a length-1 vector."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = operator.index(key)
            if not -len(self) <= i < len(self):
                raise IndexError("EncryptedVector index out of range")
            i %= len(self)
            c = self._c[i : i + 1]
        elif isinstance(key, slice):
            c = self._c[key]
        else:
            idx = np.asarray(key)
            if idx.dtype.kind not in "biu" or idx.ndim != 1:
                raise InvalidTypeError("index with an int, a slice, or a 1-D int/bool array")
            c = self._c[idx]
        return EncryptedVector._make(
            self._pk, np.ascontiguousarray(c).copy(), self._encoding, fresh=self._fresh
        )

    def __iter__(self) -> Any:
        raise TypeError(
            "iterate over ev.ciphertexts() or slice; element-wise Python loops defeat the batching"
        )

    def rerandomize(
        self, *, randomness: Randomness = "djn", threads: int | None = None
    ) -> EncryptedVector:
        """Multiply every ciphertext by a fresh randomizer: same plaintexts, unlinkable."""
        c = _crypto.rerandomize(self._pk, self._c, randomness=randomness, threads=threads)
        return EncryptedVector._make(self._pk, c, self._encoding, fresh=True)

    # -- serialization ---------------------------------------------------------------
    def to_bytes(self, *, unsafe_skip_rerandomize: bool = False) -> bytes:
        """Serialize in the versioned envelope (type ``PAILLIER_ENCRYPTED_VECTOR``).

        Ciphertexts produced by homomorphic operations are re-randomized first unless
        ``unsafe_skip_rerandomize`` (their randomness is a function of the inputs').
        Layout: envelope(param = key fingerprint) + u8 is_float, u16 frac_bits,
        u64 count, then ``count`` fixed-width big-endian ciphertexts of
        ``ceil(|n**2| / 8)`` bytes.
        """
        ev = self if self._fresh or unsafe_skip_rerandomize else self.rerandomize()
        nb = self._pk.ciphertext_bytes
        w = Writer().u8(int(ev._encoding.is_float)).u16(ev._encoding.frac_bits).u64(len(ev))
        w.limbs(ev._c, nb)
        return pack(ObjectType.PAILLIER_ENCRYPTED_VECTOR, w.getvalue(), param=self._pk.fingerprint)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicParams) -> EncryptedVector:
        """Parse a vector written by :meth:`to_bytes` under ``public_key``; validates ciphertexts.

        Caps, checked before allocation: at most :data:`MAX_VECTOR_LENGTH` ciphertexts,
        and exactly as many as the payload holds; ``frac_bits`` at most ``MAX_FRAC_BITS``.

        Raises:
            SerializationError: malformed bytes.
            KeyMismatchError: the vector belongs to another key.
            InvalidCiphertext: a ciphertext is out of range or not a unit.
        """
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        env = unpack(data, ObjectType.PAILLIER_ENCRYPTED_VECTOR)
        if env.param_id != public_key.fingerprint:
            raise KeyMismatchError("the encrypted vector was made under a different key")
        rd = Reader(env.payload)
        is_float = rd.u8()
        frac = rd.u16()
        count = rd.u64()
        if is_float not in (0, 1) or (not is_float and frac) or frac > MAX_FRAC_BITS:
            raise SerializationError("invalid encoding field")
        if count > MAX_VECTOR_LENGTH:
            raise SerializationError(
                f"a vector of {count} ciphertexts exceeds the limit of {MAX_VECTOR_LENGTH}"
            )
        nb = public_key.ciphertext_bytes
        if count * nb != rd.remaining():
            raise SerializationError("ciphertext count does not match the payload size")
        c = rd.limbs(count, nb, public_key.ciphertext_width)
        rd.finish()
        _crypto.validate_ciphertexts(public_key, c)
        return cls._make(public_key, c, Encoding(bool(is_float), frac), fresh=True)

    def __repr__(self) -> str:
        return (
            f"<EncryptedVector len={len(self)} encoding={self._encoding} "
            f"key={self._pk.fingerprint.hex()[:16]}>"
        )

    def __bool__(self) -> bool:
        raise TypeError("the truth value of an EncryptedVector is undefined")


def _frac(frac_bits: object) -> int:
    if isinstance(frac_bits, bool) or not isinstance(frac_bits, (int, np.integer)):
        raise InvalidTypeError("frac_bits must be an int")
    if not 0 <= int(frac_bits) <= MAX_FRAC_BITS:
        raise InvalidArgumentError(f"frac_bits must be between 0 and {MAX_FRAC_BITS}")
    return int(frac_bits)


def _as_matrix(value: Any, inner: int, *, row: bool) -> np.ndarray:
    """A 2-D plaintext array with ``inner`` columns (a 1-D weight vector becomes one row)."""
    if isinstance(value, EncryptedVector):
        raise InvalidTypeError("Paillier cannot multiply two ciphertexts")
    if isinstance(value, np.ndarray):
        arr = value
    else:
        if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
            raise InvalidTypeError("expected a sequence or numpy array of plaintext numbers")
        seq = list(value)
        try:
            arr = np.asarray(seq)
        except ValueError:
            raise InvalidArgumentError("ragged plaintext matrix") from None
        if arr.dtype.kind not in "iuf":
            arr = np.empty(len(seq), dtype=object)
            arr[:] = seq
    if arr.ndim == 1 and row:
        arr = arr.reshape(1, -1)
    if arr.ndim != 2:
        raise InvalidArgumentError("expected a 1-D or 2-D plaintext")
    if arr.shape[1] != inner:
        raise InvalidArgumentError(
            f"plaintext has {arr.shape[1]} columns, the vector has {inner} entries"
        )
    return np.ascontiguousarray(arr)


def concatenate(vectors: Sequence[EncryptedVector]) -> EncryptedVector:
    """Join vectors under the same key into one (encodings aligned to the largest ``frac_bits``)."""
    vs = list(vectors)
    if not vs:
        raise InvalidArgumentError("nothing to concatenate")
    for v in vs:
        if not isinstance(v, EncryptedVector):
            raise InvalidTypeError("concatenate takes EncryptedVectors")
    first = vs[0]
    for v in vs[1:]:
        first._pk._check_same(v._pk)
        if v._encoding.is_float != first._encoding.is_float:
            raise EncodingError("cannot concatenate integer and fixed-point vectors")
    f = max(v._encoding.frac_bits for v in vs)
    if first._encoding.is_float:
        vs = [v._rescaled(f) for v in vs]
    c = np.concatenate([v._c for v in vs]) if vs else first._c
    return EncryptedVector._make(first._pk, c, vs[0]._encoding, fresh=all(v._fresh for v in vs))


EncryptedVector.concatenate = staticmethod(concatenate)  # type: ignore[attr-defined]


def encrypt_values(
    pk: PublicParams,
    values: Any,
    *,
    frac_bits: int | None = None,
    randomness: Randomness = "djn",
    pool: RandomizerPool | None = None,
    threads: int | None = None,
    private_key: PrivateParams | None = None,
    variable_time: bool = False,
    executor: Executor | None = None,
) -> EncryptedVector:
    """Encode and encrypt ``values`` under ``pk`` (the body of the keys' ``encrypt``).

    ``private_key`` (the owner of ``pk``) makes randomizers by CRT; ``pool`` supplies
    precomputed ones (public-key encryption only).
    """
    if pool is not None and not isinstance(pool, RandomizerPool):
        raise InvalidTypeError("pool must be a RandomizerPool")
    m, encoding = encode(pk, values, frac_bits=frac_bits)
    pooled = pool.take_for(pk, m.shape[0]) if pool is not None else None
    c = encrypt_residues_on(
        executor,
        pk,
        m,
        randomness=randomness,
        pooled=pooled,
        threads=threads,
        private_key=private_key,
        variable_time=variable_time,
    )
    return EncryptedVector._make(pk, c, encoding, fresh=True)


def decrypt_values(
    sk: PrivateParams,
    vector: EncryptedVector,
    *,
    threads: int | None = None,
    variable_time: bool = False,
    executor: Executor | None = None,
) -> np.ndarray:
    """Decrypt and decode ``vector`` with ``sk`` (the body of the private key's ``decrypt``).

    Raises:
        KeyMismatchError: the vector was made under another key.
        EncodingOverflowError: a plaintext lies in the overflow gap.
    """
    sk._pub._check_same(vector._pk)
    m = decrypt_residues_on(executor, sk, vector._c, threads=threads, secret=not variable_time)
    return decode(sk._pub, m, vector._encoding)
