"""``fedcrypto psi listen|connect|local|make-identity|fingerprint|make-certs``: the standalone
two-party PSI tool.

Each organisation makes its own TLS identity (``fedcrypto psi make-identity DIR --name HOST``)
and sends only the certificate to the other; then run ``fedcrypto psi listen --port PORT
--input FILE --output FILE`` on one machine and ``fedcrypto psi connect --peer HOST:PORT
--input FILE --output FILE`` on the other, each with ``--tls-peer-cert`` naming the other's
certificate (mutual TLS 1.3); ``fedcrypto psi local A B --output FILE`` tries both sides in one
process.  See ``docs/psi-tool.md``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from ...exceptions import InvalidArgumentError
from . import _multiparty, _run
from ._certs import make_certs, make_identity
from ._compute import add_compute_options
from ._compute import run_connect as run_compute_connect
from ._compute import run_listen as run_compute_listen
from ._net import DEFAULT_MIN_RATE, FRAME_GRACE
from ._progress import terminal_line
from ._scale import add_scale_options
from ._tls import certificate_fingerprint, format_fingerprint
from ._unbalanced_tool import add_unbalanced_modes

__all__ = ["register", "build_psi_parser"]

_EPILOG = (
    "exit codes: 0 success; 1 the peer sent something wrong, the connection failed, or this "
    "side failed; 2 your input or options. See docs/psi-tool.md."
)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) < 65536:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return int(text)


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument(
        "--id-column",
        action="append",
        metavar="NAME|INDEX",
        help="ID column by header name or 0-based index; repeat for a composite key "
        "(default: the first column)",
    )
    g.add_argument(
        "--delimiter",
        metavar="CHAR",
        help="field delimiter (',', tab, ';', ...); default by extension: .csv comma, "
        ".tsv tab, otherwise one ID per line",
    )
    g.add_argument(
        "--header",
        dest="header",
        action="store_true",
        default=None,
        help="the first row is a header",
    )
    g.add_argument(
        "--no-header",
        dest="header",
        action="store_false",
        help="the first row is data (default: auto-detect)",
    )
    g.add_argument(
        "--normalize",
        default="strip",
        metavar="none|strip|lower|nfkc",
        help="comma-combinable ID normalization (default: strip, which also removes CR)",
    )
    g.add_argument(
        "--duplicates",
        choices=("dedup", "error"),
        default="dedup",
        help="repeated IDs: keep the first (dedup, default) or fail (error)",
    )


def _add_protocol_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("protocol")
    g.add_argument(
        "--protocol",
        choices=("ecdh", "dh", "rsa"),
        default="ecdh",
        help="ecdh (default), dh (finite-field) or rsa (blind signatures)",
    )
    g.add_argument(
        "--group",
        default=None,
        help="ecdh: curve25519 (default) | p256; dh: ffdhe2048 (default) | ffdhe3072 | "
        "ffdhe4096 | modp2048 | modp3072; rsa: rsa2048 (default) | rsa3072",
    )
    g.add_argument(
        "--reveal",
        choices=("me", "peer", "both", "count"),
        default="both",
        help="who learns the intersection, seen from this side (count: both learn "
        "only its size); default both",
    )
    g.add_argument(
        "--batch-size",
        type=_positive,
        default=65536,
        metavar="N",
        help="elements per message (default 65536; both sides must agree)",
    )
    g.add_argument(
        "--workers",
        type=_positive,
        default=None,
        metavar="N",
        help="worker processes (default: all cores)",
    )
    g.add_argument(
        "--memory-budget",
        type=_positive,
        default=None,
        metavar="MiB",
        help="memory for the join before it spills partitions to disk",
    )
    g.add_argument(
        "--workdir",
        default=None,
        metavar="DIR",
        help="directory for spilled partitions (default: system temp)",
    )


def _add_output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument(
        "--output",
        required=True,
        metavar="FILE|-",
        help="where the intersection goes ('-' = stdout); written atomically",
    )
    g.add_argument(
        "--output-format",
        choices=("ids", "rows"),
        default="ids",
        help="ids: the matched IDs after normalization; rows: the full matching rows with header",
    )
    g.add_argument("--report", metavar="FILE.json", help="write a JSON report of the run")
    g.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")


def _add_network_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("network and TLS")
    g.add_argument(
        "--tls-cert", metavar="PEM", help="this side's certificate (make-identity: identity.pem)"
    )
    g.add_argument(
        "--tls-key", metavar="PEM", help="this side's private key (make-identity: identity.key)"
    )
    g.add_argument(
        "--tls-peer-cert",
        metavar="PEM",
        help="pin the peer's exact certificate (the identity.pem it sent you); no CA needed",
    )
    g.add_argument(
        "--tls-peer-fingerprint",
        metavar="SHA256",
        help="the peer's certificate fingerprint, read out over a second channel: checked "
        "against --tls-peer-cert, or pinned alone (connector only)",
    )
    g.add_argument(
        "--tls-ca",
        metavar="PEM",
        help="instead of pinning: the CA that signed the peer's certificate (with a PKI)",
    )
    g.add_argument(
        "--insecure-no-tls", action="store_true", help="plaintext TCP (only on a trusted network)"
    )
    g.add_argument(
        "--max-peer-size",
        type=_positive,
        default=None,
        metavar="N",
        help="abort when the peer announces more IDs (dictionary guard)",
    )
    g.add_argument(
        "--max-frame-size",
        type=_positive,
        default=None,
        metavar="MiB",
        help="largest frame accepted from the peer (default: batch size x 520 B, at least 16 MiB)",
    )
    g.add_argument(
        "--connect-timeout",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="seconds to wait for the peer to connect / accept (default 60)",
    )
    g.add_argument(
        "--handshake-timeout",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="seconds from the TCP connection to the end of the handshake (TLS, HELLO, READY) "
        "(default 30)",
    )
    g.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=600.0,
        metavar="S",
        help="seconds without data from the peer before giving up (default 600)",
    )
    g.add_argument(
        "--min-rate",
        type=_positive_float,
        default=DEFAULT_MIN_RATE / 1024,
        metavar="KiB/s",
        help=f"slowest a frame may arrive once started, after a {FRAME_GRACE:g} s grace "
        f"(default {DEFAULT_MIN_RATE // 1024})",
    )


def _dispatch(
    multiparty: Callable[[argparse.Namespace], int], two_party: Callable[[argparse.Namespace], int]
) -> Callable[[argparse.Namespace], int]:
    """``listen``/``connect``: the n-party run with ``--parties``, else the two-party one
    (intersection, count, sum or payload).  The n-party run computes the intersection or its
    size only, as one session on this machine: the other modes' options are refused (exit 2)."""

    def run(args: argparse.Namespace) -> int:
        if getattr(args, "parties", None) is None:
            return two_party(args)
        bad = [
            name
            for name, used in (
                (
                    "--compute sum/payload",
                    getattr(args, "compute", "intersection") not in ("intersection", "count"),
                ),
                ("--value-column", bool(getattr(args, "value_column", None))),
                ("--payload-column", bool(getattr(args, "payload_column", None))),
                ("--buckets", getattr(args, "buckets", 1) != 1),
                ("--resume", bool(getattr(args, "resume", False))),
                ("--scheduler", bool(getattr(args, "scheduler", None))),
            )
            if used
        ]
        if bad:
            _run._error_line(f"your input: --parties does not combine with {', '.join(bad)}")
            return 2
        if getattr(args, "compute", "intersection") == "count":
            args.reveal = "count"
        return multiparty(args)

    return run


