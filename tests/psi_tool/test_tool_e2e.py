"""Happy paths of the tool: two processes over loopback with mutual TLS for ecdh, dh and rsa,
stdin input, rows output, composite keys, reveal modes, JSON report, local mode, make-certs."""

from __future__ import annotations

import json
import os

import pytest

from fedcrypto.cli import main as cli_main

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

A_IDS = [f"user{i:04d}@example.com" for i in range(0, 120)]
B_IDS = [f"user{i:04d}@example.com" for i in range(60, 200)]
EXPECTED = sorted(set(A_IDS) & set(B_IDS))


def _lines(path) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [ln.rstrip("\n") for ln in fh]


@pytest.mark.parametrize(
    ("protocol", "group"),
    [("ecdh", "curve25519"), ("ecdh", "p256"), ("dh", "modp2048"), ("rsa", "rsa2048")],
)
def test_two_processes_tls(tmp_path, run_pair, write_ids, protocol, group):
    a = write_ids(tmp_path / "a.txt", A_IDS)
    b = write_ids(tmp_path / "b.txt", B_IDS)
    opts = ["--protocol", protocol, "--group", group, "--quiet"]
    la, lb = run_pair(
        tmp_path,
        [
            "--input",
            a,
            "--output",
            str(tmp_path / "oa.txt"),
            "--report",
            str(tmp_path / "ra.json"),
            *opts,
        ],
        [
            "--input",
            b,
            "--output",
            str(tmp_path / "ob.txt"),
            "--report",
            str(tmp_path / "rb.json"),
            *opts,
        ],
    )
    assert la.rc == 0 and lb.rc == 0, (la.err, lb.err)
    assert la.err == "" and lb.err == ""  # --quiet
    assert sorted(_lines(tmp_path / "oa.txt")) == EXPECTED
    assert sorted(_lines(tmp_path / "ob.txt")) == EXPECTED
    ra = json.loads((tmp_path / "ra.json").read_text())
    rb = json.loads((tmp_path / "rb.json").read_text())
    assert ra["protocol"] == protocol and ra["group"] == group
    assert ra["intersection_size"] == rb["intersection_size"] == len(EXPECTED)
    assert ra["local_size"] == 120 and ra["peer_size"] == 140 and rb["peer_size"] == 120
    assert ra["tls"]["version"] == "TLSv1.3"
    assert ra["session_id"] == rb["session_id"]
    assert ra["bytes_sent"] == rb["bytes_received"] and ra["bytes_received"] == rb["bytes_sent"]
    assert ra["versions"]["psi_protocol"] >= 1 and ra["duration_s"] > 0
    assert [f for f in os.listdir(tmp_path) if f.endswith(".part")] == []


def test_rows_output_header_composite_and_reveal_me(tmp_path, run_pair):
    (tmp_path / "a.csv").write_text(
        "first,last,city\nAda,Lovelace,London\nalan,TURING,Wilmslow\nGrace,Hopper,NYC\n"
        "ada, lovelace ,Paris\n",
        encoding="utf-8",
    )
    (tmp_path / "b.tsv").write_text(
        "Surname\tGiven\nlovelace\tada\nturing\talan\nknuth\tdon\n", encoding="utf-8"
    )
    norm = ["--normalize", "strip,lower"]
    la, lb = run_pair(
        tmp_path,
        [
            "--input",
            str(tmp_path / "a.csv"),
            "--id-column",
            "first",
            "--id-column",
            "last",
            "--output",
            str(tmp_path / "rows.csv"),
            "--output-format",
            "rows",
            "--reveal",
            "me",
            *norm,
        ],
        [
            "--input",
            str(tmp_path / "b.tsv"),
            "--id-column",
            "Given",
            "--id-column",
            "0",
            "--output",
            str(tmp_path / "ob.txt"),
            "--reveal",
            "peer",
            *norm,
        ],
        tls=False,
    )
    assert la.rc == 0 and lb.rc == 0, (la.err, lb.err)
    assert _lines(tmp_path / "rows.csv") == [
        "first,last,city",
        "Ada,Lovelace,London",
        "alan,TURING,Wilmslow",
        "ada, lovelace ,Paris",
    ]
    assert not (tmp_path / "ob.txt").exists()  # the connector does not learn the intersection
    assert "does not learn the intersection" in lb.err
    assert "1 duplicates removed" in la.err


