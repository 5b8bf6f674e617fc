"""The package's shape (issue 9, items 2 and 3): no import cycle, one immutability idiom.

The modules of :mod:`fedcrypto.paillier` used to import each other in a ring
(``_keys`` <-> ``_crypto``, ``_encoding``, ``_packing``, ``_pool``, ``_vector``),
patched with imports inside functions and ``TYPE_CHECKING`` blocks; the key
parameters now live in ``_params`` and everything depends on it downward.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import pathlib
import pickle

import numpy as np
import pytest

from fedcrypto import paillier
from fedcrypto._immutable import Immutable

PACKAGE = pathlib.Path(paillier.__file__).parent
MODULES = sorted(p for p in PACKAGE.glob("*.py"))


def _tree(path: pathlib.Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _internal_imports(path: pathlib.Path) -> set[str]:
    """Sibling modules a module imports (``from . import x``, ``from ._x import y``)."""
    found: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                found.add(node.module)
            else:
                found.update(alias.name for alias in node.names)
    return found


def test_no_function_level_imports_and_no_type_checking_blocks() -> None:
    offenders = []
    for path in MODULES:
        tree = _tree(path)
        for func in ast.walk(tree):
            if isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                for node in ast.walk(func):
                    if isinstance(node, ast.Import | ast.ImportFrom):
                        offenders.append(f"{path.name}:{node.lineno} import in a function")
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "TYPE_CHECKING":
                offenders.append(f"{path.name}:{node.lineno} TYPE_CHECKING")
    assert offenders == []


def test_module_graph_is_acyclic_with_params_at_the_bottom() -> None:
    graph = {p.stem: _internal_imports(p) for p in MODULES if p.stem != "__init__"}
    assert graph["_params"] <= set(), "the parameters module imports no sibling"
    for name in ("_crypto", "_encoding", "_pool", "_vector", "_packing", "_keys"):
        assert "_params" in graph[name], name
    assert not any("_keys" in deps for name, deps in graph.items() if name != "_keys")
    # Kahn's algorithm: every module can be ordered after the ones it imports.
    remaining = dict(graph)
    while remaining:
        ready = [m for m, deps in remaining.items() if not deps & remaining.keys()]
        assert ready, f"import cycle among {sorted(remaining)}"
        for m in ready:
            del remaining[m]


def test_no_hand_written_immutability() -> None:
    for path in MODULES:
        text = path.read_text(encoding="utf-8")
        assert "object.__setattr__" not in text, path.name
        assert "def __reduce__" not in text, path.name
        assert "def __setattr__" not in text, path.name
        assert "_Frozen" not in text, path.name


@pytest.fixture(scope="module")
def objects(sk: paillier.PaillierPrivateKey, pk: paillier.PaillierPublicKey) -> dict[str, object]:
    scheme = paillier.PackingScheme(bits=8, parties=2, alpha=1.0)
    return {
        "public key": pk,
        "private key": sk,
        "encrypted vector": pk.encrypt([1, 2]),
        "packed vector": scheme.encrypt(pk, np.zeros(3)),
        "encoding": paillier.Encoding(True, 8),
        "packing scheme": scheme,
        "randomizer pool": paillier.RandomizerPool(pk),
    }


@pytest.mark.parametrize(
    "name",
    [
        "public key",
        "private key",
        "encrypted vector",
        "packed vector",
        "encoding",
        "packing scheme",
        "randomizer pool",
    ],
)
def test_every_value_uses_the_one_immutable_helper(objects, name) -> None:
    obj = objects[name]
    assert isinstance(obj, Immutable)
    assert "__reduce__" not in vars(type(obj))
    # Only a frozen dataclass brings its own (raising) __setattr__, as the helper documents.
    assert "__setattr__" not in vars(type(obj)) or dataclasses.is_dataclass(obj)
    with pytest.raises(AttributeError):
        obj._anything = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(obj)
    assert copy.copy(obj) is obj and copy.deepcopy(obj) is obj


def test_private_key_secrets(sk: paillier.PaillierPrivateKey) -> None:
    text = repr(sk) + str(sk) + repr(sk.public_key())
    for secret in (sk._p, sk._q, sk._hp, sk._hq):
        assert str(secret) not in text and f"{secret:x}"[:12] not in text
    again = paillier.PaillierPrivateKey.from_private_bytes(
        sk.private_bytes(), unsafe_allow_small_keys=True
    )
    assert again == sk and hash(again) == hash(sk) and again is not sk
    assert sk.public_key() == again.public_key()
    assert isinstance(sk.public_key(), paillier.PaillierPublicKey)
    with pytest.raises(AttributeError):
        sk._p = 3  # type: ignore[misc]
