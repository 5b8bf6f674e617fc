"""Issue 8 finding 2, PSI part: every peer public key and group element entering PSI is
validated — X25519 (canonical, on the curve, not low order), P-256 (on the curve), DH
(prime-order subgroup), RSA (key size and parameters) — with a typed remote error, and a
failed party stays failed.  (``test_bad_peer.py`` has the older cases.)"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from fedcrypto.exceptions import (
    InvalidGroupElementError,
    LocalProtocolError,
    RemoteProtocolError,
    SerializationError,
)
from fedcrypto.hazmat.groups import DH_GROUPS
from fedcrypto.hazmat.h2c import CURVE25519_P, P256_P, p256_decompress
from fedcrypto.psi import MaskedBatch, PsiSettings, RsaPublicKey, create_party, decode_message
from fedcrypto.psi._ecdh import x25519_mask_peer
from fedcrypto.psi._messages import message_param
from fedcrypto.serialization import ObjectType, Writer, pack

SID = bytes(range(32))
P25 = CURVE25519_P
# Low-order points of curve25519 (RFC 7748 / "May the fourth" list): 0 (order 4 with 1),
# 1, p-1 (order 2... as u), and the two order-8 points.
LOW_ORDER_U = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P25 - 1,
]


def _party(settings: PsiSettings, role: str = "listener", n: int = 1, **kw: object):  # type: ignore[no-untyped-def]
    p = create_party(
        settings, role=role, items=[b"i%d" % i for i in range(n)], peer_size=n, session_id=SID, **kw
    )
    return p


def _masked(settings: PsiSettings, element: bytes) -> MaskedBatch:
    return MaskedBatch(
        param=message_param(settings, SID), index=0, total=1, data=element, elem_size=len(element)
    )


def _rejects(settings: PsiSettings, element: bytes) -> None:
    a = _party(settings)
    a.start()
    with pytest.raises(InvalidGroupElementError):
        a.handle(_masked(settings, element))
    with pytest.raises(LocalProtocolError, match="already failed"):
        a.handle(_masked(settings, element))


@pytest.mark.parametrize("u", LOW_ORDER_U + [P25, P25 + 1, 2**255 - 1, 2**255 + 9, 2**256 - 1])
def test_x25519_low_order_and_non_canonical(u: int) -> None:
    _rejects(PsiSettings(workers=1, batch_size=4), u.to_bytes(32, "little"))


def test_x25519_small_order_component_is_neutralised() -> None:
    """A valid point plus a low-order point masks exactly like the point: X25519's clamped
    scalar (a multiple of 8) kills the small component, so nothing about it can leak."""
    key = bytes(range(1, 33))
    p = X25519PrivateKey.generate().public_key().public_bytes_raw()
    ref = x25519_mask_peer([p], key, None)
    # the curve25519 point P + T (T of order 2: u = 0) has u = 1/u(P) mod p
    u = int.from_bytes(p, "little")
    mixed = pow(u, -1, P25).to_bytes(32, "little")
    assert x25519_mask_peer([mixed], key, None) == ref


def test_p256_off_curve_and_out_of_range() -> None:
    s = PsiSettings(group="p256", workers=1, batch_size=4)
    off_curve = next(x for x in range(1, 200) if p256_decompress(x, False) is None)
    for x in (P256_P, P256_P + 1, 2**256 - 1, off_curve):
        _rejects(s, x.to_bytes(32, "big"))


@pytest.mark.parametrize("group", ["ffdhe2048", "modp2048"])
def test_dh_outside_the_prime_order_subgroup(group: str) -> None:
    s = PsiSettings(protocol="dh", group=group, workers=1, batch_size=4)
    p = DH_GROUPS[group].p
    nbytes = DH_GROUPS[group].element_bytes
    nonres = next(g for g in range(2, 100) if pow(g, (p - 1) // 2, p) == p - 1)
    for y in (0, 1, p - 1, p, nonres, nonres * 4 % p):  # p-1 has order 2
        _rejects(s, (y % (1 << (8 * nbytes))).to_bytes(nbytes, "big"))


def _rsa_client(rsa_key: object):  # type: ignore[no-untyped-def]
    s = PsiSettings(protocol="rsa", reveal="listener", workers=1, batch_size=4)
    client = _party(s, role="listener")  # the connector signs for reveal=listener
    client.start()
    return s, client


@pytest.mark.parametrize(
    ("e", "why"),
    [
        (9, "e is not prime"),
        (65535, "e is not prime"),
        (3 * 5 * 7 * 11 * 13 * 17, "not prime"),
        (65536, "odd"),
        (1, "odd"),
    ],
)
def test_rsa_public_exponent_from_the_peer(rsa_key, e: int, why: str) -> None:
    s, client = _rsa_client(rsa_key)
    with pytest.raises(RemoteProtocolError, match=why):
        client.handle(RsaPublicKey(param=message_param(s, SID), n=rsa_key.public().n, e=e))


def test_rsa_modulus_from_the_peer(rsa_key) -> None:
    n = rsa_key.public().n
    sq = ((1 << 1024) - 159) ** 2  # an odd perfect square of 2048 bits
    for bad in (n + 1, (1 << 2047) + 1, 1 << 2047, sq, n >> 1, n << 1):
        s, client = _rsa_client(rsa_key)
        with pytest.raises(RemoteProtocolError):
            client.handle(RsaPublicKey(param=message_param(s, SID), n=bad, e=65537))


def _raw_key(settings: PsiSettings, e_bytes: bytes, n_bytes: bytes) -> bytes:
    payload = Writer().u16(len(e_bytes)).raw(e_bytes).u16(len(n_bytes)).raw(n_bytes).getvalue()
    return pack(ObjectType.PSI_RSA_PUBLIC_KEY, payload, param=message_param(settings, SID))


def test_rsa_public_key_encoding_must_be_minimal(rsa_key) -> None:
    s = PsiSettings(protocol="rsa", reveal="listener")
    n = rsa_key.public().n.to_bytes(256, "big")
    assert decode_message(_raw_key(s, b"\x01\x00\x01", n), s, SID).e == 65537
    for e_bytes, n_bytes in (
        (b"\x00\x01\x00\x01", n),  # leading zero in e
        (b"", n),  # empty e
        (b"\x01" * 5, n),  # e wider than 4 bytes
        (b"\x01\x00\x01", b"\x00" + n[1:]),  # leading zero in n
        (b"\x01\x00\x01", n[:-1]),  # n of the wrong size for the suite
    ):
        with pytest.raises(SerializationError):
            decode_message(_raw_key(s, e_bytes, n_bytes), s, SID)
