"""Paillier additively homomorphic encryption, vectorised, with BatchCrypt-style packing.

Quick start::

    from fedcrypto import paillier
    sk = paillier.generate_private_key(3072)
    pk = sk.public_key()
    ev = pk.encrypt([1.5, -2.0, 3.25])      # EncryptedVector (fixed point)
    total = (ev * 2 + 1).sum()
    sk.decrypt(total)                        # array([ 8.5])

See ``docs/paillier.md`` for the maths, the randomness modes and the wire format.
"""

from ._encoding import DEFAULT_FRAC_BITS, INTEGER, Encoding
from ._keys import (
    DEFAULT_KEY_SIZE,
    MIN_KEY_SIZE,
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_private_key,
    private_key_from_primes,
    public_key_from_n,
)
from ._packing import PackedVector, PackingScheme, estimate_alpha
from ._pool import RandomizerPool
from ._vector import EncryptedVector, concatenate

__all__ = [
    "DEFAULT_FRAC_BITS",
    "DEFAULT_KEY_SIZE",
    "MIN_KEY_SIZE",
    "INTEGER",
    "Encoding",
    "EncryptedVector",
    "PackedVector",
    "PackingScheme",
    "PaillierPrivateKey",
    "PaillierPublicKey",
    "RandomizerPool",
    "concatenate",
    "estimate_alpha",
    "generate_private_key",
    "private_key_from_primes",
    "public_key_from_n",
]
