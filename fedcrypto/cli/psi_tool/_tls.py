"""TLS 1.3 for the tool: contexts, the peer's identity (a CA or a pinned certificate),
fingerprints, and a handshake bounded by a deadline.

Two ways to say who the peer is:

* ``--tls-ca PEM``: organisations with a PKI.  The peer's certificate must chain to that CA;
  the connector also checks the listener's host name.
* ``--tls-peer-cert PEM`` (and/or ``--tls-peer-fingerprint SHA256``): the peer's *exact*
  certificate, for two organisations that each made their own identity with
  ``fedcrypto psi make-identity`` and exchanged the public certificates.  The listener
  loads the peer's certificate as its only trust anchor (OpenSSL then requires the client
  to present it and prove its key) and compares the SHA-256 fingerprint of what was
  presented byte for byte.  The connector completes the handshake without a CA — TLS 1.3
  still makes the listener prove possession of the key of the certificate it presents — and
  compares that certificate's fingerprint with the pin before sending anything: a mismatch
  names both fingerprints.  Host names play no part in pinning.

The listener needs the certificate file (Python's TLS stack verifies a client only against
trust anchors it has loaded); the connector can pin a fingerprint alone.  With both options,
the file's fingerprint must equal the given one (the check over a second channel).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import re
import select
import socket
import ssl
import threading
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..._immutable import Immutable
from ..._sanitize import peer_text
from ...exceptions import InvalidArgumentError, PeerError
from ._net import Deadline, describe_oserror

__all__ = [
    "TlsConfig",
    "CertificateRejectedError",
    "PinMismatchError",
    "load_tls_config",
    "server_context",
    "client_context",
    "tls_handshake",
    "check_peer_certificate",
    "certificate_fingerprint",
    "format_fingerprint",
    "parse_fingerprint",
]

_MAX_PEM_BYTES = 1 << 20
_DER = Encoding.DER


class CertificateRejectedError(PeerError):
    """The TLS stack rejected the peer's certificate (unknown CA, not the pinned one,
    expired, wrong host name)."""


class PinMismatchError(PeerError):
    """The peer presented a certificate other than the pinned one: ``expected`` and ``got``
    are the two SHA-256 fingerprints."""

    def __init__(self, message: str, *, expected: bytes, got: bytes) -> None:
        super().__init__(message)
        self.expected = expected
        self.got = got


def format_fingerprint(fp: bytes) -> str:
    """``AB:CD:...`` (upper-case hex pairs, as ``openssl x509 -fingerprint -sha256`` prints)."""
    return ":".join(f"{b:02X}" for b in fp)


def parse_fingerprint(text: str) -> bytes:
    """Parse a SHA-256 fingerprint: 64 hex digits, optionally prefixed ``SHA256:`` /
    ``sha256 Fingerprint=`` and separated by colons or spaces.

    :raises InvalidArgumentError: anything else.
    """
    raw = text.strip()
    raw = re.sub(r"^(sha256|sha-256)(\s*fingerprint)?\s*[:=]?\s*", "", raw, flags=re.IGNORECASE)
    digits = re.sub(r"[:\s]", "", raw)
    if not re.fullmatch(r"[0-9a-fA-F]{64}", digits):
        raise InvalidArgumentError(
            f"--tls-peer-fingerprint {peer_text(text, 120)!r}: expected a SHA-256 fingerprint "
            "(64 hex digits, colons allowed)"
        )
    return bytes.fromhex(digits)


def _read_pem(option: str, path: str) -> bytes:
    if not os.path.isfile(path):
        raise InvalidArgumentError(f"{option} {peer_text(path)}: no such file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_PEM_BYTES + 1)
    except OSError as exc:
        raise InvalidArgumentError(
            f"{option} {peer_text(path)}: cannot read ({exc.strerror})"
        ) from None
    if len(data) > _MAX_PEM_BYTES:
        raise InvalidArgumentError(f"{option} {peer_text(path)}: larger than 1 MiB")
    return data


def _load_certificate(option: str, path: str) -> x509.Certificate:
    data = _read_pem(option, path)
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise InvalidArgumentError(f"{option} {peer_text(path)}: not a PEM certificate") from None
    if len(certs) != 1:
        raise InvalidArgumentError(
            f"{option} {peer_text(path)}: expected exactly one certificate, found {len(certs)}"
        )
    return certs[0]


def certificate_fingerprint(path: str, option: str = "certificate") -> bytes:
    """SHA-256 of the DER encoding of the one certificate in the PEM file ``path``.

    :raises InvalidArgumentError: missing, unreadable or malformed file, or not exactly one
        certificate in it.
    """
    cert = _load_certificate(option, path)
    return hashlib.sha256(cert.public_bytes(_DER)).digest()


def _check_validity(option: str, path: str, cert: x509.Certificate) -> None:
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc < now:
        raise InvalidArgumentError(
            f"{option} {peer_text(path)}: the certificate expired on "
            f"{cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC"
        )
    if cert.not_valid_before_utc > now + datetime.timedelta(minutes=5):
        raise InvalidArgumentError(
            f"{option} {peer_text(path)}: the certificate is not valid before "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC"
        )


@dataclass(frozen=True)
class TlsConfig(Immutable):
    """This side's TLS identity and how it recognises the peer (validated by
    :func:`load_tls_config`).

    :ivar cert: / :ivar key: this side's certificate and private key (PEM paths).
    :ivar ca: the CA that signs the peer's certificate, or None when pinning.
    :ivar peer_cert: the peer's exact certificate (PEM path), or None.
    :ivar pin: SHA-256 fingerprint the peer's certificate must have (from ``peer_cert``
        and/or ``--tls-peer-fingerprint``), or None with a CA.
    :ivar local_fingerprint: SHA-256 fingerprint of this side's certificate.
    """

    cert: str
    key: str
    ca: str | None
    peer_cert: str | None
    pin: bytes | None
    local_fingerprint: bytes

    @property
    def mode(self) -> str:
        """``"ca"`` or ``"pinned"``."""
        return "ca" if self.pin is None else "pinned"


def load_tls_config(
    *,
    cert: str | None,
    key: str | None,
    ca: str | None,
    peer_cert: str | None,
    peer_fingerprint: str | None,
    server: bool,
) -> TlsConfig:
    """Check the TLS options of one side and build its :class:`TlsConfig`.

    Exactly one way to recognise the peer: ``ca``, or ``peer_cert`` and/or
    ``peer_fingerprint`` (the listener needs ``peer_cert``).  A pinned certificate file must
    hold exactly one certificate, be within its validity period, and match
    ``peer_fingerprint`` when both are given.

    :raises InvalidArgumentError: a missing, unreadable or inconsistent option (the message
        names the option; a fingerprint mismatch names both fingerprints).
    """
    missing = [o for o, v in (("--tls-cert", cert), ("--tls-key", key)) if not v]
    pinned = bool(peer_cert or peer_fingerprint)
    if not ca and not pinned:
        missing.append("--tls-ca (or --tls-peer-cert to pin the peer's certificate)")
    if missing:
        raise InvalidArgumentError(
            f"mutual TLS needs {', '.join(missing)} (make this side's identity with "
            "`fedcrypto psi make-identity DIR --name HOST`), or pass --insecure-no-tls for "
            "plaintext"
        )
    assert cert is not None and key is not None
    if ca and pinned:
        raise InvalidArgumentError(
            "--tls-ca cannot be combined with --tls-peer-cert/--tls-peer-fingerprint: "
            "choose a CA or a pinned certificate"
        )
    if server and peer_fingerprint and not peer_cert:
        raise InvalidArgumentError(
            "the listener needs the connector's certificate file to verify it: pass "
            "--tls-peer-cert PEM (with --tls-peer-fingerprint to check that file)"
        )
    local = certificate_fingerprint(cert, "--tls-cert")
    if not os.path.isfile(key):
        raise InvalidArgumentError(f"--tls-key {peer_text(key)}: no such file")
    if ca and not os.path.isfile(ca):
        raise InvalidArgumentError(f"--tls-ca {peer_text(ca)}: no such file")
    pin: bytes | None = None
    if peer_cert:
        pcert = _load_certificate("--tls-peer-cert", peer_cert)
        _check_validity("--tls-peer-cert", peer_cert, pcert)
        pin = hashlib.sha256(pcert.public_bytes(_DER)).digest()
    if peer_fingerprint:
        given = parse_fingerprint(peer_fingerprint)
        if pin is not None and not hmac.compare_digest(pin, given):
            raise InvalidArgumentError(
                f"--tls-peer-cert {peer_text(peer_cert)} has SHA-256 fingerprint "
                f"{format_fingerprint(pin)}, not the {format_fingerprint(given)} given with "
                "--tls-peer-fingerprint: this is not the certificate the peer read out to you"
            )
        pin = given
    return TlsConfig(
        cert=cert,
        key=key,
        ca=ca or None,
        peer_cert=peer_cert or None,
        pin=pin,
        local_fingerprint=local,
    )


def _context(purpose: int, cfg: TlsConfig) -> ssl.SSLContext:
    ctx = ssl.SSLContext(purpose)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        ctx.load_cert_chain(cfg.cert, cfg.key)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "invalid"
        raise InvalidArgumentError(
            f"--tls-cert/--tls-key: cannot load the certificate and key ({peer_text(reason)})"
        ) from None
    return ctx


def _load_anchor(ctx: ssl.SSLContext, option: str, path: str) -> None:
    try:
        ctx.load_verify_locations(cafile=path)
    except (ssl.SSLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or "invalid"
        raise InvalidArgumentError(
            f"{option} {peer_text(path)}: cannot load ({peer_text(reason)})"
        ) from None


def server_context(cfg: TlsConfig) -> ssl.SSLContext:
    """TLS 1.3 server context requiring a client certificate: signed by ``cfg.ca``, or the
    pinned certificate itself as the only trust anchor."""
    ctx = _context(ssl.PROTOCOL_TLS_SERVER, cfg)
    if cfg.ca is not None:
        _load_anchor(ctx, "--tls-ca", cfg.ca)
    else:
        assert cfg.peer_cert is not None
        _load_anchor(ctx, "--tls-peer-cert", cfg.peer_cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cfg: TlsConfig) -> ssl.SSLContext:
    """TLS 1.3 client context presenting this side's certificate.  With a CA it verifies
    the listener's chain and host name; when pinning, the exact certificate is compared by
    :func:`check_peer_certificate` after the handshake."""
    ctx = _context(ssl.PROTOCOL_TLS_CLIENT, cfg)
    if cfg.ca is not None:
        _load_anchor(ctx, "--tls-ca", cfg.ca)
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def tls_handshake(
    sock: socket.socket,
    ctx: ssl.SSLContext,
    *,
    server: bool,
    server_hostname: str | None,
    deadline: Deadline,
    cancel: threading.Event | None = None,
) -> ssl.SSLSocket:
    """Complete a TLS handshake on the connected ``sock`` before ``deadline``.

    Non-blocking under the hood, so the deadline bounds the whole handshake however slowly
    the peer trickles bytes; ``cancel`` aborts it early.  ``sock`` is closed on failure.

    :raises PeerError: the handshake failed (certificate rejected, not TLS, closed,
        deadline passed or cancelled).
    """
    try:
        sock.setblocking(False)
        ssock = ctx.wrap_socket(
            sock,
            server_side=server,
            server_hostname=server_hostname,
            do_handshake_on_connect=False,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        sock.close()
        raise PeerError(f"TLS handshake failed ({describe_oserror(exc)})") from None
    try:
        while True:
            want: tuple[list[ssl.SSLSocket], list[ssl.SSLSocket]]
            try:
                ssock.do_handshake()
                return ssock
            except ssl.SSLWantReadError:
                want = ([ssock], [])
            except ssl.SSLWantWriteError:
                want = ([], [ssock])
            left = deadline.left()
            if left <= 0:
                raise deadline.error()
            if cancel is not None and cancel.is_set():
                raise PeerError("TLS handshake cancelled (another peer was accepted)")
            select.select(want[0], want[1], [], min(left, 0.25))
    except ssl.SSLCertVerificationError as exc:
        ssock.close()
        raise CertificateRejectedError(
            f"TLS: the peer's certificate was rejected ({peer_text(exc.verify_message)})"
        ) from None
    except ssl.SSLError as exc:
        ssock.close()
        raise PeerError(f"TLS handshake failed ({describe_oserror(exc)})") from None
    except PeerError:
        ssock.close()
        raise
    except OSError as exc:
        ssock.close()
        raise PeerError(f"TLS handshake failed: {describe_oserror(exc)}") from None


def check_peer_certificate(ssock: ssl.SSLSocket, cfg: TlsConfig, *, peer: str) -> bytes:
    """The SHA-256 fingerprint of the certificate the peer presented, checked against the
    pin when pinning (and, for a pin, against its validity period).

    :param peer: how to name the peer in errors (``"the listener"``, ``"the connector"``).
    :raises PinMismatchError: another certificate than the pinned one (both fingerprints
        named) or an expired pinned certificate.
    :raises PeerError: no certificate.
    """
    der = ssock.getpeercert(binary_form=True)
    if not der:
        raise PeerError(f"{peer} presented no certificate")
    got = hashlib.sha256(der).digest()
    if cfg.pin is None:
        return got
    if not hmac.compare_digest(got, cfg.pin):
        raise PinMismatchError(
            f"{peer}'s certificate is not the pinned one: expected SHA-256 "
            f"{format_fingerprint(cfg.pin)}, got {format_fingerprint(got)}",
            expected=cfg.pin,
            got=got,
        )
    cert = x509.load_der_x509_certificate(der)
    now = datetime.datetime.now(datetime.UTC)
    if (
        not cert.not_valid_before_utc - datetime.timedelta(minutes=5)
        <= now
        <= (cert.not_valid_after_utc)
    ):
        raise PinMismatchError(
            f"{peer}'s pinned certificate is outside its validity period "
            f"({cert.not_valid_before_utc:%Y-%m-%d} to {cert.not_valid_after_utc:%Y-%m-%d})",
            expected=cfg.pin,
            got=got,
        )
    return got
