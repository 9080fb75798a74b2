"""Graceful shutdown: on SIGTERM readiness turns 503 at once, so load balancers stop
sending traffic, while uvicorn lets in-flight requests finish within its grace period
(`--timeout-graceful-shutdown`). A request cut off by the grace period rolls back: the
unit of work commits only on success."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import structlog

log = structlog.get_logger("lifecycle")

Handler = Callable[[int, FrameType | None], Any] | int | None


class Lifecycle:
    """Knows whether the process is draining."""

    def __init__(self) -> None:
        self.draining = False

    def begin_draining(self) -> None:
        """Stop advertising readiness; requests already in flight carry on."""
        if not self.draining:
            log.warning("draining: readiness now answers 503")
        self.draining = True

    def install(self, signals: tuple[int, ...] = (signal.SIGTERM, signal.SIGINT)) -> None:
        """Chain a handler before the server's own (uvicorn's), which then shuts down."""
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers can only be set from the main thread
        for signum in signals:
            previous: Handler = signal.getsignal(signum)

            def handler(
                received: int, frame: FrameType | None, previous: Handler = previous
            ) -> None:
                self.begin_draining()
                if callable(previous):
                    previous(received, frame)
                elif previous == signal.SIG_DFL:
                    signal.default_int_handler(received, frame)

            signal.signal(signum, handler)
