"""HTTP guards in front of the GraphQL endpoint.

- A body over the limit gets 413 without being read whole.
- POST /graphql must be JSON: a form, multipart or text/plain POST (what a cross-site form
  can send without a preflight) gets 415 and is never executed. This is the CSRF guard.
- Every response gets `nosniff` and `no-referrer`; /graphql responses are `no-store`
  unless the router made them cacheable (persisted queries over GET, graph/persisted);
  HTML pages get a Content-Security-Policy that allows files from this origin only, plus
  each inline script of the page by its hash; production adds HSTS.
"""

from __future__ import annotations

import base64
import hashlib
import re

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ErrorCode
from graph.http import request_id_of

JSON_TYPES = ("application/json", "application/graphql-response+json")
HSTS = b"max-age=31536000; includeSubDomains"
_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_STYLE = re.compile(rb"<style\b[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


class BodyTooLarge(Exception):
    """The request body passed the limit while it was being read."""


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def content_security_policy(html: bytes) -> str:
    """A CSP that admits this origin's files and this page's inline scripts (by hash).

    No other origin, ever: every page loads its scripts, styles and fonts from this app
    (graph/pages), so a stray CDN reference fails loudly instead of widening the policy.
    """
    inline = [
        "'sha256-" + base64.b64encode(hashlib.sha256(body).digest()).decode() + "'"
        for attributes, body in _SCRIPT.findall(html)
        if b"src" not in attributes.lower() and body.strip()
    ]
    styles = ["'unsafe-inline'"] if _STYLE.search(html) or b"style=" in html else []
    return "; ".join(
        [
            "default-src 'none'",
            " ".join(["script-src", "'self'", *inline]),
            " ".join(["style-src", "'self'", *styles]),
            "img-src 'self' data:",
            "font-src 'self' data:",
            # 'self' also admits ws:// and wss:// to this host: GraphiQL's subscriptions.
            "connect-src 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def _security_headers(*, graphql: bool, hsts: bool) -> list[tuple[bytes, bytes]]:
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
    if graphql:
        headers.append((b"cache-control", b"no-store"))
    if hsts:
        headers.append((b"strict-transport-security", HSTS))
    return headers


async def _send_json(
    send: Send, status: int, body: dict[str, object], headers: list[tuple[bytes, bytes]]
) -> None:
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _with_json_type(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [
        (key, b"application/json") if key == b"content-type" else (key, value)
        for key, value in headers
    ]


def _error(scope: Scope, message: str, code: ErrorCode) -> dict[str, object]:
    return {
        "errors": [
            {"message": message, "extensions": {"code": code, "requestId": request_id_of(scope)}}
        ]
    }


class SecurityMiddleware:
    """Body limit, JSON-only POSTs and security headers (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, graphql_path: str, hsts: bool) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.graphql_path = graphql_path
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_graphql = scope["path"].rstrip("/") == self.graphql_path
        if is_graphql and scope["method"] == "POST":
            media_type = _header(scope, b"content-type").split(";")[0].strip().lower()
            if media_type not in JSON_TYPES:
                message = "POST /graphql needs Content-Type: application/json."
                error = _error(scope, message, ErrorCode.UNSUPPORTED_MEDIA_TYPE)
                await _send_json(send, 415, error, self._headers(graphql=True))
                return
            if media_type != "application/json":
                # The GraphQL-over-HTTP media type carries the same JSON body; Strawberry
                # only parses the plain one, so present it as that.
                scope = {**scope, "headers": _with_json_type(scope["headers"])}
        declared = _header(scope, b"content-length")
        if declared.isascii() and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, send)
            return
        await self._run(scope, receive, send, is_graphql=is_graphql)

    def _headers(self, *, graphql: bool) -> list[tuple[bytes, bytes]]:
        return _security_headers(graphql=graphql, hsts=self.hsts)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        message = f"The request body is larger than {self.max_body_bytes} bytes."
        is_graphql = scope["path"].rstrip("/") == self.graphql_path
        error = _error(scope, message, ErrorCode.PAYLOAD_TOO_LARGE)
        await _send_json(send, 413, error, self._headers(graphql=is_graphql))

    async def _run(self, scope: Scope, receive: Receive, send: Send, *, is_graphql: bool) -> None:
        received = 0
        started = False
        html_start: Message | None = None
        html_body = b""

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # Chunked bodies have no Content-Length: stop reading at the limit.
                    raise BodyTooLarge
            return message

        async def secured_send(message: Message) -> None:
            nonlocal started, html_start, html_body
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                # A persisted GET answer the router made cacheable has an ETag and its own
                # Cache-Control; every other /graphql answer is no-store.
                is_cacheable = any(key == b"etag" for key, _ in headers)
                headers += self._headers(graphql=is_graphql and not is_cacheable)
                message["headers"] = headers
                content_type = dict(headers).get(b"content-type", b"")
                if content_type.startswith(b"text/html"):
                    html_start = message  # held until the body is known, for the CSP
                    return
                await send(message)
                return
            if html_start is not None:
                html_body += message.get("body", b"")
                if message.get("more_body"):
                    return
                csp = content_security_policy(html_body).encode()
                headers = [(k, v) for k, v in html_start["headers"] if k != b"content-length"]
                headers += [
                    (b"content-security-policy", csp),
                    (b"content-length", str(len(html_body)).encode()),
                ]
                await send({**html_start, "headers": headers})
                await send({"type": "http.response.body", "body": html_body})
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, secured_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(scope, send)
