"""Secret sharing for federated learning and MPC.

* **Shamir t-of-n** over GF(2**31 - 1), vectorised: :func:`shamir_split` /
  :func:`shamir_combine` share a byte string (e.g. a 32-byte key) so that any ``t`` of
  ``n`` shares reconstruct it and ``t - 1`` learn nothing; :func:`shamir_split_many` /
  :func:`shamir_combine_many` do many secrets at once (Lagrange coefficients computed once
  per index set).  :class:`Share` serializes through the fedcrypto envelope.
* **Additive sharing** among ``n`` parties over the ring Z_2^64 (:data:`RING64`) or a
  prime field (:class:`PrimeField`: vectorised for primes below 2**32, Python ints
  above): :func:`additive_share`, :func:`additive_reconstruct`, :class:`AdditiveShare`
  with local linear operations; :class:`FixedPoint` encodes reals (16 fractional bits
  by default), :func:`share_fixed_point` / :func:`reconstruct_fixed_point`.
* **Beaver multiplication** with a trusted dealer (:class:`BeaverDealer`): elementwise and
  matrix triples, the open-and-combine protocol between sans-I/O parties
  (:class:`BeaverMultiplication`, :class:`BeaverParty`, :class:`Opening` messages) and
  fixed-point truncation (local for 2 parties, dealer-assisted and exact to 1 ulp for
  any number); :func:`run_multiplication` and :func:`secure_multiply` run it in process.

Sizes from outside are capped before anything is allocated: shapes (:data:`MAX_NDIM`,
:data:`MAX_DIMENSION`, :data:`MAX_ELEMENTS`), party counts (:data:`MAX_PARTIES`), share
counts (:data:`MAX_SHARES`) and field primes (:data:`MAX_FIELD_BITS`; a prime read from
the wire is tested at most once per distinct value, and not at all when ``from_bytes``
is given the expected ``domain``).  A peer's bad message raises
:class:`~fedcrypto.exceptions.SerializationError` (bytes) or
:class:`~fedcrypto.exceptions.RemoteProtocolError` (protocol); misuse of a protocol
object by its own caller raises :class:`~fedcrypto.exceptions.LocalProtocolError`.

All randomness comes from the AES-CTR generator :class:`fedcrypto._random.VectorRNG`
(unbiased rejection sampling).  See ``docs/sharing.md`` for the threat model, parameters,
message flow and wire formats.
"""

from __future__ import annotations

from ._additive import (
    MAX_PARTIES,
    AdditiveShare,
    additive_reconstruct,
    additive_share,
    reconstruct_fixed_point,
    share_fixed_point,
)
from ._arrays import MAX_DIMENSION, MAX_ELEMENTS, MAX_NDIM
from ._beaver import BeaverMultiplication, BeaverParty, DealerTruncation, truncate_local
from ._beaver_values import Opening, TripleShare, TruncationPairShare
from ._dealer import BeaverDealer
from ._domain import FIELD_CACHE_SIZE, MAX_FIELD_BITS, RING64, Domain, PrimeField, Ring64
from ._fixedpoint import DEFAULT_FRAC_BITS, FixedPoint
from ._runner import run_multiplication, secure_multiply
from ._shamir import (
    MAX_SHARES,
    SHAMIR_FIELD_PRIME,
    Share,
    shamir_combine,
    shamir_combine_many,
    shamir_split,
    shamir_split_many,
)

__all__ = [
    "DEFAULT_FRAC_BITS",
    "FIELD_CACHE_SIZE",
    "MAX_DIMENSION",
    "MAX_ELEMENTS",
    "MAX_FIELD_BITS",
    "MAX_NDIM",
    "MAX_PARTIES",
    "MAX_SHARES",
    "RING64",
    "SHAMIR_FIELD_PRIME",
    "AdditiveShare",
    "BeaverDealer",
    "BeaverMultiplication",
    "BeaverParty",
    "DealerTruncation",
    "Domain",
    "FixedPoint",
    "Opening",
    "PrimeField",
    "Ring64",
    "Share",
    "TripleShare",
    "TruncationPairShare",
    "additive_reconstruct",
    "additive_share",
    "reconstruct_fixed_point",
    "run_multiplication",
    "secure_multiply",
    "shamir_combine",
    "shamir_combine_many",
    "shamir_split",
    "shamir_split_many",
    "share_fixed_point",
    "truncate_local",
]