def build_psi_parser(parser: argparse.ArgumentParser) -> None:
    """Add the ``listen``, ``connect``, ``local``, ``make-identity``, ``fingerprint`` and
    ``make-certs`` sub-commands to ``parser``."""
    modes = parser.add_subparsers(dest="psi_mode", required=True, metavar="MODE")
    listen = modes.add_parser(
        "listen",
        help="wait for the peer on a port",
        description="Wait for one peer and run the PSI.",
        epilog=_EPILOG,
    )
    listen.add_argument(
        "--port", type=_port, required=True, help="TCP port (0 picks a free one; see --port-file)"
    )
    listen.add_argument(
        "--host",
        default="127.0.0.1",
        metavar="ADDR",
        help="address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)",
    )
    listen.add_argument(
        "--port-file", metavar="FILE", help="write the bound port number to FILE once listening"
    )
    listen.add_argument("--input", required=True, metavar="FILE|-", help="this side's ID file")
    connect = modes.add_parser(
        "connect",
        help="connect to a listening peer",
        description="Connect to a listening peer and run the PSI.",
        epilog=_EPILOG,
    )
    connect.add_argument("--peer", required=True, metavar="HOST:PORT")
    connect.add_argument(
        "--tls-server-name",
        metavar="NAME",
        help="name expected in the listener's certificate (default: HOST)",
    )
    connect.add_argument("--input", required=True, metavar="FILE|-", help="this side's ID file")
    for p, func in ((listen, _run.run_listen), (connect, _run.run_connect)):
        _add_input_options(p)
        _add_protocol_options(p)
        _add_output_options(p)
        _add_network_options(p)
        add_scale_options(p)
        p.set_defaults(func=func)
        add_compute_options(p)
    # --compute sum (issue 13): these dispatch to _run.run_listen/_run.run_connect otherwise
    # --parties N (issue 14): the n-party leader and members; two-party runs otherwise
    _multiparty.add_multiparty_options(listen, connect)
    listen.set_defaults(func=_dispatch(_multiparty.run_listen, run_compute_listen))
    connect.set_defaults(func=_dispatch(_multiparty.run_connect, run_compute_connect))

    local = modes.add_parser(
        "local",
        help="run both sides in this process",
        description="Run both parties in one process on files A and B "
        "(A is the listener; the output is A's view).",
        epilog=_EPILOG,
    )
    local.add_argument("file_a", metavar="A")
    local.add_argument("file_b", metavar="B")
    _add_input_options(local)
    _add_protocol_options(local)
    _add_output_options(local)
    add_scale_options(local, network=False)
    local.set_defaults(func=_run.run_local)

    ident = modes.add_parser(
        "make-identity",
        help="create this side's own TLS key and self-signed certificate",
        description="Create identity.key (mode 0600; it never leaves this machine) and "
        "identity.pem (self-signed, for listening or connecting) in DIR, and print the "
        "certificate's SHA-256 fingerprint.  Send identity.pem to the other organisation, "
        "read the fingerprint out to it over a second channel (phone, video call), and pin "
        "its certificate with --tls-peer-cert.",
    )
    ident.add_argument("directory", metavar="DIR")
    ident.add_argument(
        "--name",
        action="append",
        default=[],
        required=True,
        metavar="HOST",
        help="this side's host name or IP (repeatable; the first is the common name)",
    )
    ident.add_argument("--days", type=_positive, default=365, help="validity (default 365 days)")
    ident.add_argument("--force", action="store_true", help="overwrite existing files")
    ident.set_defaults(func=_make_identity)

    fp = modes.add_parser(
        "fingerprint",
        help="print the SHA-256 fingerprint of a certificate",
        description="Print the SHA-256 fingerprint of the certificate in PEM, to compare with "
        "the one its owner reads out over a second channel.",
    )
    fp.add_argument("certificate", metavar="PEM")
    fp.set_defaults(func=_fingerprint)

    certs = modes.add_parser(
        "make-certs",
        help="create a test CA, server and client certificate (one-machine trials only)",
        description="Create ca.pem, server.pem/key (listener) and "
        "client.pem/key (connector) in DIR for trying mutual TLS on one machine.  WARNING: "
        "whoever runs this holds both private keys; between two organisations use "
        "make-identity on each side instead (no private key ever crosses).",
    )
    certs.add_argument("directory", metavar="DIR")
    certs.add_argument(
        "--name",
        action="append",
        default=[],
        metavar="HOST",
        help="extra host name or IP for the server certificate (repeatable)",
    )
    certs.add_argument("--days", type=_positive, default=30, help="validity (default 30 days)")
    certs.add_argument("--force", action="store_true", help="overwrite existing files")
    certs.set_defaults(func=_make_certs)

    # unbalanced PSI (issue 13): serve / query
    add_unbalanced_modes(modes, _add_input_options, _add_network_options, _positive, _port, _EPILOG)


