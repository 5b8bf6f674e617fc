"""RFC 9380 known-answer tests: expand_message_xmd and hash_to_curve.

Vectors in tests/vectors/rfc9380 (provenance in its README).  Runs on the active backend
(the int-level operations and the hash-to-curve capability come from it).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from fedcrypto.exceptions import InvalidArgumentError
from fedcrypto.hazmat import h2c as _h2c

VEC = Path(__file__).resolve().parent.parent / "vectors" / "rfc9380"


def _load(name: str) -> dict:
    return json.loads((VEC / name).read_text())


@pytest.mark.parametrize(
    "name, hash_name",
    [
        ("expand_message_xmd_SHA256_38.json", "sha256"),
        ("expand_message_xmd_SHA256_256.json", "sha256"),
        ("expand_message_xmd_SHA512_38.json", "sha512"),
    ],
)
def test_expand_message_xmd_vectors(name: str, hash_name: str) -> None:
    data = _load(name)
    dst = data["DST"].encode()
    assert data["tests"]
    for t in data["tests"]:
        n = int(t["len_in_bytes"], 16)
        got = _h2c.expand_message_xmd(t["msg"].encode(), dst, n, hash_name)
        assert got.hex() == t["uniform_bytes"]


def _pt(d: dict) -> tuple[int, int]:
    return int(d["x"], 16), int(d["y"], 16)


def test_curve25519_ro_vectors() -> None:
    data = _load("curve25519_XMD_SHA-512_ELL2_RO_.json")
    dst = data["dst"].encode()
    msgs = []
    for v in data["vectors"]:
        msg = v["msg"].encode()
        msgs.append(msg)
        u = _h2c.hash_to_field(msg, dst, 2, _h2c.CURVE25519_P, 48, "sha512")
        assert [hex(x) for x in u] == [hex(int(x, 16)) for x in v["u"]]
        assert _h2c.curve25519_map_to_curve(u[0]) == _pt(v["Q0"])
        assert _h2c.curve25519_map_to_curve(u[1]) == _pt(v["Q1"])
        assert _h2c.curve25519_hash_to_curve(msg, dst) == _pt(v["P"])
    # the batch fast path gives the same u-coordinates (little-endian X25519 encoding)
    many = _h2c.curve25519_hash_to_u_many(msgs, dst)
    for i, v in enumerate(data["vectors"]):
        assert int.from_bytes(many[32 * i : 32 * i + 32], "little") == _pt(v["P"])[0]


def test_curve25519_nu_vectors() -> None:
    data = _load("curve25519_XMD_SHA-512_ELL2_NU_.json")
    dst = data["dst"].encode()
    for v in data["vectors"]:
        assert _h2c.curve25519_encode_to_curve(v["msg"].encode(), dst) == _pt(v["P"])


def test_p256_ro_vectors() -> None:
    data = _load("P256_XMD_SHA-256_SSWU_RO_.json")
    dst = data["dst"].encode()
    for v in data["vectors"]:
        msg = v["msg"].encode()
        u = _h2c.hash_to_field(msg, dst, 2, _h2c.P256_P, 48, "sha256")
        assert u == [int(x, 16) for x in v["u"]]
        assert _h2c.p256_map_to_curve(u[0]) == _pt(v["Q0"])
        assert _h2c.p256_map_to_curve(u[1]) == _pt(v["Q1"])
        P = _h2c.p256_hash_to_curve(msg, dst)
        assert P == _pt(v["P"])
        enc = _h2c.p256_hash_to_compressed_many([msg], dst)[0]
        # OpenSSL accepts the point (on the curve) and decodes the same coordinates
        key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
        nums = key.public_numbers()
        assert (nums.x, nums.y) == P
        assert _h2c.p256_decompress(P[0], bool(P[1] & 1)) == P


def test_expand_message_rejects_bad_arguments() -> None:
    with pytest.raises(InvalidArgumentError):
        _h2c.expand_message_xmd(b"m", b"", 32)
    with pytest.raises(InvalidArgumentError):
        _h2c.expand_message_xmd(b"m", b"d", 255 * 32 + 1, "sha256")
    with pytest.raises(InvalidArgumentError):
        _h2c.expand_message_xmd(b"m", b"d", 32, "md5")


def test_p256_decompress_rejects_non_points() -> None:
    # find an x that is not on the curve
    bad = next(x for x in range(1, 100) if _h2c.p256_decompress(x, False) is None)
    assert _h2c.p256_decompress(bad, True) is None
    assert _h2c.p256_decompress(_h2c.P256_P, False) is None


def test_p256_map_edge_elements_land_on_the_curve() -> None:
    """Including u = 0, where the SSWU denominator vanishes (x1 = B / (Z A))."""
    import os

    p = _h2c.P256_P
    for u in [
        0,
        1,
        2,
        p - 1,
        p - 2,
        *(int.from_bytes(os.urandom(32), "big") % p for _ in range(50)),
    ]:
        x, y = _h2c.p256_map_to_curve(u)
        assert (y * y - (x * x * x - 3 * x + _h2c.P256_B)) % p == 0
        assert y & 1 == u & 1
    assert _h2c.p256_map_to_curve(0)[0] == _h2c.P256_B * pow(-10 * -3, -1, p) % p


def test_bad_arguments_are_typed() -> None:
    from fedcrypto.exceptions import InvalidTypeError

    with pytest.raises(InvalidArgumentError):
        _h2c.curve25519_map_to_curve(_h2c.CURVE25519_P)  # not reduced
    with pytest.raises(InvalidTypeError):
        _h2c.p256_map_to_curve(1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        _h2c.expand_message_xmd("text", b"d", 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        _h2c.expand_message_xmd(b"m", "dst", 32)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        _h2c.expand_message_xmd(b"m", b"d", 32.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgumentError):
        _h2c.hash_to_field(b"m", b"d", 0, _h2c.P256_P, 48, "sha256")
    with pytest.raises(InvalidTypeError):
        _h2c.p256_decompress(5, 1)  # type: ignore[arg-type]
    assert _h2c.expand_message_xmd(bytearray(b"m"), memoryview(b"d"), 32) == (
        _h2c.expand_message_xmd(b"m", b"d", 32)
    )
