"""/graphql served by the GraphQL view without FastAPI's routing: GET, POST and WebSockets.

FastAPI's router would find the route, solve the view's dependencies (the context getter
wrapped in Strawberry's dependency, the request, a sub-response, a root value) and run
them in exit stacks: a fixed cost on every request, whatever it asks. `GraphQLEndpoint`
sits innermost in the middleware stack and does the same for the two methods that carry
operations: it opens the request's context, runs the view with it and sends the response
before the context closes (as FastAPI does with a dependency that yields).

A WebSocket lives for hours, and every frame on its way stays alive with it: each
pass-through middleware's, the router's and the route's, FastAPI's exit stacks.
`GraphQLSocketEndpoint` sits just inside the observability middlewares (which still see the
socket) and runs the view for WebSockets to /graphql with the connection's context.

Everything else (other methods and paths, the pages, /docs, /metrics, WebSockets to any
other path) passes on to the FastAPI app, whose GraphQL router stays registered for the
OpenAPI description and the 405 of other methods.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Final, Protocol

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.fastapi import BaseContext

from graph.http import SUB_RESPONSE_KEY

_METHODS: Final = frozenset(("GET", "POST"))

# Opens one HTTP request's context (`graph.context.Context` in the app); the request ends
# after the response is sent.
ContextOpener = Callable[[Request], AbstractAsyncContextManager[BaseContext]]
# Opens one WebSocket connection's context (`SubscriptionContext` in the app); the
# connection ends when it closes.
SocketContextOpener = Callable[[WebSocket], AbstractAsyncContextManager[BaseContext]]


class GraphQLView(Protocol):
    """What runs an operation request: `graph.http.JSONGraphQLRouter` in the app."""

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        """The response to `request`, executed with `context`."""


class _Route:
    """What `scope["route"]` shows of the endpoint: its path, as a FastAPI route does.

    Tracing names the request's route from it (`http.route`).
    """

    __slots__ = ("path", "path_format")

    def __init__(self, path: str) -> None:
        self.path = path
        self.path_format = path


class GraphQLEndpoint:
    """Serves GET and POST `path` with `view`; passes every other request on to `app`."""

    def __init__(
        self, app: ASGIApp, *, path: str, view: GraphQLView, open_context: ContextOpener
    ) -> None:
        self.app = app
        self.path = path
        self.view = view
        self.open_context = open_context
        self.route = _Route(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        request = Request(scope, receive)
        async with self.open_context(request) as context:
            # What FastAPI hands the view: a response whose status and headers resolvers
            # may set (a rate limit's 429 and Retry-After), merged into the answer.
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]
            context.request = request
            context.response = sub_response
            scope.setdefault("state", {})[SUB_RESPONSE_KEY] = sub_response
            try:
                response = await self.view.run(request, context=context, root_value=None)
            except HTTPException as error:
                # As Strawberry's FastAPI route answers one its view did not turn into a body.
                response = PlainTextResponse(error.reason, status_code=error.status_code)
            await response(scope, receive, send)


class GraphQLSocketEndpoint:
    """Serves WebSockets to `path` with `view`; passes everything else on to `app`."""

    def __init__(
        self, app: ASGIApp, *, path: str, view: GraphQLView, open_context: SocketContextOpener
    ) -> None:
        self.app = app
        self.path = path
        self.view = view
        self.open_context = open_context
        self.route = _Route(path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only the exact path, as FastAPI's WebSocket route matched it (no slash redirects
        # for WebSockets): a socket to any other path is the app's to refuse.
        if scope["type"] != "websocket" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        websocket = WebSocket(scope, receive, send)
        async with self.open_context(websocket) as context:
            # What Strawberry's FastAPI dependency gave the context: its connection. A
            # socket has no response to set a status or header on.
            context.request = websocket
            await self.view.run(websocket, context=context, root_value=None)
