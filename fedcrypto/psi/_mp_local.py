"""Run every party of a multi-party PSI in one process (tests, notebooks, benchmarks)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor

from ..exceptions import InvalidArgumentError, InvalidTypeError, LocalProtocolError
from ._mp_messages import MpMessage, decode_mp_message
from ._mp_settings import MultipartySettings
from ._multiparty import MultipartyParty
from ._party import PsiResult

__all__ = ["run_multiparty"]


def run_multiparty(
    settings: MultipartySettings,
    sets: Sequence[Sequence[bytes]],
    *,
    session_id: bytes | None = None,
    observer: Callable[[MpMessage], None] | None = None,
    executor: Executor | None = None,
) -> list[PsiResult]:
    """Run a complete n-party PSI in this process; party ``i`` holds ``sets[i]``.

    Every message goes through ``to_bytes`` and :func:`decode_mp_message`, as over a
    network, and is delivered in order to its destination.

    :param settings: the agreed settings.
    :param sets: one sequence of distinct ``bytes`` identifiers per party (2 to 64 parties).
    :param session_id: 32 bytes (default: random).
    :param observer: called with every decoded message before delivery (to inspect what
        each party receives, e.g. in leakage tests).
    :param executor: shared by every party for its masking (None: inline).
    :returns: one :class:`PsiResult` per party, in party order.
    :raises InvalidArgumentError: / :raises InvalidTypeError: for bad arguments.
    :raises LocalProtocolError: if the run stalls (a bug).
    """
    if not isinstance(sets, Sequence) or isinstance(sets, (bytes, str)):
        raise InvalidTypeError("sets must be a sequence of sequences of bytes")
    if len(sets) < 2:
        raise InvalidArgumentError("a multi-party PSI needs at least two sets")
    sid = session_id if session_id is not None else os.urandom(32)
    sizes = [len(s) for s in sets]
    n = len(sets)
    parties: list[MultipartyParty] = []
    try:
        for i, items in enumerate(sets):
            parties.append(
                MultipartyParty(
                    settings,
                    index=i,
                    items=items,
                    sizes=sizes,
                    session_id=sid,
                    executor=executor,
                )
            )
        queues: list[deque[bytes]] = [deque() for _ in range(n)]

        def post(msgs: list[MpMessage]) -> None:
            for m in msgs:
                queues[m.dest].append(m.to_bytes())

        for p in parties:
            post(p.start())
        while not all(p.done for p in parties):
            progressed = False
            for i, p in enumerate(parties):
                if queues[i] and not p.done:
                    msg = decode_mp_message(queues[i].popleft(), settings, n, sid)
                    if observer is not None:
                        observer(msg)
                    post(p.handle(msg))
                    progressed = True
            if not progressed:
                raise LocalProtocolError("multi-party PSI run stalled")
        if any(queues):
            raise LocalProtocolError("messages left over after every party finished")
        return [p.result() for p in parties]
    finally:
        for p in parties:
            p.close()
