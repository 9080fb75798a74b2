"""The shutdown logic without a server: the drain's signal chain, and the cut-off middlewares
driven by hand the way uvicorn drives them (it cancels the request's task)."""

from __future__ import annotations

import asyncio
import json
import signal
from types import FrameType
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config.settings import Settings
from graph.cutoff import CutOffResponder, ShutdownGuard
from graph.lifecycle import Lifecycle, drain_seconds_for

DRAIN = 0.05


class ServerHandler:
    """Stands in for uvicorn's own signal handler: records what reached it."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)


def chained(lifecycle: Lifecycle, server: ServerHandler, drain: float = DRAIN) -> Any:
    return lifecycle.chain(server, drain_seconds=drain, loop=asyncio.get_running_loop())


# ---------------------------------------------------------------- the drain


async def test_given_a_drain_when_sigterm_arrives_then_not_ready_at_once_and_stopped_after() -> (
    None
):
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server)(signal.SIGTERM, None)

    assert lifecycle.draining
    assert server.received == []
    await asyncio.sleep(DRAIN * 4)
    assert server.received == [signal.SIGTERM]
    assert lifecycle.is_stopping


async def test_given_a_drain_under_way_when_a_second_signal_arrives_then_it_stops_at_once() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()
    handler = chained(lifecycle, server)
    handler(signal.SIGTERM, None)

    handler(signal.SIGTERM, None)

    assert server.received == [signal.SIGTERM]
    await asyncio.sleep(DRAIN * 4)
    assert server.received == [signal.SIGTERM], "the drain's end must not stop it twice"


async def test_given_a_drain_when_ctrl_c_arrives_then_no_drain() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server)(signal.SIGINT, None)

    assert server.received == [signal.SIGINT]
    assert lifecycle.draining


async def test_given_no_drain_when_sigterm_arrives_then_it_stops_at_once() -> None:
    lifecycle, server = Lifecycle(), ServerHandler()

    chained(lifecycle, server, drain=0)(signal.SIGTERM, None)

    assert server.received == [signal.SIGTERM]


async def test_given_stopping_when_ctrl_c_arrives_again_then_the_server_gets_it_to_force_quit() -> (
    None
):
    lifecycle, server = Lifecycle(), ServerHandler()
    handler = chained(lifecycle, server)
    handler(signal.SIGINT, None)

    handler(signal.SIGINT, None)

    assert server.received == [signal.SIGINT, signal.SIGINT]


@pytest.mark.parametrize(
    ("environment", "expected"), [("development", 0.0), ("test", 7.0), ("production", 7.0)]
)
def test_given_an_environment_when_asking_the_drain_then_development_has_none(
    environment: str, expected: float
) -> None:
    settings = Settings(
        environment=environment,  # type: ignore[arg-type]
        jwt_secret="s" * 40,  # type: ignore[arg-type]
        shutdown_drain_seconds=7,
        _env_file=None,  # type: ignore[call-arg]
    )
    assert drain_seconds_for(settings) == expected


# ---------------------------------------------------------------- the cut-off

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
    stack = ShutdownGuard(CutOffResponder(app), lifecycle=lifecycle)
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
