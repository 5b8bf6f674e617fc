"""Finite-field Diffie-Hellman groups: RFC 3526 MODP and RFC 7919 FFDHE safe primes.

.. warning::
   Hazardous material: raw group parameters.  A protocol built on them must hash into
   the prime-order subgroup, use secret exponents of the right size and check every
   element it receives (:meth:`DhGroup.is_subgroup_element`); :mod:`fedcrypto.psi`'s
   ``dh`` protocol does all three.

Groups: RFC 3526 MODP groups 14 (``modp2048``) and 15 (``modp3072``), RFC 7919
``ffdhe2048``, ``ffdhe3072`` and ``ffdhe4096``.  Each ``p`` is a safe prime: ``q = (p - 1) / 2``
is prime, so the quadratic residues mod ``p`` form the subgroup of prime order ``q``, and
membership is the Legendre symbol ``(y / p) = 1`` (Euler's criterion).  The generator ``g = 2``
of both RFCs generates that subgroup for the FFDHE groups and for the MODP groups
(``p = 7 mod 8``, so 2 is a residue).

Provenance: copied from the project reference file ``/work/shared/vectors/dh_groups.json``:
"OpenSSL built-in named groups (RFC 3526 MODP and RFC 7919 FFDHE), exported with
``openssl genpkey -genparam -algorithm DH -pkeyopt group:NAME``; each p is a safe prime
(q=(p-1)/2 prime), generator g=2".  ``tests/hazmat/test_groups.py`` checks every group
against that file (a copy lives in ``tests/vectors/dh_groups.json``) and re-proves
primality.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from .._backend import get_backend
from .._immutable import Immutable
from ..exceptions import InvalidArgumentError, InvalidTypeError

__all__ = ["DhGroup", "DH_GROUPS", "GROUP_NAMES", "get_group"]


@dataclass(frozen=True)
class DhGroup(Immutable):
    """One named safe-prime group.

    :ivar name: the short name (``"modp2048"``, ``"ffdhe3072"`` ...).
    :ivar reference: where it is defined (``"RFC 3526 group 14"``, ``"RFC 7919"``).
    :ivar bits: size of ``p`` in bits.
    :ivar p: the safe prime.
    :ivar g: the generator (2).
    """

    name: str
    reference: str
    bits: int
    p: int
    g: int = 2

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not isinstance(self.reference, str):
            raise InvalidTypeError("a group's name and reference must be str")
        for what, v in (("bits", self.bits), ("p", self.p), ("g", self.g)):
            if isinstance(v, bool) or not isinstance(v, int):
                raise InvalidTypeError(f"a group's {what} must be an int")
        if self.p < 5 or self.p % 2 == 0 or self.p.bit_length() != self.bits:
            raise InvalidArgumentError("p must be an odd prime of exactly `bits` bits")
        if not 1 < self.g < self.p - 1:
            raise InvalidArgumentError("g must be in (1, p - 1)")

    @property
    def q(self) -> int:
        """The prime order ``(p - 1) / 2`` of the subgroup of quadratic residues."""
        return (self.p - 1) // 2

    @property
    def element_bytes(self) -> int:
        """Bytes of one fixed-width big-endian group element."""
        return (self.bits + 7) // 8

    def is_subgroup_element(self, y: int) -> bool:
        """Whether ``1 < y < p - 1`` and ``y`` is a quadratic residue mod ``p``, i.e. ``y`` is
        in the prime-order subgroup and not one of the trivial elements 1 and ``p - 1``."""
        if isinstance(y, bool) or not isinstance(y, int):
            raise InvalidTypeError("a group element must be an int")
        return 1 < y < self.p - 1 and get_backend().jacobi(y, self.p) == 1

    def __repr__(self) -> str:
        return f"DhGroup({self.name!r}, {self.reference!r}, bits={self.bits})"


_RAW: dict[str, tuple[str, int, int]] = {  # name -> (reference, bits, p)
    "modp2048": (
        "RFC 3526 group 14",
        2048,
        int(
            "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22"
            "514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6"
            "f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3d"
            "c2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb"
            "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e8603"
            "9b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa0510"
            "15728e5a8aacaa68ffffffffffffffff",
            16,
        ),
    ),
    "modp3072": (
        "RFC 3526 group 15",
        3072,
        int(
            "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22"
            "514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6"
            "f44c42e9a637ed6b0bff5cb6f406b7edee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3d"
            "c2007cb8a163bf0598da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb"
            "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3be39e772c180e8603"
            "9b2783a2ec07a28fb5c55df06f4c52c9de2bcbf6955817183995497cea956ae515d2261898fa0510"
            "15728e5a8aaac42dad33170d04507a33a85521abdf1cba64ecfb850458dbef0a8aea71575d060c7d"
            "b3970f85a6e1e4c7abf5ae8cdb0933d71e8c94e04a25619dcee3d2261ad2ee6bf12ffa06d98a0864"
            "d87602733ec86a64521f2b18177b200cbbe117577a615d6c770988c0bad946e208e24fa074e5ab31"
            "43db5bfce0fd108e4b82d120a93ad2caffffffffffffffff",
            16,
        ),
    ),
    "ffdhe2048": (
        "RFC 7919",
        2048,
        int(
            "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fb"
            "cc939dce249b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0"
            "856365553ded1af3b557135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade735"
            "30acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4"
            "ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f619172fe9ce98583ff"
            "8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa"
            "886b423861285c97ffffffffffffffff",
            16,
        ),
    ),
    "ffdhe3072": (
        "RFC 7919",
        3072,
        int(
            "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fb"
            "cc939dce249b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0"
            "856365553ded1af3b557135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade735"
            "30acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4"
            "ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f619172fe9ce98583ff"
            "8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa"
            "886b4238611fcfdcde355b3b6519035bbc34f4def99c023861b46fc9d6e6c9077ad91d2691f7f7ee"
            "598cb0fac186d91caefe130985139270b4130c93bc437944f4fd4452e2d74dd364f2e21e71f54bff"
            "5cae82ab9c9df69ee86d2bc522363a0dabc521979b0deada1dbf9a42d5c4484e0abcd06bfa53ddef"
            "3c1b20ee3fd59d7c25e41d2b66c62e37ffffffffffffffff",
            16,
        ),
    ),
    "ffdhe4096": (
        "RFC 7919",
        4096,
        int(
            "ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fb"
            "cc939dce249b3ef97d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0"
            "856365553ded1af3b557135e7f57c935984f0c70e0e68b77e2a689daf3efe8721df158a136ade735"
            "30acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fbb96adab760d7f4681d4f42a3de394df4"
            "ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f619172fe9ce98583ff"
            "8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa"
            "886b4238611fcfdcde355b3b6519035bbc34f4def99c023861b46fc9d6e6c9077ad91d2691f7f7ee"
            "598cb0fac186d91caefe130985139270b4130c93bc437944f4fd4452e2d74dd364f2e21e71f54bff"
            "5cae82ab9c9df69ee86d2bc522363a0dabc521979b0deada1dbf9a42d5c4484e0abcd06bfa53ddef"
            "3c1b20ee3fd59d7c25e41d2b669e1ef16e6f52c3164df4fb7930e9e4e58857b6ac7d5f42d69f6d18"
            "7763cf1d5503400487f55ba57e31cc7a7135c886efb4318aed6a1e012d9e6832a907600a918130c4"
            "6dc778f971ad0038092999a333cb8b7a1a1db93d7140003c2a4ecea9f98d0acc0a8291cdcec97dcf"
            "8ec9b55a7f88a46b4db5a851f44182e1c68a007e5e655f6affffffffffffffff",
            16,
        ),
    ),
}


#: Every supported group by name (read-only).
DH_GROUPS: Mapping[str, DhGroup] = MappingProxyType(
    {name: DhGroup(name, ref, bits, p) for name, (ref, bits, p) in _RAW.items()}
)
#: The group names, sorted.
GROUP_NAMES: tuple[str, ...] = tuple(sorted(DH_GROUPS))


def get_group(name: str) -> DhGroup:
    """The group called ``name``.

    :raises InvalidArgumentError: an unknown name (the message lists the known ones).
    """
    if not isinstance(name, str):
        raise InvalidTypeError("a group name must be a str")
    try:
        return DH_GROUPS[name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown DH group {name[:40]!r}; known: {', '.join(GROUP_NAMES)}"
        ) from None
