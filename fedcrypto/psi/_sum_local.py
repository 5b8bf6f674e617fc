"""Run both sides of an intersection-sum in one process (tests, benchmarks, notebooks)."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Sequence
from typing import Any

from ..exceptions import LocalProtocolError
from ._settings import PsiSettings
from ._sum import SumOutcome, SumParty, create_sum_party
from ._sum_messages import decode_sum_message

__all__ = ["run_sum_pair"]


def run_sum_pair(
    settings: PsiSettings,
    listener_items: Sequence[bytes],
    connector_items: Sequence[bytes],
    *,
    listener_values: Any = None,
    connector_values: Any = None,
    session_id: bytes | None = None,
    **party_kwargs: Any,
) -> tuple[SumOutcome, SumOutcome]:
    """Run a complete intersection-sum between a listener and a connector in this process.

    Exactly one of ``listener_values`` / ``connector_values`` is given (that side holds the
    values).  Every message goes through ``to_bytes`` and :func:`decode_sum_message`, as
    over a network.  ``party_kwargs`` go to both :func:`create_sum_party` calls
    (``value_bits``, ``key_size``, ``unsafe_allow_small_keys``, ...; ``private_key`` and
    ``column_names`` only to the value holder).

    :returns: ``(listener_outcome, connector_outcome)``.
    :raises LocalProtocolError: if the run stalls or messages are left over (a bug).
    :raises ProtocolError: any error of either party.
    """
    sid = session_id if session_id is not None else os.urandom(32)
    private_key = party_kwargs.pop("private_key", None)
    column_names = party_kwargs.pop("column_names", ())

    def make(role: str, items: Sequence[bytes], peer: Sequence[bytes], values: Any) -> SumParty:
        return create_sum_party(
            settings,
            role=role,
            items=items,
            peer_size=len(peer),
            session_id=sid,
            values=values,
            private_key=private_key if values is not None else None,
            column_names=column_names if values is not None else (),
            **party_kwargs,
        )

    parties = {
        "listener": make("listener", listener_items, connector_items, listener_values),
        "connector": make("connector", connector_items, listener_items, connector_values),
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
                    msg = decode_sum_message(queues[role].popleft(), settings, sid)
                    queues[other].extend(m.to_bytes() for m in party.handle(msg))
                    progressed = True
            if not progressed:
                raise LocalProtocolError("intersection-sum run stalled: no message to handle")
        if queues["listener"] or queues["connector"]:
            raise LocalProtocolError("messages left over after both parties finished")
        return parties["listener"].result(), parties["connector"].result()
    finally:
        for p in parties.values():
            p.close()
