"""``fedcrypto psi make-certs DIR``: a throw-away CA with one server and one client certificate
for trying mutual TLS.

Files (keys are ECDSA P-256, PEM, mode 0600): ``ca.pem``/``ca.key`` (the CA; only ``ca.pem`` is
needed to run), ``server.pem``/``server.key`` for the listener (subject alternative names:
localhost, 127.0.0.1, ::1 and every ``--name``), ``client.pem``/``client.key`` for the
connector.  For production, each organisation should use certificates from its own PKI.
"""

from __future__ import annotations

import datetime
import ipaddress
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ...exceptions import InvalidArgumentError

__all__ = ["make_certs", "CERT_FILES"]

CERT_FILES = ("ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key")


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "fedcrypto psi test"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _write(path: str, data: bytes, private: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


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
    for n in names:
        try:
            server_san.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            if not n or any(c.isspace() for c in n):
                raise InvalidArgumentError(f"--name {n!r}: not a host name or IP address") from None
            server_san.append(x509.DNSName(n))
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