def test_count_mode_stdin_and_stdout_via_python_m(tmp_path, listeners, write_ids):
    import subprocess
    import sys

    a = write_ids(tmp_path / "a.txt", A_IDS)
    lst = listeners(
        tmp_path,
        "--insecure-no-tls",
        "--input",
        a,
        "--output",
        "-",
        "--reveal",
        "count",
        "--report",
        str(tmp_path / "r.json"),
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fedcrypto",
            "psi",
            "connect",
            "--peer",
            f"127.0.0.1:{lst.port}",
            "--insecure-no-tls",
            "--input",
            "-",
            "--output",
            "-",
            "--reveal",
            "count",
        ],
        input=("\n".join(B_IDS) + "\n").encode(),
        capture_output=True,
        timeout=60,
    )
    la = lst.wait()
    assert proc.returncode == 0 and la.rc == 0, (proc.stderr, la.err)
    assert proc.stdout == b"" and la.out == ""  # count: nobody learns IDs
    assert f"intersection: {len(EXPECTED)} of" in proc.stderr.decode()
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["intersection_size"] == len(EXPECTED) and report["learned_intersection"] is False


def test_stdout_ids(tmp_path, run_pair, write_ids):
    a = write_ids(tmp_path / "a.txt", A_IDS)
    b = write_ids(tmp_path / "b.txt", B_IDS)
    la, lb = run_pair(
        tmp_path,
        ["--input", a, "--output", "-", "--quiet"],
        ["--input", b, "--output", "-", "--quiet"],
        tls=False,
    )
    assert la.rc == lb.rc == 0
    assert sorted(la.out.splitlines()) == EXPECTED == sorted(lb.out.splitlines())


def test_local_mode(tmp_path, write_ids, capsys):
    a = write_ids(tmp_path / "a.csv", A_IDS, header="email,note", extra_col=True)
    b = write_ids(tmp_path / "b.txt", B_IDS)
    out = tmp_path / "o.txt"
    rc = cli_main(
        ["psi", "local", a, b, "--output", str(out), "--report", str(tmp_path / "r.json")]
    )
    assert rc == 0
    assert sorted(_lines(out)) == EXPECTED
    err = capsys.readouterr().err
    assert "header: detected" in err and f"intersection: {len(EXPECTED)}" in err
    assert json.loads((tmp_path / "r.json").read_text())["mode"] == "local"


def test_make_certs_cli(tmp_path, capsys):
    d = tmp_path / "c"
    assert (
        cli_main(["psi", "make-certs", str(d), "--name", "psi.example.org", "--name", "10.0.0.7"])
        == 0
    )
    names = sorted(os.listdir(d))
    assert names == sorted(
        ["ca.pem", "ca.key", "server.pem", "server.key", "client.pem", "client.key"]
    )
    assert oct(os.stat(d / "server.key").st_mode & 0o777) == "0o600"
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((d / "server.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "psi.example.org" in san.get_values_for_type(x509.DNSName)
    # refuses to overwrite
    assert cli_main(["psi", "make-certs", str(d)]) == 2
    assert "already exists" in capsys.readouterr().err


def test_bench_psi_command(capsys):
    assert cli_main(["bench", "psi", "--size", "300", "--no-tls"]) == 0
    out = capsys.readouterr().out
    assert "300 x 300 IDs, two processes over loopback" in out
    assert "intersection 150" in out and "IDs/s per core" in out


def test_bench_psi_on_bundled_samples(capsys):
    root = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "data")
    a, b = os.path.join(root, "psi_party_a.csv"), os.path.join(root, "psi_party_b.csv")
    assert (
        cli_main(
            [
                "bench",
                "psi",
                "--files",
                a,
                b,
                "--id-column",
                "email",
                "--normalize",
                "strip,lower",
                "--no-tls",
            ]
        )
        == 0
    )
    assert "intersection 2500" in capsys.readouterr().out
