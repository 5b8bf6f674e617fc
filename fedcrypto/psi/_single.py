"""The party class of one single-session run, chosen by protocol (no validation here).

:func:`~._factory.create_party` validates its arguments and calls this; the partitioned
party calls it once per bucket with already-validated values.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import InvalidArgumentError
from ..hazmat.rsa_blind import RsaBlindKey
from ._commutative import CommutativeParty
from ._party import PsiParty
from ._rsa import RsaParty
from ._settings import PsiSettings

__all__ = ["single_party"]


def single_party(settings: PsiSettings, *, rsa_key: RsaBlindKey | None, **kwargs: Any) -> PsiParty:
    """A :class:`CommutativeParty` or :class:`RsaParty` for ``settings`` (``buckets == 1``)."""
    if settings.protocol == "rsa":
        return RsaParty(settings, rsa_key=rsa_key, **kwargs)
    if rsa_key is not None:
        raise InvalidArgumentError("rsa_key is only used by the rsa protocol")
    return CommutativeParty(settings, **kwargs)
