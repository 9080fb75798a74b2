"""WebSocket connections: authentication at `connection_init`, limits, and revocation.

A connection is authenticated once, by the `Authorization` entry of the `connection_init`
payload. Afterwards it is checked again whenever something could have changed its
answer, on whichever instance the change was made:

- its access token expires: a timer ends its subscriptions;
- its token is revoked by a logout: the commit notifies `r:<jti>`;
- its user's row, roles or a role's grants change (password change, deactivation, role
  change): the change log carries the record, and the user's connections authenticate
  again; a refused token ends their subscriptions, a valid one gets the new permissions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime
from typing import Final

import structlog
from starlette.requests import HTTPConnection

from auth.rbac import Principal
from auth.service import AuthService
from config.settings import Settings
from domain.audit import ChangeRecord
from domain.errors import TooManyRequests, Unauthenticated
from graph.context import Services
from graph.dataloaders import LoaderFactory, Loaders
from graph.ports import UnitOfWorkFactory
from graph.subscriptions.context import EventScope, SubscriptionContext
from observability import metrics
from realtime.brokers import Listener
from realtime.counts import subscription_counts
from realtime.hub import ChangeHub, Subscriber
from realtime.notify import CHANGES, REVOKED

# Change records that can change who a connection's user is or what they may do.
IDENTITY_TABLES: Final = frozenset({"users", "user_roles"})
ROLE_TABLES: Final = frozenset({"roles", "role_grants"})
RECHECK_CONCURRENCY: Final = 10

log = structlog.get_logger("graph.subscriptions")


class SocketState:
    """One WebSocket connection: its caller, token and open subscriptions."""

    __slots__ = ("expiry", "principal", "subscribers", "token")

    def __init__(self) -> None:
        self.principal: Principal | None = None
        self.token: str | None = None
        self.subscribers: set[Subscriber] = set()
        self.expiry: asyncio.TimerHandle | None = None

    def end(self, error: Exception) -> None:
        """The caller is no longer authenticated: every subscription ends with `error`."""
        self.principal = None
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        for subscriber in list(self.subscribers):
            subscriber.fail(error)


class Connections:
    """Every authenticated connection of the process, by user and by token."""

    def __init__(
        self,
        auth: AuthService,
        unit_of_work: UnitOfWorkFactory,
        settings: Settings,
    ) -> None:
        self.auth = auth
        self.unit_of_work = unit_of_work
        self.per_connection = settings.subscription_max_per_connection
        self.per_user = settings.subscription_max_per_user
        # Per user: across instances with Redis, else in this process (realtime.counts).
        self.counts = subscription_counts(settings.redis_url)
        self._by_user: dict[int, set[SocketState]] = {}
        self._pending: set[asyncio.Task[None]] = set()

    async def authenticate(self, token: str) -> Principal:
        """The principal of `token`, or UNAUTHENTICATED."""
        uow = self.unit_of_work()
        try:
            return await self.auth.authenticate(uow, token)
        finally:
            await uow.close()

    def admit(self, state: SocketState, principal: Principal, token: str) -> None:
        """`state` is authenticated as `principal` until its token expires."""
        state.principal = principal
        state.token = token
        self._by_user.setdefault(principal.user_id, set()).add(state)
        expires = principal.token_expires_at
        if expires is not None:
            delay = (expires - datetime.now(UTC)).total_seconds()
            state.expiry = asyncio.get_running_loop().call_later(
                max(delay, 0), state.end, Unauthenticated("The access token expired.")
            )

    def forget(self, state: SocketState) -> None:
        """The connection closed."""
        state.end(Unauthenticated("The connection closed."))
        for user_id, group in list(self._by_user.items()):
            group.discard(state)
            if not group:
                del self._by_user[user_id]

    async def open(self, state: SocketState, subscriber: Subscriber) -> None:
        """Count a new subscription against the connection's and the user's limits."""
        principal = state.principal
        if principal is None:
            raise Unauthenticated("The connection is not authenticated.")
        if len(state.subscribers) >= self.per_connection:
            raise TooManyRequests(
                f"At most {self.per_connection} subscriptions per connection.",
                details={"limit": self.per_connection, "scope": "connection"},
            )
        state.subscribers.add(subscriber)  # the connection's slot, held while counting
        try:
            admitted = await self.counts.acquire(principal.user_id, self.per_user)
        except BaseException:
            state.subscribers.discard(subscriber)
            raise
        if not admitted:
            state.subscribers.discard(subscriber)
            raise TooManyRequests(
                f"At most {self.per_user} subscriptions per user.",
                details={"limit": self.per_user, "scope": "user"},
            )
        metrics.subscription_started()

    def close(self, state: SocketState, subscriber: Subscriber, user_id: int) -> None:
        """A subscription ended."""
        if subscriber in state.subscribers:
            state.subscribers.discard(subscriber)
            metrics.subscription_ended()
            task = asyncio.get_running_loop().create_task(self.counts.release(user_id))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    def revoked(self, jti: str) -> None:
        """A logout somewhere revoked token `jti`."""
        for group in self._by_user.values():
            for state in list(group):
                if state.principal is not None and state.principal.token_jti == jti:
                    state.end(Unauthenticated("The access token was revoked."))

    def on_changes(self, records: list[ChangeRecord]) -> None:
        """Authenticate again the connections whose user may have changed."""
        users: set[int] = set()
        everyone = False
        for record in records:
            if record.entity in ROLE_TABLES:
                everyone = True
            elif record.entity in IDENTITY_TABLES:
                users.add(int(record.entity_id.split(":", 1)[0]))
        if everyone:
            users = set(self._by_user)
        states = [state for user in users for state in self._by_user.get(user, ())]
        if states:
            task = asyncio.get_running_loop().create_task(self.recheck(states))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def recheck(self, states: Iterable[SocketState]) -> None:
        """Authenticate `states` again with their own tokens."""
        gate = asyncio.Semaphore(RECHECK_CONCURRENCY)

        async def one(state: SocketState) -> None:
            if state.token is None or state.principal is None:
                return
            async with gate:
                try:
                    principal = await self.authenticate(state.token)
                except Unauthenticated as error:
                    state.end(error)
                    return
                except Exception as error:  # checked again at the next change
                    log.warning("connection recheck failed", error=repr(error))
                    return
            if state.principal is not None:
                state.principal = principal  # new permissions apply to later events

        await asyncio.gather(*(one(state) for state in states))

    async def stop(self) -> None:
        """Stop running rechecks and releases; take this process's counts away."""
        for task in list(self._pending):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await self.counts.close()


