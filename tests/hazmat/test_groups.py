"""hazmat.groups: every DH group against the reference file, safe primes, subgroup membership.

Known answers: ``tests/vectors/dh_groups.json`` (OpenSSL's built-in named groups, provenance
in ``tests/vectors/README.md``), and independently the RFCs' own definitions of ``p`` from
the binary expansions of pi (RFC 3526) and e (RFC 7919).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from fedcrypto._backend import get_backend
from fedcrypto.exceptions import InvalidArgumentError, InvalidTypeError
from fedcrypto.hazmat import groups
from fedcrypto.hazmat.groups import DH_GROUPS, GROUP_NAMES, DhGroup, get_group
from fedcrypto.hazmat.modmath import is_probable_prime

VECTORS = Path(__file__).resolve().parent.parent / "vectors" / "dh_groups.json"
#: name in the reference file -> our name
FILE_NAMES = {
    "modp_2048": "modp2048",
    "modp_3072": "modp3072",
    "ffdhe2048": "ffdhe2048",
    "ffdhe3072": "ffdhe3072",
    "ffdhe4096": "ffdhe4096",
}
PURE = get_backend().name == "pure"


def _reference() -> dict[str, dict[str, object]]:
    data = json.loads(VECTORS.read_text())
    assert "OpenSSL" in data["source"] and "g=2" in data["source"]
    return {FILE_NAMES[k]: v for k, v in data["groups"].items()}


def test_every_group_has_a_vector_and_back() -> None:
    assert set(_reference()) == set(DH_GROUPS) == set(GROUP_NAMES)
    assert list(GROUP_NAMES) == sorted(GROUP_NAMES)


@pytest.mark.parametrize("name", sorted(FILE_NAMES.values()))
def test_known_answer(name: str) -> None:
    ref = _reference()[name]
    g = get_group(name)
    assert g.name == name
    assert g.p == int(str(ref["p"]), 16)
    assert g.bits == ref["bits"] == g.p.bit_length()
    assert g.g == ref["g"] == 2
    assert g.reference == ref["rfc"]
    assert g.q == (g.p - 1) // 2
    assert g.element_bytes == g.bits // 8


def test_p_from_the_rfc_definitions() -> None:
    """RFC 3526: p = 2^b - 2^(b-64) - 1 + 2^64 (floor(2^(b-130) pi) + X);
    RFC 7919: p = 2^b - 2^(b-64) + 2^64 (floor(2^(b-130) e) + X) - 1."""
    gmpy2 = pytest.importorskip("gmpy2")
    ctx = gmpy2.get_context()
    old = ctx.precision
    ctx.precision = 5000
    try:
        pi, e = gmpy2.const_pi(), gmpy2.exp(1)

        def frac(c: object, b: int) -> int:
            return int(gmpy2.floor(gmpy2.mpfr(2) ** (b - 130) * c))

        want = {
            "modp2048": 2**2048 - 2**1984 - 1 + 2**64 * (frac(pi, 2048) + 124476),
            "modp3072": 2**3072 - 2**3008 - 1 + 2**64 * (frac(pi, 3072) + 1690314),
            "ffdhe2048": 2**2048 - 2**1984 + 2**64 * (frac(e, 2048) + 560316) - 1,
            "ffdhe3072": 2**3072 - 2**3008 + 2**64 * (frac(e, 3072) + 2625351) - 1,
            "ffdhe4096": 2**4096 - 2**4032 + 2**64 * (frac(e, 4096) + 5736041) - 1,
        }
    finally:
        ctx.precision = old
    assert {n: g.p for n, g in DH_GROUPS.items()} == want


@pytest.mark.parametrize("name", sorted(FILE_NAMES.values()))
def test_safe_prime_and_generator(name: str) -> None:
    if PURE and name == "ffdhe4096":
        pytest.skip("4096-bit Miller-Rabin in pure Python is slow; covered natively")
    g = get_group(name)
    rounds = 2 if PURE else 8
    assert is_probable_prime(g.p, rounds=rounds) and is_probable_prime(g.q, rounds=rounds)
    # p = 7 mod 8: 2 is a quadratic residue, so g = 2 generates the order-q subgroup
    assert g.p % 8 == 7
    assert get_backend().int_powmod(g.g, g.q, g.p) == 1
    assert g.is_subgroup_element(g.g)


def test_subgroup_membership() -> None:
    g = get_group("ffdhe2048")
    assert g.is_subgroup_element(4) and g.is_subgroup_element(9)
    assert not g.is_subgroup_element(g.p - 4)  # p = 3 mod 4: -1, hence -4, is a non-residue
    for trivial in (0, 1, g.p - 1, g.p, -4, g.p + 4):
        assert not g.is_subgroup_element(trivial)
    non_residue = next(y for y in range(2, 100) if pow(y, g.q, g.p) == g.p - 1)
    assert not g.is_subgroup_element(non_residue)
    with pytest.raises(InvalidTypeError):
        g.is_subgroup_element(4.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidTypeError):
        g.is_subgroup_element(True)


def test_lookup_errors_and_immutability() -> None:
    with pytest.raises(InvalidArgumentError, match="known: ffdhe2048"):
        get_group("modp1024")
    with pytest.raises(InvalidTypeError):
        get_group(2048)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DH_GROUPS["x"] = DH_GROUPS["modp2048"]  # type: ignore[index]
    g = DH_GROUPS["modp2048"]
    with pytest.raises(AttributeError):
        g.p = 7  # type: ignore[misc]
    with pytest.raises(TypeError):
        pickle.dumps(g)
    assert isinstance(g, DhGroup) and "modp2048" in repr(g) and str(g.p) not in repr(g)
    assert groups.__all__ == ["DhGroup", "DH_GROUPS", "GROUP_NAMES", "get_group"]
