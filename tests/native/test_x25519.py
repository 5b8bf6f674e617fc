"""The native X25519 batch ladder (src_native/x25519.c, issue 12 item 4).

RFC 7748 known answers (section 5.2 single and iterated vectors, section 6.1
Diffie-Hellman), differential tests against ``cryptography``'s X25519 (random scalars and
u-coordinates, u with the top bit set, non-canonical u >= p, low-order u, batch sizes
around the 32-ladder inversion block), thread-count independence, the backend fallback
(``cryptography`` per call) agreeing with the kernel, argument errors, and the ECDH PSI
path refusing low-order and malformed peer elements on the native path.
"""

from __future__ import annotations

import os
import random

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fedcrypto import _native, backend_info
from fedcrypto._backend import get_backend, load_backend
from fedcrypto.exceptions import InvalidArgumentError, InvalidGroupElementError, InvalidTypeError
from fedcrypto.psi import _ecdh

pytestmark = pytest.mark.skipif(
    backend_info()["name"] != "native", reason="native kernel tests (FEDCRYPTO_BACKEND=native)"
)

P = 2**255 - 19

RFC7748_SINGLE = [
    (
        "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
        "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
        "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ),
    (
        "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
        "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
        "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ),
]
ITERATED = {
    1: "422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079",
    1000: "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
    1_000_000: "7c3911e0ab2586fd864497297e575e6f3bc601c0883c30df5f4dd2d24f665424",
}

#: u-coordinates of the points of order 1, 2, 4 and 8 (and their non-canonical forms).
LOW_ORDER = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P - 1,
    P,
    P + 1,
]


def _x(k: bytes, u: bytes, threads: int = 1) -> bytes:
    return _native.x25519_many(k, u, threads)


def _ref(k: bytes, us: bytes) -> bytes:
    sk = X25519PrivateKey.from_private_bytes(k)
    out = []
    for i in range(0, len(us), 32):
        try:
            out.append(sk.exchange(X25519PublicKey.from_public_bytes(us[i : i + 32])))
        except ValueError:
            out.append(bytes(32))
    return b"".join(out)


@pytest.mark.parametrize(("k", "u", "want"), RFC7748_SINGLE)
def test_rfc7748_single_vectors(k: str, u: str, want: str) -> None:
    assert _x(bytes.fromhex(k), bytes.fromhex(u)).hex() == want


def _iterate(rounds: int) -> str:
    k = u = (9).to_bytes(32, "little")
    for _ in range(rounds):
        k, u = _x(k, u), k
    return k.hex()


@pytest.mark.parametrize("rounds", [1, 1000])
def test_rfc7748_iterated_vectors(rounds: int) -> None:
    assert _iterate(rounds) == ITERATED[rounds]


@pytest.mark.skipif(
    os.environ.get("FEDCRYPTO_SLOW_VECTORS", "") in ("", "0"),
    reason="about a minute: set FEDCRYPTO_SLOW_VECTORS=1",
)
def test_rfc7748_iterated_million() -> None:
    assert _iterate(1_000_000) == ITERATED[1_000_000]


def test_rfc7748_diffie_hellman() -> None:
    a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    nine = (9).to_bytes(32, "little")
    pa, pb = _x(a, nine), _x(b, nine)
    assert pa.hex() == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    assert pb.hex() == "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
    shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    assert _x(a, pb).hex() == _x(b, pa).hex() == shared


@pytest.mark.parametrize("count", [1, 2, 31, 32, 33, 64, 65])
def test_matches_cryptography(count: int) -> None:
    rng = random.Random(count)
    k = rng.randbytes(32)
    us = [rng.randbytes(32) for _ in range(count)]
    # edge encodings: top bit set (ignored), non-canonical values (reduced), 2^255 - 1
    specials = [(P + 5).to_bytes(32, "little"), (2**256 - 1).to_bytes(32, "little")]
    specials.append(bytes([0xFF]) * 31 + b"\x7f")
    for i, s in enumerate(specials[:count]):
        us[i] = s
    blob = b"".join(us)
    assert _x(k, blob) == _ref(k, blob)


def test_low_order_inputs_give_zero_without_disturbing_the_block() -> None:
    """A zero Z inside a 32-ladder block must not zero its neighbours (batch inversion)."""
    rng = random.Random(5)
    k = rng.randbytes(32)
    us = [rng.randbytes(32) for _ in range(40)]
    for i, u in zip((0, 7, 31, 32, 39), LOW_ORDER, strict=False):
        us[i] = (u % 2**256).to_bytes(32, "little")
    blob = b"".join(us)
    got = _x(k, blob)
    assert got == _ref(k, blob)
    for u in LOW_ORDER:
        assert _x(k, (u % 2**256).to_bytes(32, "little")) == bytes(32), u


def test_threads_do_not_change_results() -> None:
    rng = random.Random(11)
    k = rng.randbytes(32)
    blob = rng.randbytes(32 * 300)
    one = _x(k, blob, 1)
    for threads in (2, 3, 7):
        assert _x(k, blob, threads) == one
    assert _x(k, b"", 2) == b""


def test_backend_capability_and_fallback_agree() -> None:
    be = get_backend()
    assert be.native_x25519
    rng = random.Random(3)
    k = rng.randbytes(32)
    blob = rng.randbytes(32 * 40) + (1).to_bytes(32, "little")
    fallback = load_backend("gmpy2")
    assert not fallback.native_x25519
    assert be.x25519_many(k, blob, threads=2) == fallback.x25519_many(k, blob) == _ref(k, blob)


def test_argument_errors() -> None:
    be = get_backend()
    with pytest.raises(InvalidArgumentError):
        _native.x25519_many(bytes(31), bytes(32), 1)
    with pytest.raises(InvalidArgumentError):
        _native.x25519_many(bytes(32), bytes(33), 1)
    with pytest.raises(InvalidArgumentError):
        _native.x25519_many(bytes(32), bytes(32), 0)
    with pytest.raises(InvalidTypeError):
        _native.x25519_many("k" * 32, bytes(32), 1)  # type: ignore[arg-type]
    for backend in (be, load_backend("gmpy2")):
        with pytest.raises(InvalidArgumentError):
            backend.x25519_many(bytes(33), bytes(32))
        with pytest.raises(InvalidArgumentError):
            backend.x25519_many(bytes(32), bytes(31))
        with pytest.raises(InvalidTypeError):
            backend.x25519_many([0] * 32, bytes(32))  # type: ignore[arg-type]


def test_ecdh_peer_path_refuses_low_order_and_malformed_elements() -> None:
    key = bytes(range(32))
    good = _ecdh.x25519_mask_own([b"alice", b"bob"], key, b"dst")
    elems = [good[:32], good[32:]]
    assert _ecdh.x25519_mask_peer(elems, key, None) == _ref(key, good)
    with pytest.raises(InvalidGroupElementError, match="low-order"):
        _ecdh.x25519_mask_peer([elems[0], (1).to_bytes(32, "little")], key, None)
    with pytest.raises(InvalidGroupElementError):
        _ecdh.x25519_mask_peer([elems[0], elems[1][:31]], key, None)
    with pytest.raises(InvalidGroupElementError, match="non-canonical"):
        _ecdh.x25519_mask_peer([P.to_bytes(32, "little")], key, None)


def _status_ref(u: bytes) -> int:
    x = int.from_bytes(u, "little")
    if x >= P:
        return 1
    g = x * (x * (x + 486662) + 1) % P
    return 2 if pow(g, (P - 1) // 2, P) == P - 1 else 0


def test_u_status_matches_the_legendre_symbol() -> None:
    rng = random.Random(21)
    us = [rng.randbytes(31) + bytes([rng.randrange(128)]) for _ in range(500)]
    edges = [0, 1, P - 1, P, P + 1, 2**255 - 1, 2**255, 2**256 - 1, *LOW_ORDER[2:4]]
    us += [(v % 2**256).to_bytes(32, "little") for v in edges]
    blob = b"".join(us)
    want = bytes(_status_ref(u) for u in us)
    assert 0 < want.count(2) < len(us)  # both curve and twist points are exercised
    assert _native.curve25519_u_status(blob, 1) == want
    assert _native.curve25519_u_status(blob, 3) == want
    assert get_backend().curve25519_u_status(blob) == want
    assert load_backend("gmpy2").curve25519_u_status(blob) == want
    with pytest.raises(InvalidArgumentError):
        _native.curve25519_u_status(bytes(33), 1)


def test_ecdh_peer_path_refuses_twist_points() -> None:
    key = bytes(range(32))
    rng = random.Random(8)
    twist = next(u for u in (rng.randbytes(31) + b"\x00" for _ in range(64)) if _status_ref(u) == 2)
    with pytest.raises(InvalidGroupElementError, match="twist"):
        _ecdh.x25519_mask_peer([twist], key, None)


def test_ladder_time_does_not_depend_on_the_scalar() -> None:
    """Coarse statistics, not a speed assertion: the median over interleaved rounds of
    time(scalar of Hamming weight ~3) / time(weight ~250) stays near 1 (fixed 255-step
    ladder, mask swaps).  A bit-dependent branch in the ladder would move it.  Process CPU
    time: on a shared machine wall time mostly measures the scheduler."""
    import statistics
    import time

    low = bytes([8] + [0] * 30 + [0x40])  # after clamping: bits 3 and 254
    high = bytes([0xF8] + [0xFF] * 30 + [0x7F])
    blob = random.Random(2).randbytes(32 * 64)
    ratios = []
    for r in range(31):
        times = {}
        for key in ("low", "high") if r % 2 else ("high", "low"):
            k = low if key == "low" else high
            t0 = time.process_time()
            _native.x25519_many(k, blob, 1)
            times[key] = time.process_time() - t0
        ratios.append(times["low"] / times["high"])
    ratio = statistics.median(ratios)
    assert 0.93 < ratio < 1.07, f"ratio {ratio:.3f}"
