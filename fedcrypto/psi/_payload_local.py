"""Run both sides of a payload transfer in one process (tests, benchmarks, notebooks)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import cast

from ._local import drive_pair
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
    listener, connector = drive_pair(
        parties["listener"],
        parties["connector"],
        lambda data: decode_payload_message(data, settings, sid),
        "payload transfer",
    )
    return cast(PayloadOutcome, listener), cast(PayloadOutcome, connector)
