"""The native curve25519 hash-to-curve kernel (``fedcrypto._native.curve25519_h2c_u``).

Known answers from RFC 9380 (tests/vectors/rfc9380), differential tests against the
Python/gmpy2 reference in fedcrypto/psi/_h2c.py (including the addition's special
cases: equal points, the 2-torsion point, field elements >= p), thread-count
independence and typed errors for bad arguments.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._backend import get_backend
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError
from fedcrypto.psi import _h2c

_native = pytest.importorskip("fedcrypto._native")
h2c_u = _native.curve25519_h2c_u

VEC = Path(__file__).resolve().parent.parent / "vectors" / "rfc9380"
P = _h2c.CURVE25519_P
DST = b"fedcrypto-test-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_RO_"


def _vectors() -> dict:
    return json.loads((VEC / "curve25519_XMD_SHA-512_ELL2_RO_.json").read_text())


def _uniform(msgs: list[bytes], dst: bytes) -> bytes:
    return b"".join(_h2c.expand_message_xmd(m, dst, 96, "sha512") for m in msgs)


def _be48(x: int) -> bytes:
    return x.to_bytes(48, "big")


# -- known answers ------------------------------------------------------------------------
def test_rfc9380_vectors_native() -> None:
    data = _vectors()
    dst = data["dst"].encode()
    msgs = [v["msg"].encode() for v in data["vectors"]]
    assert len(msgs) == 5
    uniform = _uniform(msgs, dst)
    # the uniform bytes are the RFC's u values (hash_to_field)
    for i, v in enumerate(data["vectors"]):
        rec = uniform[96 * i : 96 * (i + 1)]
        got_u = [int.from_bytes(rec[:48], "big") % P, int.from_bytes(rec[48:], "big") % P]
        assert got_u == [int(x, 16) for x in v["u"]]
    for threads in (1, 2):
        out = h2c_u(uniform, threads)
        assert len(out) == 32 * len(msgs)
        for i, v in enumerate(data["vectors"]):
            assert out[32 * i : 32 * (i + 1)] == int(v["P"]["x"], 16).to_bytes(32, "little")


def test_rfc9380_vectors_through_hash_to_u_many(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _vectors()
    dst = data["dst"].encode()
    msgs = [v["msg"].encode() for v in data["vectors"]]
    want = b"".join(int(v["P"]["x"], 16).to_bytes(32, "little") for v in data["vectors"])
    # force the native path whatever the active backend
    monkeypatch.setattr(_h2c, "_native_h2c", lambda: h2c_u)
    assert _h2c.curve25519_hash_to_u_many(msgs, dst) == want
    assert _h2c.curve25519_hash_to_u_many(msgs, dst, threads=2) == want
    # and the Python/gmpy2 fallback
    monkeypatch.setattr(_h2c, "_native_h2c", lambda: None)
    assert _h2c.curve25519_hash_to_u_many(msgs, dst) == want


def test_native_path_selected_by_backend() -> None:
    if get_backend().name == "native":
        assert _h2c._native_h2c() is h2c_u
    else:
        assert _h2c._native_h2c() is None


# -- expand_message_xmd batch -------------------------------------------------------------
@pytest.mark.parametrize("dst", [b"x", DST, b"D" * 255, b"long-dst-" * 40])
def test_uniform_many_matches_expand_message_xmd(dst: bytes) -> None:
    msgs = [b"", b"a", b"abc" * 100, bytes(range(256)) * 5]
    assert _h2c._curve25519_uniform_many(msgs, dst) == _uniform(msgs, dst)


def test_uniform_many_rejects_empty_dst() -> None:
    with pytest.raises(InvalidArgumentError):
        _h2c.curve25519_hash_to_u_many([b"a"], b"")


# -- differential: native against the Python/gmpy2 reference ------------------------------
@settings(max_examples=60, deadline=None)
@given(
    msgs=st.lists(st.binary(min_size=0, max_size=300), min_size=0, max_size=40),
    dst=st.binary(min_size=1, max_size=300),
)
def test_native_matches_python_on_messages(msgs: list[bytes], dst: bytes) -> None:
    uniform = _h2c._curve25519_uniform_many(msgs, dst)
    assert h2c_u(uniform, 1) == _h2c._curve25519_u_from_uniform_py(uniform)


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=96, max_size=96))
def test_native_matches_python_on_raw_uniform(rec: bytes) -> None:
    assert h2c_u(rec, 1) == _h2c._curve25519_u_from_uniform_py(rec)


_U = st.one_of(
    st.integers(min_value=0, max_value=2**384 - 1),
    st.sampled_from([0, 1, 2, P - 1, P, P + 1, 2 * P, 2**255 - 1, 2**255, 2**384 - 1]),
    st.integers(min_value=0, max_value=40),
)


@settings(max_examples=100, deadline=None)
@given(u0=_U, u1=_U, how=st.sampled_from(["free", "equal", "negated"]))
def test_native_matches_python_special_cases(u0: int, u1: int, how: str) -> None:
    """Edge field elements and the point-addition special cases: ``u1 = u0`` and
    ``u1 = -u0`` give ``P1 = P2`` (the doubling branch); ``u = 0`` maps to the
    2-torsion point (0, 0), so ``u0 = u1 = 0`` sums to the identity (u = 0)."""
    if how == "equal":
        u1 = u0
    elif how == "negated":
        u1 = (-u0) % P
    rec = _be48(u0) + _be48(u1)
    assert h2c_u(rec, 1) == _h2c._curve25519_u_from_uniform_py(rec)


def test_identity_and_two_torsion() -> None:
    assert h2c_u(bytes(96), 1) == bytes(32)  # 8 * ((0,0) + (0,0)) = identity -> u = 0
    rec = _be48(0) + _be48(12345)
    assert h2c_u(rec, 1) == _h2c._curve25519_u_from_uniform_py(rec) != bytes(32)


def test_many_messages_and_thread_counts() -> None:
    msgs = [b"user-%010d" % i for i in range(1500)] + [b"", b"\x00" * 1000]
    uniform = _h2c._curve25519_uniform_many(msgs, DST)
    one = h2c_u(uniform, 1)
    assert h2c_u(uniform, 2) == one
    assert h2c_u(uniform, 3) == one
    assert h2c_u(bytearray(uniform), 7) == one
    assert h2c_u(memoryview(uniform), 2) == one
    sample = list(range(0, len(msgs), 97)) + [len(msgs) - 2, len(msgs) - 1]
    for i in sample:
        rec = uniform[96 * i : 96 * (i + 1)]
        assert one[32 * i : 32 * (i + 1)] == _h2c._curve25519_u_from_uniform_py(rec)
    assert len(set(one[32 * i : 32 * (i + 1)] for i in range(len(msgs)))) == len(msgs)


# -- bad arguments ------------------------------------------------------------------------
def test_empty_batch() -> None:
    assert h2c_u(b"", 1) == b""
    assert _h2c.curve25519_hash_to_u_many([], DST) == b""


@pytest.mark.parametrize("n", [1, 48, 95, 97, 191])
def test_bad_length(n: int) -> None:
    with pytest.raises(InvalidArgumentError, match="multiple of 96"):
        h2c_u(bytes(n), 1)
    with pytest.raises(InvalidArgumentError):
        _h2c._curve25519_u_from_uniform_py(bytes(n))


@pytest.mark.parametrize("obj", ["abc" * 32, 96, None, [0] * 96])
def test_bad_type(obj: object) -> None:
    with pytest.raises(InvalidTypeError):
        h2c_u(obj, 1)


def test_non_contiguous_buffer() -> None:
    with pytest.raises(InvalidTypeError):
        h2c_u(memoryview(bytes(192))[::2], 1)


@pytest.mark.parametrize("threads", [0, -1])
def test_bad_threads(threads: int) -> None:
    with pytest.raises(InvalidArgumentError):
        h2c_u(bytes(96), threads)
    with pytest.raises(InvalidArgumentError):
        _h2c.curve25519_hash_to_u_many([b"a"], DST, threads=threads)


def test_threads_type() -> None:
    with pytest.raises(InvalidTypeError):
        _h2c.curve25519_hash_to_u_many([b"a"], DST, threads=1.5)  # type: ignore[arg-type]
