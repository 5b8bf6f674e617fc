"""Certificates for the tool: ``make-identity`` (one side's own key and self-signed
certificate, for two organisations) and ``make-certs`` (a throw-away CA for trials on one
machine).

``fedcrypto psi make-identity DIR --name HOST`` writes ``identity.key`` (ECDSA P-256, PKCS#8
PEM, mode 0600: it never leaves this machine) and ``identity.pem`` (a self-signed certificate,
usable by the listener and by the connector), and returns the certificate's SHA-256
fingerprint.  Each organisation makes its own and sends only ``identity.pem`` to the other,
which pins it with ``--tls-peer-cert`` after checking the fingerprint over a second channel.

``fedcrypto psi make-certs DIR`` writes ``ca.pem``/``ca.key``, ``server.pem``/``server.key``
(listener; names localhost, 127.0.0.1, ::1 and every ``--name``) and ``client.pem``/
``client.key`` (connector): one party makes the other's private key, so it is for trying
things out on one machine only.

Private keys are written to a fresh file created with mode 0600 (an existing file is
replaced, never rewritten in place, so a ``--force`` cannot keep looser permissions).
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import os
import tempfile
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..._immutable import Immutable
from ...exceptions import InvalidArgumentError

__all__ = ["make_certs", "make_identity", "Identity", "CERT_FILES", "IDENTITY_FILES"]

CERT_FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key")
IDENTITY_FILES = ("identity.pem", "identity.key")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedcrypto psi test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write(path: str, data: bytes, private: bool) -> None:
    """Write ``data`` to a new temporary file with its final mode, then rename it over
    ``path``: a private key is never readable by others, even for an instant."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fedcrypto-", dir=directory)  # mode 0600
    try:
        os.fchmod(fd, 0o600 if private else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _san(names: tuple[str, ...]) -> list[x509.GeneralName]:
    out: list[x509.GeneralName] = []
    for n in names:
        try:
            out.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            if not n or any(c.isspace() or not c.isprintable() for c in n) or len(n) > 253:
                raise InvalidArgumentError(f"--name {n!r}: not a host name or IP address") from None
            out.append(x509.DNSName(n))
    return out


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certs(
    directory: str, *, names: tuple[str, ...] = (), days: int = 30, force: bool = False
) -> list[str]:
    """Create the CA, server and client certificates in ``directory`` (created if missing).

    ``names``: extra host names or IP addresses for the server certificate; ``days``:
    validity; ``force``: overwrite existing files.  Returns the written paths.  Raises
    InvalidArgumentError when files exist (without ``force``) or arguments are invalid.
    """
    if days < 1 or days > 3650:
        raise InvalidArgumentError("--days must be between 1 and 3650")
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f) for f in CERT_FILES]
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not force:
        raise InvalidArgumentError(f"{existing[0]} already exists (use --force to overwrite)")
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("fedcrypto psi test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(
        cn: str, eku: x509.ObjectIdentifier, san: list[x509.GeneralName]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(cn))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=False,
                    crl_sign=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        )
        return builder.sign(ca_key, hashes.SHA256()), key

    server_san: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ]
    server_san += _san(names)
    server_cert, server_key = leaf(
        "fedcrypto psi listener", ExtendedKeyUsageOID.SERVER_AUTH, server_san
    )
    client_cert, client_key = leaf(
        "fedcrypto psi connector",
        ExtendedKeyUsageOID.CLIENT_AUTH,
        [x509.DNSName("fedcrypto-psi-connector")],
    )
    pem = serialization.Encoding.PEM
    blobs = [
        ca_cert.public_bytes(pem),
        _key_pem(ca_key),
        server_cert.public_bytes(pem),
        _key_pem(server_key),
        client_cert.public_bytes(pem),
        _key_pem(client_key),
    ]
    for path, blob in zip(paths, blobs, strict=True):
        _write(path, blob, private=path.endswith(".key"))
    return paths


@dataclass(frozen=True)
class Identity(Immutable):
    """What :func:`make_identity` wrote: ``cert`` and ``key`` paths and the certificate's
    SHA-256 ``fingerprint``."""

    cert: str
    key: str
    fingerprint: bytes


def make_identity(
    directory: str, *, names: tuple[str, ...], days: int = 365, force: bool = False
) -> Identity:
    """Create this side's TLS identity in ``directory`` (created with mode 0700 if missing):
    a P-256 key (``identity.key``, mode 0600) and a self-signed certificate
    (``identity.pem``) for ``names`` (the first is the common name; all are subject
    alternative names), usable for both the listener and the connector.

    :returns: the paths and the certificate's SHA-256 fingerprint.
    :raises InvalidArgumentError: no name, a bad name, ``days`` out of range, or files that
        exist (without ``force``).
    """
    if not names:
        raise InvalidArgumentError("make-identity needs --name HOST (this side's host name)")
    if days < 1 or days > 3650:
        raise InvalidArgumentError("--days must be between 1 and 3650")
    san = _san(names)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    cert_path, key_path = (os.path.join(directory, f) for f in IDENTITY_FILES)
    existing = [p for p in (cert_path, key_path) if os.path.exists(p)]
    if existing and not force:
        raise InvalidArgumentError(f"{existing[0]} already exists (use --force to overwrite)")
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedcrypto psi identity"),
            x509.NameAttribute(NameOID.COMMON_NAME, names[0][:64]),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=False,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM), private=False)
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()
    return Identity(cert_path, key_path, fingerprint)
