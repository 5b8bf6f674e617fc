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
import operator
import os
import re
import sys
import unicodedata
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
import numpy.typing as npt

from ..._immutable import Immutable
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
    "KeyStore",
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
class InputSpec(Immutable):
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

    keys: Sequence[bytes]
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
        if spec.resolved_delimiter() is None:
            return _load_plain(spec, stream, name)
        return _load(spec, stream, name)
    except csv.Error as exc:
        raise InputFormatError(f"{name}: malformed CSV ({exc})") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


def _text_blocks(stream: io.BufferedIOBase, name: str) -> Iterator[tuple[int, list[str]]]:
    """Decode the stream in large blocks cut at newlines: yields (number of the first line,
    lines without their ``\\n``).  Invalid UTF-8 raises InputFormatError naming the line."""
    block_size = 1 << 22
    lineno, pending, first, eof = 1, b"", True, False
    while not eof or pending:
        buf = pending
        while not eof and (len(buf) < block_size or buf.rfind(b"\n") < 0):
            chunk = stream.read(block_size)
            if chunk:
                buf += chunk
            else:
                eof = True
        if eof:
            if not buf:
                return
            block, pending = (buf[:-1] if buf.endswith(b"\n") else buf), b""
        else:
            cut = buf.rfind(b"\n")
            block, pending = buf[:cut], buf[cut + 1 :]
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = lineno + block.count(b"\n", 0, exc.start)
            offset = exc.start - (block.rfind(b"\n", 0, exc.start) + 1)
            raise InputFormatError(
                f"{name}: line {line} is not valid UTF-8 (byte 0x{block[exc.start]:02x} at "
                f"offset {offset}); fedcrypto psi reads UTF-8 only"
            ) from None
        if first and text.startswith(_BOM):
            text = text[1:]
        first = False
        lines = text.split("\n")
        yield lineno, lines
        lineno += len(lines)


def _load_plain(spec: InputSpec, stream: io.BufferedIOBase, name: str) -> InputData:
    """Fast path for one ID per line: same rules as the CSV path, block-decoded."""
    norm = _normalizer(spec.normalize)
    strip_only = spec.normalize == ("strip",)
    data = InputData(keys=[], header=None, delimiter=None, key_columns=1)
    named = any(not re.fullmatch(r"\d+", c) for c in spec.id_columns)
    header_flag = True if (spec.header is None and named) else spec.header
    decided = False
    blob = bytearray()
    offsets = array("q", [0])
    hashes = array("q")
    line_numbers = array("Q")
    keep = spec.keep_rows
    rows = data.rows
    for base, lines in _text_blocks(stream, name):
        if not decided:
            first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
            if first is None:
                data.blank_lines += len(lines)
                continue
            decided = True
            if header_flag is None:
                sample = [[ln] for ln in lines[first : first + 4 * _SAMPLE_ROWS] if ln.strip()]
                header_flag = _detect_header(sample[0], sample[1 : _SAMPLE_ROWS + 1], None)
                data.header_detected = header_flag
            if header_flag:
                data.header = [lines[first]]
            _resolve_columns(spec, data.header, 1, name)
            data.blank_lines += first
            skip = first + 1 if header_flag else first
            base += skip
            lines = lines[skip:]
        for i, line in enumerate(lines):
            if strip_only:
                value = line.strip()
                if not value:
                    data.blank_lines += 1
                    continue
                data.rows_read += 1
            else:
                if not line.strip():
                    data.blank_lines += 1
                    continue
                data.rows_read += 1
                value = norm(line)
                if not value:
                    data.empty_keys += 1
                    continue
            key = value.encode("utf-8")
            blob += key
            offsets.append(len(blob))
            hashes.append(hash(key))
            line_numbers.append(base + i)
            if keep:
                rows.append([line])
    if not decided:
        raise InputFormatError(f"{name}: no IDs in input (the file is empty)")
    return _finish(spec, name, data, blob, offsets, hashes, line_numbers)


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
    blob = bytearray()
    offsets = array("q", [0])
    hashes = array("q")
    line_numbers = array("Q")
    keep = spec.keep_rows

    def all_rows() -> Iterator[tuple[int, list[str]]]:
        yield from buffered[1 if header_flag else 0 :]
        for item in numbered:
            if _is_blank(item[1]):
                data.blank_lines += 1
                continue
            yield item

    single = key_idx[0] if len(key_idx) == 1 else None
    for lineno, row in all_rows():
        data.rows_read += 1
        if len(row) != width:
            raise InputFormatError(
                f"{name}: ragged rows: line {lineno} has {len(row)} "
                f"field{'s' if len(row) != 1 else ''}, "
                f"the first row has {width}"
            )
        if single is not None:
            value = norm(row[single])
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
        blob += key
        offsets.append(len(blob))
        hashes.append(hash(key))
        line_numbers.append(lineno)
        if keep:
            data.rows.append(row)
    return _finish(spec, name, data, blob, offsets, hashes, line_numbers)


