"""``--compute sum`` for ``fedcrypto psi listen|connect``: intersection-sum with cardinality.

The side with ``--value-column`` (repeatable) holds the values; the other side only IDs.
``--reveal`` names who learns ``|∩|`` and the column sums (``me``, ``peer`` or ``both``;
the side without values always learns ``|∩|``).  The learning side writes a one-row CSV
``intersection_size,sum_<column>,...`` to ``--output`` (sum cells empty when ``|∩|`` is below
``--threshold``).  Value problems (a non-integer, a value or per-ID total beyond
``--value-bits``, columns that do not fit the Paillier plaintext) end the run with exit 2
before any network traffic; an invalid sum ciphertext from the peer with exit 1.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections.abc import Callable
from typing import Any

from ... import paillier, psi
from ..._sanitize import peer_text
from ...exceptions import InputFormatError, InvalidArgumentError
from ...psi import DEFAULT_SUM_KEY_SIZE, DEFAULT_VALUE_BITS
from ...scale import process_executor
from ._handshake import reveal_to_canonical
from ._input import InputData, InputSpec, load_input
from ._net import Connection
from ._output import atomic_text, check_output_path, write_report
from ._payload_tool import run_payload
from ._progress import Progress
from ._run import (
    _describe_input,
    _error_line,
    _guarded,
    _input_spec,
    _tell_peer_input_failed,
    _tls_config,
    _tls_report,
    _versions,
    drive,
)
from ._run import run_connect as _run_connect
from ._run import run_listen as _run_listen
from ._session import build_hello, open_session
from ._sum_input import ValueColumnError, column_label, load_values, resolve_value_columns

__all__ = ["add_compute_options", "run_listen", "run_connect", "write_sum"]


def _bits(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if not 2 <= value <= 1024:
        raise argparse.ArgumentTypeError("expected between 2 and 1024 bits")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("expected a non-negative integer")
    return value


def add_compute_options(p: argparse.ArgumentParser) -> None:
    """Add ``--compute``, ``--value-column``, ``--value-bits``, ``--threshold`` and
    ``--paillier-key-size`` to a ``listen``/``connect`` parser."""
    g = p.add_argument_group("compute over the intersection (docs/psi-compute.md)")
    g.add_argument(
        "--compute",
        choices=("intersection", "count", "sum", "payload"),
        default="intersection",
        help="intersection (default); count (= --reveal count); sum: intersection-sum with "
        "cardinality; payload: the intersection plus the sender's --payload-column values "
        "(both sides must say the same)",
    )
    g.add_argument(
        "--payload-column",
        action="append",
        default=None,
        metavar="NAME",
        help="payload transfer, on the sending side: a column to send for the matched rows "
        "(header name or 0-based index; repeatable; implies --compute payload)",
    )
    g.add_argument(
        "--value-column",
        action="append",
        default=None,
        metavar="NAME",
        help="--compute sum, on the side holding values: a column of integers to sum "
        "(header name or 0-based index; repeatable)",
    )
    g.add_argument(
        "--value-bits",
        type=_bits,
        default=DEFAULT_VALUE_BITS,
        metavar="B",
        help=f"--compute sum: every value and per-ID total fits B signed bits "
        f"(default {DEFAULT_VALUE_BITS})",
    )
    g.add_argument(
        "--threshold",
        type=_count,
        default=0,
        metavar="N",
        help="--compute sum: reveal the sums only if the intersection has at least N IDs "
        "(both sides must agree)",
    )
    g.add_argument(
        "--paillier-key-size",
        type=_count,
        default=DEFAULT_SUM_KEY_SIZE,
        metavar="BITS",
        help=f"--compute sum, value holder: Paillier modulus size (default {DEFAULT_SUM_KEY_SIZE})",
    )


def run_listen(args: argparse.Namespace) -> int:
    """``psi listen``: the intersection-sum when ``--compute sum``, else the usual run."""
    error = _check_single_session(args)
    if error is not None:
        return error
    if getattr(args, "compute", "intersection") == "sum":
        return run_sum(args, "listener")
    if _payload_mode(args):
        return run_payload(args, "listener")
    error = _check_plain(args)
    return error if error is not None else _run_listen(args)


def run_connect(args: argparse.Namespace) -> int:
    """``psi connect``: the intersection-sum when ``--compute sum``, else the usual run."""
    error = _check_single_session(args)
    if error is not None:
        return error
    if getattr(args, "compute", "intersection") == "sum":
        return run_sum(args, "connector")
    if _payload_mode(args):
        return run_payload(args, "connector")
    error = _check_plain(args)
    return error if error is not None else _run_connect(args)


def _check_single_session(args: argparse.Namespace) -> int | None:
    """Sums and payloads run as one session on this machine: refuse the scale-out options
    (per-bucket sums would each be revealed; a payload run has no checkpoints)."""
    if getattr(args, "compute", "intersection") != "sum" and not getattr(
        args, "payload_column", None
    ):
        return None
    if getattr(args, "buckets", 1) != 1 or getattr(args, "resume", False):
        return _usage("--buckets and --resume apply to intersection and count runs only")
    if getattr(args, "scheduler", None):
        return _usage("--scheduler applies to intersection and count runs only")
    return None


def _payload_mode(args: argparse.Namespace) -> bool:
    if getattr(args, "payload_column", None) and args.compute == "intersection":
        args.compute = "payload"
    return bool(args.compute == "payload")


def _check_plain(args: argparse.Namespace) -> int | None:
    """Options of ``--compute intersection|count``; returns exit 2 for a misuse."""
    if getattr(args, "value_column", None):
        return _usage("--value-column needs --compute sum")
    if getattr(args, "threshold", 0):
        return _usage("--threshold needs --compute sum")
    if getattr(args, "compute", "intersection") == "count":
        if args.reveal not in ("both", "count"):
            return _usage("--compute count reveals the size to both sides: drop --reveal")
        args.reveal = "count"
    return None


def _usage(message: str) -> int:
    _error_line(f"your input: {message}")
    return 2


def _settings(args: argparse.Namespace, role: str) -> psi.PsiSettings:
    if args.reveal == "count":
        raise InvalidArgumentError("--compute sum takes --reveal me, peer or both")
    kwargs: dict[str, Any] = {
        "protocol": args.protocol,
        "group": args.group,
        "reveal": reveal_to_canonical(args.reveal, role),
        "batch_size": args.batch_size,
        "workers": args.workers,
        "compute": "sum",
        "threshold": args.threshold,
    }
    if args.memory_budget is not None:
        kwargs["memory_budget"] = args.memory_budget << 20
    settings = psi.PsiSettings(**kwargs)
    settings.validate()
    return settings


def _prepare(
    args: argparse.Namespace, role: str, progress: Progress
) -> tuple[psi.PsiSettings, InputSpec, InputData, Any, tuple[str, ...]]:
    if args.output_format == "rows":
        raise InvalidArgumentError("--compute sum writes one summary row: use --output-format ids")
    if args.payload_column:
        raise InvalidArgumentError("--payload-column cannot be combined with --compute sum")
    if args.output == args.report and args.output not in (None, "-"):
        raise InvalidArgumentError("--output and --report must be different files")
    settings = _settings(args, role)
    if args.value_column and args.paillier_key_size < paillier.MIN_KEY_SIZE:
        raise InvalidArgumentError(f"--paillier-key-size must be at least {paillier.MIN_KEY_SIZE}")
    base = _input_spec(args, args.input)
    holder = bool(args.value_column)
    spec = InputSpec(
        path=base.path,
        id_columns=base.id_columns,
        delimiter=base.delimiter,
        header=base.header,
        normalize=base.normalize,
        duplicates=base.duplicates,
        keep_rows=holder,
    )
    data = load_input(spec)
    progress.info(_describe_input("", spec, data))
    values = None
    labels: tuple[str, ...] = ()
    if holder:
        name = "<stdin>" if spec.path == "-" else spec.path
        if data.delimiter is None:
            raise ValueColumnError(
                f"{name}: --value-column needs a delimited file (CSV/TSV or --delimiter)"
            )
        cols = resolve_value_columns(list(args.value_column), data, name)
        values = load_values(data, cols, args.value_bits, name)
        labels = tuple(column_label(data, c) for c in cols)
        # fails here (exit 2) when the columns cannot fit the Paillier plaintext
        psi.plan_sum_layout(
            len(cols), args.value_bits, max(1, len(data.keys)), args.paillier_key_size
        )
    check_output_path(args.output)
    if args.report:
        check_output_path(args.report, "--report")
    return settings, spec, data, values, labels


def write_sum(path: str, outcome: psi.SumOutcome, labels: tuple[str, ...], columns: int) -> None:
    """The one-row CSV ``intersection_size,sum_<column>,...`` (sum cells empty below the
    threshold)."""
    names = labels if len(labels) == columns else tuple(str(i) for i in range(columns))
    with atomic_text(path) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["intersection_size"] + [f"sum_{peer_text(n, 64)}" for n in names])
        sums = outcome.sums
        w.writerow([outcome.count] + (list(sums) if sums is not None else [""] * columns))


def run_sum(args: argparse.Namespace, role: str) -> int:
    """Run one side of an intersection-sum over the network (see the module docstring)."""
    progress = Progress(quiet=args.quiet)

    def body(holder: list[Connection], closers: list[Callable[[], None]]) -> int:
        tls = _tls_config(args, server=(role == "listener"))
        try:
            settings, spec, data, values, labels = _prepare(args, role, progress)
        except InputFormatError as exc:
            if role == "connector" and not isinstance(exc, ValueColumnError):
                _tell_peer_input_failed(args, tls)
            raise
        hello = build_hello(role, settings.as_dict(), spec, data)
        executor = process_executor(args.workers)  # this side's hashing and masking
        closers.append(lambda: executor.shutdown(wait=False, cancel_futures=True))
        t0 = time.monotonic()
        conn, hs, _ = open_session(args, role, hello, tls, progress, holder)
        progress.reset_clock()
        party = psi.create_sum_party(
            settings,
            role=role,
            items=data.keys,
            peer_size=hs.peer_size,
            session_id=hs.session_id,
            values=values,
            value_bits=args.value_bits,
            key_size=args.paillier_key_size,
            column_names=labels,
            progress=progress,
            executor=executor,
        )
        closers.append(party.close)

        def decode(body_: bytes) -> psi.PsiMessage:
            return psi.decode_sum_message(body_, settings, hs.session_id)

        outcome = drive(conn, party, decode)
        assert isinstance(outcome, psi.SumOutcome)
        progress.finish()
        conn.close()
        elapsed = time.monotonic() - t0
        learned = outcome.sums is not None or outcome.below_threshold
        if outcome.sums is not None:
            columns = len(outcome.sums)
        else:
            columns = len(labels) if values is not None else len(outcome.labels)
        if learned:
            write_sum(args.output, outcome, outcome.labels, columns)
        if not args.quiet:
            if learned:
                what = f"intersection size {outcome.count}" + (
                    " (below --threshold: sums withheld)" if outcome.below_threshold else ", sums"
                )
                where = " -> " + ("stdout" if args.output == "-" else args.output)
            elif outcome.count is not None:
                what = (
                    f"intersection size {outcome.count} (this side matched; the sums are "
                    "the peer's)"
                )
                where = " (no output written)"
            else:
                what = f"this side does not learn the result (--reveal {args.reveal})"
                where = " (no output written)"
            progress.info(f"{what}{where}; {elapsed:.2f} s")
        if args.report:
            write_report(
                args.report,
                {
                    "status": "ok",
                    "role": role,
                    "compute": "sum",
                    "value_holder": values is not None,
                    "protocol": settings.protocol,
                    "group": settings.resolved_group(),
                    "reveal": settings.reveal,
                    "threshold": settings.threshold,
                    "local_size": len(data.keys),
                    "peer_size": hs.peer_size,
                    "intersection_size": outcome.count,
                    "learned_sums": outcome.sums is not None,
                    "below_threshold": outcome.below_threshold,
                    "output": args.output if learned else None,
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
