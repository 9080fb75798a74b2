"""`GraphQLEndpoint` without a server: GET and POST /graphql run the view in the request's
own context, everything else goes on to the FastAPI app.

ASGI middleware: it needs Starlette's types, so it is an integration test, not a unit test
(tests/README.md). The answers through the whole app are the end-to-end tests' subject."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.fastapi import BaseContext

from graph.endpoint import GraphQLEndpoint
from graph.http import SUB_RESPONSE_KEY


class Journal:
    """What happened, in order, across the view, the context and the client."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.contexts: list[BaseContext] = []
        self.sent: list[Message] = []


class FakeView:
    """Answers with the status its context's sub-response was given, as resolvers may set."""

    def __init__(self, journal: Journal, *, refusal: HTTPException | None = None) -> None:
        self.journal = journal
        self.refusal = refusal

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        self.journal.events.append("view ran")
        assert root_value is None
        if self.refusal is not None:
            raise self.refusal
        context.response.status_code = 429
        return JSONResponse(
            {"sameRequest": context.request is request}, status_code=context.response.status_code
        )


class FakeApp:
    """The FastAPI app behind the endpoint: notes every request it gets."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def __call__(self, scope: Scope, _receive: Receive, send: Send) -> None:
        self.journal.events.append(f"app got {scope['type']} {scope.get('method')} {scope['path']}")
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})


def endpoint_for(journal: Journal, view: FakeView | None = None) -> GraphQLEndpoint:
    @asynccontextmanager
    async def open_context(_request: Request) -> AsyncIterator[BaseContext]:
        journal.events.append("context opened")
        context = BaseContext()
        journal.contexts.append(context)
        try:
            yield context
        finally:
            journal.events.append("context closed")

    return GraphQLEndpoint(
        FakeApp(journal), path="/graphql", view=view or FakeView(journal), open_context=open_context
    )


async def call(endpoint: GraphQLEndpoint, journal: Journal, scope: dict[str, Any]) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        journal.events.append(f"sent {message['type']}")
        journal.sent.append(message)

    scope.setdefault("headers", [])
    scope.setdefault("query_string", b"")
    await endpoint(scope, receive, send)


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_given_an_operation_request_when_served_then_the_view_runs_in_its_own_context(
    method: str,
) -> None:
    journal = Journal()
    endpoint = endpoint_for(journal)
    scope: dict[str, Any] = {"type": "http", "method": method, "path": "/graphql"}

    await call(endpoint, journal, scope)

    # The context is open for the whole answer and closes after it, as FastAPI's
    # dependencies with `yield` do; the app behind is never asked.
    assert journal.events == [
        "context opened",
        "view ran",
        "sent http.response.start",
        "sent http.response.body",
        "context closed",
    ]
    # The view got this request and a sub-response it could set the status on (the 429 a
    # rate limit sets); the view's router finds that sub-response through the scope.
    (context,) = journal.contexts
    assert isinstance(context.response, Response)
    assert scope["state"][SUB_RESPONSE_KEY] is context.response
    assert journal.sent[0]["status"] == 429
    assert journal.sent[1]["body"] == b'{"sameRequest":true}'
    # Traces name the route as FastAPI's route would.
    assert scope["route"].path_format == "/graphql"


@pytest.mark.parametrize(
    ("kind", "method", "path"),
    [
        ("http", "PUT", "/graphql"),
        ("http", "HEAD", "/graphql"),
        ("http", "OPTIONS", "/graphql"),
        ("http", "POST", "/graphql/"),
        ("http", "GET", "/healthz"),
        ("websocket", None, "/graphql"),
    ],
)
async def test_given_any_other_request_when_served_then_the_app_behind_answers_it(
    kind: str, method: str | None, path: str
) -> None:
    journal = Journal()
    scope: dict[str, Any] = {"type": kind, "path": path}
    if method is not None:
        scope["method"] = method

    await call(endpoint_for(journal), journal, scope)

    assert journal.events[0] == f"app got {kind} {method} {path}"
    assert "view ran" not in journal.events
    assert "context opened" not in journal.events


async def test_given_the_view_refuses_with_an_http_error_when_served_then_plain_text() -> None:
    journal = Journal()
    view = FakeView(journal, refusal=HTTPException(400, "No GraphQL query found"))

    await call(
        endpoint_for(journal, view), journal, {"type": "http", "method": "POST", "path": "/graphql"}
    )

    assert journal.sent[0]["status"] == 400
    assert journal.sent[1]["body"] == b"No GraphQL query found"
    assert journal.events[-1] == "context closed"
