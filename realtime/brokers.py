"""Carrying commit notifications between instances: PostgreSQL LISTEN/NOTIFY or Redis
pub/sub (`SUBSCRIPTION_BROKER`).

A listener only wakes the local hub; a missed `c:` message loses no event, because the hub
also reads the change log on a timer and whenever the listener reconnects.

PostgreSQL NOTIFY is part of the committing transaction: it is delivered if and only if
the transaction commits. Redis pub/sub is published after the commit, so a process that
dies in between (or a Redis outage) loses the message: changes are still delivered by the
catch-up timer, but a lost logout (`r:`) leaves that token's subscriptions on the other
instances running until the token expires.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from functools import partial
from typing import Any, Final, Protocol

import structlog
from sqlalchemy.engine import make_url

from audit.append import APPENDED_CHANNEL
from config.settings import Settings
from realtime.notify import CHANGES, CHANNEL

RECONNECT_SECONDS: Final = 1.0
REDIS_CHANNEL: Final = "taskgraph:realtime"

# Registers a receiver of this process's commit notifications; returns the undo.
LocalListening = Callable[[Callable[[str], None]], Callable[[], None]]
# A listener, given where to deliver messages and what to call when it (re)connects.
ListenerFactory = Callable[[Callable[[str], None], Callable[[], None]], "Listener"]

log = structlog.get_logger("realtime.brokers")


class Listener(Protocol):
    """Receives the notifications of every instance until closed."""

    async def start(self) -> None:
        """Begin listening in the background."""

    async def close(self) -> None:
        """Stop listening."""


class PostgresListener:
    """LISTEN on a dedicated asyncpg connection (outside the pool), reconnecting forever."""

    def __init__(
        self,
        database_url: str,
        receive: Callable[[str], None],
        on_reconnect: Callable[[], None],
    ) -> None:
        url = make_url(database_url)
        self._dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._receive = receive
        self._on_reconnect = on_reconnect
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        """Connect in the background; the first connection is awaited briefly."""
        self._task = asyncio.create_task(self._run(), name="realtime-listen")
        try:
            await asyncio.wait_for(self.connected.wait(), 5)
        except TimeoutError:
            log.warning("LISTEN connection not up yet; retrying in the background")

    async def _run(self) -> None:
        import asyncpg  # only the PostgreSQL deployment needs it

        while True:
            connection: Any = None
            try:
                connection = await asyncpg.connect(self._dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(_setter(lost))
                await connection.add_listener(CHANNEL, self._on_notify)
                await connection.add_listener(APPENDED_CHANNEL, self._on_appended)
                self.connected.set()
                # Whatever was committed while no one listened is read now.
                self._on_reconnect()
                await lost.wait()
                log.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # retried
                log.warning("LISTEN connection failed", error=repr(error))
            finally:
                self.connected.clear()
                if connection is not None and not connection.is_closed():
                    await connection.close(timeout=1)
            await asyncio.sleep(RECONNECT_SECONDS)

    def _on_notify(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._receive(payload)

    def _on_appended(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self._receive(f"{CHANGES}{payload}")

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _setter(event: asyncio.Event) -> Callable[[Any], None]:
    return lambda _connection: event.set()


class RedisBroker:
    """Redis pub/sub: publishes this process's commit notifications after commit and hears
    every instance's (its own too, which changes nothing), reconnecting forever."""

    def __init__(
        self,
        url: str,
        listen_locally: LocalListening,
        receive: Callable[[str], None],
        on_reconnect: Callable[[], None],
        *,
        channel: str = REDIS_CHANNEL,
    ) -> None:
        from redis.asyncio import Redis

        self.channel = channel
        # Publishing must not hold a commit's caller up for long; listening blocks by design.
        self._publisher: Any = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._subscriber: Any = Redis.from_url(
            url, socket_connect_timeout=1.0, health_check_interval=15
        )
        self._listen_locally = listen_locally
        self._receive = receive
        self._on_reconnect = on_reconnect
        self._task: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()
        # Publishing starts now, not with the first WebSocket: an instance that serves none
        # still has commits to announce.
        self._undo: Callable[[], None] | None = listen_locally(self._publish_soon)

    async def start(self) -> None:
        """Listen in the background (awaited briefly)."""
        if self._undo is None:
            self._undo = self._listen_locally(self._publish_soon)
        self._task = asyncio.create_task(self._run(), name="realtime-redis-listen")
        try:
            await asyncio.wait_for(self.connected.wait(), 5)
        except TimeoutError:
            log.warning("Redis subscription not up yet; retrying in the background")

    def _publish_soon(self, message: str) -> None:
        # Called after a commit, in the committing task: the publish runs beside it.
        task = asyncio.get_running_loop().create_task(self._publish(message))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, message: str) -> None:
        try:
            await self._publisher.publish(self.channel, message)
        except Exception as error:  # the catch-up timer delivers the changes anyway
            log.warning("commit notification not published", error=repr(error))

    async def _run(self) -> None:
        while True:
            pubsub: Any = None
            try:
                pubsub = self._subscriber.pubsub(ignore_subscribe_messages=True)
                await pubsub.subscribe(self.channel)
                self.connected.set()
                # Whatever was committed while no one listened is read now.
                self._on_reconnect()
                async for message in pubsub.listen():
                    if message.get("type") == "message":
                        data = message["data"]
                        self._receive(data.decode() if isinstance(data, bytes) else str(data))
                log.warning("Redis subscription ended; reconnecting")
            except asyncio.CancelledError:
                raise
            except Exception as error:  # retried
                log.warning("Redis subscription failed", error=repr(error))
            finally:
                self.connected.clear()
                if pubsub is not None:
                    with suppress(Exception):
                        await pubsub.aclose()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def close(self) -> None:
        """Stop publishing and listening; close the connections."""
        if self._undo is not None:
            self._undo()
            self._undo = None
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._publishing:
            await asyncio.wait(set(self._publishing), timeout=1)
        await self._publisher.aclose()
        await self._subscriber.aclose()


def listener_for(
    settings: Settings, dialect: str, listen_locally: LocalListening
) -> ListenerFactory | None:
    """The broker `SUBSCRIPTION_BROKER` chooses: Redis pub/sub, else PostgreSQL NOTIFY on
    PostgreSQL; None on SQLite (one process, in-process notifications only)."""
    if settings.subscription_broker == "redis" and settings.redis_url:
        return partial(RedisBroker, settings.redis_url, listen_locally)
    if dialect == "postgresql":
        return partial(PostgresListener, settings.database_url)
    return None
