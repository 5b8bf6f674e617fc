"""Atomic output, report writing, and the progress display."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

from fedcrypto.cli import main as cli_main
from fedcrypto.cli.psi_tool._input import InputSpec, load_input
from fedcrypto.cli.psi_tool._output import (
    atomic_text,
    check_output_path,
    write_intersection,
    write_report,
)
from fedcrypto.cli.psi_tool._progress import Progress, format_bytes, format_count
from fedcrypto.exceptions import InvalidArgumentError


def test_atomic_text_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_text(str(target)) as fh:
        fh.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]
    with atomic_text(str(target)) as fh:
        fh.write("new\n")
    assert target.read_text() == "new\n" and os.listdir(tmp_path) == ["out.txt"]


def test_check_output_path(tmp_path):
    check_output_path("-")
    check_output_path(str(tmp_path / "x"))
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        check_output_path(str(tmp_path / "no" / "x"))
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        check_output_path(str(tmp_path))


def test_write_ids_rows_composite(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('a,b,c\nx,1,"q,r"\ny,2,s\nx,1,t\n')
    data = load_input(InputSpec(str(src), id_columns=("a", "b"), keep_rows=True))
    idx = np.array([0], dtype=np.int64)
    assert write_intersection(str(tmp_path / "ids"), data, idx, "ids") == 1
    assert (tmp_path / "ids").read_text() == "x,1\n"
    assert write_intersection(str(tmp_path / "rows"), data, idx, "rows") == 2
    assert (tmp_path / "rows").read_text() == 'a,b,c\nx,1,"q,r"\nx,1,t\n'


def test_write_report(tmp_path):
    write_report(str(tmp_path / "r.json"), {"b": 1, "a": [1, 2]})
    assert json.loads((tmp_path / "r.json").read_text()) == {"a": [1, 2], "b": 1}


class FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_non_tty_prints_one_line_per_phase():
    out = io.StringIO()
    p = Progress(stream=out)
    p("hashing", 10, 100)
    p("masking own", 10, 100)
    p("hashing", 100, 100)
    p("masking own", 100, 100)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("hashing") and "done: 100" in lines[0]
    assert set(p.phase_times) == {"hashing", "masking own"}


def test_progress_tty_bar_and_quiet():
    out = FakeTTY()
    p = Progress(stream=out, label="A")
    p("matching", 1, 4)
    assert "\r" in out.getvalue() and "[" in out.getvalue() and "ETA" in out.getvalue()
    p.info("hello")
    p.finish()
    assert "A hello\n" in out.getvalue()
    quiet = io.StringIO()
    q = Progress(stream=quiet, quiet=True)
    q("hashing", 1, 1)
    q.info("x")
    assert quiet.getvalue() == ""


def test_formatters():
    assert format_count(1_234_567) == "1.23M" and format_count(12) == "12"
    assert format_bytes(1536) == "1.5 KiB" and format_bytes(10) == "10 B"


def test_refuses_to_overwrite_input(tmp_path, capsys):
    a = tmp_path / "a.txt"
    a.write_text("x\ny\n")
    b = tmp_path / "b.txt"
    b.write_text("y\n")
    rc = cli_main(["psi", "local", str(a), str(b), "--output", str(a)])
    assert rc == 2 and "refusing to overwrite an input file" in capsys.readouterr().err
    assert a.read_text() == "x\ny\n"
