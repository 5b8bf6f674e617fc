"""Modes that cannot be combined are refused up front, with exit 2 and one clear line:
n-party runs compute the intersection or its size only; sums and payloads run as one
session on one machine (per-bucket sums would each be revealed)."""

from __future__ import annotations

import pytest

from fedcrypto import psi
from fedcrypto.exceptions import InvalidArgumentError

from .conftest import run_tool


def _ids(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("id,spent\na,1\nb,2\n", encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--parties", "3", "--compute", "sum"], "--parties does not combine with --compute"),
        (["--parties", "3", "--buckets", "4"], "--parties does not combine with --buckets"),
        (["--parties", "3", "--payload-column", "spent"], "--payload-column"),
        (["--compute", "sum", "--buckets", "2"], "--buckets and --resume apply to intersection"),
        (["--payload-column", "spent", "--resume"], "--buckets and --resume apply"),
        (
            ["--compute", "sum", "--scheduler", "tls://127.0.0.1:1"],
            "--scheduler applies to intersection and count runs only",
        ),
    ],
)
def test_incompatible_modes_exit_2_before_connecting(tmp_path, extra, needle):
    out = tmp_path / "out.csv"
    p = run_tool(
        "connect",
        "--peer",
        "127.0.0.1:9",  # nothing listens there: a run that got past the checks would fail 1
        "--insecure-no-tls",
        "--input",
        _ids(tmp_path),
        "--id-column",
        "id",
        "--output",
        str(out),
        *extra,
    )
    p.assert_clean_failure(2, needle)
    assert not out.exists()


def test_library_refuses_partitioned_sums_and_payloads():
    with pytest.raises(InvalidArgumentError, match="buckets=1"):
        psi.PsiSettings(compute="sum", buckets=2).validate()
    with pytest.raises(InvalidArgumentError, match="buckets=1"):
        psi.create_payload_party(
            psi.PsiSettings(buckets=2),
            role="listener",
            items=[b"a"],
            peer_size=1,
            session_id=bytes(32),
            payloads=[b"x"],
        )
