"""The wheel tooling: licences added to a repaired wheel with a valid RECORD; scripts parse."""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ADD = ROOT / "scripts" / "wheel" / "add_licences.py"


def _fake_wheel(path: Path, libs: list[str]) -> None:
    files = {"fedcrypto/__init__.py": b"", **{f"fedcrypto.libs/{n}": b"\x7fELF" for n in libs}}
    record = "".join(f"{n},sha256=x,{len(d)}\n" for n, d in files.items())
    record += "fedcrypto-0.1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
        z.writestr("fedcrypto-0.1.0.dist-info/RECORD", record)


def _licences(tmp: Path) -> Path:
    d = tmp / "gmp"
    d.mkdir()
    (d / "COPYING.LESSERv3").write_text("LGPL text")
    (d / "COPYINGv2").write_text("GPL text")
    return d


def test_licences_are_added_with_record_hashes(tmp_path: Path) -> None:
    whl = tmp_path / "fedcrypto-0.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    _fake_wheel(whl, ["libgmp-24303959.so.10"])
    lic = _licences(tmp_path)
    subprocess.run([sys.executable, str(ADD), str(whl), f"gmp={lic}"], check=True)
    with zipfile.ZipFile(whl) as z:
        names = z.namelist()
        record = z.read("fedcrypto-0.1.0.dist-info/RECORD").decode().splitlines()
        assert "fedcrypto.libs/licenses/gmp/COPYING.LESSERv3" in names
        assert record[-1] == "fedcrypto-0.1.0.dist-info/RECORD,,"
        entries = {ln.split(",")[0]: ln for ln in record}
        for name in ("COPYING.LESSERv3", "COPYINGv2"):
            arc = f"fedcrypto.libs/licenses/gmp/{name}"
            data = z.read(arc)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert entries[arc] == f"{arc},sha256={digest.decode()},{len(data)}"
        assert "fedcrypto/__init__.py" in names and z.read("fedcrypto/__init__.py") == b""


def test_a_vendored_library_without_a_licence_fails(tmp_path: Path) -> None:
    whl = tmp_path / "fedcrypto-0.1.0-cp311-cp311-manylinux_2_28_x86_64.whl"
    _fake_wheel(whl, ["libgmp-1.so.10", "libcrypto-2.so.3"])
    before = whl.read_bytes()
    lic = _licences(tmp_path)
    res = subprocess.run(
        [sys.executable, str(ADD), str(whl), f"gmp={lic}"], capture_output=True, text=True
    )
    assert res.returncode == 1 and "libcrypto-2.so.3" in res.stderr
    assert whl.read_bytes() == before


@pytest.mark.parametrize(
    "script",
    ["build_wheel.sh", "build_docs.sh", "wheel/gmp.sh", "wheel/repair.sh", "wheel/before_all.sh"],
)
def test_shell_scripts_parse(script: str) -> None:
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / script)], check=True)


def _load(path: Path) -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_callgrind_gate_lists_the_operations_kernel_ops_runs() -> None:
    gate = _load(ROOT / "scripts" / "callgrind_gate.py")
    ops = _load(ROOT / "benchmarks" / "callgrind" / "kernel_ops.py")
    assert gate.OPS == ops.OPS  # type: ignore[attr-defined]
    baseline = (ROOT / "benchmarks" / "callgrind" / "baseline.json").read_text()
    import json

    assert set(json.loads(baseline)["ops"]) == set(gate.OPS)  # type: ignore[attr-defined]
    assert gate._total("events: Ir\nsummary: 1234\n") == 1234  # type: ignore[attr-defined]
    assert ops.det_int("x", 100) == ops.det_int("x", 100)  # type: ignore[attr-defined]
    assert ops.det_int("x", 100).bit_length() == 100  # type: ignore[attr-defined]
