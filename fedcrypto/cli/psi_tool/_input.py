"""Reading the ID file: CSV / TSV / plain lines / stdin, id columns, header detection,
normalization and duplicates.

Rules (documented in ``docs/psi-tool.md``):

* Format: ``--delimiter`` wins; otherwise ``.csv`` means comma, ``.tsv``/``.tab`` tab, and
  anything else (including ``-`` for stdin) one ID per line.
* Bytes must be UTF-8 (a leading byte-order mark is ignored); the first bad line is named.
* Every delimited row must have as many fields as the first one (ragged rows are an error);
  blank lines are skipped and counted.
* ``--id-column`` selects the key columns by header name or 0-based index (repeatable: a
  composite key).  A single column is encoded as its UTF-8 bytes; a composite key as the
  concatenation of ``u32 length || UTF-8 bytes`` per column, so ``("ab", "c")`` and
  ``("a", "bc")`` never collide.
* Normalization (comma-combinable, applied in the order nfkc, lower, strip): ``strip`` removes
  surrounding white space including the CR of CRLF files; ``lower`` lower-cases; ``nfkc``
  applies Unicode NFKC.  Rows whose key is empty after normalization are skipped and counted.
* Duplicates: ``dedup`` keeps the first occurrence (counts reported), ``error`` refuses the
  file.  Values are never printed, only line numbers and counts.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

from ...exceptions import InputFormatError, InvalidArgumentError

__all__ = [
    "NORMALIZATIONS",
    "InputSpec",
    "InputData",
    "parse_normalize",
    "parse_delimiter",
    "load_input",
    "encode_key",
    "decode_key",
]

NORMALIZATIONS = ("none", "strip", "lower", "nfkc")
_NORMALIZE_ORDER = ("nfkc", "lower", "strip")
_HEADER_NAMES = frozenset(
    {
        "id",
        "ids",
        "key",
        "uid",
        "user",
        "userid",
        "user_id",
        "customer",
        "customerid",
        "customer_id",
        "email",
        "e-mail",
        "mail",
        "phone",
        "name",
        "account",
        "account_id",
    }
)
_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")
_SAMPLE_ROWS = 200
_BOM = "\ufeff"


def parse_normalize(text: str) -> tuple[str, ...]:
    """Parse ``--normalize`` (``none`` or a comma list of strip, lower, nfkc) into a canonical
    tuple in application order; raises InvalidArgumentError on unknown names."""
    parts = [p.strip().lower() for p in text.split(",") if p.strip()]
    if not parts:
        raise InvalidArgumentError(
            "--normalize needs at least one value (none, strip, lower, nfkc)"
        )
    unknown = sorted(set(parts) - set(NORMALIZATIONS))
    if unknown:
        raise InvalidArgumentError(
            f"unknown --normalize value {unknown[0]!r} (choose from {', '.join(NORMALIZATIONS)})"
        )
    if "none" in parts:
        if len(set(parts)) > 1:
            raise InvalidArgumentError("--normalize none cannot be combined with other values")
        return ()
    return tuple(n for n in _NORMALIZE_ORDER if n in parts)


def parse_delimiter(text: str | None) -> str | None:
    """Parse ``--delimiter``: one character, or the names ``tab``/``\\t``, ``comma``,
    ``semicolon``, ``pipe``, ``space``; ``None`` means automatic."""
    if text is None:
        return None
    named = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";", "pipe": "|", "space": " "}
    value = named.get(text.lower(), text)
    if len(value) != 1 or value in '\r\n"':
        raise InvalidArgumentError(
            f"--delimiter must be a single character (or tab, comma, semicolon, pipe), got {text!r}"
        )
    return value


@dataclass(frozen=True)
class InputSpec:
    """How to read one party's ID file.

    ``path`` is a file name or ``-`` for stdin; ``id_columns`` are header names or 0-based
    indices as given on the command line (empty = the first column); ``delimiter`` ``None``
    means by file extension; ``header`` ``None`` means auto-detect; ``normalize`` is the
    canonical tuple from :func:`parse_normalize`; ``duplicates`` is ``dedup`` or ``error``;
    ``keep_rows`` keeps every parsed row for ``--output-format rows``.
    """

    path: str
    id_columns: tuple[str, ...] = ()
    delimiter: str | None = None
    header: bool | None = None
    normalize: tuple[str, ...] = ("strip",)
    duplicates: str = "dedup"
    keep_rows: bool = False

    def resolved_delimiter(self) -> str | None:
        """The delimiter actually used (``None`` = one ID per line)."""
        if self.delimiter is not None:
            return self.delimiter
        ext = os.path.splitext(self.path)[1].lower() if self.path != "-" else ""
        return {".csv": ",", ".tsv": "\t", ".tab": "\t"}.get(ext)


@dataclass
class InputData:
    """A loaded ID file.

    ``keys``: the unique encoded keys in order of first occurrence (what goes into the
    PSI); ``header``: the header row or ``None``; ``rows``/``row_key``: every data row and the
    index in ``keys`` of its key (only when ``keep_rows``); ``rows_read``: data rows read;
    ``duplicates``: rows whose key repeated an earlier one; ``blank_lines`` and ``empty_keys``:
    rows skipped; ``key_columns``: number of key columns; ``delimiter``: the one used.
    """

    keys: list[bytes]
    header: list[str] | None
    delimiter: str | None
    key_columns: int
    rows_read: int = 0
    duplicates: int = 0
    blank_lines: int = 0
    empty_keys: int = 0
    header_detected: bool = False
    rows: list[list[str]] = field(default_factory=list)
    row_key: list[int] = field(default_factory=list)


def encode_key(values: list[str]) -> bytes:
    """Encode normalized key columns: one column is its UTF-8; several are length-prefixed."""
    if len(values) == 1:
        return values[0].encode("utf-8")
    out = bytearray()
    for v in values:
        b = v.encode("utf-8")
        out += len(b).to_bytes(4, "big")
        out += b
    return bytes(out)


def decode_key(key: bytes, key_columns: int) -> list[str]:
    """Inverse of :func:`encode_key` (for writing matched IDs)."""
    if key_columns == 1:
        return [key.decode("utf-8")]
    values, pos = [], 0
    for _ in range(key_columns):
        n = int.from_bytes(key[pos : pos + 4], "big")
        values.append(key[pos + 4 : pos + 4 + n].decode("utf-8"))
        pos += 4 + n
    return values


def _normalizer(steps: tuple[str, ...]):  # type: ignore[no-untyped-def]
    def norm(v: str) -> str:
        for step in steps:
            if step == "nfkc":
                v = unicodedata.normalize("NFKC", v)
            elif step == "lower":
                v = v.lower()
            else:
                v = v.strip()
        return v

    return norm


def _open_binary(path: str) -> io.BufferedIOBase:
    if path == "-":
        return sys.stdin.buffer  # type: ignore[return-value]
    if os.path.isdir(path):
        raise InputFormatError(f"{path}: is a directory, not an ID file")
    try:
        return open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        raise InputFormatError(f"{path}: no such file") from None
    except PermissionError:
        raise InputFormatError(f"{path}: permission denied") from None
    except OSError as exc:
        raise InputFormatError(f"{path}: cannot open ({exc.strerror})") from None


def _decoded_lines(stream: io.BufferedIOBase, name: str) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    for lineno, raw in enumerate(stream, start=1):
        try:
            text = decoder.decode(raw)
        except UnicodeDecodeError as exc:
            raise InputFormatError(
                f"{name}: line {lineno} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                f"offset {exc.start}); fedcrypto psi reads UTF-8 only"
            ) from None
        if lineno == 1 and text.startswith(_BOM):
            text = text[1:]
        yield text
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise InputFormatError(f"{name}: ends inside a UTF-8 sequence (truncated file?)") from None


def _looks_numeric(v: str) -> bool:
    return bool(_NUMBER.match(v.strip()))


def _detect_header(first: list[str], sample: list[list[str]], key_idx: list[int] | None) -> bool:
    """Heuristic header detection: the first row is a header when its cells are all non-empty
    and distinct and either (a) one of them is a common ID column name, or (b) some column is
    numeric in every sampled data row but not in the first row."""
    cells = [c.strip() for c in first]
    if not cells or any(not c for c in cells) or len(set(cells)) != len(cells):
        return False
    if any(c.lower() in _HEADER_NAMES for c in cells):
        return True
    if not sample:
        return False
    for col, cell in enumerate(cells):
        if _looks_numeric(cell):
            continue
        values = [row[col] for row in sample if col < len(row) and row[col].strip()]
        if values and all(_looks_numeric(v) for v in values):
            return True
    return False


def _resolve_columns(spec: InputSpec, header: list[str] | None, width: int, name: str) -> list[int]:
    if not spec.id_columns:
        return [0]
    out: list[int] = []
    for col in spec.id_columns:
        if re.fullmatch(r"\d+", col):
            idx = int(col)
            if idx >= width:
                raise InputFormatError(
                    f"{name}: --id-column {idx} is out of range (rows have {width} "
                    f"column{'s' if width != 1 else ''}; indices start at 0)"
                )
        else:
            if header is None:
                raise InputFormatError(
                    f"{name}: --id-column {col!r} is a name but the file has no header row"
                )
            stripped = [h.strip() for h in header]
            if col not in stripped:
                lowered = [h.lower() for h in stripped]
                if lowered.count(col.lower()) == 1:
                    idx = lowered.index(col.lower())
                else:
                    raise InputFormatError(f"{name}: no column named {col!r} in the header")
            else:
                idx = stripped.index(col)
        if idx in out:
            raise InputFormatError(f"{name}: column {col!r} given twice in --id-column")
        out.append(idx)
    return out


def load_input(spec: InputSpec) -> InputData:
    """Read, validate, normalize and deduplicate one ID file.

    Returns an :class:`InputData`.  Raises :class:`InputFormatError` (one line, no values
    from the file) for a missing or unreadable file, non-UTF-8 bytes, ragged rows, a missing
    id column, an empty input, or duplicates under ``--duplicates error``.
    """
    name = "<stdin>" if spec.path == "-" else spec.path
    stream = _open_binary(spec.path)
    try:
        return _load(spec, stream, name)
    except csv.Error as exc:
        raise InputFormatError(f"{name}: malformed CSV ({exc})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _load(spec: InputSpec, stream: io.BufferedIOBase, name: str) -> InputData:
    delimiter = spec.resolved_delimiter()
    lines = _decoded_lines(stream, name)
    numbered: Iterator[tuple[int, list[str]]]
    if delimiter is None:
        numbered = (
            (n, [line[:-1] if line.endswith("\n") else line]) for n, line in enumerate(lines, 1)
        )
    else:
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        numbered = ((reader.line_num, row) for row in reader)

    # Look ahead at the first rows (header detection needs a sample), skipping blank lines.
    blank = 0
    buffered: list[tuple[int, list[str]]] = []
    for item in numbered:
        if _is_blank(item[1]):
            blank += 1
            continue
        buffered.append(item)
        if len(buffered) > _SAMPLE_ROWS:
            break
    if not buffered:
        raise InputFormatError(f"{name}: no IDs in input (the file is empty)")
    width = len(buffered[0][1])

    header_flag = spec.header
    detected = False
    if header_flag is None:
        named = any(not re.fullmatch(r"\d+", c) for c in spec.id_columns)
        if named:
            header_flag = True
        else:
            header_flag = _detect_header(buffered[0][1], [r for _, r in buffered[1:]], None)
            detected = header_flag
    header = buffered[0][1] if header_flag else None
    key_idx = _resolve_columns(spec, header, width, name)
    norm = _normalizer(spec.normalize)

    data = InputData(
        keys=[],
        header=header,
        delimiter=delimiter,
        key_columns=len(key_idx),
        blank_lines=blank,
        header_detected=detected,
    )
    index: dict[bytes, int] = {}
    keys = data.keys
    keep = spec.keep_rows
    error_on_dup = spec.duplicates == "error"

    def all_rows() -> Iterator[tuple[int, list[str]]]:
        yield from buffered[1 if header_flag else 0 :]
        for item in numbered:
            if _is_blank(item[1]):
                data.blank_lines += 1
                continue
            yield item

    for lineno, row in all_rows():
        data.rows_read += 1
        if len(row) != width:
            raise InputFormatError(
                f"{name}: ragged rows: line {lineno} has {len(row)} "
                f"field{'s' if len(row) != 1 else ''}, "
                f"the first row has {width}"
            )
        if len(key_idx) == 1:
            value = norm(row[key_idx[0]])
            if not value:
                data.empty_keys += 1
                continue
            key = value.encode("utf-8")
        else:
            values = [norm(row[i]) for i in key_idx]
            if not any(values):
                data.empty_keys += 1
                continue
            key = encode_key(values)
        pos = index.get(key)
        if pos is None:
            pos = index[key] = len(keys)
            keys.append(key)
        else:
            data.duplicates += 1
            if error_on_dup:
                raise InputFormatError(
                    f"{name}: duplicate ID at line {lineno} (--duplicates error; "
                    "use --duplicates dedup to keep the first occurrence)"
                )
        if keep:
            data.rows.append(row)
            data.row_key.append(pos)
    if not keys:
        raise InputFormatError(
            f"{name}: no IDs in input ({data.rows_read} data rows, "
            f"{data.empty_keys} with an empty ID)"
        )
    return data


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())
