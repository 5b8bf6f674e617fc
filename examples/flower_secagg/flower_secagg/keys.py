"""Key material for the example (made locally, once): Ed25519 keys + roster for the active
mode, one shared Paillier key pair for the Paillier mode.  In a real deployment each
SuperNode gets its own files through its node config (see docs/flower.md)."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from fedcrypto import paillier


def _private(path: Path, data: bytes) -> None:
    path.touch(mode=0o600, exist_ok=True)
    path.write_bytes(data)


def prepare_keys(key_dir: Path, num_nodes: int) -> Path:
    """Create the keys under ``key_dir`` if they are missing; return ``key_dir``."""
    key_dir.mkdir(parents=True, exist_ok=True)
    roster = key_dir / "roster.txt"
    if not roster.exists() or len(roster.read_text().split()) < num_nodes:
        lines = []
        for i in range(num_nodes):
            k = Ed25519PrivateKey.generate()
            _private(
                key_dir / f"node-{i}.key",
                k.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
            )
            lines.append(k.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex())
        roster.write_text("\n".join(lines) + "\n")
    if not (key_dir / "paillier.key").exists():
        sk = paillier.generate_private_key(2048)
        _private(key_dir / "paillier.key", sk.private_bytes())
        (key_dir / "paillier.pub").write_bytes(sk.public_key().to_bytes())
    return key_dir
