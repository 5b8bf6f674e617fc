"""``fedcrypto psi listen|connect --compute sum``: two processes over TLS against plaintext
sums, either side holding the values; bad values exit 2 before any network traffic; a peer's
invalid sum ciphertext exits 1."""

from __future__ import annotations

import csv
import json
import os
import socket
import threading

import pytest

from fedcrypto import paillier, psi
from fedcrypto.cli.psi_tool._handshake import Hello, run_handshake
from fedcrypto.cli.psi_tool._net import Connection, FrameKind, connect_tcp
from fedcrypto.psi import SumResult

from .conftest import run_tool

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

HOLDER_ROWS = [(f"c{i}", i * 7 - 300, i % 5) for i in range(80)]
OTHER_IDS = [f"c{i}" for i in range(50, 130)]
MATCHED = [r for r in HOLDER_ROWS if r[0] in set(OTHER_IDS)]
EXPECTED = [str(len(MATCHED)), str(sum(r[1] for r in MATCHED)), str(sum(r[2] for r in MATCHED))]


def _write_holder(path, rows=HOLDER_ROWS, extra=()):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "spent", "visits"])
        for r in list(rows) + list(extra):
            w.writerow(r)
    return str(path)


def _write_ids(path, ids=OTHER_IDS):
    path.write_text("\n".join(ids) + "\n", encoding="utf-8")
    return str(path)


def _csv(path):
    with open(path, encoding="utf-8") as fh:
        return list(csv.reader(fh))


HOLDER_OPTS = ["--id-column", "id", "--value-column", "spent", "--value-column", "visits"]


@pytest.mark.parametrize(
    ("holder", "reveal_holder", "reveal_other", "learners"),
    [
        ("connector", "both", "both", {"listener", "connector"}),
        ("listener", "me", "peer", {"listener"}),
        ("connector", "peer", "me", {"listener"}),
    ],
)
def test_sum_two_processes_tls(tmp_path, run_pair, holder, reveal_holder, reveal_other, learners):
    h = _write_holder(tmp_path / "h.csv")
    o = _write_ids(tmp_path / "o.txt")
    out = {r: tmp_path / f"out_{r}.csv" for r in ("listener", "connector")}
    rep = {r: tmp_path / f"rep_{r}.json" for r in ("listener", "connector")}

    def side(role):
        mine = holder == role
        return [
            "--input",
            h if mine else o,
            *(HOLDER_OPTS if mine else []),
            "--compute",
            "sum",
            "--reveal",
            reveal_holder if mine else reveal_other,
            "--output",
            str(out[role]),
            "--report",
            str(rep[role]),
            "--quiet",
        ]

    la, lc = run_pair(tmp_path, side("listener"), side("connector"))
    assert la.rc == 0 and lc.rc == 0, (la.err, lc.err)
    for role in ("listener", "connector"):
        report = json.loads(rep[role].read_text())
        assert report["compute"] == "sum" and report["tls"]["version"] == "TLSv1.3"
        if role in learners:
            assert _csv(out[role]) == [["intersection_size", "sum_spent", "sum_visits"], EXPECTED]
            assert report["learned_sums"]
        else:
            assert not out[role].exists()
            assert not report["learned_sums"]
        if role != holder:  # the matcher always learns |∩|
            assert report["intersection_size"] == len(MATCHED)


def test_threshold_withholds_sums(tmp_path, run_pair):
    h = _write_holder(tmp_path / "h.csv")
    o = _write_ids(tmp_path / "o.txt")
    common = ["--compute", "sum", "--threshold", str(len(MATCHED) + 1), "--quiet"]
    la, lc = run_pair(
        tmp_path,
        ["--input", o, "--output", str(tmp_path / "ol.csv"), *common],
        ["--input", h, *HOLDER_OPTS, "--output", str(tmp_path / "oc.csv"), *common],
        tls=False,
    )
    assert la.rc == 0 and lc.rc == 0, (la.err, lc.err)
    for name in ("ol.csv", "oc.csv"):
        assert _csv(tmp_path / name) == [
            ["intersection_size", "sum_spent", "sum_visits"],
            [str(len(MATCHED)), "", ""],
        ]


def test_mismatched_compute_is_named(tmp_path, run_pair):
    h = _write_holder(tmp_path / "h.csv")
    o = _write_ids(tmp_path / "o.txt")
    la, lc = run_pair(
        tmp_path,
        ["--input", o, "--output", str(tmp_path / "ol.txt")],
        ["--input", h, *HOLDER_OPTS, "--compute", "sum", "--output", str(tmp_path / "oc.csv")],
        tls=False,
    )
    assert la.rc == 1 and lc.rc == 1
    assert "--compute" in la.err and "--compute" in lc.err


