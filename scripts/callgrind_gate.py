"""Regression gate for the C kernel that a noisy machine cannot disturb: instruction counts.

Runs ``benchmarks/callgrind/kernel_ops.py`` (fixed inputs, one thread) once under
``valgrind --tool=callgrind``, counting instructions only inside each kernel entry point, one
dump per call, and compares each count with ``benchmarks/callgrind/baseline.json``.

    python scripts/callgrind_gate.py            # check: exit 1 when a count moved beyond tolerance
    python scripts/callgrind_gate.py --update   # write a new baseline (after a deliberate change)

A count that *drops* beyond the tolerance fails too: re-baseline so the gate stays tight.
Counts depend on the GMP build (version, and for a fat GMP the CPU it dispatches to), so the
baseline records the GMP version and the CPU model and the gate refuses to compare across
either (exit 2; CI then says the gate did not run).
Needs valgrind (``apt-get install valgrind``); about 20 s.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPS_SCRIPT = ROOT / "benchmarks" / "callgrind" / "kernel_ops.py"
BASELINE = ROOT / "benchmarks" / "callgrind" / "baseline.json"
DEFAULT_TOLERANCE = 0.02
#: The operations of kernel_ops.py, in the order they run.
OPS = (
    "powmod_4096",
    "powmod_secret_4096",
    "mulmod_4096",
    "fixed_base_secret_4096",
    "multi_powmod_4096",
    "crt_2048",
    "h2c25519",
)
#: Every kernel call goes through the glue's ``run_entry`` (argument checks, then the batch loop
#: with the GIL released): counting inside it counts exactly the kernel's work.  The thin
#: ``*_py`` wrappers tail-call it, so they cannot be the toggle.
ENTRY = "run_entry"


def measure(python: str) -> tuple[dict[str, int], str]:
    """Instruction counts per operation, and the GMP version, from one callgrind run."""
    gmp = subprocess.run(  # noqa: S603 - our own fixed command line
        [python, "-c", "import fedcrypto; print(fedcrypto.backend_info().get('gmp', '?'))"],
        check=True,
        capture_output=True,
        text=True,
        env={"FEDCRYPTO_BACKEND": "native", "PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cg.out"
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={ENTRY}",
            f"--dump-after={ENTRY}",
            f"--callgrind-out-file={out}",
            python,
            str(OPS_SCRIPT),
            *OPS,
        ]
        subprocess.run(  # noqa: S603 - our own fixed command line
            cmd, check=True, capture_output=True, env={"PATH": "/usr/bin:/bin"}
        )
        parts = sorted(
            (p for p in Path(tmp).glob("cg.out.*") if re.fullmatch(r"cg\.out\.\d+", p.name)),
            key=lambda p: int(p.name.rsplit(".", 1)[1]),
        )
        counts = [_total(p.read_text()) for p in parts]
    # the setup (building the fixed-base table) goes through run_entry too: the last dumps are the
    # operations, in order
    if len(counts) < len(OPS):
        raise SystemExit(f"expected at least {len(OPS)} dumps, got {len(counts)}")
    return dict(zip(OPS, counts[-len(OPS) :], strict=True)), gmp


def _cpu_model() -> str:
    """The CPU's model name (a fat GMP dispatches on it), or "?"."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return "?"
    m = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
    return m.group(1).strip() if m else "?"


def _total(text: str) -> int:
    m = re.search(r"^(?:summary|totals):\s*(\d+)", text, re.MULTILINE)
    if m is None:
        raise SystemExit("no instruction total in a callgrind dump")
    return int(m.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--update", action="store_true", help="write a new baseline")
    parser.add_argument("--python", default=sys.executable, help="interpreter with fedcrypto")
    parser.add_argument("--tolerance", type=float, default=None, help="relative (default 0.02)")
    args = parser.parse_args(argv)
    counts, gmp = measure(args.python)
    cpu = _cpu_model()
    if args.update:
        tolerance = args.tolerance or DEFAULT_TOLERANCE
        doc = {"gmp": gmp, "cpu": cpu, "tolerance": tolerance, "ops": counts}
        BASELINE.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"baseline written to {BASELINE.relative_to(ROOT)} (GMP {gmp})")
        for op, n in counts.items():
            print(f"  {op:<26} {n:>15,}")
        return 0
    base = json.loads(BASELINE.read_text(encoding="utf-8"))
    if base["gmp"] != gmp:
        print(f"baseline is for GMP {base['gmp']}, this build runs GMP {gmp}: re-baseline")
        return 2
    if base.get("cpu") != cpu:
        # a fat GMP picks its assembly by CPU: counts from another CPU are not comparable
        print(f"baseline is for CPU {base.get('cpu')!r}, this is {cpu!r}: re-baseline")
        return 2
    tol = args.tolerance if args.tolerance is not None else float(base["tolerance"])
    failed = False
    print(f"{'operation':<26} {'baseline':>15} {'now':>15} {'change':>8}")
    for op, now in counts.items():
        was = int(base["ops"][op])
        change = (now - was) / max(was, 1)
        bad = abs(change) > tol
        failed |= bad
        flag = "  FAIL" if bad else ""
        print(f"{op:<26} {was:>15,} {now:>15,} {change:>+7.2%}{flag}")
    print(f"tolerance ±{tol:.1%}: {'FAILED' if failed else 'ok'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
