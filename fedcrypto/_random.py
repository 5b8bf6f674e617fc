"""The one source of randomness in fedcrypto.

* Scalars, keys and primes come from :mod:`secrets` (the OS CSPRNG).
* Bulk vectors come from :class:`VectorRNG`: AES-256 in counter mode (OpenSSL
  via ``cryptography``) keyed from ``os.urandom`` or from a caller-supplied
  32-byte secret seed (for protocol PRGs such as secure-aggregation masks).

* Primality: :func:`is_probable_prime` is Miller–Rabin with bases drawn here, run
  by the arithmetic backend (gmpy2 where installed, Python ints otherwise).

``random`` and ``numpy.random`` are never used for anything.  All "below a
bound" samplers use rejection sampling, so there is no modulo bias.  Sizes and
counts are checked (type and range) before anything is drawn or allocated.
"""

from __future__ import annotations

import math
import operator
import os
import secrets

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ._backend import get_backend
from .exceptions import InvalidArgumentError, InvalidTypeError

__all__ = [
    "randbits",
    "randbelow",
    "randrange",
    "random_unit",
    "random_prime",
    "random_bytes",
    "is_probable_prime",
    "VectorRNG",
    "SEED_BYTES",
    "DEFAULT_PRIME_ROUNDS",
    "MAX_PRIME_ROUNDS",
    "MAX_PRIME_BITS",
]

SEED_BYTES = 32
#: Miller–Rabin rounds with random bases by default (error below 4^-40 for any input).
DEFAULT_PRIME_ROUNDS = 40
#: Most rounds :func:`is_probable_prime` runs (4^-256 is far beyond any need).
MAX_PRIME_ROUNDS = 256
#: Largest prime :func:`random_prime` draws.
MAX_PRIME_BITS = 1 << 16


def _int(value: object, what: str) -> int:
    """``value`` as an int: Python and numpy integers, never bool, float or str."""
    if isinstance(value, (bool, np.bool_)) or not hasattr(value, "__index__"):
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}")
    try:
        return int(operator.index(value))
    except TypeError:  # a numpy array with several elements
        raise InvalidTypeError(f"{what} must be an integer, got {type(value).__name__}") from None