# Hears this process's commits: `listen_locally(receive)` returns the undo.
LocalListening = Callable[[Callable[[str], None]], Callable[[], None]]
# The listener to other instances' commits, given where to deliver and what to wake.
ListenerFactory = Callable[[Callable[[str], None], Callable[[], None]], Listener]


class Realtime:
    """The process's subscription machinery: the hub, the connections, the listener.

    The composition root (`graph.wiring.build_realtime`) binds the database side: the
    hub, this process's commit notifications and, on PostgreSQL, the broker listener.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        hub: ChangeHub,
        listen_locally: LocalListening,
        listener: ListenerFactory | None,
        unit_of_work: UnitOfWorkFactory,
        auth: AuthService,
        loaders: LoaderFactory = Loaders,
    ) -> None:
        self.settings = settings
        self.unit_of_work = unit_of_work
        self.loaders = loaders
        self.hub = hub
        self.hub.scope_factory = self.event_scope
        self._listen_locally = listen_locally
        self.connections = Connections(auth, unit_of_work, settings)
        self.hub.listeners.append(self.connections.on_changes)
        self.listener = None if listener is None else listener(self.receive, self.hub.wake)
        self._undo_local: list[object] = []
        self._start_lock = asyncio.Lock()
        self._started = False

    def event_scope(self) -> EventScope:
        """A fresh unit of work and loaders for events executed together."""
        return EventScope(self.unit_of_work, loaders=self.loaders)

    async def start(self) -> None:
        """Start the hub and the listener (once; the first connection does it)."""
        async with self._start_lock:
            if self._started:
                return
            await self.hub.start()
            self._undo_local.append(self._listen_locally(self.receive))
            if self.listener is not None:
                await self.listener.start()
            self._started = True

    def receive(self, message: str) -> None:
        """A commit notification, from this process or (through the listener) another."""
        if message.startswith(CHANGES):
            try:
                last_id = int(message.removeprefix(CHANGES))
            except ValueError:
                last_id = None
            self.hub.wake(last_id)
        elif message.startswith(REVOKED):
            self.connections.revoked(message.removeprefix(REVOKED))

    async def stop(self) -> None:
        """End every subscription and stop listening."""
        for undo in self._undo_local:
            undo()  # type: ignore[operator]
        self._undo_local.clear()
        if self.listener is not None:
            await self.listener.close()
        await self.hub.stop()
        await self.connections.stop()
        self._started = False

    @asynccontextmanager
    async def context(
        self, connection: HTTPConnection, services: Services
    ) -> AsyncIterator[SubscriptionContext]:
        """The context of one WebSocket connection; forgotten when it closes."""
        state = SocketState()
        context = SubscriptionContext(
            services=services,
            realtime=self,
            state=state,
            request_id=uuid.uuid4().hex,
            client_ip=connection.client.host if connection.client else None,
        )
        metrics.websocket_opened()
        try:
            yield context
        finally:
            metrics.websocket_closed()
            self.connections.forget(state)
            await context.close()
