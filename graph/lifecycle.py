"""Graceful shutdown in three phases, so a load balancer sees it coming and no client gets a 500.

1. **Drain.** On SIGTERM readiness answers 503 at once, while the listener stays open and
   requests are served as usual for `SHUTDOWN_DRAIN_SECONDS`: long enough for the load
   balancer's health check to see the 503 and stop sending traffic.
2. **Graceful stop.** Then the signal reaches uvicorn, which closes the listener and lets
   in-flight requests finish within `--timeout-graceful-shutdown`.
3. **Cut-off.** uvicorn cancels what still runs, and would answer a bare 500;
   `graph/cutoff.py` turns that into a rollback and a 503 `SERVICE_UNAVAILABLE`, or lets a
   request finish whose commit has begun. `settle()` gives those a moment to answer.

A second signal during the drain ends it at once. SIGINT (Ctrl-C) never drains: a person
at a terminal wants the server gone, and no load balancer watches it.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

from config.settings import Settings

log = structlog.get_logger("lifecycle")

Handler = Callable[[int, FrameType | None], Any] | int | None
SignalHandler = Callable[[int, FrameType | None], None]

# After uvicorn's grace: how long requests it cut off get to roll back and answer before the
# database pool goes away. Drain + grace + this must fit the orchestrator's kill timeout.
SETTLE_SECONDS = 3.0


def drain_seconds_for(settings: Settings) -> float:
    """`SHUTDOWN_DRAIN_SECONDS`, but none in development.

    No load balancer watches a development server, and uvicorn's `--reload` restarts its
    worker with SIGTERM, which must stay instant.
    """
    return 0.0 if settings.environment == "development" else settings.shutdown_drain_seconds


class Lifecycle:
    """Knows whether the process is draining, and hands the stop signal on after the drain."""

    def __init__(self) -> None:
        self.draining = False
        self.is_stopping = False  # the server has been told to stop
        self._is_drain_pending = False
        self._requests: set[asyncio.Future[None]] = set()

    def begin_draining(self) -> None:
        """Stop advertising readiness; requests already in flight carry on."""
        if not self.draining:
            log.warning("draining: readiness now answers 503")
        self.draining = True

    def install(
        self,
        signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT),
        *,
        drain_seconds: float = 0.0,
    ) -> None:
        """Chain a handler before the server's own (uvicorn's), which then shuts down."""
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None  # nothing to time a drain with: hand signals on at once
        for signum in signals:
            previous: Handler = signal.getsignal(signum)
            signal.signal(signum, self.chain(previous, drain_seconds=drain_seconds, loop=loop))

    def chain(
        self,
        previous: Handler,
        *,
        drain_seconds: float,
        loop: asyncio.AbstractEventLoop | None,
    ) -> SignalHandler:
        """A handler that drains on a first SIGTERM, then calls `previous`, the server's own."""

        def stop(received: int, frame: FrameType | None) -> None:
            self.is_stopping = True
            if callable(previous):
                previous(received, frame)
            elif previous == signal.SIG_DFL:
                signal.default_int_handler(received, frame)

        def end_drain(received: int, frame: FrameType | None) -> None:
            if not self.is_stopping:  # a second signal may have ended the drain already
                log.warning("drain over: stopping the server")
                stop(received, frame)

        def handler(received: int, frame: FrameType | None) -> None:
            self.begin_draining()
            drains = (
                received == signal.SIGTERM
                and drain_seconds > 0
                and loop is not None
                and not self._is_drain_pending
                and not self.is_stopping
            )
            if not drains:
                stop(received, frame)
                return
            assert loop is not None  # for mypy: checked just above
            self._is_drain_pending = True
            log.warning("serving while the load balancer notices", drain_seconds=drain_seconds)
            # A signal handler may interrupt the loop anywhere: only this call is safe here.
            loop.call_soon_threadsafe(loop.call_later, drain_seconds, end_drain, received, frame)

        return handler

    def track(self, finished: asyncio.Future[None]) -> None:
        """Count a request in flight until `finished` is done."""
        self._requests.add(finished)
        finished.add_done_callback(self._requests.discard)

    async def settle(self, seconds: float = SETTLE_SECONDS) -> None:
        """Give requests cut off at shutdown a moment to roll back and answer."""
        running = [finished for finished in self._requests if not finished.done()]
        if not running:
            return
        log.info("waiting for cut-off requests to answer", requests=len(running))
        _, left = await asyncio.wait(running, timeout=seconds)
        if left:
            log.warning("requests still running at exit", requests=len(left))
