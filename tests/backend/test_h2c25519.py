"""The backend's curve25519 hash-to-curve capability (``Backend.curve25519_h2c_u``).

Every backend offers it: the native one runs the C kernel
(``fedcrypto._native.curve25519_h2c_u``), gmpy2 and pure a Python implementation over
their number type.  Known answers from RFC 9380 (tests/vectors/rfc9380) on every
backend; differential tests between the backends and against the RFC-literal point
arithmetic of :mod:`fedcrypto.hazmat.h2c` (including the addition's special cases:
equal points, the 2-torsion point, field elements >= p); thread-count independence;
typed errors for bad arguments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fedcrypto._backend import BACKEND_NAMES, Backend, get_backend, load_backend
from fedcrypto._backend._h2c25519 import Curve25519Hasher
from fedcrypto._backend._intops import PureIntOps
from fedcrypto.exceptions import BackendUnavailableError, InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat import h2c


def _available() -> dict[str, Backend]:
    out = {}
    for name in BACKEND_NAMES:
        try:
            out[name] = load_backend(name)
        except BackendUnavailableError:
            continue
    return out


BACKENDS = _available()
NATIVE = BACKENDS.get("native")
needs_native = pytest.mark.skipif(NATIVE is None, reason="native kernel not built")
#: Python references: pure ints always, gmpy2 when installed.
REFS = [b for n, b in BACKENDS.items() if n != "native"]

VEC = Path(__file__).resolve().parent.parent / "vectors" / "rfc9380"
P = h2c.CURVE25519_P
DST = b"fedcrypto-test-V01-CS02-with-curve25519_XMD:SHA-512_ELL2_RO_"


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Backend:
    return BACKENDS[request.param]


def _vectors() -> dict:
    return json.loads((VEC / "curve25519_XMD_SHA-512_ELL2_RO_.json").read_text())


def _uniform(msgs: list[bytes], dst: bytes) -> bytes:
    return b"".join(h2c.expand_message_xmd(m, dst, 96, "sha512") for m in msgs)


def _be48(x: int) -> bytes:
    return x.to_bytes(48, "big")


def _point_path(rec: bytes) -> bytes:
    """The RFC-literal affine-point computation of one record (hazmat.h2c)."""
    u0 = int.from_bytes(rec[:48], "big") % P
    u1 = int.from_bytes(rec[48:], "big") % P
    pt = h2c._mont_clear_cofactor(
        h2c._mont_add(h2c.curve25519_map_to_curve(u0), h2c.curve25519_map_to_curve(u1))
    )
    return (0 if pt is None else pt[0]).to_bytes(32, "little")


def _all_agree(uniform: bytes) -> bytes:
    outs = {name: b.curve25519_h2c_u(uniform) for name, b in BACKENDS.items()}
    first = next(iter(outs.values()))
    assert all(o == first for o in outs.values()), {k: v.hex()[:16] for k, v in outs.items()}
    return first


# -- capability ---------------------------------------------------------------------------
def test_capability_flag() -> None:
    assert get_backend().native_h2c25519 == (get_backend().name == "native")
    for name, b in BACKENDS.items():
        assert b.native_h2c25519 == (name == "native")


# -- known answers ------------------------------------------------------------------------
def test_rfc9380_vectors(backend: Backend) -> None:
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
    want = b"".join(int(v["P"]["x"], 16).to_bytes(32, "little") for v in data["vectors"])
    for threads in (1, 2):
        assert backend.curve25519_h2c_u(uniform, threads=threads) == want


def test_rfc9380_vectors_through_hash_to_u_many() -> None:
    data = _vectors()
    dst = data["dst"].encode()
    msgs = [v["msg"].encode() for v in data["vectors"]]
    want = b"".join(int(v["P"]["x"], 16).to_bytes(32, "little") for v in data["vectors"])
    assert h2c.curve25519_hash_to_u_many(msgs, dst) == want
    assert h2c.curve25519_hash_to_u_many(msgs, dst, threads=2) == want
    assert h2c.curve25519_hash_to_u_many(tuple(bytearray(m) for m in msgs), dst) == want
    assert h2c.curve25519_hash_to_u_many([memoryview(m) for m in msgs], dst) == want


# -- expand_message_xmd batch -------------------------------------------------------------
@pytest.mark.parametrize("dst", [b"x", DST, b"D" * 255, b"long-dst-" * 40])
def test_uniform_many_matches_expand_message_xmd(dst: bytes) -> None:
    msgs = [b"", b"a", b"abc" * 100, bytes(range(256)) * 5]
    assert h2c._curve25519_uniform_many(msgs, dst) == _uniform(msgs, dst)


def test_uniform_many_rejects_empty_dst() -> None:
    with pytest.raises(InvalidArgumentError):
        h2c.curve25519_hash_to_u_many([b"a"], b"")


# -- differential: every backend, and the RFC-literal point path ----------------------------
@settings(max_examples=40, deadline=None)
@given(
    msgs=st.lists(st.binary(min_size=0, max_size=300), min_size=0, max_size=20),
    dst=st.binary(min_size=1, max_size=300),
)
def test_backends_agree_on_messages(msgs: list[bytes], dst: bytes) -> None:
    uniform = h2c._curve25519_uniform_many(msgs, dst)
    out = _all_agree(uniform)
    for i in range(min(3, len(msgs))):
        assert out[32 * i : 32 * (i + 1)] == _point_path(uniform[96 * i : 96 * (i + 1)])


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=96, max_size=96))
def test_backends_agree_on_raw_uniform(rec: bytes) -> None:
    assert _all_agree(rec) == _point_path(rec)


_U = st.one_of(
    st.integers(min_value=0, max_value=2**384 - 1),
    st.sampled_from([0, 1, 2, P - 1, P, P + 1, 2 * P, 2**255 - 1, 2**255, 2**384 - 1]),
    st.integers(min_value=0, max_value=40),
)


@settings(max_examples=60, deadline=None)
@given(u0=_U, u1=_U, how=st.sampled_from(["free", "equal", "negated"]))
def test_backends_agree_on_special_cases(u0: int, u1: int, how: str) -> None:
    """Edge field elements and the point-addition special cases: ``u1 = u0`` and
    ``u1 = -u0`` give ``P1 = P2`` (the doubling branch); ``u = 0`` maps to the
    2-torsion point (0, 0), so ``u0 = u1 = 0`` sums to the identity (u = 0)."""
    if how == "equal":
        u1 = u0
    elif how == "negated":
        u1 = (-u0) % P
    rec = _be48(u0) + _be48(u1)
    assert _all_agree(rec) == _point_path(rec)


def test_identity_and_two_torsion(backend: Backend) -> None:
    # 8 * ((0,0) + (0,0)) = identity -> u = 0
    assert backend.curve25519_h2c_u(bytes(96)) == bytes(32) == _point_path(bytes(96))
    rec = _be48(0) + _be48(12345)
    assert backend.curve25519_h2c_u(rec) == _point_path(rec) != bytes(32)


def test_fast_map_matches_rfc_steps() -> None:
    """The backends' hasher maps with one exponentiation; hazmat.h2c follows the RFC's
    steps (Legendre symbol, then a square root): same points, edge elements included."""
    us = [0, 1, 2, P - 1, P - 2, *(int.from_bytes(os.urandom(32), "big") % P for _ in range(200))]
    want = [h2c.curve25519_map_to_curve(u) for u in us]
    for b in BACKENDS.values():
        ops = b._ints
        hasher = Curve25519Hasher(ops)
        got = [hasher.map_to_curve(ops.num(u)) for u in us]
        assert [(int(x), int(y)) for x, y in got] == want, b.name
    # the RFC's exceptional case 1 + 2 u^2 = 0 cannot occur: -1/2 is not a square mod p
    assert PureIntOps().jacobi((-pow(2, -1, P)) % P, P) == -1


def test_pure_backend_hasher_uses_python_ints() -> None:
    """The pure backend's implementation never leaves Python ints (no gmpy2 types)."""
    pure = load_backend("pure")
    hasher = pure._h2c25519
    x, y = hasher.map_to_curve(12345)
    assert type(x) is int and type(y) is int
    pt = hasher.add((x, y), hasher.map_to_curve(777))
    assert pt is not None and all(type(c) is int for c in pt)


