"""DH PSI group operations: subgroup hashing, commutativity, exponent sizes.

The groups themselves (known answers, safe primes) are tested in tests/hazmat/test_groups.py.
"""

from __future__ import annotations

import pytest

from fedcrypto.exceptions import InvalidGroupElementError
from fedcrypto.hazmat.groups import DH_GROUPS
from fedcrypto.psi import _dh

from .conftest import PURE


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


def test_peer_elements_outside_the_subgroup_are_refused() -> None:
    """The Legendre check now runs through the backend (no gmpy2 in psi)."""
    group = "ffdhe2048"
    g = DH_GROUPS[group]
    exp = _dh.new_exponent(group)
    non_residue = next(y for y in range(2, 100) if pow(y, g.q, g.p) == g.p - 1)
    for bad in (non_residue, 1, g.p - 1, 0, g.p):
        with pytest.raises(InvalidGroupElementError):
            _dh.dh_mask_peer([bad.to_bytes(256, "big")], exp, group, None)
    residue = 4
    assert len(_dh.dh_mask_peer([residue.to_bytes(256, "big")], exp, group, None)) == 256
