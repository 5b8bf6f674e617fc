"""make-identity, fingerprints, pinning options and private-key file modes (finding 13)."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from fedcrypto.cli.psi_tool._certs import make_certs, make_identity
from fedcrypto.cli.psi_tool._tls import (
    client_context,
    format_fingerprint,
    load_tls_config,
    parse_fingerprint,
    server_context,
)
from fedcrypto.exceptions import InvalidArgumentError

from .conftest import run_tool


def _mode(path: str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_make_identity_command(tmp_path):
    d = tmp_path / "me"
    proc = run_tool("make-identity", str(d), "--name", "psi-a.example.org", "--name", "10.0.0.7")
    assert proc.rc == 0, proc.err
    key, cert = d / "identity.key", d / "identity.pem"
    assert _mode(str(key)) == 0o600 and _mode(str(d)) == 0o700
    parsed = x509.load_pem_x509_certificate(cert.read_bytes())
    fp = format_fingerprint(hashlib.sha256(parsed.public_bytes(Encoding.DER)).digest())
    assert f"SHA-256 fingerprint: {fp}" in proc.out
    assert parsed.issuer == parsed.subject  # self-signed: no CA, no other party involved
    san = parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "psi-a.example.org" in san.get_values_for_type(x509.DNSName)
    # the fingerprint command prints the same thing for the certificate the peer receives
    again = run_tool("fingerprint", str(cert))
    assert again.rc == 0 and fp in again.out
    # no overwrite without --force
    run_tool("make-identity", str(d), "--name", "x").assert_clean_failure(2, "already exists")
    assert run_tool("make-identity", str(d), "--name", "x", "--force").rc == 0


def test_make_identity_needs_a_name(tmp_path):
    with pytest.raises(InvalidArgumentError, match="--name"):
        make_identity(str(tmp_path), names=())
    with pytest.raises(InvalidArgumentError, match="not a host name"):
        make_identity(str(tmp_path), names=("bad name\x1b",))


def test_force_never_keeps_a_world_readable_key(tmp_path):
    """A key overwritten with --force is a new 0600 file, whatever the old file's mode (the
    old make-certs opened the existing file and kept its mode)."""
    keys = {"identity": ["identity.key"], "certs": ["ca.key", "server.key", "client.key"]}
    for kind, names in keys.items():
        for name in names:
            (tmp_path / name).write_text("old")
            os.chmod(tmp_path / name, 0o644)
        if kind == "identity":
            make_identity(str(tmp_path), names=("a",), force=True)
        else:
            make_certs(str(tmp_path), force=True)
        for name in names:
            assert _mode(str(tmp_path / name)) == 0o600, name
            assert (tmp_path / name).read_text() != "old"


def test_make_certs_help_warns_against_use_between_organisations():
    proc = run_tool("make-certs", "--help")
    assert "WARNING" in proc.out and "make-identity" in proc.out


def test_parse_fingerprint_forms():
    fp = bytes(range(32))
    for text in (
        format_fingerprint(fp),
        fp.hex(),
        fp.hex().upper(),
        "SHA256:" + fp.hex(),
        "sha256 Fingerprint=" + format_fingerprint(fp),
        " ".join(f"{b:02x}" for b in fp),
    ):
        assert parse_fingerprint(text) == fp
    for bad in ("", "abc", fp.hex()[:-2], fp.hex() + "00", "zz" * 32):
        with pytest.raises(InvalidArgumentError, match="SHA-256 fingerprint"):
            parse_fingerprint(bad)


def test_tls_config_choices(identities, certs):
    alice, bob = identities["alice"], identities["bob"]
    mine = {"cert": alice.cert, "key": alice.key}
    # exactly one way to recognise the peer
    with pytest.raises(InvalidArgumentError, match="mutual TLS needs"):
        load_tls_config(**mine, ca=None, peer_cert=None, peer_fingerprint=None, server=False)
    ca = certs["listener"][5]
    with pytest.raises(InvalidArgumentError, match="cannot be combined"):
        load_tls_config(**mine, ca=ca, peer_cert=bob.cert, peer_fingerprint=None, server=False)
    # the listener needs the certificate file; the connector can pin a fingerprint alone
    fp = format_fingerprint(bob.fingerprint)
    with pytest.raises(InvalidArgumentError, match="needs the connector's certificate file"):
        load_tls_config(**mine, ca=None, peer_cert=None, peer_fingerprint=fp, server=True)
    cfg = load_tls_config(**mine, ca=None, peer_cert=None, peer_fingerprint=fp, server=False)
    assert cfg.pin == bob.fingerprint and cfg.mode == "pinned"
    assert cfg.local_fingerprint == alice.fingerprint
    client_context(cfg)
    cfg = load_tls_config(**mine, ca=None, peer_cert=bob.cert, peer_fingerprint=fp, server=True)
    server_context(cfg)
    # a file and a fingerprint that disagree: both fingerprints named
    other = format_fingerprint(identities["mallory"].fingerprint)
    with pytest.raises(InvalidArgumentError) as info:
        load_tls_config(**mine, ca=None, peer_cert=bob.cert, peer_fingerprint=other, server=True)
    assert fp in str(info.value) and other in str(info.value)


def test_pinned_file_must_hold_one_valid_certificate(tmp_path, identities):
    alice = identities["alice"]
    mine = {"cert": alice.cert, "key": alice.key, "ca": None, "peer_fingerprint": None}
    two = tmp_path / "two.pem"
    two.write_bytes(open(alice.cert, "rb").read() * 2)
    with pytest.raises(InvalidArgumentError, match="exactly one certificate"):
        load_tls_config(**mine, peer_cert=str(two), server=True)
    junk = tmp_path / "junk.pem"
    junk.write_bytes(b"-----BEGIN CERTIFICATE-----\n\x1b[2J\n")
    with pytest.raises(InvalidArgumentError, match="not a PEM certificate"):
        load_tls_config(**mine, peer_cert=str(junk), server=True)
    with pytest.raises(InvalidArgumentError, match="no such file"):
        load_tls_config(**mine, peer_cert=str(tmp_path / "missing.pem"), server=True)
    expired = tmp_path / "expired.pem"
    expired.write_bytes(_expired_certificate())
    with pytest.raises(InvalidArgumentError, match="expired on"):
        load_tls_config(**mine, peer_cert=str(expired), server=True)


def _expired_certificate() -> bytes:
    import datetime

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)
