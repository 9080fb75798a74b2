"""The context of a WebSocket connection, and the per-batch scope its events execute in.

A connection lives for hours, so it must not hold a session or loader caches of its own:
each event executes with the loaders of the batch it came in (`EventScope`), shared by
every subscriber of the process that receives that batch, and closed when the last one is
done. The scope is found through a context variable that the subscription sets before it
yields the event; graphql-core executes the event in the same task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from strawberry.fastapi import BaseContext

from graph.context import Context, Services
from graph.dataloaders import LoaderFactory, Loaders
from graph.ports import RequestUnitOfWork, UnitOfWorkFactory

if TYPE_CHECKING:
    from graph.subscriptions.connection import Realtime, SocketState

_event_scope: ContextVar[EventScope | None] = ContextVar("subscription_event_scope", default=None)
# The cost of the running subscription's selection, charged per event.
operation_cost: ContextVar[int] = ContextVar("subscription_operation_cost", default=0)

_closing: set[asyncio.Task[None]] = set()
R = TypeVar("R")


class EventScope:
    """One unit of work and one set of loaders for a batch of events."""

    __slots__ = ("_decoded", "_holders", "_shares", "executed", "loaders", "reused", "uow")

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        loaders: LoaderFactory = Loaders,
    ) -> None:
        # Cheap until used: a session takes no connection before its first statement.
        self.uow = unit_of_work()
        self.loaders = loaders(self.uow)
        self._holders = 0
        self._decoded: dict[tuple[Any, int], tuple[list[Any], Any]] = {}
        # Per event and group of equal subscribers (graph.subscriptions.multiplex): the
        # payload the first of them sent, for the others to send under their own id.
        self._shares: dict[Hashable, asyncio.Future[str | None]] = {}
        self.executed = 0  # group events executed (by each group's first subscriber)
        self.reused = 0  # group events sent from another subscriber's execution

    def acquire(self) -> None:
        """One more holder."""
        self._holders += 1

    def release(self) -> None:
        """One holder fewer; the last one gives the connection back."""
        self._holders -= 1
        if self._holders == 0:
            task = asyncio.get_running_loop().create_task(self.uow.close())
            _closing.add(task)
            task.add_done_callback(_closing.discard)

    def decoded(self, decode: Callable[[list[Any]], R], records: list[Any]) -> R:
        """`decode(records)`, computed once for every subscriber of the batch.

        The hub hands every subscriber of a share the same list, which lives as long as
        the scope is held, so its identity is the key (the entry keeps the list alive).
        """
        key = (decode, id(records))
        found = self._decoded.get(key)
        if found is None:
            found = self._decoded[key] = (records, decode(records))
        return found[1]

    def share(self, key: Hashable) -> tuple[asyncio.Future[str | None], bool]:
        """The payload slot of `key` (an event and a group), and whether the caller fills it."""
        found = self._shares.get(key)
        if found is not None:
            return found, False
        slot = self._shares[key] = asyncio.get_running_loop().create_future()
        self.executed += 1
        return slot, True

    def enter(self) -> None:
        """Make this the scope of the events the current task executes next."""
        _event_scope.set(self)


class _UnitOfWorkOnDemand:
    """A subscription's unit of work outside its events, made only when really used.

    At subscribe time the access log names the operation (`name_operation`), which
    matters only to the change records of writes, and subscriptions write nothing; a
    unit of work and its loaders made for that would stay with every idle connection.
    """

    __slots__ = ("_context",)

    def __init__(self, context: SubscriptionContext) -> None:
        self._context = context

    def name_operation(self, name: str | None) -> None:
        """Nothing to name: a subscription writes no change records."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context._scope().uow, name)


class SubscriptionContext(Context):
    """`Context` for a WebSocket: the caller is set by `connection_init`, the unit of work
    and loaders come from the executing event's scope."""

    # Operations stream their results: a refusal before parsing (the rate limit) is set as
    # the result instead of raised (graph.ratelimit).
    streaming: ClassVar[bool] = True

    def __init__(
        self,
        *,
        services: Services,
        realtime: Realtime,
        state: SocketState,
        request_id: str,
        client_ip: str | None,
    ) -> None:
        BaseContext.__init__(self)
        self.services = services
        self.settings = services.settings
        self.realtime = realtime
        self.state = state
        self.request_id = request_id
        self.client_ip = client_ip
        self.auth_error = None
        self.session_user_id = None
        # For anything outside an event (subscribe time); holds no connection unless used.
        self._fallback: EventScope | None = None

    def _scope(self) -> EventScope:
        scope = _event_scope.get()
        if scope is not None:
            return scope
        if self._fallback is None:
            self._fallback = self.realtime.event_scope()
        return self._fallback

    @property
    def uow(self) -> RequestUnitOfWork:
        """The unit of work of the executing event (outside one: made when first used)."""
        scope = _event_scope.get()
        if scope is not None:
            return scope.uow
        if self._fallback is not None:
            return self._fallback.uow
        return cast(RequestUnitOfWork, _UnitOfWorkOnDemand(self))

    @uow.setter
    def uow(self, _value: Any) -> None:
        raise AttributeError("a subscription's unit of work comes from its event scope")

    @property
    def loaders(self) -> Loaders:
        """The loaders of the executing event."""
        return self._scope().loaders

    @loaders.setter
    def loaders(self, _value: Any) -> None:
        raise AttributeError("a subscription's loaders come from its event scope")

    @property
    def principal(self) -> Any:
        """The connection's caller, as last (re)authenticated."""
        return self.state.principal

    @principal.setter
    def principal(self, _value: Any) -> None:
        raise AttributeError("the connection's caller is set by its authentication")

    async def close(self) -> None:
        """Release the fallback scope's connection, if it ever took one."""
        if self._fallback is not None:
            await self._fallback.uow.close()
