"""DH groups and exponentiation: safe primes, subgroup hashing, commutativity."""

from __future__ import annotations

import gmpy2
import pytest

from fedcrypto.psi import _dh
from fedcrypto.psi._dh_groups import DH_GROUPS

from .conftest import PURE


@pytest.mark.parametrize("name", sorted(DH_GROUPS))
def test_groups_are_safe_primes(name: str) -> None:
    _rfc, bits, p = DH_GROUPS[name]
    assert p.bit_length() == bits >= 2048
    assert gmpy2.is_prime(p, 25) and gmpy2.is_prime((p - 1) // 2, 25)
    # 2 generates... the group of order q or 2q; hashing lands in the QR subgroup anyway
    assert pow(2, (p - 1) // 2, p) in (1, p - 1)


def test_hash_lands_in_subgroup_and_masking_commutes() -> None:
    group = "ffdhe2048"
    p, nbytes = _dh.group_params(group)
    q = (p - 1) // 2
    items = [b"alice", b"bob", b""]
    ka, kb = _dh.new_exponent(group), _dh.new_exponent(group)
    assert 2 <= ka < 1 << _dh.exponent_bits(group)
    a = _dh.dh_mask_own(items, ka, group, b"dst")
    b = _dh.dh_mask_own(items, kb, group, b"dst")
    for i in range(len(items)):
        ya = int.from_bytes(a[i * nbytes : (i + 1) * nbytes], "big")
        assert pow(ya, q, p) == 1  # in the prime-order subgroup
    ea = [a[i : i + nbytes] for i in range(0, len(a), nbytes)]
    eb = [b[i : i + nbytes] for i in range(0, len(b), nbytes)]
    ab = _dh.dh_mask_peer(ea, kb, group, None)
    ba = _dh.dh_mask_peer(eb, ka, group, None)
    assert ab == ba
    # domain separation: another DST gives other values
    assert _dh.dh_mask_own(items, ka, group, b"other") != a


@pytest.mark.skipif(PURE, reason="4096-bit exponentiation in pure Python is slow; covered natively")
def test_exponent_sizes() -> None:
    assert _dh.exponent_bits("ffdhe2048") == 225
    assert _dh.exponent_bits("modp2048") == 225
    assert _dh.exponent_bits("modp3072") == 275
    assert _dh.exponent_bits("ffdhe3072") == 275
    assert _dh.exponent_bits("ffdhe4096") == 325
    out = _dh.dh_mask_own([b"x"], _dh.new_exponent("ffdhe4096"), "ffdhe4096", b"d")
    assert len(out) == 512
