"""The cut-off middlewares without a server, driven by hand the way uvicorn drives them
(it cancels the request's task when its graceful-shutdown timeout runs out).

ASGI middleware: it needs Starlette's types, so it is an integration test, not a unit test
(tests/README.md). The drain's signal chain is tested in tests/unit/test_shutdown.py."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graph.cutoff import CutOffResponder, ShutdownGuard
from graph.lifecycle import Lifecycle
from persistence.database import on_commit_start

SCOPE = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}


class FakeRequest:
    """A request's app that waits for the test; it may commit a real session first."""

    def __init__(self, *, commits: bool = False, streams: bool = False) -> None:
        self.commits = commits
        self.streams = streams
        self.proceed = asyncio.Event()
        self.started = asyncio.Event()
        self.was_cancelled = False

    async def __call__(self, _scope: Scope, _receive: Receive, send: Send) -> None:
        try:
            if self.streams:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"1", "more_body": True})
            if self.commits:
                with Session(create_engine("sqlite://")) as session:
                    session.execute(text("SELECT 1"))
                    session.commit()
            self.started.set()
            await self.proceed.wait()
        except asyncio.CancelledError:
            self.was_cancelled = True
            raise
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b'{"data": {}}'})


async def serve(app: ASGIApp, lifecycle: Lifecycle) -> tuple[asyncio.Task[None], list[Message]]:
    """Start one request through the guard (outermost) and the responder (innermost)."""
    stack = ShutdownGuard(CutOffResponder(app), lifecycle=lifecycle, watch_commits=on_commit_start)
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    task = asyncio.create_task(stack(dict(SCOPE), receive, send))
    return task, sent


async def test_given_a_request_before_commit_when_the_server_cancels_it_then_503_and_rollback() -> (
    None
):
    lifecycle, app = Lifecycle(), FakeRequest()
    task, sent = await serve(app, lifecycle)
    await app.started.wait()

    task.cancel()  # what uvicorn does when its grace runs out
    await lifecycle.settle(seconds=1)
    await asyncio.wait((task,))

    assert app.was_cancelled, "its unit of work must see the cancellation and roll back"
    assert not task.cancelled(), "answered, so uvicorn sends no 500"
    assert sent[0]["status"] == 503
    body = json.loads(sent[1]["body"])
    assert [error["extensions"]["code"] for error in body["errors"]] == ["SERVICE_UNAVAILABLE"]


async def test_given_a_commit_under_way_when_the_server_cancels_it_then_it_finishes() -> None:
    lifecycle, app = Lifecycle(), FakeRequest(commits=True)
    task, sent = await serve(app, lifecycle)
    await app.started.wait()

    task.cancel()
    await asyncio.sleep(0.01)
    app.proceed.set()
    await asyncio.wait((task,))

    assert not app.was_cancelled
    assert not task.cancelled()
    assert [message.get("status") for message in sent] == [200, None]


async def test_given_no_shutdown_when_a_request_runs_then_it_passes_unchanged() -> None:
    lifecycle, app = Lifecycle(), FakeRequest()
    app.proceed.set()
    task, sent = await serve(app, lifecycle)

    await task

    assert [message.get("status") for message in sent] == [200, None]
    assert sent[1]["body"] == b'{"data": {}}'


async def test_given_a_stream_when_the_server_cancels_it_then_it_ends_cleanly() -> None:
    lifecycle, app = Lifecycle(), FakeRequest(streams=True)
    task, sent = await serve(app, lifecycle)
    await app.started.wait()

    task.cancel()
    await asyncio.wait((task,))

    assert app.was_cancelled
    assert not task.cancelled()
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert [message.get("status") for message in sent] == [200, None, None]


async def test_given_a_drain_when_a_request_is_answered_then_it_asks_the_client_to_close() -> None:
    lifecycle, app = Lifecycle(), FakeRequest()
    app.proceed.set()
    lifecycle.begin_draining()
    task, sent = await serve(app, lifecycle)

    await task

    assert sent[0]["status"] == 200
    assert (b"connection", b"close") in sent[0]["headers"]


async def test_given_no_drain_when_a_request_is_answered_then_the_connection_stays() -> None:
    lifecycle, app = Lifecycle(), FakeRequest()
    app.proceed.set()
    task, sent = await serve(app, lifecycle)

    await task

    assert all(name != b"connection" for name, _ in sent[0]["headers"])