@needs_native
def test_many_messages_and_thread_counts() -> None:
    assert NATIVE is not None
    msgs = [b"user-%010d" % i for i in range(1500)] + [b"", b"\x00" * 1000]
    uniform = h2c._curve25519_uniform_many(msgs, DST)
    one = NATIVE.curve25519_h2c_u(uniform, threads=1)
    assert NATIVE.curve25519_h2c_u(uniform, threads=2) == one
    assert NATIVE.curve25519_h2c_u(uniform, threads=3) == one
    assert NATIVE.curve25519_h2c_u(bytearray(uniform), threads=7) == one
    assert NATIVE.curve25519_h2c_u(memoryview(uniform), threads=None) == one
    ref = REFS[0]
    sample = list(range(0, len(msgs), 97)) + [len(msgs) - 2, len(msgs) - 1]
    for i in sample:
        rec = uniform[96 * i : 96 * (i + 1)]
        assert one[32 * i : 32 * (i + 1)] == ref.curve25519_h2c_u(rec)
    assert len(set(one[32 * i : 32 * (i + 1)] for i in range(len(msgs)))) == len(msgs)


# -- bad arguments ------------------------------------------------------------------------
def test_empty_batch(backend: Backend) -> None:
    assert backend.curve25519_h2c_u(b"") == b""
    assert h2c.curve25519_hash_to_u_many([], DST) == b""


