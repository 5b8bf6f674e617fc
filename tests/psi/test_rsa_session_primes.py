"""RSA PSI: the signer's session key has 3 primes by default, 2 selectable; a local choice
that the peer never sees (the handshake and the wire carry only (n, e))."""

from __future__ import annotations

import pytest

from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError
from fedcrypto.psi import PsiSettings, create_party, decode_message, run_pair

SID = b"s" * 32


def test_rsa_primes_setting_is_validated_and_local() -> None:
    assert PsiSettings(protocol="rsa").rsa_primes == 3
    for ok in (2, 3):
        PsiSettings(protocol="rsa", rsa_primes=ok).validate()
    for bad in (1, 4, 0):
        with pytest.raises(InvalidArgumentError):
            PsiSettings(protocol="rsa", rsa_primes=bad).validate()
    for wrong in (True, "3", 3.0):
        with pytest.raises(InvalidTypeError):
            PsiSettings(protocol="rsa", rsa_primes=wrong).validate()  # type: ignore[arg-type]
    # Not compared in the handshake: the peer only ever sees (n, e).
    two, three = PsiSettings(protocol="rsa", rsa_primes=2), PsiSettings(protocol="rsa")
    assert two.as_dict() == three.as_dict() and two.suite_id() == three.suite_id()


@pytest.mark.parametrize("primes", [2, 3])
def test_session_key_prime_count_and_wire(primes: int) -> None:
    s = PsiSettings(protocol="rsa", reveal="both", batch_size=4, workers=1, rsa_primes=primes)
    signer = create_party(
        s, role="connector", items=[b"a", b"b"], peer_size=2, session_id=SID
    )  # the connector signs for reveal "both"
    assert signer.is_signer and signer._key.prime_count == primes  # type: ignore[attr-defined]
    (msg,) = signer.start()
    back = decode_message(msg.to_bytes(), s, SID)
    pub = signer._key.public()  # type: ignore[attr-defined]
    assert (back.n, back.e) == (pub.n, pub.e)  # type: ignore[attr-defined]
    assert len(msg.to_bytes()) < 2048 // 8 + 64  # the public key only, nothing secret


def test_mixed_local_choices_still_intersect() -> None:
    a = [b"%d" % i for i in range(12)]
    b = [b"%d" % i for i in range(6, 20)]
    for signer_primes in (2, 3):
        # The connector signs for reveal "both"; run_pair uses one settings object, so vary it.
        s = PsiSettings(
            protocol="rsa", reveal="both", batch_size=5, workers=1, rsa_primes=signer_primes
        )
        ra, rb = run_pair(s, a, b)
        assert ra.indices is not None and rb.indices is not None
        assert ra.indices.tolist() == list(range(6, 12))
        assert rb.indices.tolist() == list(range(0, 6))
