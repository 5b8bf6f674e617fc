"""BatchCrypt-style packed encoding: quantize float tensors, pack many values per ciphertext.

Scheme (parameters: ``r`` bits, ``k`` parties, clipping threshold ``alpha``):

1. Clip each value to ``[-alpha, alpha]`` and quantize it to an integer
   ``q`` in ``[-L, L]`` with ``L = floor((2**r - 1) / k)`` -- the quantization range
   is scaled down by ``k`` so that the sum of ``k`` parties' values still fits in
   ``r`` magnitude bits.  The step is ``delta = alpha / L``; rounding is stochastic
   (``q = floor(x/delta + U)``, ``U`` uniform from the CSPRNG; unbiased) by default,
   or to nearest.
2. Each ``q`` is stored as an ``(r+1)``-bit two's-complement pattern
   ``u = q mod 2**(r+1)`` in a slot of ``w = r + 1 + z`` bits, the ``z >= 1 + ceil(log2 k)``
   high padding bits zero.  ``s = floor((|n| - 1) / w)`` slots form one plaintext
   ``P = sum_j u_j * 2**(w*j) < n``.
3. Adding ciphertexts adds plaintexts: slot ``j`` of a sum over parties holds
   ``S = sum_i u_i``.  Because every ``u_i < 2**(r+1)`` and at most ``k`` are added,
   ``S < 2**w``: no carry crosses into the next slot.
4. Decoding (general for any ``k``): ``u_i = q_i + 2**(r+1) * [q_i < 0]``, so
   ``S = V + 2**(r+1) * M`` with ``V = sum q_i`` and ``M`` the number of negative
   summands.  Since ``|V| <= k*L <= 2**r - 1``, ``V`` is the low ``r+1`` bits of ``S``
   read as two's complement, whatever ``M`` is (BatchCrypt reads the whole slot,
   which is only right for two parties).  Sums are refused when their total weight
   would exceed ``k`` (the header tracks it), so overflow cannot happen through the
   API; the decoder also checks every slot (``0 <= M <= W``, ``-M*L <= V <= (W-M)*L - M``,
   unused slots and bits zero) and raises EncodingOverflowError on any violation,
   which catches most corrupted or under-declared sums (not all: some overflowed
   slot patterns are also valid ones).

Error bound: ``|decoded - sum_i w_i * clip(x_i)| < W * delta`` for stochastic rounding and
``<= W * delta / 2`` for nearest, where ``W = sum_i w_i`` (the number of summands when
unweighted), plus float64 rounding (relative ``2**-50``).  It needs ``delta`` and every
intermediate to be normal float64 numbers, hence ``MIN_ALPHA <= alpha <= MAX_ALPHA``.

Caps on what a peer's packed vector may declare (checked before allocation): the scheme
parameters above, at most :data:`MAX_DIMS` dimensions, each dimension and the tensor size
at most :data:`MAX_PACKED_VALUES`, and exactly ``ceil(size / s)`` ciphertexts in the payload.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from .._backend import LimbArray, get_backend, int_to_limbs
from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import (
    EncodingError,
    EncodingOverflowError,
    InvalidArgumentError,
    InvalidTypeError,
    KeyMismatchError,
    SerializationError,
)
from ..serialization import ObjectType, Reader, Writer, pack, unpack
from . import _crypto
from ._crypto import Randomness
from ._distribute import decrypt_residues_on, encrypt_residues_on
from ._limbmath import fits_bits, widen
from ._params import PrivateParams, PublicParams
from ._pool import RandomizerPool

__all__ = [
    "PackingScheme",
    "PackedVector",
    "estimate_alpha",
    "MIN_ALPHA",
    "MAX_ALPHA",
    "MAX_DIMS",
    "MAX_PACKED_VALUES",
]

Rounding = Literal["stochastic", "nearest"]
_ROUNDING_CODES = {"stochastic": 0, "nearest": 1}
#: Most dimensions a packed tensor may have.
MAX_DIMS = 32
#: Largest tensor size, and largest single dimension, of a packed vector (2**40 values).
MAX_PACKED_VALUES = 1 << 40
#: Smallest clipping threshold: keeps ``delta = alpha / L`` (``L < 2**48``) and
#: ``L / alpha`` normal float64 numbers, so the error bound holds (2**-900, about 1.2e-271).
MIN_ALPHA = 2.0**-900
#: Largest clipping threshold: keeps decoded sums (at most about ``2 * k * alpha``,
#: ``k <= 2**16``) and error bounds finite (2**900, about 8.5e270).
MAX_ALPHA = 2.0**900


def _int_arg(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InvalidTypeError(f"{what} must be an int")
    return int(value)


@dataclass(frozen=True)
class PackingScheme(Immutable):
    """Parameters of the packed encoding; every party and the key owner must use the same.

    Attributes:
        bits: ``r``, magnitude bits of a slot (1..48); 8 or 16 are typical.
        parties: ``k``, the maximum number of summands (total weight) in a sum (1..65536).
        alpha: clipping threshold (values are clipped to ``[-alpha, alpha]``), a finite
            number in ``[MIN_ALPHA, MAX_ALPHA]``; see :func:`estimate_alpha`.
        rounding: ``"stochastic"`` (default, unbiased) or ``"nearest"``.
        padding_bits: ``z``; default and minimum ``1 + ceil(log2 k)``.

    Raises:
        InvalidTypeError: a parameter of the wrong type.
        InvalidArgumentError: a parameter out of range (NaN, infinite, subnormal or
            huge ``alpha`` included).
    """

    bits: int = 16
    parties: int = 8
    alpha: float = 1.0
    rounding: Rounding = "stochastic"
    padding_bits: int | None = None

    def __post_init__(self) -> None:
        bits = _int_arg(self.bits, "bits")
        parties = _int_arg(self.parties, "parties")
        if not 1 <= bits <= 48:
            raise InvalidArgumentError("bits must be between 1 and 48")
        if not 1 <= parties <= 1 << 16:
            raise InvalidArgumentError("parties must be between 1 and 65536")
        if isinstance(self.alpha, bool) or not isinstance(
            self.alpha, (int, float, np.floating, np.integer)
        ):
            raise InvalidTypeError("alpha must be a number")
        alpha = float(self.alpha)
        if not MIN_ALPHA <= alpha <= MAX_ALPHA:  # also refuses NaN, infinities, zero, negatives
            raise InvalidArgumentError(
                f"alpha must be a number between MIN_ALPHA = 2**-900 and MAX_ALPHA = 2**900, "
                f"got {alpha!r}"
            )
        if self.rounding not in _ROUNDING_CODES:
            raise InvalidArgumentError('rounding must be "stochastic" or "nearest"')
        zmin = 1 + math.ceil(math.log2(parties))
        z = zmin if self.padding_bits is None else _int_arg(self.padding_bits, "padding_bits")
        if z < zmin:
            raise InvalidArgumentError(
                f"padding_bits must be at least 1 + ceil(log2 parties) = {zmin}"
            )
        if bits + 1 + z > 63:
            raise InvalidArgumentError("bits + 1 + padding_bits must be at most 63")
        if (2**bits - 1) // parties < 1:
            raise InvalidArgumentError(
                "bits too small for this many parties (need 2**bits - 1 >= parties)"
            )
        self._set(bits=bits, parties=parties, alpha=alpha, padding_bits=z)

    # -- derived quantities -------------------------------------------------------------
    @property
    def levels(self) -> int:
        """``L = floor((2**r - 1) / k)``: quantized values lie in ``[-L, L]``."""
        return int((2**self.bits - 1) // self.parties)

    @property
    def step(self) -> float:
        """``delta = alpha / L``, the quantization step."""
        return self.alpha / self.levels

    @property
    def slot_bits(self) -> int:
        """``w = r + 1 + z``."""
        return self.bits + 1 + int(self.padding_bits or 0)

    def slots_per_ciphertext(self, public_key: PublicParams) -> int:
        """``s = floor((|n| - 1) / w)`` values per ciphertext under ``public_key``."""
        return (public_key.key_size - 1) // self.slot_bits

    def error_bound(self, weight: int | None = None) -> float:
        """Largest error of a decoded sum of total weight ``weight`` (default ``k``)
        against the exact sum of the clipped inputs: ``W * delta`` (stochastic, strict)
        or ``W * delta / 2`` (nearest)."""
        w = self.parties if weight is None else weight
        return w * self.step * (1.0 if self.rounding == "stochastic" else 0.5)

    # -- quantization --------------------------------------------------------------------
    def quantize(self, values: Any, *, rng: VectorRNG | None = None) -> np.ndarray:
        """Clip and quantize a float tensor to int64 values in ``[-L, L]`` (flattened).

        Raises:
            EncodingError: NaN or infinity, or non-numeric input.
        """
        x = _as_float_array(values).reshape(-1)
        y = np.clip(x, -self.alpha, self.alpha) * (self.levels / self.alpha)
        if self.rounding == "stochastic":
            u = (rng or VectorRNG()).uniform(y.size)
            q = np.floor(y + u)
        else:
            q = np.rint(y)
        out: np.ndarray = np.clip(q, -self.levels, self.levels).astype(np.int64)
        return out

    # -- encryption ----------------------------------------------------------------------
    def encrypt(
        self,
        key: PublicParams | PrivateParams,
        tensor: Any,
        *,
        randomness: Randomness = "djn",
        pool: RandomizerPool | None = None,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
        executor: Executor | None = None,
    ) -> PackedVector:
        """Quantize, pack and encrypt a float tensor of any shape (one party's contribution).

        ``key`` is the public key, or the private key when the party holds it (as the
        clients do in BatchCrypt's horizontal FL): then the randomizers are computed
        by CRT modulo ``p**2`` and ``q**2``, about twice as fast, same distribution.
        ``unsafe_variable_time`` as for :meth:`PaillierPublicKey.encrypt`.  ``executor``:
        any :class:`concurrent.futures.Executor` to spread the ciphertexts over (None =
        inline with the kernel's threads; see :meth:`PaillierPublicKey.encrypt`).

        Returns:
            A :class:`PackedVector` of ``ceil(size / s)`` ciphertexts with weight 1.

        Raises:
            EncodingError: NaN/infinity or non-numeric values.
            InvalidArgumentError: the key is too small for one slot.
        """
        private_key = key if isinstance(key, PrivateParams) else None
        public_key = key._pub if isinstance(key, PrivateParams) else key
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("key must be a Paillier public or private key")
        if private_key is not None and pool is not None:
            raise InvalidArgumentError("a randomizer pool is for public-key encryption")
        arr = _as_float_array(tensor)
        if arr.size > MAX_PACKED_VALUES or any(d > MAX_PACKED_VALUES for d in arr.shape):
            raise EncodingError(f"packed tensors hold at most {MAX_PACKED_VALUES} values")
        s = self.slots_per_ciphertext(public_key)
        if s < 1:
            raise InvalidArgumentError("the key is too small for one slot of this scheme")
        if pool is not None and not isinstance(pool, RandomizerPool):
            raise InvalidTypeError("pool must be a RandomizerPool")
        q = self.quantize(arr)
        m = _pack_slots(self, q, s, public_key.plaintext_width)
        pooled = pool.take_for(public_key, m.shape[0]) if pool is not None else None
        c = encrypt_residues_on(
            executor,
            public_key,
            m,
            randomness=randomness,
            pooled=pooled,
            threads=threads,
            private_key=private_key,
            variable_time=unsafe_variable_time,
        )
        return PackedVector._make(
            public_key, self, tuple(int(d) for d in arr.shape), c, 1, fresh=True
        )

    def to_bytes(self) -> bytes:
        """The scheme parameters as a fixed 19-byte string (also part of packed vectors)."""
        return struct.pack(
            ">BIdBB",
            self.bits,
            self.parties,
            self.alpha,
            int(self.padding_bits or 0),
            _ROUNDING_CODES[self.rounding],
        )

    @classmethod
    def _read(cls, rd: Reader) -> PackingScheme:
        bits, parties = rd.u8(), rd.u32()
        alpha = rd.f64()
        z, rcode = rd.u8(), rd.u8()
        names = {v: k for k, v in _ROUNDING_CODES.items()}
        if rcode not in names:
            raise SerializationError("unknown rounding mode")
        try:
            return cls(bits, parties, alpha, names[rcode], z)  # type: ignore[arg-type]
        except (InvalidArgumentError, InvalidTypeError) as exc:
            raise SerializationError(f"invalid packing parameters: {exc}") from None


def _as_float_array(values: Any) -> np.ndarray:
    try:
        arr = np.asarray(values)
    except ValueError:
        raise EncodingError("ragged input cannot be packed") from None
    if arr.dtype.kind not in "iuf":
        raise EncodingError(f"cannot pack values of dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise EncodingError("cannot pack NaN or infinity")
    if arr.ndim > MAX_DIMS:
        raise EncodingError(f"at most {MAX_DIMS} dimensions")
    return arr


def _pack_slots(scheme: PackingScheme, q: np.ndarray, s: int, width: int) -> LimbArray:
    """Two's-complement slot patterns of ``q`` packed ``s`` per row of a plaintext limb array."""
    r1 = scheme.bits + 1
    w = scheme.slot_bits
    count = -(-q.size // s)
    flat = np.zeros(count * s, dtype=np.uint64)
    flat[: q.size] = q.view(np.uint64) & np.uint64((1 << r1) - 1)
    u = flat.reshape(count, s)
    out = np.zeros((count, width), dtype=np.uint64)
    for j in range(s):
        li, sh = divmod(j * w, 64)
        out[:, li] |= u[:, j] << np.uint64(sh)
        if sh + w > 64:
            out[:, li + 1] |= u[:, j] >> np.uint64(64 - sh)
    return out


def _unpack_slots(m: LimbArray, s: int, w: int) -> np.ndarray:
    """Slot contents (unsigned ``w``-bit values), shape ``(rows, s)``."""
    mask = np.uint64((1 << w) - 1)
    out = np.empty((m.shape[0], s), dtype=np.uint64)
    for j in range(s):
        li, sh = divmod(j * w, 64)
        v = m[:, li] >> np.uint64(sh)
        if sh + w > 64:
            v = v | (m[:, li + 1] << np.uint64(64 - sh))
        out[:, j] = v & mask
    return out


class PackedVector(Immutable):
    """Encrypted packed tensor (one party's contribution, or a sum of several).

    Holds the ciphertexts and the header needed to decode: the :class:`PackingScheme`,
    the tensor shape and length, slots per ciphertext, the key fingerprint, and the
    total *weight* of the sum (1 per party; multiplying by an integer ``w`` multiplies
    it).  Sums whose weight would exceed ``scheme.parties`` are refused with
    EncodingOverflowError (the slots' padding would overflow).
    """

    __slots__ = ("_pk", "_scheme", "_shape", "_c", "_weight", "_fresh")
    __array_ufunc__ = None
    _pk: PublicParams
    _scheme: PackingScheme
    _shape: tuple[int, ...]
    _c: LimbArray
    _weight: int
    _fresh: bool

    def __init__(self) -> None:
        raise TypeError("use PackingScheme.encrypt() or PackedVector.from_bytes()")

    @classmethod
    def _make(
        cls,
        pk: PublicParams,
        scheme: PackingScheme,
        shape: tuple[int, ...],
        c: LimbArray,
        weight: int,
        *,
        fresh: bool,
    ) -> PackedVector:
        """The trusted constructor of this module: ``c`` made read-only, nothing validated."""
        c = np.ascontiguousarray(c)
        c.flags.writeable = False
        return cls._trusted(
            _pk=pk, _scheme=scheme, _shape=shape, _c=c, _weight=weight, _fresh=fresh
        )

    @property
    def public_key(self) -> PublicParams:
        """The key the ciphertexts are under (a :class:`PaillierPublicKey`)."""
        return self._pk

    @property
    def scheme(self) -> PackingScheme:
        """The packing parameters (shared by all parties)."""
        return self._scheme

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the packed tensor."""
        return self._shape

    @property
    def size(self) -> int:
        """Number of packed values."""
        return math.prod(self._shape)

    @property
    def weight(self) -> int:
        """Total weight of the sum (number of parties when unweighted)."""
        return self._weight

    @property
    def slots(self) -> int:
        """Values per ciphertext."""
        return self._scheme.slots_per_ciphertext(self._pk)

    @property
    def num_ciphertexts(self) -> int:
        """Number of ciphertexts: ``ceil(size / slots)``."""
        return int(self._c.shape[0])

    @property
    def nbytes(self) -> int:
        """Bytes of ciphertext storage."""
        return int(self._c.nbytes)

    def _check_compatible(self, other: PackedVector) -> None:
        self._pk._check_same(other._pk)
        if other._scheme != self._scheme:
            raise EncodingError("packed vectors use different packing schemes")
        if other._shape != self._shape:
            raise EncodingError(
                f"packed tensors have different shapes {self._shape} and {other._shape}"
            )

    def _check_weight(self, weight: int) -> None:
        if weight > self._scheme.parties:
            raise EncodingOverflowError(
                f"a sum of total weight {weight} exceeds the scheme's headroom of "
                f"{self._scheme.parties} parties"
            )

    def __add__(self, other: Any) -> PackedVector:
        """Homomorphic sum of two packed tensors (weights add up)."""
        if not isinstance(other, PackedVector):
            return NotImplemented
        self._check_compatible(other)
        weight = self._weight + other._weight
        self._check_weight(weight)
        c = (
            get_backend().mulmod(self._c, other._c, self._pk.nsquare)
            if self.num_ciphertexts
            else self._c
        )
        return PackedVector._make(
            self._pk,
            self._scheme,
            self._shape,
            widen(c, self._pk.ciphertext_width),
            weight,
            fresh=False,
        )

    def __mul__(self, factor: Any) -> PackedVector:
        """Weight this contribution by a small non-negative integer (within the headroom).

        Raises:
            EncodingOverflowError: ``factor`` or the resulting total weight exceeds
                ``scheme.parties`` (the slots' padding would overflow).
        """
        if isinstance(factor, (bool, np.bool_)) or not isinstance(factor, (int, np.integer)):
            raise InvalidTypeError("packed vectors can only be weighted by non-negative ints")
        f = int(factor)
        if f < 0:
            raise InvalidArgumentError("packed weights must be non-negative")
        # The factor itself must fit the headroom too: a weight-0 vector times a factor
        # beyond n would otherwise wrap the plaintext silently.
        self._check_weight(f)
        weight = self._weight * f
        self._check_weight(weight)
        c = _crypto.signed_powmod(self._pk, self._c, int_to_limbs(f), None)
        return PackedVector._make(self._pk, self._scheme, self._shape, c, weight, fresh=False)

    __rmul__ = __mul__

    @staticmethod
    def sum(vectors: Sequence[PackedVector]) -> PackedVector:
        """Sum of several parties' packed tensors, with one batched product per ciphertext row."""
        vs = list(vectors)
        if not vs:
            raise InvalidArgumentError("nothing to sum")
        first = vs[0]
        for v in vs:
            if not isinstance(v, PackedVector):
                raise InvalidTypeError("PackedVector.sum takes PackedVectors")
            first._check_compatible(v)
        weight = sum(v._weight for v in vs)
        first._check_weight(weight)
        if len(vs) == 1:
            return first
        be = get_backend()
        acc = first._c
        for v in vs[1:]:
            acc = be.mulmod(acc, v._c, first._pk.nsquare) if acc.shape[0] else acc
        return PackedVector._make(
            first._pk,
            first._scheme,
            first._shape,
            widen(acc, first._pk.ciphertext_width),
            weight,
            fresh=False,
        )

    def rerandomize(
        self, *, randomness: Randomness = "djn", threads: int | None = None
    ) -> PackedVector:
        """Fresh randomizers on every ciphertext (same plaintexts)."""
        c = _crypto.rerandomize(self._pk, self._c, randomness=randomness, threads=threads)
        return PackedVector._make(self._pk, self._scheme, self._shape, c, self._weight, fresh=True)

    # -- decryption ----------------------------------------------------------------------
    def decrypt_quantized(
        self,
        private_key: PrivateParams,
        *,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
        executor: Executor | None = None,
    ) -> np.ndarray:
        """Decrypt to the exact int64 sums of the quantized values (flattened, length ``size``).

        ``executor``: any :class:`concurrent.futures.Executor` (None = inline); the private
        key travels to its workers as integers.

        Raises:
            KeyMismatchError: wrong key.
            EncodingOverflowError: a slot is inconsistent with the header's weight (more
                summands than declared, a corrupted or foreign ciphertext).
        """
        if not isinstance(private_key, PrivateParams):
            raise InvalidTypeError("private_key must be a PaillierPrivateKey")
        pk = self._pk
        pk._check_same(private_key._pub)
        sch = self._scheme
        s, w, r1 = self.slots, sch.slot_bits, sch.bits + 1
        m = decrypt_residues_on(
            executor, private_key, self._c, threads=threads, secret=not unsafe_variable_time
        )
        if not fits_bits(m, s * w).all():
            raise EncodingOverflowError(
                "packed plaintext exceeds its slots (overflow or wrong scheme)"
            )
        slots = _unpack_slots(m, s, w).reshape(-1)
        size = self.size
        if slots[size:].any():
            raise EncodingOverflowError(
                "unused packing slots are not zero (corrupted or foreign data)"
            )
        S = slots[:size].astype(np.int64)  # w <= 63 bits
        low = S & np.int64((1 << r1) - 1)
        V = np.where(low >= (1 << sch.bits), low - (1 << r1), low)
        M = (S - V) >> np.int64(r1)
        W = self._weight
        # M negative summands (each in [-L, -1]) and W - M non-negative ones (each in [0, L]):
        # V must lie in [-M*L, (W - M)*L - M].
        L = sch.levels
        if size and (
            M.min() < 0 or M.max() > W or (V < -M * L).any() or (V > (W - M) * L - M).any()
        ):
            raise EncodingOverflowError(
                "a packed slot is inconsistent with the declared number of summands (overflow)"
            )
        return V

    def decrypt(
        self,
        private_key: PrivateParams,
        *,
        threads: int | None = None,
        unsafe_variable_time: bool = False,
        executor: Executor | None = None,
    ) -> np.ndarray:
        """Decrypt and unpack to the float64 (weighted) sum of the clipped tensors, in their shape.

        The result is within :meth:`PackingScheme.error_bound` of the exact sum.
        ``executor`` as for :meth:`decrypt_quantized`.
        """
        v = self.decrypt_quantized(
            private_key,
            threads=threads,
            unsafe_variable_time=unsafe_variable_time,
            executor=executor,
        )
        return (v.astype(np.float64) * self._scheme.step).reshape(self._shape)

    # -- serialization -------------------------------------------------------------------
    def to_bytes(self, *, unsafe_skip_rerandomize: bool = False) -> bytes:
        """Serialize (type ``PAILLIER_PACKED_VECTOR``); sums are re-randomized first.

        Payload: scheme (u8 r, u32 k, f64 alpha, u8 z, u8 rounding), u8 slot bits,
        u32 slots per ciphertext, u32 weight, u8 ndim, ndim x u64 shape, u64 count,
        then ``count`` fixed-width big-endian ciphertexts.
        """
        pv = self if self._fresh or unsafe_skip_rerandomize else self.rerandomize()
        wr = Writer().raw(self._scheme.to_bytes()).u8(self._scheme.slot_bits).u32(self.slots)
        wr.u32(self._weight).u8(len(self._shape))
        for d in self._shape:
            wr.u64(d)
        wr.u64(self.num_ciphertexts).limbs(pv._c, self._pk.ciphertext_bytes)
        return pack(ObjectType.PAILLIER_PACKED_VECTOR, wr.getvalue(), param=self._pk.fingerprint)

    @classmethod
    def from_bytes(cls, data: bytes, public_key: PublicParams) -> PackedVector:
        """Parse and validate a packed vector under ``public_key``.

        Caps, checked before allocation: the scheme parameters (see
        :class:`PackingScheme`), weight at most ``parties``, at most :data:`MAX_DIMS`
        dimensions, every dimension and the size at most :data:`MAX_PACKED_VALUES`, and
        a payload of exactly ``ceil(size / slots)`` ciphertexts.

        Raises:
            SerializationError: malformed bytes or inconsistent header.
            KeyMismatchError: made under another key.
            InvalidCiphertext: a ciphertext is out of range.
        """
        if not isinstance(public_key, PublicParams):
            raise InvalidTypeError("public_key must be a PaillierPublicKey")
        env = unpack(data, ObjectType.PAILLIER_PACKED_VECTOR)
        if env.param_id != public_key.fingerprint:
            raise KeyMismatchError("the packed vector was made under a different key")
        rd = Reader(env.payload)
        scheme = PackingScheme._read(rd)
        slot_bits, slots, weight, ndim = rd.u8(), rd.u32(), rd.u32(), rd.u8()
        if slot_bits != scheme.slot_bits or slots != scheme.slots_per_ciphertext(public_key):
            raise SerializationError("packing header does not match the scheme and key")
        if slots < 1:
            raise SerializationError("the key is too small for one slot of this scheme")
        if weight > scheme.parties:
            raise SerializationError("declared weight exceeds the scheme's parties")
        if ndim > MAX_DIMS:
            raise SerializationError(f"too many dimensions (at most {MAX_DIMS})")
        shape = tuple(rd.u64() for _ in range(ndim))
        if any(d > MAX_PACKED_VALUES for d in shape):
            raise SerializationError(
                f"a packed tensor dimension exceeds the limit of {MAX_PACKED_VALUES}"
            )
        size = math.prod(shape)
        if size > MAX_PACKED_VALUES:
            raise SerializationError(
                f"a packed tensor exceeds the limit of {MAX_PACKED_VALUES} values"
            )
        count = rd.u64()
        if count != -(-size // slots):
            raise SerializationError("ciphertext count does not match the tensor size")
        nb = public_key.ciphertext_bytes
        if count * nb != rd.remaining():
            raise SerializationError("payload size does not match the ciphertext count")
        c = rd.limbs(count, nb, public_key.ciphertext_width)
        rd.finish()
        _crypto.validate_ciphertexts(public_key, c)
        return cls._make(public_key, scheme, shape, c, weight, fresh=True)

    def __repr__(self) -> str:
        return (
            f"<PackedVector shape={self._shape} weight={self._weight} r={self._scheme.bits} "
            f"k={self._scheme.parties} ciphertexts={self.num_ciphertexts}>"
        )


def _gaussian_clip_factor(levels: int) -> float:
    """``t`` minimizing the MSE of clipping N(0,1) at ``+-t`` then quantizing (step ``t/levels``).

    MSE(t) = 2 * [(1 + t**2) * Q(t) - t * phi(t)]  (clipping)  +  (t / levels)**2 / 12  (rounding),
    with Q the Gaussian tail and phi its density (ACIQ, Banner et al. 2019).
    """

    def mse(t: float) -> float:
        tail = 0.5 * math.erfc(t / math.sqrt(2))
        dens = math.exp(-t * t / 2) / math.sqrt(2 * math.pi)
        return 2 * ((1 + t * t) * tail - t * dens) + (t / levels) ** 2 / 12

    lo, hi = 0.1, 40.0
    for _ in range(200):  # golden-section search: MSE is unimodal in t
        a = hi - (hi - lo) / 1.618033988749895
        b = lo + (hi - lo) / 1.618033988749895
        if mse(a) < mse(b):
            hi = b
        else:
            lo = a
    return (lo + hi) / 2


def _real(value: object, what: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise InvalidTypeError(f"{what} must be a real number")
    try:
        return float(value)
    except OverflowError:  # an int beyond float range
        return math.inf


def estimate_alpha(
    data: Any = None,
    *,
    bits: int = 16,
    parties: int = 1,
    method: Literal["gaussian", "percentile", "max"] = "gaussian",
    sigma: float | None = None,
    percentile: float = 99.9,
) -> float:
    """Estimate a clipping threshold ``alpha`` for :class:`PackingScheme`.

    Methods:
        ``"gaussian"`` (BatchCrypt's dACIQ rule): model values as N(0, sigma**2),
            ``sigma`` given or the data's RMS, and return ``t * sigma`` where ``t``
            minimizes clipping plus rounding error for ``L = floor((2**bits - 1)/parties)``
            levels per side (about 3.9 sigma at L = 127, 5.5 sigma at L = 8191).  In
            a federation, parties can share (count, sum of squares) to agree on sigma.
        ``"percentile"``: the given percentile of ``|x|``.
        ``"max"``: the largest ``|x|`` (no clipping of this data).

    The result is raised to :data:`MIN_ALPHA` when smaller (such data is quantized
    to zero either way, within the error bound).

    Raises:
        EncodingError: empty data (with nothing else to go on), NaN or infinity, or
            data so large that ``alpha`` would exceed :data:`MAX_ALPHA`.
        InvalidArgumentError: a bad ``bits``/``parties``/``sigma``/``percentile``/``method``.
    """
    levels = (2 ** _int_arg(bits, "bits") - 1) // max(1, _int_arg(parties, "parties"))
    if levels < 1:
        raise InvalidArgumentError("bits too small for this many parties")
    if method not in ("gaussian", "percentile", "max"):
        raise InvalidArgumentError('method must be "gaussian", "percentile" or "max"')
    if method == "gaussian" and sigma is not None:
        sd = _real(sigma, "sigma")
        if not math.isfinite(sd) or sd <= 0:
            raise InvalidArgumentError("sigma must be positive and finite")
        return _alpha_in_range(_gaussian_clip_factor(levels) * sd)
    if data is None:
        raise InvalidArgumentError("data (or sigma) is required")
    x = np.abs(_as_float_array(data).reshape(-1))
    if x.size == 0:
        raise EncodingError("cannot estimate alpha from empty data")
    top = float(x.max())
    if method == "max":
        a = top
    elif method == "percentile":
        pct = _real(percentile, "percentile")
        if not 0 < pct <= 100:  # also refuses NaN
            raise InvalidArgumentError("percentile must be in (0, 100]")
        a = float(np.percentile(x, pct))
    else:
        # RMS scaled by the largest value: x * x would overflow (or underflow) float64.
        rms = top * float(np.sqrt(np.mean(np.square(x / top)))) if top > 0 else 0.0
        a = _gaussian_clip_factor(levels) * rms
    if a <= 0:
        a = top or 1.0  # all-zero data: any positive alpha is exact
    return _alpha_in_range(a)


def _alpha_in_range(a: float) -> float:
    """``a`` raised to MIN_ALPHA, or EncodingError above MAX_ALPHA (or not finite)."""
    if not a <= MAX_ALPHA:
        raise EncodingError(
            "the data is too large to pack: alpha would exceed MAX_ALPHA = 2**900; scale it down"
        )
    return max(a, MIN_ALPHA)
