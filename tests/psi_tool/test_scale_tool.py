"""The tool's scale-out flags: --buckets, --resume (after a killed party), --scheduler."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import ENV, Proc, run_tool, tool_cmd

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A_IDS = [f"user{i:05d}" for i in range(0, 300)]
B_IDS = [f"user{i:05d}" for i in range(150, 420)]
EXPECTED = sorted(set(A_IDS) & set(B_IDS))


def _lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text().splitlines() if ln]


def test_buckets_end_to_end_and_report(tmp_path: Path, run_pair: Any, write_ids: Any) -> None:
    a = write_ids(tmp_path / "a.txt", A_IDS)
    b = write_ids(tmp_path / "b.txt", B_IDS)
    common = ["--buckets", "4", "--workers", "1", "--quiet"]
    la, lb = run_pair(
        tmp_path,
        [
            "--input",
            a,
            "--output",
            str(tmp_path / "oa"),
            "--report",
            str(tmp_path / "ra.json"),
            *common,
        ],
        ["--input", b, "--output", str(tmp_path / "ob"), *common],
    )
    assert la.rc == 0 and lb.rc == 0, (la.err, lb.err)
    assert sorted(_lines(tmp_path / "oa")) == EXPECTED == sorted(_lines(tmp_path / "ob"))
    report = json.loads((tmp_path / "ra.json").read_text())
    assert report["buckets"] == {"done": 4, "total": 4, "resumed": 0}


def test_buckets_mismatch_names_both_values(tmp_path: Path, run_pair: Any, write_ids: Any) -> None:
    a = write_ids(tmp_path / "a.txt", A_IDS)
    b = write_ids(tmp_path / "b.txt", B_IDS)
    la, lb = run_pair(
        tmp_path,
        ["--input", a, "--output", str(tmp_path / "oa"), "--buckets", "2", "--workers", "1"],
        ["--input", b, "--output", str(tmp_path / "ob"), "--buckets", "3", "--workers", "1"],
    )
    la.assert_clean_failure(1, "--buckets: 2 here, 3 on the peer")
    lb.assert_clean_failure(1, "--buckets: 3 here, 2 on the peer")


def test_resume_refuses_without_buckets_or_workdir(tmp_path: Path, write_ids: Any) -> None:
    a = write_ids(tmp_path / "a.txt", A_IDS)
    base = ["connect", "--peer", "127.0.0.1:9", "--insecure-no-tls", "--input", a]
    run_tool(*base, "--output", "-", "--resume").assert_clean_failure(2, "--buckets 2 or more")
    run_tool(*base, "--output", "-", "--resume", "--buckets", "2").assert_clean_failure(
        2, "--workdir"
    )


def test_unreachable_scheduler_exit_2(tmp_path: Path, write_ids: Any) -> None:
    pytest.importorskip("distributed")
    a = write_ids(tmp_path / "a.txt", A_IDS)
    pem = tmp_path / "x.pem"
    pem.write_text("not used before the connection\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    p = run_tool(
        "connect",
        "--peer",
        "127.0.0.1:9",
        "--insecure-no-tls",
        "--input",
        a,
        "--output",
        "-",
        "--scheduler",
        f"tls://127.0.0.1:{port}",
        "--scheduler-ca",
        str(pem),
        "--scheduler-cert",
        str(pem),
        "--scheduler-key",
        str(pem),
    )
    p.assert_clean_failure(2, f"tls://127.0.0.1:{port}")
    p = run_tool(
        "connect",
        "--peer",
        "127.0.0.1:9",
        "--insecure-no-tls",
        "--input",
        a,
        "--output",
        "-",
        "--scheduler",
        "tcp://127.0.0.1:1",
        "--scheduler-ca",
        str(pem),
        "--scheduler-cert",
        str(pem),
        "--scheduler-key",
        str(pem),
    )
    p.assert_clean_failure(2, "plaintext")


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        tool_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV
    )


def _finish(p: subprocess.Popen[bytes], timeout: float = 120) -> Proc:
    out, err = p.communicate(timeout=timeout)
    return Proc(p.returncode, out.decode(), err.decode())


def _wait_port(path: Path, proc: subprocess.Popen[bytes]) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    raise AssertionError("no port")


def test_resume_after_killing_one_party_half_way(
    tmp_path: Path, certs: dict[str, list[str]], write_ids: Any
) -> None:
    ids_a = [f"u{i:07d}" for i in range(0, 4000)]
    ids_b = [f"u{i:07d}" for i in range(2000, 6000)]
    a = write_ids(tmp_path / "a.txt", ids_a)
    b = write_ids(tmp_path / "b.txt", ids_b)
    wa, wb = tmp_path / "wa", tmp_path / "wb"
    wa.mkdir()
    wb.mkdir()
    common = ["--buckets", "12", "--batch-size", "128", "--workers", "1", "--resume"]

    def listen(n: int) -> tuple[subprocess.Popen[bytes], int]:
        pf = tmp_path / f"port{n}"
        p = _start(
            [
                "listen",
                "--port",
                "0",
                "--port-file",
                str(pf),
                "--connect-timeout",
                "60",
                *certs["listener"],
                "--input",
                a,
                "--output",
                str(tmp_path / "oa"),
                "--workdir",
                str(wa),
                "--report",
                str(tmp_path / f"ra{n}.json"),
                *common,
            ]
        )
        return p, _wait_port(pf, p)

    def connect(port: int, inp: str = b) -> subprocess.Popen[bytes]:
        return _start(
            [
                "connect",
                "--peer",
                f"127.0.0.1:{port}",
                *certs["connector"],
                "--input",
                inp,
                "--output",
                str(tmp_path / "ob"),
                "--workdir",
                str(wb),
                *common,
            ]
        )

    lst, port = listen(1)
    con = connect(port)
    ckpt = wb / "fedcrypto-psi-connector.checkpoint"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = ckpt / "state.json"
        done = json.loads(state.read_text())["finished"] if state.exists() else {}
        if len(done) >= 2 or con.poll() is not None:
            break
        time.sleep(0.005)
    con.kill()  # SIGKILL half-way: no cleanup, the checkpoint stays
    con.communicate()
    first = _finish(lst)
    assert first.rc == 1, first.err
    finished_before = json.loads((ckpt / "state.json").read_text())["finished"]
    assert 2 <= len(finished_before) < 12, "the kill did not land half-way"
    assert not (tmp_path / "ob").exists() and not (tmp_path / "oa").exists()

    # a changed input is refused before connecting, naming what changed
    changed = write_ids(tmp_path / "b2.txt", ids_b[:-1])
    refused = _finish(connect(9, changed))
    refused.assert_clean_failure(2, "input changed")

    lst, port = listen(3)
    con = connect(port)
    second_b, second_a = _finish(con), _finish(lst)
    assert second_a.rc == 0 and second_b.rc == 0, (second_a.err, second_b.err)
    want = sorted(set(ids_a) & set(ids_b))
    assert sorted(_lines(tmp_path / "oa")) == want == sorted(_lines(tmp_path / "ob"))
    report = json.loads((tmp_path / "ra3.json").read_text())
    assert report["buckets"]["total"] == 12 and report["buckets"]["done"] == 12
    assert report["buckets"]["resumed"] >= 1
    assert "resuming:" in second_b.err
    assert not ckpt.exists() and not (wa / "fedcrypto-psi-listener.checkpoint").exists()


def test_scheduler_two_tool_processes_on_tls_dask(
    tmp_path: Path, run_pair: Any, write_ids: Any
) -> None:
    distributed = pytest.importorskip("distributed")
    from distributed.security import Security

    sec = Security.temporary()
    files = {}
    for name, pem in (
        ("ca", sec.tls_ca_file),
        ("cert", sec.tls_client_cert),
        ("key", sec.tls_client_key),
    ):
        path = tmp_path / f"dask-{name}.pem"
        path.write_text(pem)
        os.chmod(path, 0o600)
        files[name] = str(path)
    with distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        protocol="tls",
        security=sec,
        dashboard_address=None,
    ) as cluster:
        sched = [
            "--scheduler",
            cluster.scheduler_address,
            "--scheduler-ca",
            files["ca"],
            "--scheduler-cert",
            files["cert"],
            "--scheduler-key",
            files["key"],
        ]
        a = write_ids(tmp_path / "a.txt", A_IDS)
        b = write_ids(tmp_path / "b.txt", B_IDS)
        la, lb = run_pair(
            tmp_path,
            ["--input", a, "--output", str(tmp_path / "oa"), "--buckets", "2", "--quiet", *sched],
            ["--input", b, "--output", str(tmp_path / "ob"), "--buckets", "2", "--quiet", *sched],
        )
    assert la.rc == 0 and lb.rc == 0, (la.err, lb.err)
    assert sorted(_lines(tmp_path / "oa")) == EXPECTED == sorted(_lines(tmp_path / "ob"))


def _cluster_files(tmp_path: Path, name: str) -> tuple[Any, list[str]]:
    distributed = pytest.importorskip("distributed")
    from distributed.security import Security

    sec = Security.temporary()
    paths = []
    for part, pem in (
        ("ca", sec.tls_ca_file),
        ("cert", sec.tls_client_cert),
        ("key", sec.tls_client_key),
    ):
        path = tmp_path / f"{name}-{part}.pem"
        path.write_text(pem)
        os.chmod(path, 0o600)
        paths.append(str(path))
    cluster = distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=True,
        protocol="tls",
        security=sec,
        dashboard_address=None,
    )
    opts = [
        "--scheduler",
        cluster.scheduler_address,
        "--scheduler-ca",
        paths[0],
        "--scheduler-cert",
        paths[1],
        "--scheduler-key",
        paths[2],
    ]
    return cluster, opts


@pytest.mark.slow
def test_two_clusters_two_tools_20k(tmp_path: Path, run_pair: Any, write_ids: Any) -> None:
    """One TLS Dask cluster per organisation, two tool processes over loopback TLS."""
    ids_a = [f"user{i:06d}" for i in range(0, 20000)]
    ids_b = [f"user{i:06d}" for i in range(10000, 30000)]
    a = write_ids(tmp_path / "a.txt", ids_a)
    b = write_ids(tmp_path / "b.txt", ids_b)
    ca, opts_a = _cluster_files(tmp_path, "a")
    cb, opts_b = _cluster_files(tmp_path, "b")
    try:
        common = ["--buckets", "4", "--batch-size", "4096", "--quiet"]
        la, lb = run_pair(
            tmp_path,
            [
                "--input",
                a,
                "--output",
                str(tmp_path / "oa"),
                "--report",
                str(tmp_path / "r.json"),
                *common,
                *opts_a,
            ],
            ["--input", b, "--output", str(tmp_path / "ob"), *common, *opts_b],
        )
    finally:
        ca.close()
        cb.close()
    assert la.rc == 0 and lb.rc == 0, (la.err, lb.err)
    want = sorted(set(ids_a) & set(ids_b))
    assert sorted(_lines(tmp_path / "oa")) == want == sorted(_lines(tmp_path / "ob"))
    assert json.loads((tmp_path / "r.json").read_text())["buckets"]["done"] == 4
