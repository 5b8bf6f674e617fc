"""The sans-I/O party interface shared by all PSI protocols (the factory is in ``_factory``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._immutable import Immutable
from .._random import VectorRNG
from ..exceptions import InvalidTypeError, LocalProtocolError, RemoteProtocolError
from ._join import JoinProvider
from ._messages import PsiMessage, message_param
from ._settings import PsiSettings

__all__ = ["PsiParty", "PsiResult", "ProgressFn", "batch_count", "secure_permutation"]

ProgressFn = Callable[[str, int, int], None]


@dataclass(frozen=True)
class PsiResult(Immutable):
    """What this party learned (immutable; ``indices`` is a read-only array).

    :ivar indices: sorted int64 positions in this party's ``items`` that are in the
        intersection, or None when this party does not learn the intersection.
    :ivar count: the intersection size when this party learns it (always set alongside
        ``indices``; alone in reveal mode ``count``), else None.
    """

    indices: npt.NDArray[np.int64] | None
    count: int | None

    def __post_init__(self) -> None:
        if self.indices is not None:
            self.indices.setflags(write=False)


def secure_permutation(n: int, rng: VectorRNG | None = None) -> npt.NDArray[np.int64]:
    """A uniformly random permutation of ``range(n)`` (sort by 64-bit keys from
    :class:`~fedcrypto._random.VectorRNG`, AES-CTR keyed from the OS CSPRNG, or ``rng``).

    Ties among 64-bit keys (probability below n^2 / 2^65) only make the permutation
    marginally non-uniform; they leak nothing about the items.
    """
    if n == 0:
        return np.empty(0, dtype=np.int64)
    return np.argsort((rng or VectorRNG()).uint64(n), kind="stable").astype(np.int64)


def batch_count(n: int, batch_size: int) -> int:
    """Batches in a stream of ``n`` elements (at least one, possibly empty)."""
    return max(1, -(-n // batch_size))


class PsiParty:
    """One side of a PSI run, as a sans-I/O state machine.

    Drive it with :meth:`start` then :meth:`handle` for each decoded peer message, sending
    every returned message in order, until :attr:`done`; then read :meth:`result`.

    :meth:`handle` is the one door where peer data enters: everything the peer got wrong
    raises a :class:`~fedcrypto.exceptions.RemoteProtocolError` — a message out of order, of
    the wrong kind or size, an unacceptable RSA public key;
    :class:`~fedcrypto.exceptions.InvalidGroupElementError` for a peer element outside the
    group; :class:`~fedcrypto.exceptions.InvalidSignatureError` for an RSA signature that does
    not verify.  Misuse by this side's caller (``start`` twice, ``handle`` before ``start``,
    after completion or after a failure, ``result`` too early) raises
    :class:`~fedcrypto.exceptions.LocalProtocolError`.  After an error the party is unusable.
    """

    def __init__(
        self,
        settings: PsiSettings,
        *,
        role: str,
        items: Sequence[bytes],
        peer_size: int,
        session_id: bytes,
        executor: Executor | None,
        join: JoinProvider,
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
        self._executor = executor
        self._join_provider = join
        self._progress = progress
        self._started = False
        self._failed = False
        self._result: PsiResult | None = None

    # -- interface -------------------------------------------------------------------
    def start(self) -> list[PsiMessage]:
        """The first messages to send (may be empty).

        :raises LocalProtocolError: if called twice.
        """
        if self._started:
            raise LocalProtocolError("start() was already called")
        self._started = True
        return self._guard(self._start)

    def handle(self, msg: PsiMessage) -> list[PsiMessage]:
        """Consume one peer message; return the messages to send in reply (maybe none).

        :raises LocalProtocolError: before :meth:`start`, after completion or after a failure.
        :raises InvalidTypeError: for something that is not a :class:`PsiMessage`.
        :raises RemoteProtocolError: for a message the peer should not have sent (another
            session or suite, out of order, wrong kind or size; see the class docstring).
        """
        if not self._started:
            raise LocalProtocolError("handle() called before start()")
        if self._failed:
            raise LocalProtocolError("this party already failed")
        if self.done:
            raise LocalProtocolError(
                f"handle() called with a {type(msg).__name__} after the protocol completed"
            )
        if not isinstance(msg, PsiMessage):
            raise InvalidTypeError("handle() expects a PsiMessage")
        if msg.param != self._param:
            raise RemoteProtocolError("message belongs to another session or suite")
        return self._guard(self._handle, msg)

    @property
    def done(self) -> bool:
        """True once this party has sent and received everything."""
        return self._result is not None

    def result(self) -> PsiResult:
        """What this party learned.

        :raises LocalProtocolError: before the protocol is complete.
        """
        if self._result is None:
            raise LocalProtocolError("the protocol is not complete")
        return self._result

    def close(self) -> None:
        """Release the join's memory and spill files (idempotent; also done on completion).

        The executor belongs to the caller and is left running."""
        self._close()

    def __reduce__(self) -> Any:
        raise TypeError("PSI parties hold secret keys and cannot be pickled")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(protocol={self.settings.protocol!r}, role={self.role!r},"
            f" n={self.n}, peer_size={self.peer_size}, done={self.done})"
        )

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
