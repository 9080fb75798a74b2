"""Carrying commit notifications between instances: PostgreSQL LISTEN/NOTIFY.

A listener only wakes the local hub; a missed message loses nothing, because the hub also
reads the change log on a timer and whenever the listener reconnects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Final, Protocol

import structlog
from sqlalchemy.engine import make_url

from audit.append import APPENDED_CHANNEL
from realtime.notify import CHANGES, CHANNEL

RECONNECT_SECONDS: Final = 1.0

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