class _SilentServer:
    """A TCP server that records whether anything ever connected."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            c.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


@pytest.mark.parametrize(
    ("extra_row", "opts", "needle"),
    [
        (("c999", "12.50", "1"), [], "data row 81, value column 'spent': not an integer"),
        (("c998", "abc", "1"), [], "data row 81, value column 'spent': not an integer"),
        (
            ("c997", str(2**47), "1"),
            [],
            "data row 81, value column 'spent': the value does not fit 48",
        ),
        (("c996", "100", "1"), ["--value-bits", "8"], "value column 'spent'"),
        (None, ["--paillier-key-size", "1024"], "--paillier-key-size must be at least 2048"),
        (None, ["--value-column", "nope"], "no column named 'nope'"),
    ],
)
def test_bad_values_exit_2_before_any_traffic(tmp_path, extra_row, opts, needle):
    h = _write_holder(tmp_path / "h.csv", extra=[extra_row] if extra_row else [])
    server = _SilentServer()
    try:
        p = run_tool(
            "connect",
            "--peer",
            f"127.0.0.1:{server.port}",
            "--insecure-no-tls",
            "--input",
            h,
            *HOLDER_OPTS,
            *opts,
            "--compute",
            "sum",
            "--output",
            str(tmp_path / "o.csv"),
        )
    finally:
        server.close()
    p.assert_clean_failure(2, needle)
    assert server.connections == 0
    assert not (tmp_path / "o.csv").exists()


def test_duplicate_ids_add_up(tmp_path, run_pair):
    rows = [("a", 1, 1), ("b", 2, 2), ("a", 10, 10)]
    h = _write_holder(tmp_path / "h.csv", rows=rows)
    o = _write_ids(tmp_path / "o.txt", ["a", "z"])
    common = ["--compute", "sum", "--quiet"]
    la, lc = run_pair(
        tmp_path,
        ["--input", h, *HOLDER_OPTS, "--output", str(tmp_path / "ol.csv"), *common],
        ["--input", o, "--output", str(tmp_path / "oc.csv"), *common],
        tls=False,
    )
    assert la.rc == 0 and lc.rc == 0, (la.err, lc.err)
    assert _csv(tmp_path / "oc.csv")[1] == ["1", "11", "11"]


def _fake_matcher(port, items, tamper):
    """A plaintext connector running a real matcher party, passing its SumResult through
    ``tamper``."""
    settings = psi.PsiSettings(compute="sum", reveal="both", batch_size=65536)
    conn = Connection(
        connect_tcp("127.0.0.1", port, timeout=20), max_frame=1 << 26, idle_timeout=30
    )
    party = None
    try:
        hello = Hello.build(
            role="connector",
            tool_version="fake",
            protocol_version=psi.PROTOCOL_VERSION,
            settings=settings.as_dict(),
            input_settings={"normalize": ["strip"], "key_columns": 1, "duplicates": "dedup"},
            set_size=len(items),
        )
        hs = run_handshake(conn, hello, max_peer_size=None)
        party = psi.create_sum_party(
            settings,
            role="connector",
            items=[i.encode() for i in items],
            peer_size=hs.peer_size,
            session_id=hs.session_id,
        )

        def send(msgs):
            for m in msgs:
                conn.send(FrameKind.MESSAGE, tamper(m, party))

        send(party.start())
        while True:
            kind, body = conn.recv()
            if kind != FrameKind.MESSAGE:
                return kind
            send(party.handle(psi.decode_sum_message(body, settings, hs.session_id)))
    except Exception as exc:  # noqa: BLE001
        return exc
    finally:
        if party is not None:
            party.close()
        conn.close(flush_timeout=2)


@pytest.mark.parametrize("what", ["out_of_range", "not_a_unit"])
def test_invalid_sum_ciphertext_from_the_peer_exits_1(tmp_path, listeners, what):
    h = _write_holder(tmp_path / "h.csv")
    lst = listeners(
        tmp_path,
        "--insecure-no-tls",
        "--input",
        h,
        *HOLDER_OPTS,
        "--compute",
        "sum",
        "--output",
        str(tmp_path / "o.csv"),
    )

    def tamper(m, party):
        if isinstance(m, SumResult):
            pk = party._pk
            from fedcrypto.serialization import ObjectType, Writer, pack

            c = pk.nsquare + 1 if what == "out_of_range" else pk.n
            w = Writer().u8(0).u16(0).u64(1).uint(c, pk.ciphertext_bytes)
            vec = pack(ObjectType.PAILLIER_ENCRYPTED_VECTOR, w.getvalue(), param=pk.fingerprint)
            return SumResult(
                param=m.param,
                has_count=m.has_count,
                below_threshold=m.below_threshold,
                count=m.count,
                ciphertexts=vec,
            ).to_bytes()
        return m.to_bytes()

    _fake_matcher(lst.port, OTHER_IDS, tamper)
    la = lst.wait()
    la.assert_clean_failure(1, "invalid sum ciphertext")
    assert not (tmp_path / "o.csv").exists()
    assert paillier  # the key type used by the fake matcher


def test_value_column_without_compute_sum(tmp_path):
    h = _write_holder(tmp_path / "h.csv")
    p = run_tool(
        "connect",
        "--peer",
        "127.0.0.1:9",
        "--insecure-no-tls",
        "--input",
        h,
        *HOLDER_OPTS,
        "--output",
        str(tmp_path / "o.csv"),
    )
    p.assert_clean_failure(2, "--value-column needs --compute sum")
    assert not os.path.exists(tmp_path / "o.csv")
