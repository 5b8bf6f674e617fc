"""Key agreement, share encryption and signature transcripts for secure aggregation.

* Key agreement: X25519; the raw shared secret is never used directly but fed to
  HKDF-SHA256 with the session id as salt and a purpose label as info.
* Share encryption: AES-256-GCM under ``HKDF(X25519(c_u, c_v))``, a random 96-bit
  nonce, and associated data binding the session, the round, the sender and the
  receiver, so a ciphertext cannot be replayed to another client, session or round.
* Signatures (active variant): Ed25519 over domain-separated transcripts.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..exceptions import InvalidGroupElementError, InvalidSignatureError, ProtocolError

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "SIGNATURE_BYTES",
    "load_public_key",
    "agree",
    "share_encryption_key",
    "encrypt_share",
    "decrypt_share",
    "sign",
    "verify",
    "transcript",
]

KEY_BYTES = 32
NONCE_BYTES = 12
SIGNATURE_BYTES = 64
_LABEL = b"fedcrypto/secagg/v1/"
ROUND_SHARE_KEYS = 1


def load_public_key(raw: bytes) -> X25519PublicKey:
    """Parse a 32-byte X25519 public key from a peer.

    Raises:
        InvalidGroupElementError: wrong length.
    """
    if len(raw) != KEY_BYTES:
        raise InvalidGroupElementError("X25519 public key must be 32 bytes")
    return X25519PublicKey.from_public_bytes(raw)


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
        ProtocolError: the ciphertext is truncated, was tampered with, or was made for
            another sender, receiver, round or session.
    """
    if len(ciphertext) < NONCE_BYTES + 16:
        raise ProtocolError(f"share ciphertext from client {sender} is truncated")
    try:
        return AESGCM(key).decrypt(
            ciphertext[:NONCE_BYTES],
            ciphertext[NONCE_BYTES:],
            _share_ad(session_id, sender, receiver),
        )
    except InvalidTag:
        raise ProtocolError(
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
