"""Run both sides of an intersection-sum in one process (tests, benchmarks, notebooks)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, cast

from ._local import drive_pair
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
    listener, connector = drive_pair(
        parties["listener"],
        parties["connector"],
        lambda data: decode_sum_message(data, settings, sid),
        "intersection-sum run",
    )
    return cast(SumOutcome, listener), cast(SumOutcome, connector)
