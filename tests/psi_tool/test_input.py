"""ID file parsing: formats, columns, header detection, normalization, duplicates, bad input."""

from __future__ import annotations

import io
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto.cli.psi_tool._input import (
    InputSpec,
    decode_key,
    encode_key,
    load_input,
    parse_delimiter,
    parse_normalize,
)
from fedcrypto.exceptions import InputFormatError, InvalidArgumentError


def write(tmp_path, name, data: bytes | str):
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(p)


def test_plain_lines_strip_crlf_and_blank(tmp_path):
    path = write(tmp_path, "ids.txt", " a \r\nb\r\n\r\nc\n")
    d = load_input(InputSpec(path))
    assert d.keys == [b"a", b"b", b"c"]
    assert d.blank_lines == 1 and d.header is None and d.delimiter is None


def test_normalize_none_keeps_cr(tmp_path):
    path = write(tmp_path, "ids.txt", "a\r\nb\r\n")
    d = load_input(InputSpec(path, normalize=()))
    assert d.keys == [b"a\r", b"b\r"]


def test_normalize_lower_nfkc(tmp_path):
    path = write(tmp_path, "ids.txt", "ＡBC@x.com\nabc@X.COM \n")
    d = load_input(InputSpec(path, normalize=parse_normalize("lower,strip,nfkc")))
    assert d.keys == [b"abc@x.com"] and d.duplicates == 1


def test_parse_normalize_rejects():
    assert parse_normalize("none") == ()
    assert parse_normalize("strip,lower") == ("lower", "strip")
    for bad in ("", "upper", "none,strip"):
        with pytest.raises(InvalidArgumentError):
            parse_normalize(bad)


def test_parse_delimiter():
    assert parse_delimiter("tab") == "\t" and parse_delimiter(";") == ";"
    assert parse_delimiter(None) is None
    with pytest.raises(InvalidArgumentError):
        parse_delimiter(",,")


def test_csv_header_detected_by_name_and_rows_kept(tmp_path):
    path = write(tmp_path, "c.csv", "email,age\nA@x.com,3\nb@x.com,4\nA@x.com,5\n")
    d = load_input(InputSpec(path, keep_rows=True, normalize=("lower", "strip")))
    assert d.header == ["email", "age"] and d.header_detected
    assert d.keys == [b"a@x.com", b"b@x.com"]
    assert d.row_key == [0, 1, 0] and d.rows[2] == ["A@x.com", "5"]


def test_header_detected_by_type(tmp_path):
    path = write(tmp_path, "c.csv", "customer number,x\n1001,a\n1002,b\n")
    assert load_input(InputSpec(path)).header is not None
    path2 = write(tmp_path, "d.csv", "1000,a\n1001,a\n1002,b\n")
    assert load_input(InputSpec(path2)).header is None


def test_header_flags_override(tmp_path):
    path = write(tmp_path, "c.csv", "id,x\n1,a\n")
    assert load_input(InputSpec(path, header=False)).keys == [b"id", b"1"]
    path2 = write(tmp_path, "d.csv", "1,a\n2,b\n")
    assert load_input(InputSpec(path2, header=True)).keys == [b"2"]


def test_tsv_and_index_column(tmp_path):
    path = write(tmp_path, "t.tsv", "x\ty\n1\tq\n2\tr\n")
    d = load_input(InputSpec(path, id_columns=("1",), header=True))
    assert d.keys == [b"q", b"r"]


def test_composite_key_is_length_prefixed(tmp_path):
    path = write(tmp_path, "c.csv", "first,last\nab,c\na,bc\n")
    d = load_input(InputSpec(path, id_columns=("first", "last")))
    assert len(d.keys) == 2 and d.key_columns == 2
    assert decode_key(d.keys[0], 2) == ["ab", "c"]


@given(st.lists(st.text(max_size=5), min_size=1, max_size=4))
@settings(max_examples=50, deadline=None)
def test_encode_decode_roundtrip(values):
    key = encode_key(values)
    assert decode_key(key, len(values)) == values


def test_quoted_fields_with_delimiters(tmp_path):
    path = write(tmp_path, "q.csv", 'id,note\n"a,1","x\ny"\nb,z\n')
    d = load_input(InputSpec(path, header=True, keep_rows=True))
    assert d.keys == [b"a,1", b"b"]


def test_bom_is_ignored(tmp_path):
    path = write(tmp_path, "b.csv", "\ufeffid,x\n1,a\n".encode())
    assert load_input(InputSpec(path)).header == ["id", "x"]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\ny\nx\n")))
    d = load_input(InputSpec("-"))
    assert d.keys == [b"x", b"y"] and d.duplicates == 1


@pytest.mark.parametrize(
    ("name", "content", "spec_kw", "needle"),
    [
        ("empty.txt", b"", {}, "no IDs"),
        ("blank.txt", b"\n \n\r\n", {}, "no IDs"),
        ("bad.txt", b"ok\n\xff\xfe\n", {}, "line 2 is not valid UTF-8"),
        ("trunc.txt", b"ok\n\xc3", {}, "UTF-8"),
        ("rag.csv", b"a,b\n1,2\n3\n", {}, "ragged rows: line 3"),
        ("col.csv", b"id,b\n1,2\n", {"id_columns": ("nope",)}, "no column named 'nope'"),
        ("idx.csv", b"1,2\n3,4\n", {"id_columns": ("5",)}, "out of range"),
        ("nohead.csv", b"1,2\n3,4\n", {"id_columns": ("x",), "header": False}, "no header"),
        ("dup.txt", b"a\nb\na\n", {"duplicates": "error"}, "duplicate ID at line 3"),
        ("emptyid.csv", b"id,x\n,1\n ,2\n", {}, "no IDs"),
        ("quote.csv", b'id\n"abc\n', {"header": True}, "malformed CSV"),
    ],
)
def test_bad_input(tmp_path, name, content, spec_kw, needle):
    path = write(tmp_path, name, content)
    with pytest.raises(InputFormatError) as info:
        load_input(InputSpec(path, **spec_kw))
    msg = str(info.value)
    assert needle in msg and "\n" not in msg


def test_duplicate_values_never_printed(tmp_path):
    path = write(tmp_path, "dup.txt", b"secret-value\nsecret-value\n")
    with pytest.raises(InputFormatError) as info:
        load_input(InputSpec(path, duplicates="error"))
    assert "secret-value" not in str(info.value)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputFormatError, match="no such file"):
        load_input(InputSpec(str(tmp_path / "missing.csv")))
    with pytest.raises(InputFormatError, match="directory"):
        load_input(InputSpec(str(tmp_path)))
