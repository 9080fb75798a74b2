"""HTTP plumbing around the GraphQL endpoint: request ids, JSON errors, orjson, and the
checks every request body passes before GraphQL sees it."""

from __future__ import annotations

import json
import re
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.fastapi import GraphQLRouter
from strawberry.http import GraphQLRequestData

from domain.errors import ErrorCode
from graph.pages.playground import playground_response
from graph.persisted.http_cache import cacheable

if TYPE_CHECKING:
    from graph.persisted.operations import PersistedOperations, Resolution

# nginx's code for "the client closed the connection first"; what the access log records.
CLIENT_CLOSED_REQUEST = 499
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_HTTP_CODES = {
    400: ErrorCode.BAD_REQUEST,
    404: ErrorCode.NOT_FOUND,
    405: ErrorCode.METHOD_NOT_ALLOWED,
    413: ErrorCode.PAYLOAD_TOO_LARGE,
    415: ErrorCode.UNSUPPORTED_MEDIA_TYPE,
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


class RequestRefused(Exception):
    """A well-formed request the edge refuses before GraphQL runs (HTTP 200, coded error)."""

    def __init__(
        self,
        message: str,
        code: ErrorCode = ErrorCode.BAD_USER_INPUT,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.fields = fields


def _refuse_constant(name: str) -> object:
    # Python's json reads NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not valid JSON")


def decode_request_json(data: str | bytes) -> object:
    """Parse a request body (or a JSON query parameter): an object, or an array for a batch.

    orjson is the fast path. What it refuses is retried with the standard library, which
    also reads lone surrogates and very long numbers, so that those reach the checks below
    and get a precise answer; anything still unreadable is a 400.
    """
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            value = json.loads(text, parse_constant=_refuse_constant)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body must be UTF-8 encoded JSON.") from None
        except RecursionError:
            raise HTTPException(400, "The request body is nested too deeply.") from None
        except ValueError as error:  # JSONDecodeError, and numbers past int's digit limit
            reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
            raise HTTPException(400, f"The request body is not valid JSON: {reason}.") from None
    if isinstance(value, list):
        if not all(isinstance(item, dict) for item in value):
            raise HTTPException(400, "Each operation of a batch must be a JSON object.")
    elif not isinstance(value, dict):
        raise HTTPException(400, "The request body must be a JSON object.")
    return value


def _is_unstorable(text: str) -> bool:
    """Whether `text` holds a lone surrogate, which no UTF-8 column, log or response holds.

    NUL is valid UTF-8 and is left to the domain's validators, which name the field.
    """
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_path(value: object, root: str) -> str | None:
    """The dotted path of the first string in a JSON value (keys included) that is not
    UTF-8 text."""
    stack: list[tuple[str, object]] = [(root, value)]
    while stack:  # a loop, not recursion: the value may be nested a thousand deep
        path, item = stack.pop()
        if isinstance(item, str):
            if _is_unstorable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if _is_unstorable(key):
                    return path
                stack.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            stack.extend((f"{path}.{index}", child) for index, child in enumerate(item))
    return None


UNSTORABLE_REASON = "must be valid UTF-8 text (it holds a lone surrogate)"


def check_request(data: GraphQLRequestData) -> None:
    """Refuse what no GraphQL execution should ever see: the edge of the API."""
    if not isinstance(data.operation_name, str | None):
        raise HTTPException(400, "The GraphQL operation's `operationName` must be a string.")
    variables = data.variables or {}
    for path in (
        _unstorable_path(data.query, "query"),
        _unstorable_path(data.operation_name, "operationName"),
        *(
            "variables" if _is_unstorable(name) else _unstorable_path(value, name)
            for name, value in variables.items()
        ),
        _unstorable_path(data.extensions, "extensions"),
    ):
        if path is not None:
            path = path if len(path) <= 100 else path[:99] + "…"
            raise RequestRefused(
                f"Invalid input: {path} is not valid UTF-8 text (it holds a lone surrogate).",
                fields={path: UNSTORABLE_REASON},
            )


# Whether the request being run is a persisted query sent over GET by its hash alone: such
# GETs are allowed even when GRAPHQL_GET_QUERIES is off (mutations never are).
_hash_only_get: ContextVar[bool] = ContextVar("hash_only_get", default=False)
PERSISTED_STATE_KEY = "persisted"
# Where `graph.endpoint` leaves the request's sub-response (its context's `response`).
SUB_RESPONSE_KEY = "graphql_sub_response"


@dataclass
class _PersistedState:
    """What the persisted-operations step noted about one request, for after it ran."""

    resolutions: list[Resolution] = field(default_factory=list)
    is_hash_only_get: bool = False
    has_errors: bool = False


class JSONGraphQLRouter(GraphQLRouter[Any, None]):
    """Strawberry's router with orjson, checked request bodies, JSON HTTP-level errors and
    persisted operations (graph/persisted)."""

    def __init__(
        self,
        *args: Any,
        persisted: PersistedOperations | None = None,
        public_max_age_seconds: int = 0,
        **kwargs: Any,
    ) -> None:
        self.persisted = persisted
        self.public_max_age_seconds = public_max_age_seconds
        super().__init__(*args, **kwargs)

    @property
    def allow_queries_via_get(self) -> bool:
        """GRAPHQL_GET_QUERIES, or a persisted query's hash sent over GET."""
        return self._allow_queries_via_get or _hash_only_get.get()

    @allow_queries_via_get.setter
    def allow_queries_via_get(self, allowed: bool) -> None:
        self._allow_queries_via_get = allowed

    def should_render_graphql_ide(self, request: Any) -> bool:
        """GraphiQL for a browser's plain GET, never for a persisted query (no `query`)."""
        return super().should_render_graphql_ide(request) and not request.query_params.get(
            "extensions"
        )

    async def get_sub_response(self, request: Any) -> Response:
        """The response resolvers may set a status and headers on: this request's own,
        left by `graph.endpoint`, else what Strawberry's FastAPI route set."""
        own = request.scope.get("state", {}).get(SUB_RESPONSE_KEY)
        return own if isinstance(own, Response) else await super().get_sub_response(request)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        """The self-hosted playground (graph/pages), not Strawberry's page that needs a CDN."""
        return playground_response(self.schema, request.app)

    def encode_json(self, data: object) -> bytes:
        """Serialise with orjson, an order of magnitude faster than `json`."""
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        """Parse with orjson; malformed bodies are a 400, never a 500."""
        return decode_request_json(data)

    async def parse_http_body(self, request: Any) -> Any:
        """Strawberry's parsing, then the edge checks on every operation of the body."""
        data = await super().parse_http_body(request)
        for item in data if isinstance(data, list) else (data,):
            check_request(item)
        return data

    async def execute_operation(
        self,
        request: Any,
        request_adapter: Any,
        request_data: Any,
        context: Any,
        root_value: Any,
        sub_response: Any,
    ) -> Any:
        """Resolve persisted hashes to documents (which pass the edge checks too), then run."""
        state = _PersistedState()
        request.scope.setdefault("state", {})[PERSISTED_STATE_KEY] = state
        if self.persisted is not None:
            for item in request_data if isinstance(request_data, list) else (request_data,):
                resolution = await self.persisted.resolve(item)
                if resolution.is_hash_only:
                    check_request(item)
                state.resolutions.append(resolution)
            state.is_hash_only_get = request_adapter.method == "GET" and all(
                resolution.is_hash_only for resolution in state.resolutions
            )
        token = _hash_only_get.set(state.is_hash_only_get)
        try:
            return await super().execute_operation(
                request=request,
                request_adapter=request_adapter,
                request_data=request_data,
                context=context,
                root_value=root_value,
                sub_response=sub_response,
            )
        finally:
            _hash_only_get.reset(token)

    async def process_result(self, request: Any, result: Any) -> Any:
        """Strawberry's result, then keep a newly sent persisted document that passed."""
        processed = await super().process_result(request, result)
        state = _persisted_state(request)
        if state is not None:
            state.has_errors = state.has_errors or bool(result.errors)
            if state.resolutions and self.persisted is not None:
                await self.persisted.keep(state.resolutions.pop(0), result.errors)
        return processed

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        """Run the request; HTTP-level refusals become a JSON GraphQL error body."""
        try:
            response = await super().run(request=request, context=context, root_value=root_value)
        except HTTPException as error:
            return http_error(request, error.status_code, error.reason)
        except RequestRefused as error:
            extra = {"fields": error.fields} if error.fields else {}
            return http_error(request, 200, error.message, error.code, **extra)
        except ClientDisconnect:
            # The client hung up before its body arrived: nothing ran, nobody is listening.
            log.info("client disconnected before sending its request")
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        state = _persisted_state(request)
        if (
            state is not None
            and state.is_hash_only_get
            and not state.has_errors
            and response.status_code == 200
            and not isinstance(response, StreamingResponse)
        ):
            return cacheable(request, response, public_max_age_seconds=self.public_max_age_seconds)
        return response


def _persisted_state(request: Any) -> _PersistedState | None:
    state = request.scope.get("state", {}).get(PERSISTED_STATE_KEY)
    return state if isinstance(state, _PersistedState) else None


def http_error(
    request: Request,
    status_code: int,
    message: str,
    code: ErrorCode | None = None,
    **extensions: object,
) -> Response:
    """A GraphQL-shaped error body for a request refused before execution."""
    code = code or _HTTP_CODES.get(status_code, ErrorCode.BAD_REQUEST)
    body = {
        "errors": [
            {
                "message": message,
                "extensions": {
                    "code": code,
                    "requestId": request_id_of(request.scope),
                    **extensions,
                },
            }
        ]
    }
    return JSONResponse(body, status_code=status_code)
