"""The context of a WebSocket connection, and the per-batch scope its events execute in.

A connection lives for hours, so it must not hold a session or loader caches of its own:
each event executes with the loaders of the batch it came in (`EventScope`), shared by
every subscriber of the process that receives that batch, and closed when the last one is
done. The scope is found through a context variable that the subscription sets before it
yields the event; graphql-core executes the event in the same task.
"""

from __future__ import annotations

import asyncio
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.fastapi import BaseContext

from graph.context import Context, Services
from graph.dataloaders import Loaders
from persistence.unit_of_work import SqlAlchemyUnitOfWork

if TYPE_CHECKING:
    from graph.subscriptions.connection import Realtime, SocketState

_event_scope: ContextVar[EventScope | None] = ContextVar("subscription_event_scope", default=None)
# The cost of the running subscription's selection, charged per event.
operation_cost: ContextVar[int] = ContextVar("subscription_operation_cost", default=0)

_closing: set[asyncio.Task[None]] = set()


class EventScope:
    """One unit of work and one set of loaders for a batch of events."""

    __slots__ = ("_holders", "loaders", "uow")

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], *, batch: bool = True
    ) -> None:
        # Cheap until used: a session takes no connection before its first statement.
        self.uow = SqlAlchemyUnitOfWork(session_factory)
        self.loaders = Loaders(self.uow, batch=batch)
        self._holders = 0

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

    def enter(self) -> None:
        """Make this the scope of the events the current task executes next."""
        _event_scope.set(self)


class SubscriptionContext(Context):
    """`Context` for a WebSocket: the caller is set by `connection_init`, the unit of work
    and loaders come from the executing event's scope."""

    def __init__(
        self,
        *,
        services: Services,
        realtime: Realtime,
        state: SocketState,
        request_id: str,
        client_ip: str | None,
        check_permissions: bool = True,
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
        self.check_permissions = check_permissions
        # For anything outside an event (subscribe time); holds no connection unless used.
        self._fallback: EventScope | None = None

    def _scope(self) -> EventScope:
        scope = _event_scope.get()
        if scope is not None:
            return scope
        if self._fallback is None:
            self._fallback = EventScope(self.realtime.session_factory)
        return self._fallback

    @property
    def uow(self) -> SqlAlchemyUnitOfWork:
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
