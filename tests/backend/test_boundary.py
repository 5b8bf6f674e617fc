"""The backend is the only door to gmpy2 and the native module (issue 9, item 1).

* A source scan: no module outside ``fedcrypto/_backend/`` imports ``gmpy2`` or
  ``fedcrypto._native`` (the kernel benchmark, which times a gmpy2 loop as its peer, is
  the one listed exception).
* The pure backend is pure: with gmpy2 made unimportable and ``FEDCRYPTO_BACKEND=pure``,
  every hazmat primitive and the PSI group operations still run and give the known answers.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import fedcrypto

PKG = Path(fedcrypto.__file__).resolve().parent
ALLOWED = {"cli/_bench_kernel.py"}  # the gmpy2 loop is the benchmark's peer


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative: resolve against the file's package
                pkg = path.relative_to(PKG).parent.parts
                base = pkg[: len(pkg) - (node.level - 1)] if node.level > 1 else pkg
                mod = ".".join(("fedcrypto", *base, *([mod] if mod else [])))
            names.add(mod)
            names.update(f"{mod}.{alias.name}" for alias in node.names)
    return names


def test_only_the_backend_imports_gmpy2_or_the_native_module() -> None:
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG).as_posix()
        if rel.startswith("_backend/") or rel in ALLOWED:
            continue
        for name in _imports(path):
            if name == "gmpy2" or name.startswith("gmpy2.") or name == "fedcrypto._native":
                offenders.append(f"{rel}: {name}")
    assert not offenders, offenders


_PURE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    sys.modules["gmpy2"] = None  # any `import gmpy2` now raises ImportError
    import fedcrypto
    from fedcrypto.hazmat import groups, h2c, modmath, rsa_blind
    from fedcrypto.psi import _dh, _ecdh
    assert fedcrypto.backend_info()["name"] == "pure"
    vec = json.load(open(sys.argv[1]))
    dst = vec["dst"].encode()
    msgs = [v["msg"].encode() for v in vec["vectors"]]
    want = b"".join(int(v["P"]["x"], 16).to_bytes(32, "little") for v in vec["vectors"])
    assert h2c.curve25519_hash_to_u_many(msgs, dst) == want
    assert h2c.curve25519_hash_to_curve(msgs[0], dst)[0] == int(vec["vectors"][0]["P"]["x"], 16)
    assert h2c.p256_hash_to_curve(b"m", b"d") is not None
    assert modmath.is_probable_prime(2**127 - 1) and not modmath.is_probable_prime(3215031751)
    assert modmath.invert(3, 7) == 5
    key = rsa_blind.RsaBlindKey.generate(512, unsafe_allow_small_keys=True)
    pub = key.public()
    hs = rsa_blind.full_domain_hash([b"a", b"b"], pub.n, b"d")
    b, r = rsa_blind.blind(hs, pub)
    assert rsa_blind.unblind_and_verify(key.sign_many(b), r, hs, pub) == key.sign_many(hs)
    assert groups.get_group("ffdhe2048").is_subgroup_element(4)
    k = _dh.new_exponent("ffdhe2048")
    own = _dh.dh_mask_own([b"x"], k, "ffdhe2048", b"d")
    assert len(_dh.dh_mask_peer([own], k, "ffdhe2048", None)) == 256
    key25 = _ecdh.new_scalar("curve25519")
    own25 = _ecdh.x25519_mask_own([b"x"], key25, b"d")
    assert len(_ecdh.x25519_mask_peer([own25], key25, None)) == 32
    assert "gmpy2" not in {m for m, v in sys.modules.items() if v is not None}
    print("ok")
    """
)


def test_pure_backend_runs_without_gmpy2() -> None:
    vec = Path(__file__).resolve().parent.parent / "vectors" / "rfc9380"
    env = dict(os.environ, FEDCRYPTO_BACKEND="pure")
    out = subprocess.run(
        [sys.executable, "-c", _PURE_SCRIPT, str(vec / "curve25519_XMD_SHA-512_ELL2_RO_.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")


def test_import_fedcrypto_stays_light() -> None:
    """`import fedcrypto` loads neither the optional extras nor hazmat/psi, and gmpy2 only
    when it is the backend (the native backend imports it lazily, on first int-level use)."""
    code = (
        "import sys, fedcrypto; "
        "from fedcrypto._backend import get_backend; "
        "skip = 'gmpy2' if get_backend().name == 'gmpy2' else ''; "
        "bad = [m for m in ('gmpy2', 'flwr', 'dask', 'ray', 'phe', 'fedcrypto.hazmat', "
        "'fedcrypto.psi', 'cryptography') if m in sys.modules and m != skip]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
