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
    assert list(d.keys) == [b"a", b"b", b"c"]
    assert d.blank_lines == 1 and d.header is None and d.delimiter is None


def test_normalize_none_keeps_cr(tmp_path):
    path = write(tmp_path, "ids.txt", "a\r\nb\r\n")
    d = load_input(InputSpec(path, normalize=()))
    assert list(d.keys) == [b"a\r", b"b\r"]


def test_normalize_lower_nfkc(tmp_path):
    path = write(tmp_path, "ids.txt", "ＡBC@x.com\nabc@X.COM \n")
    d = load_input(InputSpec(path, normalize=parse_normalize("lower,strip,nfkc")))
    assert list(d.keys) == [b"abc@x.com"] and d.duplicates == 1


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
    assert list(d.keys) == [b"a@x.com", b"b@x.com"]
    assert d.row_key == [0, 1, 0] and d.rows[2] == ["A@x.com", "5"]


def test_header_detected_by_type(tmp_path):
    path = write(tmp_path, "c.csv", "customer number,x\n1001,a\n1002,b\n")
    assert load_input(InputSpec(path)).header is not None
    path2 = write(tmp_path, "d.csv", "1000,a\n1001,a\n1002,b\n")
    assert load_input(InputSpec(path2)).header is None


def test_header_flags_override(tmp_path):
    path = write(tmp_path, "c.csv", "id,x\n1,a\n")
    assert list(load_input(InputSpec(path, header=False)).keys) == [b"id", b"1"]
    path2 = write(tmp_path, "d.csv", "1,a\n2,b\n")
    assert list(load_input(InputSpec(path2, header=True)).keys) == [b"2"]


def test_tsv_and_index_column(tmp_path):
    path = write(tmp_path, "t.tsv", "x\ty\n1\tq\n2\tr\n")
    d = load_input(InputSpec(path, id_columns=("1",), header=True))
    assert list(d.keys) == [b"q", b"r"]


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
    assert list(d.keys) == [b"a,1", b"b"]


def test_bom_is_ignored(tmp_path):
    path = write(tmp_path, "b.csv", "\ufeffid,x\n1,a\n".encode())
    assert load_input(InputSpec(path)).header == ["id", "x"]


def test_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"x\ny\nx\n")))
    d = load_input(InputSpec("-"))
    assert list(d.keys) == [b"x", b"y"] and d.duplicates == 1


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


def _store(keys, hashes=None):
    from array import array

    from fedcrypto.cli.psi_tool._input import _deduplicate

    blob = b"".join(keys)
    offsets = array("q", [0])
    for k in keys:
        offsets.append(offsets[-1] + len(k))
    hs = array("q", hashes if hashes is not None else [hash(k) for k in keys])
    return _deduplicate(blob, offsets, hs)


@given(st.lists(st.binary(max_size=4), min_size=1, max_size=60))
@settings(max_examples=100, deadline=None)
def test_dedup_keeps_first_occurrences_in_order(keys):
    store, first_of = _store(keys)
    assert list(store) == list(dict.fromkeys(keys))
    for i, k in enumerate(keys):
        assert keys[first_of[i]] == k and keys.index(k) == first_of[i]


def test_dedup_survives_hash_collisions():
    keys = [b"a", b"b", b"a", b"c", b"b"]
    store, first_of = _store(keys, hashes=[7, 7, 7, 7, 7])  # every key collides
    assert list(store) == [b"a", b"b", b"c"]
    assert first_of.tolist() == [0, 1, 0, 3, 1]


def test_keystore_sequence():
    store, _ = _store([b"xy", b"", b"z"])
    assert len(store) == 3 and store[0] == b"xy" and store[-1] == b"z" and store[1] == b""
    assert store[0:2] == [b"xy", b""]
    with pytest.raises(IndexError):
        store[3]
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(store)


def test_rows_map_to_unique_keys_with_duplicates(tmp_path):
    path = write(tmp_path, "r.csv", "id,v\nb,1\na,2\nb,3\nc,4\na,5\n")
    d = load_input(InputSpec(path, keep_rows=True))
    assert list(d.keys) == [b"b", b"a", b"c"] and d.duplicates == 2
    assert d.row_key == [0, 1, 0, 2, 1]


@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab \t\r\u00a0é1"), max_size=4), min_size=0, max_size=30
    ),
    st.sampled_from([("strip",), (), ("lower", "strip"), ("nfkc",)]),
    st.sampled_from([None, True, False]),
    st.booleans(),
)
@settings(max_examples=150, deadline=None)
def test_plain_fast_path_matches_generic_path(lines, normalize, header, trailing_newline):
    from fedcrypto.cli.psi_tool._input import _load, _load_plain

    raw = "\n".join(lines).encode() + (b"\n" if trailing_newline else b"")
    spec = InputSpec("ids.txt", normalize=normalize, header=header, keep_rows=True)
    results = []
    for loader in (_load, _load_plain):
        try:
            d = loader(spec, io.BytesIO(raw), "ids.txt")
            results.append(
                (
                    list(d.keys),
                    d.header,
                    d.rows_read,
                    d.duplicates,
                    d.blank_lines,
                    d.empty_keys,
                    d.rows,
                    d.row_key,
                )
            )
        except InputFormatError as exc:
            results.append(str(exc))
    assert results[0] == results[1]


def test_plain_fast_path_block_boundaries():
    # tiny blocks: lines and multi-byte characters straddle block boundaries
    from fedcrypto.cli.psi_tool._input import _load_plain

    class Slow(io.BytesIO):
        def read(self, n=-1):
            return super().read(3)

    bad = "héllo\nwörld\n\nhéllo\nzz".encode() + b"\xff"
    with pytest.raises(InputFormatError, match="line 5 is not valid UTF-8"):
        _load_plain(InputSpec("x"), Slow(bad), "x")
    d = _load_plain(InputSpec("x"), Slow("héllo\nwörld\n\nhéllo\nzz".encode()), "x")
    assert list(d.keys) == ["héllo".encode(), "wörld".encode(), b"zz"] and d.duplicates == 1
