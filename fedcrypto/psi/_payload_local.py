"""Run both sides of a payload transfer in one process (tests, benchmarks, notebooks)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence

from ..exceptions import LocalProtocolError
from ._payload import PayloadOutcome, PayloadParty, create_payload_party
from ._payload_messages import decode_payload_message
from ._settings import PsiSettings

__all__ = ["run_payload_pair"]


def run_payload_pair(
    settings: PsiSettings,
    listener_items: Sequence[bytes],
    connector_items: Sequence[bytes],
    *,
    listener_payloads: Sequence[bytes] | None = None,
    connector_payloads: Sequence[bytes] | None = None,
    session_id: bytes | None = None,
) -> tuple[PayloadOutcome, PayloadOutcome]:
    """Run a complete payload transfer between a listener and a connector in this process.

    Exactly one side passes payloads (the sender); ``settings.reveal`` names the other side
    or ``both``.  Every message goes through ``to_bytes`` and :func:`decode_payload_message`.

    :returns: ``(listener_outcome, connector_outcome)``.
    :raises LocalProtocolError: if the run stalls or messages are left over (a bug).
    :raises ProtocolError: any error of either party.
    """
    sid = session_id if session_id is not None else os.urandom(32)
    parties: dict[str, PayloadParty] = {
        "listener": create_payload_party(
            settings,
            role="listener",
            items=listener_items,
            peer_size=len(connector_items),
            session_id=sid,
            payloads=listener_payloads,
        ),
        "connector": create_payload_party(
            settings,
            role="connector",
            items=connector_items,
            peer_size=len(listener_items),
            session_id=sid,
            payloads=connector_payloads,
        ),
    }
    try:
        queues: dict[str, deque[bytes]] = {"listener": deque(), "connector": deque()}
        for role, other in (("listener", "connector"), ("connector", "listener")):
            queues[other].extend(m.to_bytes() for m in parties[role].start())
        while not (parties["listener"].done and parties["connector"].done):
            progressed = False
            for role, other in (("listener", "connector"), ("connector", "listener")):
                party = parties[role]
                if queues[role] and not party.done:
                    msg = decode_payload_message(queues[role].popleft(), settings, sid)
                    queues[other].extend(m.to_bytes() for m in party.handle(msg))
                    progressed = True
            if not progressed:
                raise LocalProtocolError("payload transfer stalled: no message to handle")
        if queues["listener"] or queues["connector"]:
            raise LocalProtocolError("messages left over after both parties finished")
        return parties["listener"].result(), parties["connector"].result()
    finally:
        for p in parties.values():
            p.close()
