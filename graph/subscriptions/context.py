"""The context of a WebSocket connection, and the per-batch scope its events execute in.

A connection lives for hours, so it must not hold a session or loader caches of its own:
each event executes with the loaders of the batch it came in (`EventScope`), shared by
every subscriber of the process that receives that batch, and closed when the last one is
done. The scope is found through a context variable that the subscription sets before it
yields the event; graphql-core executes the event in the same task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

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

    __slots__ = ("_decoded", "_holders", "loaders", "uow")

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

    def enter(self) -> None:
        """Make this the scope of the events the current task executes next."""
        _event_scope.set(self)


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
        """The unit of work of the executing event."""
        return self._scope().uow

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
