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

from ._factory import create_party
from ._local import run_pair
from ._messages import (
    BlindedBatch,
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
from ._party import PsiParty, PsiResult
from ._settings import (
    PROTOCOL_VERSION,
    PROTOCOLS,
    REVEAL_MODES,
    ROLES,
    TAG_BYTES,
    PsiSettings,
    supported_groups,
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
