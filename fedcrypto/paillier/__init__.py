"""Paillier additively homomorphic encryption, vectorised, with BatchCrypt-style packing.

Quick start::

    from fedcrypto import paillier
    sk = paillier.generate_private_key(3072)
    pk = sk.public_key()
    ev = pk.encrypt([1.5, -2.0, 3.25])      # EncryptedVector (fixed point)
    total = (ev * 2 + 1).sum()
    sk.decrypt(total)                        # array([ 8.5])

See ``docs/paillier.md`` for the maths, the randomness modes, the wire format and
the caps on everything a peer can send.

Module layers, lowest first (each imports only those above it in this list):
``_params`` (key parameters, tables, size policy) and ``_limbmath``; ``_crypto``;
``_encoding``; ``_pool``; ``_vector``; ``_packing``; ``_keys``.
"""

from ._encoding import DEFAULT_FRAC_BITS, INTEGER, MAX_FRAC_BITS, Encoding
from ._keys import (
    PaillierPrivateKey,
    PaillierPublicKey,
    generate_private_key,
    private_key_from_primes,
    public_key_from_n,
)
from ._packing import (
    MAX_ALPHA,
    MAX_DIMS,
    MAX_PACKED_VALUES,
    MIN_ALPHA,
    PackedVector,
    PackingScheme,
    estimate_alpha,
)
from ._params import DEFAULT_KEY_SIZE, MAX_KEY_SIZE, MIN_KEY_SIZE, TABLE_BUDGET
from ._pool import MAX_POOL_BYTES, RandomizerPool
from ._vector import MAX_VECTOR_LENGTH, EncryptedVector, concatenate

__all__ = [
    "DEFAULT_FRAC_BITS",
    "DEFAULT_KEY_SIZE",
    "MIN_KEY_SIZE",
    "MAX_KEY_SIZE",
    "MAX_FRAC_BITS",
    "MAX_VECTOR_LENGTH",
    "MAX_PACKED_VALUES",
    "MAX_DIMS",
    "MIN_ALPHA",
    "MAX_ALPHA",
    "TABLE_BUDGET",
    "MAX_POOL_BYTES",
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
