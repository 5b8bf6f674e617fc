"""``create_party``: the factory that picks the party class for a protocol.

It lives apart from :mod:`._party` (the base class) so that the protocol modules import the
base class and this module imports the protocol modules, all at module level: the
dependencies run one way (``_factory`` -> ``_rsa`` / ``_commutative`` -> ``_party``).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..exceptions import InvalidArgumentError, InvalidTypeError
from ..hazmat.rsa_blind import RsaBlindKey
from ._commutative import CommutativeParty
from ._party import ProgressFn, PsiParty
from ._rsa import RsaParty
from ._settings import ROLES, PsiSettings, check_session_id

__all__ = ["create_party"]


def create_party(
    settings: PsiSettings,
    *,
    role: str,
    items: Sequence[bytes],
    peer_size: int,
    session_id: bytes,
    workdir: str | None = None,
    progress: ProgressFn | None = None,
    rsa_key: RsaBlindKey | None = None,
) -> PsiParty:
    """Create this side of a PSI run.

    :param settings: the agreed settings (validated here).
    :param role: ``"listener"`` or ``"connector"``; the two sides must take different roles.
        With RSA the role decides who holds the key (see ``docs/psi.md``).
    :param items: this party's identifiers, already normalised and deduplicated (not checked
        here, to keep memory flat: a repeated item is simply reported at each position, and
        the peer sees that two masked values are equal).
    :param peer_size: the number of items the peer announced.
    :param session_id: 32 bytes agreed in the handshake; enters every domain-separation tag.
    :param workdir: directory for out-of-core spill files (default: system temp dir).
    :param progress: ``progress(phase, done, total)`` callback; phases ``"hashing"``,
        ``"masking own"``, ``"masking peer's"``, ``"matching"``.
    :param rsa_key: RSA only, optional: a :class:`fedcrypto.hazmat.rsa_blind.RsaBlindKey` to
        use when this party is the signer (default: a fresh key per session); ignored
        when this party is the client.
    :returns: a :class:`PsiParty`.
    :raises InvalidArgumentError: for bad settings, role, sizes or session id.
    :raises InvalidTypeError: for items that are not bytes.
    """
    if not isinstance(settings, PsiSettings):
        raise InvalidTypeError("settings must be a PsiSettings")
    settings.validate()
    if settings.compute == "sum":
        raise InvalidArgumentError("compute 'sum' runs through create_sum_party")
    if role not in ROLES:
        raise InvalidArgumentError(f"role must be one of {', '.join(ROLES)}")
    session_id = check_session_id(session_id)
    if isinstance(peer_size, bool) or not isinstance(peer_size, int):
        raise InvalidTypeError("peer_size must be an int")
    if peer_size < 0:
        raise InvalidArgumentError("peer_size must be non-negative")
    if not isinstance(items, Sequence) or isinstance(items, (bytes, str)):
        raise InvalidTypeError("items must be a sequence of bytes")
    if not all(isinstance(x, bytes) for x in items):
        raise InvalidTypeError("every item must be bytes")
    if settings.protocol == "rsa":
        return RsaParty(
            settings,
            rsa_key=rsa_key,
            role=role,
            items=items,
            peer_size=peer_size,
            session_id=session_id,
            workdir=workdir,
            progress=progress,
        )
    if rsa_key is not None:
        raise InvalidArgumentError("rsa_key is only used by the rsa protocol")
    return CommutativeParty(
        settings,
        role=role,
        items=items,
        peer_size=peer_size,
        session_id=session_id,
        workdir=workdir,
        progress=progress,
    )
