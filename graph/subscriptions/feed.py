"""Following the change log for one subscription: replay after a cursor, then live.

The seam between the two has neither gap nor duplicate. The subscriber registers with the
hub first and learns the hub's position P; the hub hands it every record after P. The
replay reads the records after the cursor up to P from the database. Any record at or
below the last one yielded is skipped, so a cursor ahead of this instance's hub (taken on
another instance) replays nothing and skips what the hub then brings again.
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Final, Protocol, TypeVar

from auth.rbac import Action, Module, permission_name
from domain.audit import ChangeRecord
from domain.errors import CursorExpired, Forbidden, InvalidInput, TooManyRequests, Unauthenticated
from graph.context import Info
from graph.permissions import AUTHENTICATION_REQUIRED
from graph.ratelimit import caller_key
from graph.subscriptions import multiplex
from graph.subscriptions.context import EventScope, SubscriptionContext, operation_cost
from graph.subscriptions.cursor import decode_cursor
from realtime.hub import Subscriber

REPLAY_PAGE: Final = 500


class Positioned(Protocol):
    """What a subscription yields: a record, or several of one transaction, at its last id."""

    @property
    def id(self) -> int:
        """The id of its (last) change record: its cursor."""
        ...


T = TypeVar("T", bound=Positioned)
Decode = Callable[[list[ChangeRecord]], Sequence[T]]


def records(batch: list[ChangeRecord]) -> list[ChangeRecord]:
    """Each record on its own."""
    return batch


def subscription_context(info: Info) -> SubscriptionContext:
    """The connection's context; subscriptions are served over WebSocket only."""
    context = info.context
    if not isinstance(context, SubscriptionContext):
        raise InvalidInput("Subscriptions are served over WebSocket (graphql-transport-ws).")
    return context


def _allowed(context: SubscriptionContext, module: Module) -> None:
    """Before each event: the caller is still authenticated and may still read `module`."""
    principal = context.state.principal
    if principal is None:
        raise context.auth_error or Unauthenticated(AUTHENTICATION_REQUIRED)
    if not principal.can(module):
        name = permission_name(module, Action.READ)
        raise Forbidden(f"Missing permission {name}.", details={"permission": name})


async def _charge(context: SubscriptionContext, cost: int) -> None:
    """Each event costs its selection, from the caller's cost bucket."""
    if cost <= 0:
        return
    wait = await context.services.limiter.take_cost(caller_key(context), cost)
    if wait:
        raise TooManyRequests(
            "The cost budget is spent; resume from the last cursor later.",
            details={"retryAfter": max(1, math.ceil(wait))},
        )


async def follow(
    info: Info,
    entities: frozenset[str] | None,
    module: Module,
    after: str | None,
    decode: Decode[T],
    *,
    audit_ids: bool = False,
) -> AsyncGenerator[T, None]:
    """The changes of `entities` (None: all) after `after`, then live, in commit order.

    `decode` turns each batch of records into what the subscription yields, in id order;
    a live batch is decoded once for every subscriber it reaches (`EventScope.decoded`), and
    each live event is executed once per group of equal subscribers (`multiplex`).
    """
    context = subscription_context(info)
    realtime = context.realtime
    state = context.state
    start = None if after is None else decode_cursor(after, audit_ids=audit_ids)
    principal = state.principal
    if principal is None:
        raise Unauthenticated(AUTHENTICATION_REQUIRED)
    cost = operation_cost.get()
    # Live events are executed once for every equal subscriber of a batch.
    operation = multiplex.current_operation()
    subscriber = Subscriber(entities, capacity=context.settings.subscription_queue_size)
    await realtime.connections.open(state, subscriber)
    try:
        await realtime.start()
        position = realtime.hub.subscribe(subscriber)
        if start is not None:
            bounds = await realtime.hub.bounds()
            if start < bounds.horizon:
                raise CursorExpired(
                    "The cursor is older than the archive horizon; reload with a query.",
                    details={"horizon": bounds.horizon},
                )
            if start > max(bounds.newest, position):
                raise InvalidInput("Unknown cursor.", fields={"after": "is not a known cursor"})
            cursor = start
            while cursor < position:
                page = await realtime.hub.read(
                    cursor, limit=REPLAY_PAGE, entities=entities, up_to=position
                )
                if not page:
                    break
                cursor = page[-1].id
                scope = realtime.event_scope()
                scope.acquire()
                try:
                    for item in decode(page):
                        _allowed(context, module)
                        await _charge(context, cost)
                        scope.enter()
                        yield item
                finally:
                    scope.release()
                if len(page) < REPLAY_PAGE:
                    break
            position = max(position, start)
        while True:
            batch, shared = await subscriber.next()
            batch_scope = shared if isinstance(shared, EventScope) else None
            try:
                items = decode(batch) if batch_scope is None else batch_scope.decoded(decode, batch)
                for item in items:
                    if item.id <= position:
                        continue
                    position = item.id
                    _allowed(context, module)
                    await _charge(context, cost)
                    if batch_scope is None:
                        yield item
                        continue
                    batch_scope.enter()
                    if operation is None or state.principal is None:
                        yield item
                        continue
                    key = (operation.key, multiplex.grants_key(state.principal), item.id)
                    slot, leads = batch_scope.share(key)
                    if not leads:
                        if not await multiplex.send_shared(slot, operation, batch_scope):
                            yield item  # not shareable: executed here, as without a group
                        continue
                    multiplex.lead(slot)
                    try:
                        yield item
                    finally:
                        multiplex.settle(slot)
            finally:
                if batch_scope is not None:
                    batch_scope.release()
    finally:
        realtime.hub.unsubscribe(subscriber)
        realtime.connections.close(state, subscriber, principal.user_id)