@pytest.mark.parametrize("n", [1, 48, 95, 97, 191])
def test_bad_length(backend: Backend, n: int) -> None:
    with pytest.raises(InvalidArgumentError, match="multiple of 96"):
        backend.curve25519_h2c_u(bytes(n))


@pytest.mark.parametrize("obj", ["abc" * 32, 96, None, [0] * 96])
def test_bad_type(backend: Backend, obj: object) -> None:
    with pytest.raises(InvalidTypeError):
        backend.curve25519_h2c_u(obj)  # type: ignore[arg-type]


def test_non_contiguous_buffer(backend: Backend) -> None:
    with pytest.raises(InvalidTypeError):
        backend.curve25519_h2c_u(memoryview(bytes(192))[::2])


@pytest.mark.parametrize("threads", [0, -1])
def test_bad_threads(backend: Backend, threads: int) -> None:
    with pytest.raises(InvalidArgumentError):
        backend.curve25519_h2c_u(bytes(96), threads=threads)
    with pytest.raises(InvalidArgumentError):
        h2c.curve25519_hash_to_u_many([b"a"], DST, threads=threads)


def test_threads_type() -> None:
    with pytest.raises(InvalidTypeError):
        h2c.curve25519_hash_to_u_many([b"a"], DST, threads=1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("msgs", [b"abc", "abc", 5, None, iter([b"a"]), {b"a"}])
def test_messages_must_be_a_sequence(msgs: object) -> None:
    with pytest.raises(InvalidTypeError):
        h2c.curve25519_hash_to_u_many(msgs, DST)  # type: ignore[arg-type]


@pytest.mark.parametrize("item", ["text", 5, None])
def test_message_items_must_be_bytes(item: object) -> None:
    with pytest.raises(InvalidTypeError):
        h2c.curve25519_hash_to_u_many([b"ok", item], DST)  # type: ignore[list-item]


# -- the raw kernel entry point (the glue validates on its own too) -------------------------
@needs_native
@pytest.mark.parametrize("n", [1, 48, 95, 97, 191])
def test_kernel_bad_length(n: int) -> None:
    from fedcrypto import _native

    with pytest.raises(InvalidArgumentError, match="multiple of 96"):
        _native.curve25519_h2c_u(bytes(n), 1)


@needs_native
@pytest.mark.parametrize("obj", ["abc" * 32, 96, None, [0] * 96])
def test_kernel_bad_type(obj: object) -> None:
    from fedcrypto import _native

    with pytest.raises(InvalidTypeError):
        _native.curve25519_h2c_u(obj, 1)
    with pytest.raises(InvalidTypeError):
        _native.curve25519_h2c_u(memoryview(bytes(192))[::2], 1)
    with pytest.raises(InvalidArgumentError):
        _native.curve25519_h2c_u(bytes(96), 0)