def _count(value: object, what: str) -> int:
    n = _int(value, what)
    if n < 0:
        raise InvalidArgumentError(f"{what} must be non-negative")
    return n


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS CSPRNG."""
    return os.urandom(_count(n, "byte count"))


def randbits(k: int) -> int:
    """A uniform integer in ``[0, 2**k)`` (0 for ``k = 0``)."""
    bits = _count(k, "bit count")
    return secrets.randbits(bits) if bits > 0 else 0


def randbelow(n: int) -> int:
    """A uniform integer in ``[0, n)``, ``n >= 1``."""
    bound = _int(n, "bound")
    if bound < 1:
        raise InvalidArgumentError("randbelow needs a positive bound")
    return secrets.randbelow(bound)


def randrange(lo: int, hi: int) -> int:
    """A uniform integer in ``[lo, hi)``."""
    low, high = _int(lo, "lo"), _int(hi, "hi")
    if high <= low:
        raise InvalidArgumentError("empty range")
    return low + secrets.randbelow(high - low)


def random_unit(n: int) -> int:
    """A uniform element of the multiplicative group ``Z*_n`` (``n >= 2``)."""
    m = _int(n, "modulus")
    if m < 2:
        raise InvalidArgumentError("modulus must be at least 2")
    while True:
        r = secrets.randbelow(m)
        if r and math.gcd(r, m) == 1:
            return r


def is_probable_prime(n: int, *, rounds: int = DEFAULT_PRIME_ROUNDS) -> bool:
    """Miller–Rabin: is ``n`` prime, up to an error below ``4**-rounds``?

    Trial division by the primes below 100 first; then one strong-probable-prime
    round to base 2 and ``rounds`` more to bases drawn uniformly from ``[2, n - 2]``
    with :mod:`secrets`, so even an adversarially chosen composite passes with
    probability below ``4**-rounds``.  The rounds run in the arithmetic backend.

    :param n: any integer (below 2 is not prime).
    :param rounds: random-base rounds, ``1 <= rounds <= 256``.
    :raises InvalidTypeError: ``n`` or ``rounds`` not an integer (``rounds=2.0`` included).
    :raises InvalidArgumentError: ``rounds`` outside ``[1, 256]``.
    """
    v = _int(n, "n")
    r = _int(rounds, "rounds")
    if not 1 <= r <= MAX_PRIME_ROUNDS:
        raise InvalidArgumentError(f"rounds must be between 1 and {MAX_PRIME_ROUNDS}")
    bases = [2] + [2 + secrets.randbelow(v - 3) for _ in range(r)] if v > 4 else [2]
    return get_backend().is_probable_prime(v, bases)


def random_prime(bits: int, *, top_two_bits: bool = True) -> int:
    """A uniform-looking random prime of exactly ``bits`` bits (``16 <= bits <= 65536``).

    With ``top_two_bits`` (default) the two most significant bits are set, so the
    product of two such primes has exactly ``2 * bits`` bits.
    """
    size = _int(bits, "bits")
    if not 16 <= size <= MAX_PRIME_BITS:
        raise InvalidArgumentError(f"prime size must be between 16 and {MAX_PRIME_BITS} bits")
    if not isinstance(top_two_bits, bool):
        raise InvalidTypeError("top_two_bits must be a bool")
    high = (3 if top_two_bits else 1) << (size - 2 if top_two_bits else size - 1)
    while True:
        candidate = secrets.randbits(size) | high | 1
        if is_probable_prime(candidate):
            return candidate


class VectorRNG:
    """A fast cryptographic generator for numpy vectors: AES-256-CTR keystream.

    ``VectorRNG()`` is keyed from ``os.urandom`` and re-keys itself in a forked
    child, so parent and child never share a stream.  ``VectorRNG(seed)`` with a
    32-byte secret seed is deterministic (the same seed gives the same stream
    everywhere, by design: protocol PRGs rely on it); such a seed must itself be
    secret and uniformly random, and used for one purpose only.  The seed never
    appears in ``repr``.
    """

    __slots__ = ("_encryptor", "_pid", "_seeded")

    def __init__(self, seed: bytes | None = None) -> None:
        if seed is None:
            self._seeded = False
            self._rekey(os.urandom(SEED_BYTES))
        else:
            if not isinstance(seed, (bytes, bytearray)):
                raise InvalidTypeError("seed must be bytes")
            if len(seed) != SEED_BYTES:
                raise InvalidArgumentError(f"seed must be exactly {SEED_BYTES} bytes")
            self._seeded = True
            self._rekey(bytes(seed))

    def _rekey(self, key: bytes) -> None:
        cipher = Cipher(algorithms.AES(key), modes.CTR(b"\x00" * 16))
        self._encryptor = cipher.encryptor()
        self._pid = os.getpid()

    def __repr__(self) -> str:
        return f"VectorRNG(seeded={self._seeded})"

    def __reduce__(self) -> str:
        raise TypeError("VectorRNG holds a secret key and cannot be pickled")

    def bytes(self, n: int) -> bytes:
        """The next ``n`` keystream bytes."""
        return self._keystream(n).tobytes()

    def _keystream(self, n: int) -> npt.NDArray[np.uint8]:
        """The next ``n`` keystream bytes, written straight into a fresh numpy buffer."""
        n = _count(n, "byte count")
        if not self._seeded and self._pid != os.getpid():
            self._rekey(os.urandom(SEED_BYTES))
        # CTR keystream = encryption of zeros; update_into avoids an extra output copy.
        # It needs room for one extra block, hence the padding.
        out = np.zeros(n + 16, dtype=np.uint8)
        view = memoryview(out.data)
        written = self._encryptor.update_into(view[:n], view)
        assert written == n
        return out[:n]

    def uint64(self, count: int) -> npt.NDArray[np.uint64]:
        """``count`` uniform 64-bit words."""
        words = self._keystream(8 * _count(count, "count")).view("<u8")
        return words if words.dtype == np.uint64 else words.astype(np.uint64)

    def bits(self, count: int, k: int) -> npt.NDArray[np.uint64]:
        """``count`` uniform values in ``[0, 2**k)`` for ``1 <= k <= 64`` (masking, exact)."""
        if not 1 <= _int(k, "k") <= 64:
            raise InvalidArgumentError("k must be between 1 and 64")
        words = self.uint64(count)
        if k < 64:
            words &= np.uint64((1 << k) - 1)
        return words

    def below(self, bound: int, count: int) -> npt.NDArray[np.uint64]:
        """``count`` uniform values in ``[0, bound)``, ``1 <= bound <= 2**64``, by rejection.

        Words are drawn with just enough bits for ``bound`` and those ``>= bound`` are
        redrawn, so every value is exactly uniform.
        """
        bound = _int(bound, "bound")
        count = _count(count, "count")
        if not 1 <= bound <= 1 << 64:
            raise InvalidArgumentError("bound must be between 1 and 2**64")
        k = max(1, (bound - 1).bit_length())
        out = np.empty(count, dtype=np.uint64)
        filled = 0
        while filled < count:
            need = count - filled
            # Acceptance probability is above 1/2: draw a little extra to finish in ~1 round.
            draw = self.bits(need + need // 2 + 16, k)
            if bound < 1 << 64:
                draw = draw[draw < np.uint64(bound)]
            take = min(need, draw.size)
            out[filled : filled + take] = draw[:take]
            filled += take
        return out

    def uniform(self, count: int) -> npt.NDArray[np.float64]:
        """``count`` floats uniform in ``[0, 1)`` with 53 random bits each."""
        return (self.uint64(count) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def ints_below(self, bound: int, count: int) -> list[int]:
        """``count`` uniform Python ints in ``[0, bound)`` for any ``bound >= 1`` (rejection)."""
        bound = _int(bound, "bound")
        count = _count(count, "count")
        if bound < 1:
            raise InvalidArgumentError("bound must be positive")
        k = (bound - 1).bit_length()
        if k == 0:
            return [0] * count
        nbytes = (k + 7) // 8
        excess = 8 * nbytes - k
        out: list[int] = []
        while len(out) < count:
            need = count - len(out)
            raw = self.bytes(nbytes * (need + need // 2 + 4))
            for i in range(0, len(raw), nbytes):
                v = int.from_bytes(raw[i : i + nbytes], "big") >> excess
                if v < bound:
                    out.append(v)
                    if len(out) == count:
                        break
        return out
