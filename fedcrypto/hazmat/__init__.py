"""Hazardous materials: raw building blocks for framework authors.

.. warning::
   Nothing here protects you from misuse: no padding, no re-randomization, no
   protocol checks.  Use the safe recipes in :mod:`fedcrypto.paillier`,
   :mod:`fedcrypto.psi`, :mod:`fedcrypto.sharing` and :mod:`fedcrypto.secagg` unless
   you are building a protocol yourself and know why you need these.
"""

from . import modmath, paillier, rsa_blind

__all__ = ["modmath", "paillier", "rsa_blind"]
