"""Payload transfer in the tool: ``--payload-column NAME`` (repeatable) on the sender,
``--compute payload`` on both sides (the sender's ``--payload-column`` implies it).

The side that learns the intersection (``--reveal me`` on the receiver, or ``both``) also gets
the sender's chosen columns for exactly the matched rows and writes them joined to its own:
``--output-format ids`` writes ``key columns..., payload columns...`` with a header line,
``rows`` its full matching rows followed by the payload columns.  The column names travel in
the sender's hello (``payload_columns``), so both sides see them in the handshake transcript.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ... import psi
from ..._sanitize import peer_text
from ...exceptions import InputFormatError, InvalidArgumentError, RemoteProtocolError
from ...psi import MAX_PAYLOAD_BYTES
from ._handshake import reveal_to_canonical
from ._input import InputData, InputSpec, decode_key, load_input
from ._net import Connection
from ._output import atomic_text, check_output_path, write_intersection, write_report
from ._progress import Progress
from ._run import (
    _describe_input,
    _guarded,
    _input_spec,
    _tell_peer_input_failed,
    _tls_config,
    _tls_report,
    _versions,
    drive,
)
from ._session import build_hello, open_session
from ._sum_input import ValueColumnError, column_label, resolve_value_columns

__all__ = ["run_payload", "encode_payload", "decode_payload"]

#: Most payload columns announced by a peer.
MAX_PAYLOAD_COLUMNS = 256
_MAX_NAME = 255


def encode_payload(values: list[str]) -> bytes:
    """``u16 count`` then ``u32 len || UTF-8`` per column."""
    out = bytearray(len(values).to_bytes(2, "big"))
    for v in values:
        b = v.encode("utf-8")
        out += len(b).to_bytes(4, "big") + b
    return bytes(out)


def decode_payload(data: bytes, columns: int) -> list[str]:
    """Inverse of :func:`encode_payload` for a peer's payload of ``columns`` columns.

    :raises RemoteProtocolError: malformed, another column count, or not UTF-8.
    """
    if len(data) < 2 or int.from_bytes(data[:2], "big") != columns:
        raise RemoteProtocolError("a payload has the wrong number of columns")
    pos, out = 2, []
    for _ in range(columns):
        if pos + 4 > len(data):
            raise RemoteProtocolError("a payload is truncated")
        n = int.from_bytes(data[pos : pos + 4], "big")
        if pos + 4 + n > len(data):
            raise RemoteProtocolError("a payload is truncated")
        try:
            out.append(data[pos + 4 : pos + 4 + n].decode("utf-8"))
        except UnicodeDecodeError:
            raise RemoteProtocolError("a payload is not UTF-8") from None
        pos += 4 + n
    if pos != len(data):
        raise RemoteProtocolError("a payload has trailing bytes")
    return out


def _peer_columns(fields: Any) -> list[str]:
    cols = fields.get("payload_columns") if fields is not None else None
    if cols is None:
        raise RemoteProtocolError(
            "the peer sends no payload columns (the sender needs --payload-column)"
        )
    if (
        not isinstance(cols, list)
        or not 1 <= len(cols) <= MAX_PAYLOAD_COLUMNS
        or not all(isinstance(c, str) and len(c) <= _MAX_NAME for c in cols)
    ):
        raise RemoteProtocolError("the peer's payload column names are malformed")
    return [peer_text(c, 64) for c in cols]


def _sender_payloads(
    args: argparse.Namespace, data: InputData, name: str
) -> tuple[list[bytes], list[str]]:
    if data.delimiter is None:
        raise ValueColumnError(f"{name}: --payload-column needs a delimited file (CSV/TSV)")
    cols = resolve_value_columns(list(args.payload_column), data, name)
    labels = [column_label(data, c) for c in cols]
    payloads: list[bytes | None] = [None] * len(data.keys)
    for r, (row, key) in enumerate(zip(data.rows, data.row_key, strict=True), 1):
        if payloads[key] is None:  # the first row of each ID (as --duplicates dedup keeps)
            p = encode_payload([row[c] for c in cols])
            if len(p) > MAX_PAYLOAD_BYTES:
                raise ValueColumnError(
                    f"{name}: data row {r}: the payload columns exceed {MAX_PAYLOAD_BYTES} bytes"
                )
            payloads[key] = p
    return [p if p is not None else b"" for p in payloads], labels


def _write_joined(
    path: str, data: InputData, outcome: psi.PayloadOutcome, columns: list[str], fmt: str
) -> int:
    assert outcome.indices is not None and outcome.payloads is not None
    extra = {
        int(i): decode_payload(p, len(columns))
        for i, p in zip(outcome.indices.tolist(), outcome.payloads, strict=True)
    }
    delimiter = data.delimiter or ","
    with atomic_text(path) as fh:
        w = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        if fmt == "ids":
            keys = [f"id{j}" for j in range(data.key_columns)] if data.key_columns > 1 else ["id"]
            w.writerow(keys + columns)
            for i in outcome.indices.tolist():
                w.writerow(decode_key(data.keys[i], data.key_columns) + extra[int(i)])
            return len(extra)
        header = list(data.header) if data.header is not None else None
        if header is not None:
            w.writerow(header + columns)
        count = 0
        for row, k in zip(data.rows, data.row_key, strict=True):
            if k in extra:
                w.writerow(row + extra[k])
                count += 1
        return count


def run_payload(args: argparse.Namespace, role: str) -> int:
    """Run one side of a payload transfer over the network."""
    progress = Progress(quiet=args.quiet)
    sender = bool(args.payload_column)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        tls = _tls_config(args, server=(role == "listener"))
        if args.protocol != "ecdh":
            raise InvalidArgumentError("payload transfer needs --protocol ecdh")
        settings = psi.PsiSettings(
            protocol="ecdh",
            group=args.group,
            reveal=reveal_to_canonical(args.reveal, role),
            batch_size=args.batch_size,
            workers=args.workers,
        )
        settings.validate()
        if sender and settings.reveal == role:
            raise InvalidArgumentError(
                "the payload sender cannot be the only side that learns the intersection: "
                "use --reveal peer or both"
            )
        if not sender and settings.reveal not in (role, "both"):
            raise InvalidArgumentError(
                "the side receiving payloads must learn the intersection: --reveal me or both"
            )
        base = _input_spec(args, args.input)
        spec = InputSpec(
            path=base.path,
            id_columns=base.id_columns,
            delimiter=base.delimiter,
            header=base.header,
            normalize=base.normalize,
            duplicates=base.duplicates,
            keep_rows=sender or args.output_format == "rows",
        )
        name = "<stdin>" if spec.path == "-" else spec.path
        try:
            data = load_input(spec)
        except InputFormatError:
            if role == "connector":
                _tell_peer_input_failed(args, tls)
            raise
        progress.info(_describe_input("", spec, data))
        # payload column problems end the run before any network traffic
        payloads, labels = _sender_payloads(args, data, name) if sender else (None, [])
        check_output_path(args.output)
        if args.report:
            check_output_path(args.report, "--report")
        hello_settings = dict(settings.as_dict())
        hello_settings["compute"] = "payload"
        extra = {"payload_columns": labels} if sender else None
        hello = build_hello(role, hello_settings, spec, data, extra)
        t0 = time.monotonic()
        conn, hs, _ = open_session(args, role, hello, tls, progress, holder)
        columns = [] if sender else _peer_columns(hs.peer_fields)
        progress.reset_clock()
        party = psi.create_payload_party(
            settings,
            role=role,
            items=data.keys,
            peer_size=hs.peer_size,
            session_id=hs.session_id,
            payloads=payloads,
            progress=progress,
        )
        closers.append(party.close)

        def decode(body_: bytes) -> psi.PsiMessage:
            return psi.decode_payload_message(body_, settings, hs.session_id)

        outcome = drive(conn, party, decode)
        assert isinstance(outcome, psi.PayloadOutcome)
        progress.finish()
        conn.close()
        elapsed = time.monotonic() - t0
        lines = None
        if outcome.indices is not None:
            if sender:
                lines = write_intersection(
                    args.output, data, np.asarray(outcome.indices), args.output_format
                )
            else:
                lines = _write_joined(args.output, data, outcome, columns, args.output_format)
        if not args.quiet:
            if outcome.indices is not None:
                what = f"intersection: {outcome.count} of {len(data.keys)} IDs"
                if not sender:
                    what += f" with {len(columns)} payload column(s)"
                where = " -> " + ("stdout" if args.output == "-" else args.output)
            else:
                what, where = "payloads sent; this side does not learn the intersection", ""
            progress.info(f"{what}{where}; {elapsed:.2f} s")
        if args.report:
            write_report(
                args.report,
                {
                    "status": "ok",
                    "role": role,
                    "compute": "payload",
                    "payload_sender": sender,
                    "payload_columns": labels if sender else columns,
                    "protocol": "ecdh",
                    "group": settings.resolved_group(),
                    "reveal": settings.reveal,
                    "local_size": len(data.keys),
                    "peer_size": hs.peer_size,
                    "intersection_size": outcome.count,
                    "learned_intersection": outcome.indices is not None,
                    "output": args.output if outcome.indices is not None else None,
                    "output_lines": lines,
                    "duration_s": round(elapsed, 4),
                    "bytes_sent": conn.bytes_sent,
                    "bytes_received": conn.bytes_received,
                    "tls": _tls_report(conn, tls),
                    "session_id": hs.session_id.hex(),
                    "versions": _versions(hs.peer_tool_version),
                },
            )
        return 0

    return _guarded(body, progress)
