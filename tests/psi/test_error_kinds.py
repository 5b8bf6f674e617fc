"""Whose fault is it?  Every PSI error is a LocalProtocolError (this side's caller misused the
API) or a RemoteProtocolError (the peer sent something wrong), converted at the door where
peer data enters (``decode_message``, ``PsiParty.handle``); plus the immutability of the
protocol's values and the structure of the package (no function-level imports)."""

from __future__ import annotations

import ast
import copy
import pickle
from dataclasses import FrozenInstanceError, replace
from pathlib import Path

import numpy as np
import pytest

import fedcrypto.psi as psi_pkg
from fedcrypto._immutable import Immutable
from fedcrypto.exceptions import (
    InvalidArgumentError,
    InvalidTypeError,
    LocalProtocolError,
    ProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.psi import (
    MaskedBatch,
    PsiResult,
    PsiSettings,
    RsaPublicKey,
    TagReply,
    create_party,
    decode_message,
    run_pair,
)
from fedcrypto.psi._messages import message_param

SID = bytes(range(32))


def _pair(settings: PsiSettings, n: int = 3):  # type: ignore[no-untyped-def]
    kw = dict(peer_size=n, session_id=SID)
    items = [b"x%d" % i for i in range(n)]
    return (
        create_party(settings, role="listener", items=items, **kw),
        create_party(settings, role="connector", items=items, **kw),
    )


# -- local: this side's caller ------------------------------------------------------------------
def test_caller_misuse_is_local() -> None:
    s = PsiSettings(workers=1, batch_size=4)
    a, b = _pair(s)
    with pytest.raises(LocalProtocolError, match="before start"):
        a.handle(b.start()[0])
    a.start()
    with pytest.raises(LocalProtocolError, match="already called"):
        a.start()
    with pytest.raises(LocalProtocolError, match="not complete"):
        a.result()
    with pytest.raises(InvalidTypeError):
        a.handle(b"raw bytes")  # type: ignore[arg-type]
    a.close()
    b.close()


def test_use_after_failure_and_after_completion_is_local() -> None:
    s = PsiSettings(workers=1, batch_size=4)
    a, b = _pair(s)
    a.start()
    msgs = b.start()
    with pytest.raises(RemoteProtocolError):
        a.handle(replace(msgs[0], index=7))
    with pytest.raises(LocalProtocolError, match="already failed"):
        a.handle(msgs[0])
    ra, rb = run_pair(s, [b"a"], [b"a"])
    assert ra.count == rb.count == 1
    a2, b2 = _pair(s, n=1)
    out_a, out_b = a2.start(), b2.start()
    (reply_b,) = b2.handle(out_a[0])
    (reply_a,) = a2.handle(out_b[0])
    a2.handle(reply_b)
    assert a2.done
    with pytest.raises(LocalProtocolError, match="after the protocol completed"):
        a2.handle(reply_b)
    b2.close()


# -- remote: what the peer sent -----------------------------------------------------------------
def test_peer_faults_are_remote() -> None:
    s = PsiSettings(workers=1, batch_size=2)
    param = message_param(s, SID)
    cases = [
        MaskedBatch(param=param, index=1, total=2, data=bytes(64), elem_size=32),  # order
        MaskedBatch(param=param, index=0, total=2, data=bytes(32), elem_size=32),  # count
        TagReply(param=param, index=5, total=5, data=b"", elem_size=16),  # never sent
        MaskedBatch(param=bytes(16), index=0, total=2, data=bytes(64), elem_size=32),  # session
    ]
    for msg in cases:
        a, _ = _pair(s)
        a.start()
        with pytest.raises(RemoteProtocolError):
            a.handle(msg)


def test_decode_message_door() -> None:
    s = PsiSettings(workers=1)
    key = RsaPublicKey(param=message_param(s, SID), n=(1 << 2047) + 1, e=65537).to_bytes()
    with pytest.raises(RemoteProtocolError, match="not a message of the ecdh protocol"):
        decode_message(key, s, SID)
    with pytest.raises(SerializationError):
        decode_message(b"\x00" * 40, s, SID)
    with pytest.raises(InvalidTypeError):  # not bytes: the caller's bug
        decode_message("text", s, SID)  # type: ignore[arg-type]


def test_protocol_error_is_never_raised_bare() -> None:
    """No ``raise ProtocolError(`` left in psi (every one says whose fault it is)."""
    root = Path(psi_pkg.__file__).parent
    for path in root.glob("*.py"):
        assert "raise ProtocolError(" not in path.read_text(), path
    assert issubclass(LocalProtocolError, ProtocolError)
    assert issubclass(RemoteProtocolError, ProtocolError)


# -- immutability ----------------------------------------------------------------------------------
def test_messages_settings_and_results_are_immutable() -> None:
    s = PsiSettings()
    msg = MaskedBatch(param=bytes(16), index=0, total=1, data=bytes(32), elem_size=32)
    res = PsiResult(indices=np.arange(3, dtype=np.int64), count=3)
    for obj in (s, msg, res, RsaPublicKey(param=bytes(16), n=15, e=3)):
        assert isinstance(obj, Immutable)
        with pytest.raises(FrozenInstanceError):
            obj.count = 1  # type: ignore[misc]
        with pytest.raises(TypeError, match="cannot be pickled"):
            pickle.dumps(obj)
        assert copy.copy(obj) is obj and copy.deepcopy(obj) is obj
    assert res.indices is not None
    with pytest.raises(ValueError):
        res.indices[0] = 99
    assert replace(s, reveal="count").reveal == "count"  # new values from old ones


def test_message_constructor_checks_fields() -> None:
    ok = dict(param=bytes(16), index=0, total=1, data=bytes(32), elem_size=32)
    for bad, err in (
        (dict(param=b"short"), InvalidArgumentError),
        (dict(param="x" * 16), InvalidTypeError),
        (dict(index=-1), InvalidArgumentError),
        (dict(total=1 << 32), InvalidArgumentError),
        (dict(elem_size=0), InvalidArgumentError),
        (dict(data=bytes(33)), InvalidArgumentError),
        (dict(data=bytearray(32)), InvalidTypeError),
        (dict(index=True), InvalidTypeError),
    ):
        with pytest.raises(err):
            MaskedBatch(**{**ok, **bad})
    with pytest.raises(InvalidArgumentError):
        RsaPublicKey(param=bytes(16), n=15, e=1 << 32)


# -- structure -------------------------------------------------------------------------------------
def test_no_function_level_imports_in_psi() -> None:
    """The factory lives apart from the party classes: no import inside a function."""
    root = Path(psi_pkg.__file__).parent
    offenders = []
    for path in root.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        offenders.append(f"{path.name}:{inner.lineno}")
    assert offenders == []
    assert not (root / "__main__.py").exists()  # `python -m fedcrypto psi` instead
