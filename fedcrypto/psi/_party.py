"""The sans-I/O party interface shared by all PSI protocols, and the factory."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._random import VectorRNG
from ..exceptions import InvalidArgumentError, InvalidTypeError, ProtocolError
from ._messages import PsiMessage, message_param
from ._settings import ROLES, PsiSettings, check_session_id

__all__ = ["PsiParty", "PsiResult", "ProgressFn", "create_party", "secure_permutation"]

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PsiResult:
    """What this party learned.

    :ivar indices: sorted int64 positions in this party's ``items`` that are in the
        intersection, or None when this party does not learn the intersection.
    :ivar count: the intersection size when this party learns it (always set alongside
        ``indices``; alone in reveal mode ``count``), else None.
    """

    indices: npt.NDArray[np.int64] | None
    count: int | None


def secure_permutation(n: int) -> npt.NDArray[np.int64]:
    """A uniformly random permutation of ``range(n)`` (sort by 64-bit keys from
    :class:`~fedcrypto._random.VectorRNG`, AES-CTR keyed from the OS CSPRNG).

    Ties among 64-bit keys (probability below n^2 / 2^65) only make the permutation
    marginally non-uniform; they leak nothing about the items.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return np.argsort(VectorRNG().uint64(n), kind="stable").astype(np.int64)


def batch_count(n: int, batch_size: int) -> int:
    """Batches in a stream of ``n`` elements (at least one, possibly empty)."""
    return max(1, -(-n // batch_size))


class PsiParty:
    """One side of a PSI run, as a sans-I/O state machine.

    Drive it with :meth:`start` then :meth:`handle` for each decoded peer message, sending
    every returned message in order, until :attr:`done`; then read :meth:`result`.

    Raises :class:`~fedcrypto.exceptions.ProtocolError` for a message out of order, of the
    wrong kind or size, :class:`~fedcrypto.exceptions.InvalidGroupElementError` for a peer
    element outside the group, :class:`~fedcrypto.exceptions.InvalidSignatureError` for an
    RSA signature that does not verify.  After an error the party is unusable.
    """

    def __init__(
        self,
        settings: PsiSettings,
        *,
        role: str,
        items: Sequence[bytes],
        peer_size: int,
        session_id: bytes,
        workdir: str | None,
        progress: ProgressFn | None,
    ) -> None:
        self.settings = settings
        self.role = role
        self.peer_role = "connector" if role == "listener" else "listener"
        self._items = items
        self.n = len(items)
        self.peer_size = peer_size
        self._session_id = session_id
        self._param = message_param(settings, session_id)
        self._workdir = workdir
        self._progress = progress
        self._started = False
        self._failed = False
        self._result: PsiResult | None = None

    # -- interface -------------------------------------------------------------------
    def start(self) -> list[PsiMessage]:
        """The first messages to send (may be empty).

        :raises ProtocolError: if called twice.
        """
        if self._started:
            raise ProtocolError("start() was already called")
        self._started = True
        return self._guard(self._start)

    def handle(self, msg: PsiMessage) -> list[PsiMessage]:
        """Consume one peer message; return the messages to send in reply (maybe none).

        :raises ProtocolError: before :meth:`start`, after completion or failure, or for an
            unexpected message.
        """
        if not self._started:
            raise ProtocolError("handle() called before start()")
        if self._failed:
            raise ProtocolError("this party already failed")
        if self.done:
            raise ProtocolError(f"unexpected {type(msg).__name__}: the protocol is complete")
        if not isinstance(msg, PsiMessage):
            raise InvalidTypeError("handle() expects a PsiMessage")
        if msg.param != self._param:
            raise ProtocolError("message belongs to another session or suite")
        return self._guard(self._handle, msg)

    @property
    def done(self) -> bool:
        """True once this party has sent and received everything."""
        return self._result is not None

    def result(self) -> PsiResult:
        """What this party learned.

        :raises ProtocolError: before the protocol is complete.
        """
        if self._result is None:
            raise ProtocolError("the protocol is not complete")
        return self._result

    def close(self) -> None:
        """Release worker processes and temporary files (idempotent; also done on completion)."""
        self._close()

    def __reduce__(self) -> Any:
        raise TypeError("PSI parties hold secret keys and cannot be pickled")

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(protocol={self.settings.protocol!r}, role={self.role!r},"
                f" n={self.n}, peer_size={self.peer_size}, done={self.done})")

    # -- helpers for subclasses --------------------------------------------------------
    def _guard(self, fn: Callable[..., list[PsiMessage]], *args: Any) -> list[PsiMessage]:
        try:
            out = fn(*args)
        except BaseException:
            self._failed = True
            self._close()
            raise
        if self.done:
            self._close()
        return out

    def _report(self, phase: str, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress(phase, done, total)

    def _finish(self, indices: npt.NDArray[np.int64] | None, count: int | None) -> None:
        self._result = PsiResult(indices=indices, count=count)

    def _start(self) -> list[PsiMessage]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _handle(self, msg: PsiMessage) -> list[PsiMessage]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:
        pass


def create_party(
    settings: PsiSettings,
    *,
    role: str,
    items: Sequence[bytes],
    peer_size: int,
    session_id: bytes,
    workdir: str | None = None,
    progress: ProgressFn | None = None,
    rsa_key: Any = None,
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
    kwargs: dict[str, Any] = dict(
        role=role, items=items, peer_size=peer_size, session_id=session_id, workdir=workdir,
        progress=progress,
    )
    if settings.protocol == "rsa":
        from ._rsa import RsaParty

        return RsaParty(settings, rsa_key=rsa_key, **kwargs)
    if rsa_key is not None:
        raise InvalidArgumentError("rsa_key is only used by the rsa protocol")
    from ._commutative import CommutativeParty

    return CommutativeParty(settings, **kwargs)
