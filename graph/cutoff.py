"""Requests cut off at shutdown answer 503 SERVICE_UNAVAILABLE, never uvicorn's bare 500.

When `--timeout-graceful-shutdown` runs out, uvicorn cancels the requests still running,
and answers 500 to any that has not started its response. Two middlewares take over:

- `ShutdownGuard`, the outer one, runs the request in a task of its own, so uvicorn's
  cancellation stops at the guard. A request whose commit has begun is let finish, so its
  client learns the outcome; so is one that has answered and only records its access log.
  Any other is cut off: its task is cancelled and its unit of work rolls back (it commits
  only on success).
- `CutOffResponder`, the innermost, turns that cancellation into the 503, which then passes
  every other middleware: it carries X-Request-ID and CORS headers and is access-logged.
  A response already streaming is ended instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from graph.http import http_error, request_id_of
from graph.lifecycle import Lifecycle

log = structlog.get_logger("lifecycle")

ROLLED_BACK = "The server is shutting down; nothing was changed. Retry the request."
UNFINISHED = "The server shut down before the request finished."


@dataclass
class _Progress:
    """How far one request got: what the cut-off decision needs to know."""

    is_committing: bool = False
    has_started_response: bool = False
    has_finished_response: bool = False
    is_cut_off: bool = False

    def record(self, message: Message) -> None:
        """Note how far the response got."""
        if message["type"] == "http.response.start":
            self.has_started_response = True
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            self.has_finished_response = True


_progress: contextvars.ContextVar[_Progress | None] = contextvars.ContextVar(
    "request_progress", default=None
)


def mark_committing() -> None:
    """The current request's transaction begins its commit: it is let finish at shutdown."""
    progress = _progress.get()
    if progress is not None:
        progress.is_committing = True


class ShutdownGuard:
    """Outside the others: shields a request from uvicorn's cancellation, decides its cut-off."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        lifecycle: Lifecycle,
        watch_commits: Callable[[Callable[[], None]], None],
    ) -> None:
        self.app = app
        self.lifecycle = lifecycle
        # Every session, audited or not, reports the start of a commit to its request:
        # first, before the audit rows are written (they are part of the commit).
        # `watch_commits` is `persistence.database.on_commit_start`, given by the app.
        watch_commits(mark_committing)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = _Progress()

        async def tracking_send(message: Message) -> None:
            progress.record(message)
            if message["type"] == "http.response.start" and self.lifecycle.draining:
                message = _closing(message)
            await send(message)

        async def run() -> None:
            await self.app(scope, receive, tracking_send)

        context = contextvars.copy_context()
        context.run(_progress.set, progress)
        loop = asyncio.get_running_loop()
        work = loop.create_task(run(), context=context)
        finished: asyncio.Future[None] = loop.create_future()
        self.lifecycle.track(finished)
        try:
            await asyncio.shield(work)
        except asyncio.CancelledError:
            if work.cancelled():
                raise  # the request itself was cancelled, not by the server
            await self._cut_off(work, progress, request_id=request_id_of(scope))
            # Cancelled outside `CutOffResponder`, if it is still unanswered.
            await _answer_cut_off(scope, receive, send, progress)
            _consume_cancellation()
        finally:
            finished.set_result(None)

    async def _cut_off(
        self, work: asyncio.Task[None], progress: _Progress, request_id: str
    ) -> None:
        if progress.is_committing or progress.has_finished_response:
            log.warning("request at shutdown: letting it finish", request_id=request_id)
        else:
            log.warning("request cut off at shutdown: rolling back", request_id=request_id)
            progress.is_cut_off = True
            work.cancel()
        try:
            await asyncio.wait((work,))
        except asyncio.CancelledError:
            work.cancel()  # cancelled again: the process is going, stop waiting
            raise
        error = None if work.cancelled() else work.exception()
        if error is not None:
            # Cancelled mid-statement, a driver may fail the rollback too; the database
            # discards the uncommitted transaction all the same.
            log.warning("cut-off request failed", request_id=request_id, error=repr(error))


class CutOffResponder:
    """Innermost: answers 503 for a request `ShutdownGuard` cut off, whatever it was doing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        progress = _progress.get()
        if scope["type"] != "http" or progress is None:
            await self.app(scope, receive, send)
            return

        async def app_send(message: Message) -> None:
            # Once cut off, the answer is ours, unless the request went on to commit.
            if not progress.is_cut_off or progress.is_committing:
                await send(message)

        try:
            await self.app(scope, receive, app_send)
        except asyncio.CancelledError:
            if not progress.is_cut_off:
                raise
            _consume_cancellation()
        if progress.is_cut_off:
            await _answer_cut_off(scope, receive, send, progress)


def _closing(message: Message) -> Message:
    """The response with `Connection: close`: a draining server keeps no idle connection.

    Otherwise a client may send its next request on a kept-alive connection at the moment
    the server closes it when the drain ends, and sees the connection reset with no answer.
    Told to close, it opens a new connection for the next request, which the load balancer
    sends elsewhere once readiness answers 503, or which is refused once the server stops
    listening: either way the client knows its request was not handled.
    """
    headers = [
        (name, value) for name, value in message.get("headers", []) if name.lower() != b"connection"
    ]
    headers.append((b"connection", b"close"))
    return {**message, "headers": headers}


def _consume_cancellation() -> None:
    # The cut-off is answered: this task ends normally, not as cancelled.
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


async def _answer_cut_off(scope: Scope, receive: Receive, send: Send, progress: _Progress) -> None:
    if progress.has_finished_response:
        return
    if progress.has_started_response:
        # A stream (a subscription) cannot turn into a 503: end it cleanly instead.
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    # Rolled back for sure only if it was stopped before its commit began.
    message = UNFINISHED if progress.is_committing else ROLLED_BACK
    response = http_error(Request(scope), 503, message, ErrorCode.SERVICE_UNAVAILABLE)
    await response(scope, receive, send)
