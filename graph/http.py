"""HTTP plumbing around the GraphQL endpoint: request ids, JSON errors, orjson."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson
import structlog
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's code for "the client closed the connection first"; what the access log records.
CLIENT_CLOSED_REQUEST = 499
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_HTTP_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
}

log = structlog.get_logger("http")


def request_id_of(scope: Scope) -> str:
    """The id the middleware gave this request."""
    return str(scope.get("state", {}).get("request_id", ""))


class RequestIdMiddleware:
    """Adopts a sane incoming X-Request-ID or makes one; binds it to every log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


class JSONGraphQLRouter(GraphQLRouter[Any, None]):
    """Strawberry's router with orjson output and JSON bodies for HTTP-level errors."""

    def encode_json(self, data: object) -> bytes:
        """Serialise with orjson, an order of magnitude faster than `json`."""
        return orjson.dumps(data)

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        """Run the request; HTTP-level refusals become a JSON GraphQL error body."""
        try:
            return await super().run(request=request, context=context, root_value=root_value)
        except HTTPException as error:
            return http_error(request, error.status_code, error.reason)
        except ClientDisconnect:
            # The client hung up before its body arrived: nothing ran, nobody is listening.
            log.info("client disconnected before sending its request")
            return Response(status_code=CLIENT_CLOSED_REQUEST)


def http_error(request: Request, status_code: int, message: str) -> Response:
    """A GraphQL-shaped error body for a request refused before execution."""
    code = _HTTP_CODES.get(status_code, "BAD_REQUEST")
    body = {
        "errors": [
            {
                "message": message,
                "extensions": {"code": code, "requestId": request_id_of(request.scope)},
            }
        ]
    }
    return JSONResponse(body, status_code=status_code)
