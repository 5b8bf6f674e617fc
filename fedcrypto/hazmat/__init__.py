"""Hazardous materials: raw building blocks for framework authors.

.. warning::
   Nothing here protects you from misuse: no padding, no re-randomization, no
   protocol checks.  Use the safe recipes in :mod:`fedcrypto.paillier`,
   :mod:`fedcrypto.psi`, :mod:`fedcrypto.sharing` and :mod:`fedcrypto.secagg` unless
   you are building a protocol yourself and know why you need these.

Modules: :mod:`~fedcrypto.hazmat.modmath` (modular arithmetic on Python ints),
:mod:`~fedcrypto.hazmat.h2c` (RFC 9380 hash-to-curve and ``expand_message_xmd``),
:mod:`~fedcrypto.hazmat.groups` (RFC 3526 / RFC 7919 safe-prime groups),
:mod:`~fedcrypto.hazmat.paillier` (raw Paillier on ints) and
:mod:`~fedcrypto.hazmat.rsa_blind` (raw RSA blind signatures).
"""

from . import groups, h2c, modmath, paillier, rsa_blind

__all__ = ["groups", "h2c", "modmath", "paillier", "rsa_blind"]
