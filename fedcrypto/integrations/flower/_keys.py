"""Where a Flower node finds its key material (node config first, run config as fallback).

* ``fedcrypto-state-key``: 64 hex digits, the key that seals this node's secure-aggregation
  state in ``Context.state``.  Without it a random key is made at setup and kept in
  ``Context.state`` beside the sealed state (see docs/flower.md for what that protects).
* ``fedcrypto-signing-key``: path of this node's Ed25519 private key (PEM PKCS#8 or 32 raw
  bytes), for active mode.
* ``fedcrypto-roster``: path of a file listing the federation's Ed25519 verifying keys
  (one 64-hex-digit key per line, ``#`` comments), for active mode.
* ``fedcrypto-key-dir`` (node config, else the ``FEDCRYPTO_KEY_DIR`` environment variable,
  else the run config): a directory holding ``node-<partition-id>.key`` and
  ``roster.txt``, for engines that cannot set a node config per node (simulation).  A
  run config is visible to the server: it names a path, never a key.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)

from ..._sanitize import peer_text
from ...exceptions import InputFormatError, InvalidArgumentError

__all__ = [
    "state_key_from_config",
    "load_signing_key",
    "load_roster",
    "write_signing_key",
    "raw_public",
]

#: Largest key or roster file read (1 MiB).
MAX_KEY_FILE = 1 << 20


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a verifying key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def state_key_from_config(node_config: Mapping[str, object]) -> bytes | None:
    """The operator's state key from the node config, or ``None``.

    Raises:
        InvalidArgumentError: present but not 64 hex digits.
    """
    raw = node_config.get("fedcrypto-state-key")
    if raw is None:
        return None
    try:
        key = bytes.fromhex(str(raw))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InvalidArgumentError("fedcrypto-state-key must be 64 hex digits")
    return key


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_KEY_FILE:
            raise InputFormatError(f"key file {peer_text(str(path))} is too large")
        return path.read_bytes()
    except OSError as exc:
        raise InputFormatError(
            f"cannot read key file {peer_text(str(path))}: {exc.strerror}"
        ) from None


def _key_dir(node_config: Mapping[str, object], run_config: Mapping[str, object]) -> Path | None:
    d = node_config.get("fedcrypto-key-dir", os.environ.get("FEDCRYPTO_KEY_DIR"))
    if d is None:
        d = run_config.get("fedcrypto-key-dir")
    return None if d is None else Path(str(d))


def load_signing_key(
    node_config: Mapping[str, object], run_config: Mapping[str, object]
) -> Ed25519PrivateKey:
    """This node's Ed25519 signing key (active mode).

    Raises:
        InputFormatError: no key configured, unreadable or malformed.
    """
    path = node_config.get("fedcrypto-signing-key")
    if path is None:
        kdir = _key_dir(node_config, run_config)
        pid = node_config.get("partition-id")
        if kdir is None or pid is None:
            raise InputFormatError(
                "active secure aggregation needs this node's Ed25519 key: set node config "
                "'fedcrypto-signing-key' (or 'fedcrypto-key-dir' / FEDCRYPTO_KEY_DIR in simulation)"
            )
        path = kdir / f"node-{int(str(pid))}.key"
    data = _read(Path(str(path)))
    try:
        if data.startswith(b"-----BEGIN"):
            key = load_pem_private_key(data, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(data)
    except (ValueError, TypeError):
        raise InputFormatError("the signing key file is not an Ed25519 private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InputFormatError("the signing key file is not an Ed25519 private key")
    return key


def load_roster(
    node_config: Mapping[str, object], run_config: Mapping[str, object]
) -> frozenset[bytes] | None:
    """The set of trusted verifying keys (raw 32 bytes), or ``None`` when none is configured.

    Raises:
        InputFormatError: unreadable or malformed roster.
    """
    path = node_config.get("fedcrypto-roster")
    if path is None:
        kdir = _key_dir(node_config, run_config)
        if kdir is None:
            return None
        path = kdir / "roster.txt"
    keys: set[bytes] = set()
    for line in _read(Path(str(path))).decode("ascii", "replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        try:
            raw = bytes.fromhex(line)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise InputFormatError("roster lines must be 64-hex-digit Ed25519 public keys")
        keys.add(raw)
    return frozenset(keys)


def write_signing_key(key: Ed25519PrivateKey, path: Path) -> None:
    """Write a signing key as unencrypted PEM PKCS#8 with owner-only permissions."""
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_bytes(pem)
