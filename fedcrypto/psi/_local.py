"""Run both parties of a PSI in one process (tests, benchmarks, trying things out)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Any

from ..exceptions import LocalProtocolError
from ._factory import create_party
from ._messages import decode_message
from ._party import PsiParty, PsiResult
from ._settings import PsiSettings

__all__ = ["run_pair", "drive_pair"]


def run_pair(
    settings: PsiSettings,
    listener_items: Sequence[bytes],
    connector_items: Sequence[bytes],
    *,
    session_id: bytes | None = None,
    workdir: str | None = None,
    executor: Executor | None = None,
    **party_kwargs: Any,
) -> tuple[PsiResult, PsiResult]:
    """Run a complete PSI between a listener and a connector in this process.

    Every message goes through :meth:`PsiMessage.to_bytes` and :func:`decode_message`, as
    over a network.  The two parties are driven alternately; each side's outgoing messages
    are queued and delivered in order.

    ``executor`` (any :class:`concurrent.futures.Executor`, None = inline) runs both
    parties' chunks; ``workdir`` and the other keywords go to :func:`create_party`.

    :returns: ``(listener_result, connector_result)``.
    :raises LocalProtocolError: if the run stalls or messages are left over (a bug).
    :raises ProtocolError: any error of either party (see :class:`PsiParty`).
    """
    sid = session_id if session_id is not None else os.urandom(32)
    parties = {
        "listener": create_party(
            settings,
            role="listener",
            items=listener_items,
            peer_size=len(connector_items),
            session_id=sid,
            workdir=workdir,
            executor=executor,
            **party_kwargs,
        ),
        "connector": create_party(
            settings,
            role="connector",
            items=connector_items,
            peer_size=len(listener_items),
            session_id=sid,
            workdir=workdir,
            executor=executor,
            **party_kwargs,
        ),
    }
    return drive_pair(
        parties["listener"],
        parties["connector"],
        lambda data: decode_message(data, settings, sid),
        "PSI run",
    )


def drive_pair(
    listener: PsiParty,
    connector: PsiParty,
    decode: Callable[[bytes], Any],
    what: str,
) -> tuple[PsiResult, PsiResult]:
    """Drive two sans-I/O parties in this process until both are done, then close both.

    Every message goes through ``to_bytes`` and ``decode`` (bytes -> message), as over a
    network; each side's outgoing messages are queued and delivered in order.  The one
    in-process driver behind :func:`run_pair`, ``run_sum_pair`` and ``run_payload_pair``.

    :raises LocalProtocolError: the run stalls or messages are left over (a bug), naming
        ``what`` ran.
    :raises ProtocolError: any error of either party.
    """
    parties = {"listener": listener, "connector": connector}
    try:
        queues: dict[str, deque[bytes]] = {"listener": deque(), "connector": deque()}
        for role, other in (("listener", "connector"), ("connector", "listener")):
            queues[other].extend(m.to_bytes() for m in parties[role].start())
        while not (listener.done and connector.done):
            progressed = False
            for role, other in (("listener", "connector"), ("connector", "listener")):
                party = parties[role]
                if queues[role] and not party.done:
                    msg = decode(queues[role].popleft())
                    queues[other].extend(m.to_bytes() for m in party.handle(msg))
                    progressed = True
            if not progressed:
                raise LocalProtocolError(f"{what} stalled: no party has a message to handle")
        if queues["listener"] or queues["connector"]:
            raise LocalProtocolError("messages left over after both parties finished")
        return listener.result(), connector.result()
    finally:
        listener.close()
        connector.close()
