"""`GraphQLSocketEndpoint` without a server: a WebSocket to /graphql runs the view in the
connection's own context; everything else goes on to the app behind.

ASGI middleware: it needs Starlette's types, so it is an integration test, not a unit test
(tests/README.md). The sockets through the whole app are the end-to-end tests' subject
(tests/e2e/test_subscriptions_endpoint.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from starlette.types import Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from graph.endpoint import GraphQLSocketEndpoint


class Journal:
    """What happened, in order, across the view, the context and the app behind."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.contexts: list[BaseContext] = []
        self.sockets: list[Any] = []


class FakeView:
    """Notes the socket it serves; fails when told to."""

    def __init__(self, journal: Journal, *, failure: Exception | None = None) -> None:
        self.journal = journal
        self.failure = failure

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        self.journal.events.append("view ran")
        self.journal.sockets.append(request)
        assert root_value is None
        if self.failure is not None:
            raise self.failure
        return request


class FakeApp:
    """The FastAPI app behind the endpoint: notes every connection it gets."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def __call__(self, scope: Scope, _receive: Receive, _send: Send) -> None:
        self.journal.events.append(f"app got {scope['type']} {scope['path']}")


def endpoint_for(journal: Journal, view: FakeView | None = None) -> GraphQLSocketEndpoint:
    @asynccontextmanager
    async def open_context(websocket: WebSocket) -> AsyncIterator[BaseContext]:
        journal.events.append(f"context opened for {type(websocket).__name__}")
        context = BaseContext()
        journal.contexts.append(context)
        try:
            yield context
        finally:
            journal.events.append("context closed")

    return GraphQLSocketEndpoint(
        FakeApp(journal), path="/graphql", view=view or FakeView(journal), open_context=open_context
    )


async def call(endpoint: GraphQLSocketEndpoint, scope: dict[str, Any]) -> None:
    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(_message: Message) -> None:
        pass

    scope.setdefault("headers", [])
    scope.setdefault("query_string", b"")
    await endpoint(scope, receive, send)


async def test_given_a_websocket_to_graphql_when_served_then_the_view_runs_in_its_context() -> None:
    journal = Journal()
    scope: dict[str, Any] = {"type": "websocket", "path": "/graphql"}

    await call(endpoint_for(journal), scope)

    # The context is open for the socket's whole life and closes after it; the app behind
    # (FastAPI's routing) is never asked.
    assert journal.events == ["context opened for WebSocket", "view ran", "context closed"]
    # The view got a Starlette WebSocket on this scope, which the context knows as its
    # connection, as Strawberry's FastAPI dependency set it.
    (socket,) = journal.sockets
    assert isinstance(socket, WebSocket)
    assert socket.scope is scope
    (context,) = journal.contexts
    assert context.request is socket
    # Traces name the route as FastAPI's route would.
    assert scope["route"].path_format == "/graphql"


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("websocket", "/graphql/"),
        ("websocket", "/other"),
        ("http", "/graphql"),
        ("lifespan", ""),
    ],
)
async def test_given_anything_else_when_served_then_the_app_behind_gets_it(
    kind: str, path: str
) -> None:
    journal = Journal()

    await call(endpoint_for(journal), {"type": kind, "path": path, "method": "GET"})

    assert journal.events == [f"app got {kind} {path}"]


async def test_given_the_view_fails_when_served_then_the_context_closes_and_it_propagates() -> None:
    journal = Journal()
    view = FakeView(journal, failure=RuntimeError("boom"))

    # As from FastAPI's route: the server logs it and closes the socket (1011).
    with pytest.raises(RuntimeError, match="boom"):
        await call(endpoint_for(journal, view), {"type": "websocket", "path": "/graphql"})

    assert journal.events[-1] == "context closed"
