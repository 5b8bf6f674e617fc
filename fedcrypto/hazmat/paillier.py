"""Raw (textbook) Paillier on Python ints, for framework authors.

.. warning::
   Hazardous material: no encoding of negative numbers or floats, no overflow
   detection, no re-randomization after operations, no key-size policy.  Use
   :mod:`fedcrypto.paillier` (vectorised, validated, documented) unless you are
   building a protocol yourself.

Conventions: public key = modulus ``n`` with generator ``g = n + 1``; a plaintext is
an int in ``[0, n)``; a ciphertext an int in ``(0, n**2)`` that is a unit mod ``n``.

* ``Enc(m; r) = (1 + m*n) * r**n mod n**2``
* ``Dec(c) = CRT(L_p(c**(p-1) mod p**2) * h_p mod p, same for q)`` with
  ``L_p(x) = (x - 1) / p`` and ``h_p = (-q)**-1 mod p``
* ``Enc(a) * Enc(b) = Enc(a + b)``, ``Enc(a)**k = Enc(k*a)`` (mod n).
"""

from __future__ import annotations

import math

from .._random import random_unit
from ..exceptions import InvalidArgumentError, InvalidCiphertext
from . import modmath
from .modmath import _int

__all__ = ["raw_encrypt", "raw_decrypt", "raw_add", "raw_mul", "raw_rerandomize"]


def _modulus(n: object) -> int:
    nn = _int(n, "n")
    if nn < 3 or nn % 2 == 0:
        raise InvalidArgumentError("n must be an odd modulus greater than 2")
    return nn


def _ciphertext(c: object, n: int) -> int:
    cc = _int(c, "ciphertext")
    if not 0 < cc < n * n or math.gcd(cc, n) != 1:
        raise InvalidCiphertext("ciphertext is not a unit in (0, n**2)")
    return cc


def raw_encrypt(n: int, m: int, *, r: int | None = None) -> int:
    """``(1 + m*n) * r**n mod n**2`` for ``m`` in ``[0, n)``; ``r`` uniform in ``Z*_n`` if omitted.

    Raises:
        InvalidArgumentError: ``m`` out of range or ``r`` not a unit modulo ``n``.
    """
    nn = _modulus(n)
    mm = _int(m, "plaintext")
    if not 0 <= mm < nn:
        raise InvalidArgumentError("plaintext must be in [0, n)")
    rr = random_unit(nn) if r is None else _int(r, "r")
    if not 0 < rr < nn or math.gcd(rr, nn) != 1:
        raise InvalidArgumentError("r must be a unit modulo n")
    nsq = nn * nn
    return (1 + mm * nn) * modmath.powmod(rr, nn, nsq) % nsq


def raw_decrypt(p: int, q: int, c: int) -> int:
    """The plaintext in ``[0, n)`` of ``c`` under ``n = p*q`` (CRT, constant-time exponentiation).

    Raises:
        InvalidCiphertext: ``c`` outside the ciphertext space.
    """
    pp, qq = _int(p, "p"), _int(q, "q")
    if pp < 3 or qq < 3 or pp == qq:
        raise InvalidArgumentError("p and q must be distinct odd primes")
    n = pp * qq
    cc = _ciphertext(c, n)
    parts = []
    for a, b in ((pp, qq), (qq, pp)):
        asq = a * a
        x = modmath.powmod(cc % asq, a - 1, asq, secret=True)
        h = pow(-b % a, -1, a)
        parts.append((x - 1) // a * h % a)
    return modmath.crt(parts, [pp, qq])


def raw_add(n: int, c1: int, c2: int) -> int:
    """``c1 * c2 mod n**2``: encrypts the sum of the plaintexts (mod n)."""
    nn = _modulus(n)
    return _ciphertext(c1, nn) * _ciphertext(c2, nn) % (nn * nn)


def raw_mul(n: int, c: int, k: int) -> int:
    """``c**k mod n**2``: encrypts ``k`` times the plaintext (mod n); ``k < 0`` via the inverse."""
    nn = _modulus(n)
    cc = _ciphertext(c, nn)
    kk = _int(k, "k")
    nsq = nn * nn
    if kk < 0:
        cc, kk = modmath.invert(cc, nsq), -kk
    return modmath.powmod(cc, kk, nsq)


def raw_rerandomize(n: int, c: int, *, r: int | None = None) -> int:
    """``c * r**n mod n**2``: the same plaintext under fresh randomness."""
    nn = _modulus(n)
    return raw_add(nn, _ciphertext(c, nn), raw_encrypt(nn, 0, r=r))
