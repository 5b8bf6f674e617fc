"""A faulty or malicious peer: every bad input ends in a typed error, never a wrong result."""

from __future__ import annotations

import os
from dataclasses import replace

import gmpy2
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from fedcrypto.exceptions import (
    InvalidGroupElementError,
    InvalidSignatureError,
    ProtocolError,
    SerializationError,
)
from fedcrypto.hazmat.groups import DH_GROUPS
from fedcrypto.hazmat.h2c import CURVE25519_P, P256_P, p256_decompress
from fedcrypto.psi import (
    MaskedBatch,
    PsiSettings,
    RsaPublicKey,
    SignedBatch,
    TagReply,
    create_party,
    decode_message,
)
from fedcrypto.psi._messages import message_param

SID = bytes(range(32))
P25 = CURVE25519_P
# u-coordinates of the points of order 8 on curve25519 (and 0, 1 of order 2/4 or twist)
ORDER8 = [
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
]


def _pair(settings: PsiSettings, n: int = 3, **kw: object):  # type: ignore[no-untyped-def]
    a = create_party(
        settings,
        role="listener",
        items=[b"a%d" % i for i in range(n)],
        peer_size=n,
        session_id=SID,
        **kw,
    )
    b = create_party(
        settings,
        role="connector",
        items=[b"a%d" % i for i in range(n)],
        peer_size=n,
        session_id=SID,
        **kw,
    )
    return a, b


def _masked(settings: PsiSettings, elements: list[bytes]) -> MaskedBatch:
    size = len(elements[0])
    return MaskedBatch(
        param=message_param(settings, SID),
        index=0,
        total=1,
        data=b"".join(elements),
        elem_size=size,
    )


def _twist_u() -> int:
    for u in range(2, 100):
        if gmpy2.jacobi((u * (u * (u + 486662) + 1)) % P25, P25) == -1:
            return u
    raise AssertionError


@pytest.mark.parametrize("u", [0, 1, P25 - 1, *ORDER8, P25, P25 + 5, 2**255 + 9, _twist_u()])
def test_curve25519_rejects_bad_points(u: int) -> None:
    s = PsiSettings(workers=1, batch_size=8)
    a, _b = _pair(s, n=1)
    a.start()
    bad = (u % 2**256).to_bytes(32, "little")
    with pytest.raises(InvalidGroupElementError):
        a.handle(_masked(s, [bad]))
    with pytest.raises(ProtocolError):  # a failed party stays failed
        a.handle(_masked(s, [bad]))


def test_p256_rejects_points_not_on_curve() -> None:
    s = PsiSettings(group="p256", workers=1, batch_size=8)
    bad_x = next(x for x in range(1, 200) if p256_decompress(x, False) is None)
    for x in (bad_x, P256_P, 2**256 - 1):
        a, _b = _pair(s, n=1)
        a.start()
        with pytest.raises(InvalidGroupElementError):
            a.handle(_masked(s, [x.to_bytes(32, "big")]))


def test_dh_rejects_elements_outside_subgroup() -> None:
    s = PsiSettings(protocol="dh", workers=1, batch_size=8)
    p = DH_GROUPS["ffdhe2048"].p
    nonres = next(y for y in range(2, 100) if gmpy2.legendre(y, p) == -1)
    for y in (0, 1, p - 1, p, p + 1, nonres, 2**2048 - 1):
        a, _b = _pair(s, n=1)
        a.start()
        with pytest.raises(InvalidGroupElementError):
            a.handle(_masked(s, [(y % 2**2048).to_bytes(256, "big")]))


def test_x25519_scalar_multiplication_commutes() -> None:
    for _ in range(5):
        ka, kb = os.urandom(32), os.urandom(32)
        P = X25519PrivateKey.generate().public_key().public_bytes_raw()

        def mul(k: bytes, u: bytes) -> bytes:
            sk = X25519PrivateKey.from_private_bytes(k)
            return sk.exchange(X25519PublicKey.from_public_bytes(u))

        assert mul(ka, mul(kb, P)) == mul(kb, mul(ka, P))


def test_wrong_message_order_and_counts() -> None:
    s = PsiSettings(workers=1, batch_size=2)
    a, b = _pair(s, n=3)  # two batches each
    msgs_a = a.start()
    msgs_b = b.start()
    assert len(msgs_a) == 2
    # batch 1 before batch 0
    with pytest.raises(ProtocolError):
        a.handle(msgs_b[1])
    a2, b2 = _pair(s, n=3)
    a2.start()
    mb = b2.start()
    # wrong element count in batch 0
    short = replace(mb[0], data=mb[0].data[:32])
    with pytest.raises(ProtocolError):
        a2.handle(short)
    a3, b3 = _pair(s, n=3)
    a3.start()
    b3.start()
    # a reply for a batch that was never sent
    with pytest.raises(ProtocolError):
        a3.handle(TagReply(param=message_param(s, SID), index=5, total=5, data=b"", elem_size=16))


