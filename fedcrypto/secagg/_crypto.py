"""Key agreement, share encryption and signature transcripts for secure aggregation.

* Key agreement: X25519; the raw shared secret is never used directly but fed to
  HKDF-SHA256 with the session id as salt and a purpose label as info.
* Share encryption: AES-256-GCM under ``HKDF(X25519(c_u, c_v))``, a random 96-bit
  nonce, and associated data binding the session, the round, the sender and the
  receiver, so a ciphertext cannot be replayed to another client, session or round.
* Signatures (active variant): Ed25519 over domain-separated transcripts.
* Seed commitments: ``SHA-256(label || session id || u32 client || b_u)`` binds each
  client to its self-mask seed before any share of it is revealed (see
  :func:`seed_commitment`).
* Key validation: every public key that comes from a peer is checked before use
  (:func:`load_public_key` for X25519, :func:`check_verifying_key` for Ed25519): exact
  length, canonical encoding, and not a point of small order, so no peer can force an
  all-zero or predictable shared secret.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ..exceptions import InvalidGroupElementError, InvalidSignatureError, RemoteProtocolError

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "SIGNATURE_BYTES",
    "SHARE_CIPHERTEXT_BYTES",
    "X25519_LOW_ORDER",
    "x25519_key_problem",
    "load_public_key",
    "ED25519_SMALL_ORDER",
    "check_verifying_key",
    "agree",
    "share_encryption_key",
    "encrypt_share",
    "decrypt_share",
    "sign",
    "verify",
    "transcript",
    "COMMITMENT_BYTES",
    "seed_commitment",
    "seed_matches",
]

KEY_BYTES = 32
NONCE_BYTES = 12
SIGNATURE_BYTES = 64
_TAG_BYTES = 16
#: Bytes of a share plaintext: ``u32 sender || u32 receiver || 2 x (16-byte split id ||
#: 44 bytes of share data)``.
SHARE_PLAINTEXT_BYTES = 128
#: Bytes of one share ciphertext: nonce, encrypted plaintext, GCM tag.
SHARE_CIPHERTEXT_BYTES = NONCE_BYTES + SHARE_PLAINTEXT_BYTES + _TAG_BYTES
_LABEL = b"fedcrypto/secagg/v1/"
ROUND_SHARE_KEYS = 1
#: Bytes of a self-mask seed commitment (a SHA-256 digest).
COMMITMENT_BYTES = 32


#: The field prime of Curve25519 and Ed25519.
_P = (1 << 255) - 19
#: Canonical u-coordinates (below p) of the points of small order on Curve25519 and its
#: twist: 0 and 1, p - 1, and the two u-coordinates of the points of order 8.  X25519 with
#: any of them gives an all-zero shared secret, whatever the private key.
X25519_LOW_ORDER = frozenset(
    {
        0,
        1,
        _P - 1,
        325606250916557431795983626356110631294008115727848805560023387167927233504,
        39382357235489614581723060781553021112529911719440698176882885853963445705823,
    }
)


def x25519_key_problem(raw: object) -> str | None:
    """Why ``raw`` is not an acceptable X25519 public key from a peer, or ``None``.

    Refused: anything but exactly 32 bytes; a non-canonical encoding (the unused top
    bit set, or a u-coordinate ``>= p``, which implementations silently reduce); a point
    of small order (:data:`X25519_LOW_ORDER`), which would make the shared secret all
    zero.  Honest keys (``public_bytes`` of a generated key) always pass.
    """
    if not isinstance(raw, bytes) or len(raw) != KEY_BYTES:
        return "an X25519 public key must be 32 bytes"
    u = int.from_bytes(raw, "little")
    if u >> 255 or u >= _P:
        return "non-canonical X25519 public key encoding"
    if u in X25519_LOW_ORDER:
        return "X25519 public key of small order"
    return None


def load_public_key(raw: bytes) -> X25519PublicKey:
    """Parse and validate a 32-byte X25519 public key from a peer.

    Raises:
        InvalidGroupElementError: wrong length, non-canonical encoding or a point of
            small order (see :func:`x25519_key_problem`).
    """
    problem = x25519_key_problem(raw)
    if problem is not None:
        raise InvalidGroupElementError(problem)
    return X25519PublicKey.from_public_bytes(raw)


def _ed25519_encodings(y: int) -> tuple[bytes, bytes]:
    """The two encodings (sign bit clear and set) of the points with coordinate ``y``."""
    return y.to_bytes(32, "little"), (y | 1 << 255).to_bytes(32, "little")


#: Every encoding of the eight Ed25519 points of small order (order 1, 2, 4 and 8), with
#: both values of the sign bit (for x = 0 the set bit is itself non-canonical).  The two
#: order-8 y-coordinates are the published ones (RFC 8032 curve; as in libsodium's list).
ED25519_SMALL_ORDER = frozenset(
    enc
    for y in (
        1,  # the neutral element
        _P - 1,  # order 2
        0,  # order 4 (x = +-sqrt(-1))
        0x7A03AC9277FDC74EC6CC392CFA53202A0F67100D760B3CBA4FD84D3D706A17C7,  # order 8
        0x05FC536D880238B13933C6D305ACDFD5F098EFF289F4C345B027B2C28F95E826,  # order 8
    )
    for enc in _ed25519_encodings(y)
)


def check_verifying_key(key: Ed25519PublicKey) -> None:
    """Refuse an Ed25519 verifying key with a non-canonical ``y`` or of small order.

    A key of small order lets its owner make signatures that verify for many messages
    (and, under cofactored verification, for any key's owner to claim them); no honest
    key is one.  (An encoding that is no curve point at all simply never verifies.)

    Raises:
        InvalidGroupElementError: ``y >= p``, or one of :data:`ED25519_SMALL_ORDER`.
    """
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    if int.from_bytes(raw, "little") & ((1 << 255) - 1) >= _P:
        raise InvalidGroupElementError("Ed25519 verifying key is not canonically encoded")
    if raw in ED25519_SMALL_ORDER:
        raise InvalidGroupElementError("Ed25519 verifying key has small order")


def agree(private: X25519PrivateKey, public: X25519PublicKey) -> bytes:
    """The raw X25519 shared secret.

    Raises:
        InvalidGroupElementError: the peer key is a low-order point (all-zero secret).
    """
    try:
        secret = private.exchange(public)
    except ValueError:
        raise InvalidGroupElementError("peer X25519 key is a low-order point") from None
    if secret == bytes(KEY_BYTES):  # pragma: no cover - OpenSSL already refuses this
        raise InvalidGroupElementError("peer X25519 key is a low-order point")
    return secret


def share_encryption_key(secret: bytes, *, session_id: bytes, u: int, v: int) -> bytes:
    """AES-256-GCM key for shares between ``u`` and ``v`` (symmetric in u, v)."""
    lo, hi = (u, v) if u < v else (v, u)
    info = _LABEL + b"share-encryption" + lo.to_bytes(4, "big") + hi.to_bytes(4, "big")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=session_id, info=info).derive(secret)


def _share_ad(session_id: bytes, sender: int, receiver: int) -> bytes:
    return (
        _LABEL
        + b"share-ciphertext"
        + session_id
        + ROUND_SHARE_KEYS.to_bytes(1, "big")
        + sender.to_bytes(4, "big")
        + receiver.to_bytes(4, "big")
    )


def encrypt_share(
    key: bytes, plaintext: bytes, *, session_id: bytes, sender: int, receiver: int
) -> bytes:
    """``nonce || AES-GCM(key, nonce, plaintext, AD = session || round || sender || receiver)``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, _share_ad(session_id, sender, receiver))


