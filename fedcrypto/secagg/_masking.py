"""Mask generation for secure aggregation: a keyed AES-256-CTR PRG into numpy words.

Every mask is the AES-256-CTR keystream (all-zero nonce, counter from 0) under a
32-byte key that is used for exactly one mask.  The key comes from HKDF-SHA256
over the secret the mask belongs to (a pairwise X25519 secret, or a client's
self-mask seed ``b_u``), salted with the 32-byte session id and with an ``info``
string naming the purpose and the client ids, so no two masks in any session
share a key.

Vectors live in ``Z_{2^k}`` for ``1 <= k <= 64``.  The keystream is read as
little-endian words of 32 bits (``k <= 32``) or 64 bits (``k > 32``); all
arithmetic is wrapping addition in that word size, and the result is reduced
mod ``2^k`` only at the end by keeping the low ``k`` bits.  Because ``2^k``
divides the word modulus, reduction commutes with the wrapping sums, and the
low ``k`` bits of a uniform word are exactly uniform mod ``2^k``: the masks have
no bias at all (no rejection sampling is needed for a power-of-two modulus).
"""

from __future__ import annotations

import hmac

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ..exceptions import InvalidArgumentError

__all__ = [
    "MAX_MODULUS_BITS",
    "word_dtype",
    "reduce_mod",
    "pairwise_mask_key",
    "self_mask_key",
    "MaskAccumulator",
]

MAX_MODULUS_BITS = 64
_LABEL = b"fedcrypto/secagg/v1/"
_ZERO_NONCE = b"\x00" * 16


def word_dtype(modulus_bits: int) -> type[np.unsignedinteger]:
    """The numpy word type masks for ``Z_{2^modulus_bits}`` are computed in.

    ``uint32`` for ``k <= 32`` (half the keystream and memory traffic), else ``uint64``.

    Raises:
        InvalidArgumentError: ``modulus_bits`` is not in ``1..64``.
    """
    if not isinstance(modulus_bits, int) or not 1 <= modulus_bits <= MAX_MODULUS_BITS:
        raise InvalidArgumentError("modulus_bits must be an integer between 1 and 64")
    return np.uint32 if modulus_bits <= 32 else np.uint64


def reduce_mod(words: npt.NDArray[np.unsignedinteger], modulus_bits: int) -> npt.NDArray[np.uint64]:
    """Reduce wrapping words mod ``2^modulus_bits`` and return them as ``uint64``."""
    out = words.astype(np.uint64)
    if modulus_bits < 64:
        out &= np.uint64((1 << modulus_bits) - 1)
    return out


def _hkdf(secret: bytes, session_id: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with a 32-byte output: one Extract and one Expand block.

    ``PRK = HMAC(salt, IKM)``, ``OKM = HMAC(PRK, info || 0x01)``, on the standard library's
    C HMAC (the server derives ~23,000 mask keys per paper-scale round).  Equal to
    ``cryptography``'s ``HKDF(SHA256(), 32, salt, info)`` (checked in the tests).
    """
    prk = hmac.digest(session_id, secret, "sha256")
    return hmac.digest(prk, info + b"\x01", "sha256")


def pairwise_mask_key(
    secret: bytes, *, session_id: bytes, u: int, v: int, modulus_bits: int
) -> bytes:
    """AES key of the pairwise mask between clients ``u`` and ``v`` (symmetric in u, v).

    HKDF-SHA256(ikm = X25519 secret, salt = session id, info = label || min || max || k).
    """
    lo, hi = (u, v) if u < v else (v, u)
    info = (
        _LABEL
        + b"pairwise-mask"
        + lo.to_bytes(4, "big")
        + hi.to_bytes(4, "big")
        + modulus_bits.to_bytes(1, "big")
    )
    return _hkdf(secret, session_id, info)


def self_mask_key(seed: bytes, *, session_id: bytes, u: int, modulus_bits: int) -> bytes:
    """AES key of client ``u``'s self mask from its secret seed ``b_u``.

    HKDF-SHA256(ikm = b_u, salt = session id, info = label || u || k).
    """
    info = _LABEL + b"self-mask" + u.to_bytes(4, "big") + modulus_bits.to_bytes(1, "big")
    return _hkdf(seed, session_id, info)


class MaskAccumulator:
    """A running sum of masks in ``Z_{2^k}``, computed in wrapping machine words.

    ``add(key, sign)`` expands the AES-256-CTR keystream of ``key`` straight into a
    reusable numpy buffer (no per-element Python work) and adds (``sign=+1``) or
    subtracts (``sign=-1``) it.  ``result()`` returns the sum mod ``2^k`` as uint64.

    Args:
        length: vector length (number of entries).
        modulus_bits: ``k``, between 1 and 64.
        initial: optional starting vector (values are taken mod the word size).
    """

    __slots__ = ("_acc", "_buf", "_dtype", "_k", "_length", "_nbytes", "_zeros")

    def __init__(
        self,
        length: int,
        modulus_bits: int,
        initial: npt.NDArray[np.unsignedinteger] | None = None,
    ) -> None:
        if not isinstance(length, int) or length < 0:
            raise InvalidArgumentError("vector length must be a non-negative integer")
        self._dtype = word_dtype(modulus_bits)
        self._k = modulus_bits
        self._length = length
        if initial is None:
            self._acc = np.zeros(length, dtype=self._dtype)
        else:
            if initial.shape != (length,):
                raise InvalidArgumentError("initial vector has the wrong length")
            self._acc = initial.astype(self._dtype)  # copy; wraps into the word size
        itemsize = np.dtype(self._dtype).itemsize
        self._nbytes = length * itemsize
        # update_into may write up to one block more than its input.
        self._buf = np.empty(length + 16 // itemsize + 1, dtype=self._dtype)
        self._zeros = bytes(self._nbytes)

    def __repr__(self) -> str:
        return f"MaskAccumulator(length={self._length}, modulus_bits={self._k})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("MaskAccumulator holds masked secrets and cannot be pickled")

    def expand(self, key: bytes) -> npt.NDArray[np.unsignedinteger]:
        """The keystream of ``key`` as ``length`` words (a view of an internal buffer)."""
        encryptor = Cipher(algorithms.AES(key), modes.CTR(_ZERO_NONCE)).encryptor()
        n = encryptor.update_into(self._zeros, self._buf.data.cast("B"))
        if n != self._nbytes:  # pragma: no cover - defensive
            raise RuntimeError("short keystream")
        return self._buf[: self._length]

    def add(self, key: bytes, sign: int = 1) -> None:
        """Add (``sign=+1``) or subtract (``sign=-1``) the mask expanded from ``key``."""
        words = self.expand(key)
        if sign == 1:
            np.add(self._acc, words, out=self._acc)
        elif sign == -1:
            np.subtract(self._acc, words, out=self._acc)
        else:
            raise InvalidArgumentError("sign must be +1 or -1")

    def add_vector(self, values: npt.NDArray[np.unsignedinteger], sign: int = 1) -> None:
        """Add or subtract a plain vector (taken mod the word size)."""
        words = values.astype(self._dtype, copy=False)
        if sign == 1:
            np.add(self._acc, words, out=self._acc)
        else:
            np.subtract(self._acc, words, out=self._acc)

    def words(self) -> npt.NDArray[np.unsignedinteger]:
        """A copy of the raw accumulator in wrapping machine words (not yet reduced)."""
        return self._acc.copy()

    def result(self) -> npt.NDArray[np.uint64]:
        """The accumulated vector mod ``2^k`` as a fresh ``uint64`` array."""
        return reduce_mod(self._acc, self._k)