def _usage_error(message: str) -> int:
    sys.stderr.write(terminal_line(f"fedcrypto psi: error: your input: {message}") + "\n")
    return 2


def _make_certs(args: argparse.Namespace) -> int:
    try:
        paths = make_certs(args.directory, names=tuple(args.name), days=args.days, force=args.force)
    except InvalidArgumentError as exc:
        return _usage_error(str(exc))
    except OSError as exc:
        return _usage_error(f"{args.directory}: {exc.strerror}")
    for path in paths:
        print(path)
    return 0


def _make_identity(args: argparse.Namespace) -> int:
    try:
        ident = make_identity(
            args.directory, names=tuple(args.name), days=args.days, force=args.force
        )
    except InvalidArgumentError as exc:
        return _usage_error(str(exc))
    except OSError as exc:
        return _usage_error(f"{args.directory}: {exc.strerror}")
    print(f"private key (keep it here, mode 0600): {ident.key}")
    print(f"certificate (send this file to the other side): {ident.cert}")
    print(f"SHA-256 fingerprint: {format_fingerprint(ident.fingerprint)}")
    print(
        "Read the fingerprint out to the other side over a second channel; it passes your "
        "certificate with --tls-peer-cert (and the fingerprint with --tls-peer-fingerprint)."
    )
    return 0


def _fingerprint(args: argparse.Namespace) -> int:
    try:
        fp = certificate_fingerprint(args.certificate)
    except InvalidArgumentError as exc:
        return _usage_error(str(exc))
    print(f"SHA-256 fingerprint: {format_fingerprint(fp)}")
    return 0


def register(sub: Any) -> None:
    """Register ``fedcrypto psi`` on the top-level sub-parsers."""
    parser = sub.add_parser(
        "psi",
        help="two-party private set intersection tool",
        description=__doc__.splitlines()[0] if __doc__ else None,
        epilog=_EPILOG,
    )
    build_psi_parser(parser)