def test_message_from_other_session_or_suite_is_rejected() -> None:
    s = PsiSettings(workers=1, batch_size=4)
    a, b = _pair(s)
    raw = b.start()[0].to_bytes()
    with pytest.raises(SerializationError):
        decode_message(raw, s, bytes(32))  # other session id
    with pytest.raises(SerializationError):
        decode_message(raw, replace(s, group="p256"), SID)
    with pytest.raises(SerializationError):
        decode_message(raw, replace(s, batch_size=1), SID)  # oversized batch
    with pytest.raises(SerializationError):
        decode_message(raw[:-1], s, SID)  # truncated
    with pytest.raises(SerializationError):
        decode_message(b"garbage!" * 5, s, SID)
    with pytest.raises(SerializationError):
        decode_message(raw[:4] + b"\x00\x09" + raw[6:], s, SID)  # future format version
    # a message kind of another protocol
    rsa = PsiSettings(protocol="rsa")
    pk = RsaPublicKey(param=message_param(s, SID), n=(1 << 2047) + 1, e=65537).to_bytes()
    with pytest.raises(ProtocolError):
        decode_message(pk, s, SID)
    with pytest.raises(SerializationError):
        decode_message(pk, rsa, SID)  # bound to the ecdh suite
    a.close()
    b.close()


def _rsa_pair(rsa_key: object, n: int = 3):  # type: ignore[no-untyped-def]
    s = PsiSettings(protocol="rsa", reveal="listener", workers=1, batch_size=8)
    client, signer = _pair(s, n=n, rsa_key=rsa_key)  # connector signs for reveal=listener
    return s, client, signer


def test_rsa_bad_signature_is_detected(rsa_key: object) -> None:
    s, client, signer = _rsa_pair(rsa_key)
    client.start()
    (pk,) = signer.start()
    (blinded,) = client.handle(pk)
    signed = signer.handle(blinded)[0]
    assert isinstance(signed, SignedBatch)
    n = pk.n
    # replace the first signature by another value in [0, n)
    first = (int.from_bytes(signed.data[:256], "big") + 1) % n
    forged = replace(signed, data=first.to_bytes(256, "big") + signed.data[256:])
    with pytest.raises(InvalidSignatureError):
        client.handle(forged)


def test_rsa_rejects_bad_public_keys_and_values(rsa_key: object) -> None:
    s, client, signer = _rsa_pair(rsa_key)
    client.start()
    param = message_param(s, SID)
    for n, e in (
        ((1 << 2047) + 2, 65537),
        ((1 << 2047) + 1, 65537),
        (rsa_key.public().n, 4),
        (rsa_key.public().n, 1),
        (1 << 2046, 3),
    ):
        c, _ = _rsa_pair(rsa_key)[1:]
        c.start()
        with pytest.raises(ProtocolError):
            c.handle(RsaPublicKey(param=param, n=n, e=e))
    # signer: blinded values outside (0, n)
    (pk,) = signer.start()
    (blinded,) = client.handle(pk)
    bad = replace(blinded, data=pk.n.to_bytes(256, "big") + blinded.data[256:])
    with pytest.raises(InvalidGroupElementError):
        signer.handle(bad)
    # the client refuses messages before the key
    c, _ = _rsa_pair(rsa_key)[1:]
    c.start()
    with pytest.raises(ProtocolError):
        c.handle(signed_dummy(param))


def signed_dummy(param: bytes) -> SignedBatch:
    return SignedBatch(param=param, index=0, total=1, data=bytes(256), elem_size=256)


def test_bad_element_detected_inside_worker_processes() -> None:
    from fedcrypto.scale import process_executor

    s = PsiSettings(batch_size=4096)
    ex = process_executor(2)
    a, b = _pair(s, n=4096, executor=ex)
    a.start()
    good = b.start()[0]
    assert isinstance(good, MaskedBatch) and good.count == 4096
    tw = _twist_u().to_bytes(32, "little")
    bad = replace(good, data=good.data[: 3000 * 32] + tw + good.data[3001 * 32 :])
    with pytest.raises(InvalidGroupElementError):
        a.handle(bad)
    b.close()
    ex.shutdown()


def test_rsa_signer_rejects_bad_match_positions(rsa_key: object) -> None:
    from fedcrypto.psi import MatchPositions

    s = PsiSettings(protocol="rsa", reveal="both", workers=1, batch_size=8)
    param = message_param(s, SID)
    for positions in ([1, 1], [2, 1], [0, 99], [-1]):
        client, signer = _pair(s, n=3, rsa_key=rsa_key)
        client.start()
        (pk,) = signer.start()
        (blinded,) = client.handle(pk)
        signer.handle(blinded)
        data = b"".join(int(p % 2**64).to_bytes(8, "big") for p in positions)
        with pytest.raises(ProtocolError):
            signer.handle(MatchPositions(param=param, index=0, total=1, data=data, elem_size=8))
