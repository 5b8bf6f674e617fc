"""An in-process Flower ``Grid`` for tests and benchmarks of Flower apps.

:class:`InProcessGrid` runs a ``ClientApp`` for each of its nodes synchronously, in this
process, but behaves like Flower's engines where it matters for correctness:

* every message and every reply goes through Flower's protobuf serde (bytes in between);
* every node's ``Context`` is stored as protobuf bytes between two messages and rebuilt
  for the next one, so a ClientApp cannot keep anything in Python objects;
* a ClientApp that raises yields an error reply and its ``Context`` changes are
  discarded, as in Flower's simulation engine.

Like Flower's ServerApp process, constructing a grid records the run in Flower's process-wide
``TaskIdentity`` (``Message()`` reads it).

Faults are injected with ``offline`` (nodes that never answer, i.e. time out) and an
``interceptor`` that sees each node's incoming message and reply and may replace the
reply or drop it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from flwr.app import Context, Error, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.common.constant import SUPERLINK_NODE_ID, ErrorCode
from flwr.common.serde import (
    context_from_proto,
    context_to_proto,
    message_from_proto,
    message_to_proto,
)
from flwr.proto.message_pb2 import Context as ProtoContext
from flwr.proto.message_pb2 import Message as ProtoMessage
from flwr.serverapp import Grid
from flwr.supercore.run import Run
from flwr.supercore.task_identity import TaskIdentity

from ..._random import randbits

__all__ = ["InProcessGrid", "Interceptor"]

#: ``(node id, incoming message, reply or None) -> reply to deliver, or None to drop it``.
Interceptor = Callable[[int, Message, Message | None], Message | None]


def _wire(msg: Message) -> bytes:
    return bytes(message_to_proto(msg).SerializeToString())


def _unwire(data: bytes) -> Message:
    proto = ProtoMessage()
    proto.ParseFromString(data)
    return message_from_proto(proto)


class InProcessGrid(Grid):
    """A Flower ``Grid`` whose nodes run ``client_app`` in this process.

    Args:
        client_app: the ClientApp every node runs.
        num_nodes: number of nodes (random 64-bit node ids).
        node_configs: one node config per node (default ``partition-id`` /
            ``num-partitions``, as in Flower's simulation).
        run_config: the run config every node sees.
        interceptor: fault injection (see :data:`Interceptor`).
        offline: node ids that never answer (timeouts).
        gate: ``(node id, incoming message) -> bool``; ``False`` means the node is
            offline for that message (it does not run and never answers).

    Attributes:
        client_seconds: node id -> wall seconds spent in its ClientApp.
        messages_sent / bytes_to_nodes / bytes_from_nodes: traffic counters.
        replies_seen: every reply as delivered to the server (after the interceptor).
    """

    def __init__(
        self,
        client_app: ClientApp,
        num_nodes: int,
        *,
        node_configs: list[dict[str, Any]] | None = None,
        run_config: Mapping[str, Any] | None = None,
        interceptor: Interceptor | None = None,
        offline: Iterable[int] = (),
        gate: Callable[[int, Message], bool] | None = None,
        run_id: int = 1,
    ) -> None:
        self.gate = gate
        self.client_app = client_app
        self.interceptor = interceptor
        self.offline = set(offline)
        self._run = Run.create_empty(run_id)
        # Flower's ServerApp process records its run here; Message() reads it.
        TaskIdentity.task_id = 1
        TaskIdentity.run_id = run_id
        TaskIdentity.node_id = SUPERLINK_NODE_ID
        self.node_ids: list[int] = []
        while len(self.node_ids) < num_nodes:
            nid = randbits(64)
            if nid and nid not in self.node_ids:
                self.node_ids.append(nid)
        configs = node_configs or [
            {"partition-id": i, "num-partitions": num_nodes} for i in range(num_nodes)
        ]
        self._contexts: dict[int, bytes] = {}
        for nid, nc in zip(self.node_ids, configs, strict=True):
            ctx = Context(
                run_id=run_id,
                node_id=nid,
                node_config=dict(nc),
                state=RecordDict(),
                run_config=dict(run_config or {}),
            )
            self._contexts[nid] = bytes(context_to_proto(ctx).SerializeToString())
        self._replies: dict[str, bytes] = {}
        self.client_seconds: dict[int, float] = dict.fromkeys(self.node_ids, 0.0)
        self.messages_sent = 0
        self.bytes_to_nodes = 0
        self.bytes_from_nodes = 0
        self.replies_seen: list[Message] = []

    # -- Grid API ------------------------------------------------------------------------
    def set_run(self, run: Run) -> None:  # noqa: D102
        self._run = run

    @property
    def run(self) -> Run:  # noqa: D102
        return self._run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:  # noqa: D102
        return Message(content, dst_node_id, message_type, ttl=ttl, group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:  # noqa: D102
        return list(self.node_ids)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:  # noqa: D102
        ids = []
        for msg in messages:
            msg_id = uuid.uuid4().hex
            msg.metadata.__dict__["_message_id"] = msg_id
            msg.metadata.__dict__["_run_id"] = self._run.run_id
            data = _wire(msg)
            self.messages_sent += 1
            self.bytes_to_nodes += len(data)
            reply = self._deliver(data)
            if reply is not None:
                out = _wire(reply)
                self.bytes_from_nodes += len(out)
                self._replies[msg_id] = out
            ids.append(msg_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:  # noqa: D102
        out = []
        for mid in message_ids:
            data = self._replies.pop(mid, None)
            if data is not None:
                reply = _unwire(data)
                self.replies_seen.append(reply)
                out.append(reply)
        return out

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:  # noqa: D102
        return self.pull_messages(self.push_messages(messages))

    # -- one node ------------------------------------------------------------------------
    def _deliver(self, data: bytes) -> Message | None:
        msg = _unwire(data)
        nid = int(msg.metadata.dst_node_id)
        if nid not in self._contexts or nid in self.offline:
            return None
        if self.gate is not None and not self.gate(nid, _unwire(data)):
            return None
        proto = ProtoContext()
        proto.ParseFromString(self._contexts[nid])
        ctx = context_from_proto(proto)
        t0 = time.perf_counter()
        try:
            reply: Message | None = self.client_app(msg, ctx)
        except Exception as exc:  # noqa: BLE001 - Flower turns any ClientApp exception into an error reply
            reply = Message(
                Error(
                    code=ErrorCode.CLIENT_APP_RAISED_EXCEPTION,
                    reason=f"{type(exc).__name__}: {exc}",
                ),
                reply_to=msg,
            )
        else:
            self._contexts[nid] = bytes(context_to_proto(ctx).SerializeToString())
        self.client_seconds[nid] += time.perf_counter() - t0
        if self.interceptor is not None:
            reply = self.interceptor(nid, _unwire(data), reply)
        return reply

    def set_context(self, node_id: int, context: Context) -> None:
        """Replace a node's stored Context (to simulate a corrupted or tampered store)."""
        self._contexts[node_id] = bytes(context_to_proto(context).SerializeToString())

    def context(self, node_id: int) -> Context:
        """A copy of a node's stored Context (for assertions)."""
        proto = ProtoContext()
        proto.ParseFromString(self._contexts[node_id])
        return context_from_proto(proto)
