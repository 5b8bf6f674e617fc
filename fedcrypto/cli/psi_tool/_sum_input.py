"""Value columns for ``--compute sum``: resolve ``--value-column``, parse integers, add up
the values of rows that share an ID, check every total fits ``--value-bits``.

Every problem is a :class:`ValueColumnError` (an ``InputFormatError``, exit 2) raised before
any network traffic, naming the data row (1-based, blank lines and rows with an empty ID not
counted) and the column, never the value.
"""

from __future__ import annotations

import re

import numpy as np

from ...exceptions import InputFormatError
from ._input import InputData

__all__ = ["ValueColumnError", "resolve_value_columns", "load_values", "column_label"]


class ValueColumnError(InputFormatError):
    """A problem with ``--value-column`` data: exit 2, and (unlike an unreadable ID file) not
    even an ABORT goes to the peer: nothing touches the network."""


_INTEGER = re.compile(r"^[+-]?\d+$")
#: Longest integer text accepted (digits), so a hostile file cannot make int() slow.
_MAX_DIGITS = 400


def resolve_value_columns(names: list[str], data: InputData, path: str) -> list[int]:
    """Column indices of ``--value-column`` names (header names, case-insensitive when
    unambiguous, or 0-based indices)."""
    header = [h.strip() for h in data.header] if data.header is not None else None
    width = len(data.rows[0]) if data.rows else (len(header) if header else 1)
    out: list[int] = []
    for col in names:
        if re.fullmatch(r"\d+", col):
            idx = int(col)
            if idx >= width:
                raise ValueColumnError(
                    f"{path}: --value-column {idx} is out of range (rows have {width} columns)"
                )
        elif header is None:
            raise ValueColumnError(
                f"{path}: --value-column {col!r} is a name but the file has no header row"
            )
        elif col in header:
            idx = header.index(col)
        elif [h.lower() for h in header].count(col.lower()) == 1:
            idx = [h.lower() for h in header].index(col.lower())
        else:
            raise ValueColumnError(f"{path}: no column named {col!r} in the header")
        if idx in out:
            raise ValueColumnError(f"{path}: column {col!r} given twice in --value-column")
        out.append(idx)
    return out


def column_label(data: InputData, idx: int) -> str:
    """The header name of column ``idx``, or its index when there is no header."""
    if data.header is not None and idx < len(data.header):
        return data.header[idx].strip() or str(idx)
    return str(idx)


def load_values(data: InputData, columns: list[int], value_bits: int, path: str) -> np.ndarray:
    """A ``(len(data.keys), len(columns))`` table of the summed values per unique ID.

    Needs ``data.rows`` (``keep_rows``).  Rows sharing an ID add up (one ID, one total).
    Raises :class:`InputFormatError` for a non-integer cell or a total outside
    ``[-2^(value_bits-1), 2^(value_bits-1))``.
    """
    lo, hi = -(1 << (value_bits - 1)), 1 << (value_bits - 1)
    ncols = len(columns)
    totals: list[list[int]] = [[0] * ncols for _ in range(len(data.keys))]
    first_row = [-1] * len(data.keys)
    for r, (row, key) in enumerate(zip(data.rows, data.row_key, strict=True), 1):
        if first_row[key] < 0:
            first_row[key] = r
        acc = totals[key]
        for j, c in enumerate(columns):
            text = row[c].strip()
            if len(text) > _MAX_DIGITS or not _INTEGER.match(text):
                raise ValueColumnError(
                    f"{path}: data row {r}, value column {column_label(data, c)!r}: not an "
                    "integer (scale decimals to integers first, e.g. cents)"
                )
            v = int(text)
            if not lo <= v < hi:
                raise ValueColumnError(
                    f"{path}: data row {r}, value column {column_label(data, c)!r}: the value "
                    f"does not fit {value_bits} signed bits (--value-bits)"
                )
            acc[j] += v
    for k, acc in enumerate(totals):
        for j, v in enumerate(acc):
            if not lo <= v < hi:
                raise ValueColumnError(
                    f"{path}: data row {first_row[k]}, value column "
                    f"{column_label(data, columns[j])!r}: the total of the rows with this ID "
                    f"does not fit {value_bits} signed bits (--value-bits)"
                )
    if value_bits <= 62:
        return np.asarray(totals, dtype=np.int64).reshape(len(totals), ncols)
    table = np.empty((len(totals), ncols), dtype=object)
    for k, acc in enumerate(totals):
        table[k, :] = acc
    return table