def decrypt_share(
    key: bytes, ciphertext: bytes, *, session_id: bytes, sender: int, receiver: int
) -> bytes:
    """Inverse of :func:`encrypt_share`.

    Raises:
        RemoteProtocolError: the ciphertext is truncated, was tampered with, or was made
            for another sender, receiver, round or session.
    """
    if len(ciphertext) < NONCE_BYTES + _TAG_BYTES:
        raise RemoteProtocolError(f"share ciphertext from client {sender} is truncated")
    try:
        return AESGCM(key).decrypt(
            ciphertext[:NONCE_BYTES],
            ciphertext[NONCE_BYTES:],
            _share_ad(session_id, sender, receiver),
        )
    except InvalidTag:
        raise RemoteProtocolError(
            f"share ciphertext from client {sender} does not authenticate"
        ) from None


def transcript(kind: bytes, session_id: bytes, *parts: bytes) -> bytes:
    """A domain-separated, length-prefixed byte string to sign."""
    out = [_LABEL, b"sig/", kind, b"\x00", session_id]
    for p in parts:
        out.append(len(p).to_bytes(8, "big"))
        out.append(p)
    return b"".join(out)


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """Ed25519 signature (64 bytes)."""
    return key.sign(message)


def verify(key: Ed25519PublicKey, signature: bytes, message: bytes, *, who: int) -> None:
    """Verify an Ed25519 signature.

    Raises:
        InvalidSignatureError: missing or wrong signature (names the client, never the data).
    """
    if len(signature) != SIGNATURE_BYTES:
        raise InvalidSignatureError(f"missing or malformed signature from client {who}")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise InvalidSignatureError(f"signature from client {who} does not verify") from None


def seed_commitment(seed: bytes, *, session_id: bytes, client: int) -> bytes:
    """The public commitment of client ``client`` to its self-mask seed ``b_u``.

    ``SHA-256("fedcrypto/secagg/v1/seed-commitment" || u64 len(sid) || sid || u32 client
    || seed)``.  It *binds*: the server accepts a reconstructed seed only when it
    hashes to the commitment, so no wrong share (and no set of shares chosen by a
    holder) can make it accept a different seed without a SHA-256 second preimage.  It
    *hides*: the seed is 32 uniform bytes, so the digest tells the server nothing it can
    use to guess it (a 2^256 search).  The session id and client id in the hash keep a
    commitment from being replayed to another session or client.
    """
    h = hashlib.sha256(_LABEL + b"seed-commitment")
    h.update(len(session_id).to_bytes(8, "big"))
    h.update(session_id)
    h.update(client.to_bytes(4, "big"))
    h.update(seed)
    return h.digest()


def seed_matches(seed: bytes, commitment: bytes, *, session_id: bytes, client: int) -> bool:
    """Whether ``seed`` opens ``commitment`` (compared in constant time)."""
    return hmac.compare_digest(
        seed_commitment(seed, session_id=session_id, client=client), commitment
    )