class KeyStore(Sequence[bytes]):
    """The unique encoded keys, compactly: one bytes blob and an offset table (so 10M keys cost
    their bytes plus 8 bytes each, not a Python object each).  ``store[i]`` is key ``i``."""

    __slots__ = ("_blob", "_offsets")

    def __init__(self, blob: bytes, offsets: array[int]) -> None:
        self._blob = blob
        self._offsets = offsets

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, i: int) -> bytes: ...

    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...

    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        i = operator.index(i)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("key index out of range")
        return self._blob[self._offsets[i] : self._offsets[i + 1]]

    def __iter__(self) -> Iterator[bytes]:
        blob, off = self._blob, self._offsets
        for i in range(len(off) - 1):
            yield blob[off[i] : off[i + 1]]

    def __reduce__(self) -> Any:
        raise TypeError("ID lists are not pickled")


def _deduplicate(
    blob: bytes, offsets: array[int], hashes: array[int]
) -> tuple[KeyStore, npt.NDArray[np.int64]]:
    """Drop repeated keys, keeping first occurrences in input order.

    Keys are grouped by their 64-bit hash (numpy sort, no per-key Python objects kept); only
    keys whose hash repeats are compared byte for byte, so a hash collision never merges two
    different keys.  Returns the unique keys and, for every input key, the index of its first
    occurrence (itself when unique)."""
    n = len(hashes)
    first_of = np.arange(n, dtype=np.int64)
    h = np.frombuffer(hashes, dtype=np.int64)
    order = np.argsort(h, kind="stable")
    hs = h[order]
    same = np.flatnonzero(hs[1:] == hs[:-1])  # order[k+1] has the hash of order[k]
    if len(same):
        off = offsets
        group_start = np.ones(len(hs), dtype=bool)
        group_start[1:] = hs[1:] != hs[:-1]
        heads = np.flatnonzero(group_start)
        sizes = np.diff(np.append(heads, len(hs)))
        for head, size in zip(heads[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
            seen: dict[bytes, int] = {}
            for pos in order[head : head + size].tolist():  # ascending input positions
                key = blob[off[pos] : off[pos + 1]]
                first = seen.setdefault(key, pos)
                first_of[pos] = first
    unique = np.flatnonzero(first_of == np.arange(n))
    if len(unique) == n:
        return KeyStore(blob, offsets), first_of
    off_np = np.frombuffer(offsets, dtype=np.int64)
    parts = [
        blob[a:b] for a, b in zip(off_np[unique].tolist(), off_np[unique + 1].tolist(), strict=True)
    ]
    new_offsets = array("q", [0])
    new_offsets.extend(np.cumsum([len(p) for p in parts], dtype=np.int64).tolist())
    return KeyStore(b"".join(parts), new_offsets), first_of


def _finish(
    spec: InputSpec,
    name: str,
    data: InputData,
    blob: bytearray,
    offsets: array[int],
    hashes: array[int],
    line_numbers: array[int],
) -> InputData:
    """Deduplicate the collected keys, apply the duplicates policy, map rows to keys."""
    keep = spec.keep_rows
    if len(hashes) == 0:
        raise InputFormatError(
            f"{name}: no IDs in input ({data.rows_read} data rows, "
            f"{data.empty_keys} with an empty ID)"
        )
    keys, first_of = _deduplicate(bytes(blob), offsets, hashes)
    data.keys = keys
    data.duplicates = len(offsets) - 1 - len(keys)
    if data.duplicates and spec.duplicates == "error":
        first_dup = int(np.flatnonzero(first_of != np.arange(len(first_of)))[0])
        raise InputFormatError(
            f"{name}: duplicate ID at line {line_numbers[first_dup]} (--duplicates error; "
            "use --duplicates dedup to keep the first occurrence)"
        )
    if keep:
        # unique position of every row's key: rank of its first occurrence among uniques
        is_first = first_of == np.arange(len(first_of))
        rank = np.cumsum(is_first) - 1
        data.row_key = rank[first_of].tolist()
    return data


def _is_blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())
