"""Private set intersection (PSI) for entity alignment in vertical federated learning.

Three protocols behind one sans-I/O party interface (typed messages in, typed messages out;
no sockets here — the ``fedcrypto psi`` tool brings TCP + TLS):

* ``ecdh`` (default): RFC 9380 hash-to-curve on curve25519 (X25519 masking) or P-256;
* ``dh``: RFC 3526 / RFC 7919 safe-prime groups, hashing into the prime-order subgroup;
* ``rsa``: De Cristofaro–Tsudik blind RSA signatures.

Reveal modes: ``listener``, ``connector``, ``both`` or ``count``.  See ``docs/psi.md`` for
the protocols, what each side learns, and the wire format.

Example::

    settings = PsiSettings(protocol="ecdh", reveal="both")
    party = create_party(settings, role="listener", items=ids, peer_size=n_peer,
                         session_id=sid)
    send(party.start())
    while not party.done:
        send(party.handle(decode_message(receive(), settings, sid)))
    party.result().indices
"""

from __future__ import annotations

from ._buckets import OVERFLOW_BITS, padded_bucket_size
from ._factory import create_party
from ._join import InMemoryJoin, JoinProvider, SpillingJoin
from ._local import run_pair
from ._messages import (
    BlindedBatch,
    BucketMessage,
    MaskedBatch,
    MatchPositions,
    PsiMessage,
    RsaPublicKey,
    ShuffledTags,
    SignedBatch,
    SignerTags,
    TagReply,
    decode_message,
)
from ._mp_local import run_multiparty
from ._mp_messages import MpKeyShare, MpMessage, MpOkvsBatch, MpRingBatch, decode_mp_message
from ._mp_settings import (
    MAX_PARTIES,
    MAX_SET_SIZE,
    MP_PROTOCOL_VERSION,
    MP_REVEAL_MODES,
    MultipartySettings,
)
from ._multiparty import MultipartyParty
from ._partitioned import BUCKET_WINDOW, PartitionedParty
from ._party import PsiParty, PsiResult
from ._payload import PayloadOutcome, PayloadParty, create_payload_party
from ._payload_local import run_payload_pair
from ._payload_messages import (
    MAX_PAYLOAD_BYTES,
    EvaluatedBatch,
    PayloadBatch,
    PayloadPositions,
    decode_payload_message,
)
from ._settings import (
    COMPUTE_MODES,
    MAX_BUCKETS,
    PROTOCOL_VERSION,
    PROTOCOLS,
    REVEAL_MODES,
    ROLES,
    TAG_BYTES,
    PsiSettings,
    supported_groups,
)
from ._sum import DEFAULT_SUM_KEY_SIZE, DEFAULT_VALUE_BITS, SumOutcome, SumParty, create_sum_party
from ._sum_layout import SumLayout
from ._sum_layout import plan_layout as plan_sum_layout
from ._sum_local import run_sum_pair
from ._sum_messages import SumKey, SumOpening, SumResult, ValueBatch, decode_sum_message
from ._unbalanced import (
    CacheReceiver,
    OprfClient,
    OprfServer,
    StaleCacheError,
    TagCache,
    build_cache,
    cache_messages,
    false_positive_bound,
    new_server_key,
    run_unbalanced,
)
from ._unbalanced_messages import (
    CACHE_TAG_BYTES,
    UNBALANCED_PARAM,
    CacheChunk,
    CacheHeader,
    CacheRequest,
    OprfRequest,
    OprfResponse,
    decode_unbalanced_message,
)

__all__ = [
    "PROTOCOL_VERSION",
    "PROTOCOLS",
    "REVEAL_MODES",
    "ROLES",
    "TAG_BYTES",
    "PsiSettings",
    "PsiParty",
    "PsiResult",
    "PsiMessage",
    "MaskedBatch",
    "TagReply",
    "ShuffledTags",
    "RsaPublicKey",
    "BlindedBatch",
    "SignedBatch",
    "SignerTags",
    "MatchPositions",
    "create_party",
    "decode_message",
    "supported_groups",
    "run_pair",
    "JoinProvider",
    "InMemoryJoin",
    "SpillingJoin",
    "PartitionedParty",
    "BucketMessage",
    "BUCKET_WINDOW",
    "MAX_BUCKETS",
    "OVERFLOW_BITS",
    "padded_bucket_size",
    # intersection-sum (compute="sum"): docs/psi-compute.md
    "COMPUTE_MODES",
    "DEFAULT_SUM_KEY_SIZE",
    "DEFAULT_VALUE_BITS",
    "SumLayout",
    "plan_sum_layout",
    "SumOutcome",
    "SumParty",
    "SumKey",
    "ValueBatch",
    "SumResult",
    "SumOpening",
    "create_sum_party",
    "decode_sum_message",
    "run_sum_pair",
    # payload transfer: docs/psi-compute.md
    "MAX_PAYLOAD_BYTES",
    "PayloadOutcome",
    "PayloadParty",
    "EvaluatedBatch",
    "PayloadBatch",
    "PayloadPositions",
    "create_payload_party",
    "decode_payload_message",
    "run_payload_pair",
    # unbalanced PSI with a reusable cache: docs/psi-compute.md
    "CACHE_TAG_BYTES",
    "UNBALANCED_PARAM",
    "CacheChunk",
    "CacheHeader",
    "CacheReceiver",
    "CacheRequest",
    "OprfClient",
    "OprfRequest",
    "OprfResponse",
    "OprfServer",
    "StaleCacheError",
    "TagCache",
    "build_cache",
    "cache_messages",
    "decode_unbalanced_message",
    "false_positive_bound",
    "new_server_key",
    "run_unbalanced",
    # multi-party PSI (docs/psi-multiparty.md)
    "MAX_PARTIES",
    "MAX_SET_SIZE",
    "MP_PROTOCOL_VERSION",
    "MP_REVEAL_MODES",
    "MultipartySettings",
    "MultipartyParty",
    "MpMessage",
    "MpKeyShare",
    "MpRingBatch",
    "MpOkvsBatch",
    "decode_mp_message",
    "run_multiparty",
]
