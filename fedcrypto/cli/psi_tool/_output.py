"""Writing results: the intersection (ids or rows) and the JSON report.

Files are written to a temporary file in the target directory and renamed over the target
only when complete, so a failed run never leaves a partial file that looks complete.
``-`` writes to stdout.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import Any, TextIO

import numpy as np

from ...exceptions import InvalidArgumentError
from ._input import InputData, decode_key

__all__ = ["check_output_path", "atomic_text", "write_intersection", "write_report"]


def check_output_path(path: str, option: str = "--output") -> None:
    """Fail early (InvalidArgumentError, exit 2) when ``path`` cannot be written."""
    if path == "-":
        return
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise InvalidArgumentError(f"{option} {path}: is a directory")
    if not os.path.isdir(directory):
        raise InvalidArgumentError(f"{option} {path}: directory {directory} does not exist")
    if not os.access(directory, os.W_OK):
        raise InvalidArgumentError(f"{option} {path}: directory is not writable")


@contextlib.contextmanager
def atomic_text(path: str) -> Iterator[TextIO]:
    """Open a text stream whose content replaces ``path`` only if the block succeeds."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".part", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_intersection(path: str, data: InputData, indices: np.ndarray, fmt: str) -> int:
    """Write the matched IDs (``fmt="ids"``: normalized IDs as in the input, one per line;
    composite keys joined by the input delimiter, CSV-quoted when needed) or the matching rows
    (``fmt="rows"``: every input row whose ID matched, with the header when the input has one).
    Returns the number of lines written (without header)."""
    delimiter = data.delimiter or ","
    with atomic_text(path) as fh:
        if fmt == "ids":
            if data.key_columns == 1:
                for i in indices.tolist():
                    fh.write(data.keys[i].decode("utf-8"))
                    fh.write("\n")
                return len(indices)
            writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
            for i in indices.tolist():
                writer.writerow(decode_key(data.keys[i], data.key_columns))
            return len(indices)
        matched = np.zeros(len(data.keys), dtype=bool)
        matched[indices] = True
        if data.delimiter is None:
            if data.header is not None:
                fh.write(data.header[0] + "\n")
            count = 0
            for row, k in zip(data.rows, data.row_key, strict=True):
                if matched[k]:
                    fh.write(row[0] + "\n")
                    count += 1
            return count
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        if data.header is not None:
            writer.writerow(data.header)
        count = 0
        for row, k in zip(data.rows, data.row_key, strict=True):
            if matched[k]:
                writer.writerow(row)
                count += 1
        return count


def write_report(path: str, report: dict[str, Any]) -> None:
    """Write the JSON report atomically (``-`` prints it to stdout)."""
    with atomic_text(path) as fh:
        json.dump(report, fh, indent=2, sort_keys=True)
        fh.write("\n")
