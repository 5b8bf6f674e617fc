"""Add the licence texts of every library auditwheel vendored into ``fedcrypto.libs/``.

Usage: ``python add_licences.py WHEEL NAME=DIR [NAME=DIR ...]``: for each vendored library whose
file name starts with ``lib<NAME>-`` (auditwheel's ``lib<name>-<hash>.so...``), the files of
``DIR`` are added under ``fedcrypto.libs/licenses/<NAME>/`` and the wheel's RECORD is updated.
Fails, leaving the wheel as it was, when a vendored library has no licence given: nothing is
shipped without its licence.
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
import tempfile
import zipfile
from pathlib import Path

LIBS = "fedcrypto.libs/"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def main(argv: list[str]) -> int:
    wheel, specs = Path(argv[0]), dict(a.split("=", 1) for a in argv[1:])
    with zipfile.ZipFile(wheel) as zin:
        names = zin.namelist()
        vendored = [n[len(LIBS) :] for n in names if n.startswith(LIBS) and ".so" in n]
        record = next(n for n in names if n.endswith(".dist-info/RECORD"))
        extra: dict[str, bytes] = {}
        for lib in vendored:
            key = next(
                (k for k in specs if lib.startswith(f"lib{k}-") or lib.startswith(f"lib{k}.")), None
            )
            if key is None:
                print(f"no licence given for the vendored {lib}", file=sys.stderr)
                return 1
            for f in sorted(Path(specs[key]).iterdir()):
                if f.is_file():
                    extra[f"{LIBS}licenses/{key}/{f.name}"] = f.read_bytes()
        fd, tmp = tempfile.mkstemp(suffix=".whl", dir=wheel.parent)
        os.close(fd)
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
            for item in zin.infolist():
                if item.filename != record:
                    zout.writestr(item, zin.read(item))
            for n, d in sorted(extra.items()):
                zout.writestr(n, d)
            lines = zin.read(record).decode().rstrip("\n").split("\n")
            lines = [ln for ln in lines if not ln.startswith(f"{record},")]
            lines += [_record_line(n, d) for n, d in sorted(extra.items())]
            lines.append(f"{record},,")
            zout.writestr(zin.getinfo(record), "\n".join(lines) + "\n")
    os.replace(tmp, wheel)
    print(f"{wheel.name}: licences for {', '.join(sorted(specs))} added ({len(extra)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
