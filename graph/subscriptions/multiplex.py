"""Multiplexed delivery: equal live subscribers share one execution per event.

Subscribers of one hub batch whose operation (document, operation name, variables) and
grants are equal would each execute the same selection on the same event, with the same
loaders, and send the same payload. The first of them to reach an event executes it as
usual; the payload it sends (`{"data": ..., "extensions": ...}`) is kept in the batch's
scope, and the others send it under their own operation id without executing anything.

Only the execution and serialisation are shared. Each subscriber still checks its own
authentication and module grant, pays its own cost, keeps its own cursor and queue, and
its grants are read at every event, so a role change moves it to another group. A payload
with errors is not shared (each error carries the connection's request id), nor is an
event the first subscriber did not send (its filter dropped it): the others then execute
it themselves, which gives the same answer as before multiplexing. The payload's
`extensions` (today the cost analysis's `cost` and `maxCost`) must depend on the operation
only; an extension that adds something per connection there would have to join the key.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import orjson

from auth.rbac import Principal

if TYPE_CHECKING:
    from graph.subscriptions.context import EventScope

# The operation the current task runs (set by the connection's handler), and the payload
# slot this subscriber fills with what it sends next, if it executes for its group.
_operation: ContextVar[Operation | None] = ContextVar("subscription_operation", default=None)
_lead: ContextVar[asyncio.Future[str | None] | None] = ContextVar("subscription_lead", default=None)


class Operation:
    """One subscribe message: what makes two subscribers equal, and how to send a frame."""

    __slots__ = ("key", "prefix", "send")

    def __init__(
        self,
        operation_id: str,
        query: object,
        variables: object,
        operation_name: object,
        send: Callable[[str], Awaitable[None]],
    ) -> None:
        self.key = request_key(query, variables, operation_name)
        # The frame up to the payload, as orjson writes `{"id", "type", "payload"}`.
        self.prefix = '{"id":' + orjson.dumps(operation_id).decode() + ',"type":"next","payload":'
        self.send = send

    def frame(self, payload: str) -> str:
        """A `next` message of this operation carrying `payload` (JSON)."""
        return self.prefix + payload + "}"


def request_key(query: object, variables: object, operation_name: object) -> Hashable | None:
    """What an operation's result depends on besides the caller; None: not shareable."""
    if not isinstance(query, str) or not query:
        return None
    try:
        # As str: orjson returns its bytes in a 4 KB buffer, too much to keep per subscription.
        encoded = orjson.dumps(variables or {}, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return None
    return (query, operation_name if isinstance(operation_name, str) else None, encoded)


def grants_key(principal: Principal) -> Hashable:
    """What RBAC decides from: two callers with equal grants see equal events.

    Nothing a subscription selects depends on who the caller is beyond their grants.
    """
    return (principal.is_superuser, principal.permissions)


def start_operation(operation: Operation) -> None:
    """The current task runs `operation` (called by the handler, in the operation's task)."""
    _operation.set(operation)


def current_operation() -> Operation | None:
    """The operation of the current task, if it can be multiplexed."""
    operation = _operation.get()
    return operation if operation is not None and operation.key is not None else None


async def send_shared(
    slot: asyncio.Future[str | None], operation: Operation, scope: EventScope
) -> bool:
    """Send what the group's first subscriber sent for this event; False if it sent nothing
    shareable (then the caller executes the event itself)."""
    # Shielded: a subscriber cancelled while waiting must not cancel the slot of the others.
    payload = slot.result() if slot.done() else await asyncio.shield(slot)
    if payload is None:
        return False
    scope.reused += 1
    await operation.send(operation.frame(payload))
    return True


def lead(slot: asyncio.Future[str | None]) -> None:
    """The next `next` message this task sends fills `slot`."""
    _lead.set(slot)


def settle(slot: asyncio.Future[str | None]) -> None:
    """Nothing was sent for the slot's event: the others execute it themselves."""
    if _lead.get() is slot:
        _lead.set(None)
    if not slot.done():
        slot.set_result(None)


def fill(message: Any) -> str | None:
    """Offer a message the task is about to send to the slot it leads.

    Returns the frame to send instead (the message serialised once), or None to send the
    message as usual.
    """
    slot = _lead.get()
    if slot is None:
        return None
    _lead.set(None)
    if slot.done():
        return None
    payload = message.get("payload") if message.get("type") == "next" else None
    if not isinstance(payload, dict) or payload.get("errors"):
        slot.set_result(None)
        return None
    text = orjson.dumps(payload).decode()
    slot.set_result(text)
    operation = _operation.get()
    if operation is None:
        return None
    return operation.frame(text)
