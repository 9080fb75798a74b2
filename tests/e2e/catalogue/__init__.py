"""The bad-input catalogue of issue 10: hostile requests as data, each with its expected answer.

A case is one HTTP request (method, path, headers, raw body bytes) and what the production
app must answer: the HTTP status, the `extensions.code` of the first error and, sometimes,
a fragment of its message. `tests/e2e/test_bad_input_catalogue.py` sends every case.

Bodies are bytes, so a case can hold what `json=` never sends: invalid UTF-8, lone
surrogate escapes, 5,000 levels of nesting. Values only known once the module's data
exists (tokens, global IDs, cursors) are written as `<<name>>` placeholders and filled in
just before the request is sent.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = "application/json"

Build = Callable[[str], dict[str, Any]]
"""Makes a case's variables around one hostile string."""

# The codes the cases expect, spelt once.
BAD_REQUEST = "BAD_REQUEST"
BAD_USER_INPUT = "BAD_USER_INPUT"
CONFLICT = "CONFLICT"
FORBIDDEN = "FORBIDDEN"
METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
NOT_FOUND = "NOT_FOUND"
PARSE_FAILED = "GRAPHQL_PARSE_FAILED"
PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
QUERY_TOO_LARGE = "QUERY_TOO_LARGE"
UNAUTHENTICATED = "UNAUTHENTICATED"
UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"


@dataclass(frozen=True)
class Case:
    """One hostile request and the answer it must get.

    `code` is the `extensions.code` of the first error; None means the body carries no
    GraphQL errors at all (FastAPI's own 404 answers). A `chunked` body is sent in pieces
    without Content-Length.
    """

    id: str
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    status: int
    code: str | None
    message: str | None = None
    chunked: bool = False

    @property
    def is_mutation(self) -> bool:
        """Whether the request asks for a write; the catalogue's writes must all be refused."""
        return b"mutation" in self.body


def bearer(caller: str | None) -> dict[str, str]:
    """The Authorization header of `caller` (a placeholder name), or none."""
    return {"authorization": f"Bearer <<{caller}>>"} if caller else {}


def op(
    case_id: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    *,
    code: str | None,
    status: int = 200,
    message: str | None = None,
    caller: str | None = "admin",
    operation_name: str | None = None,
    extra: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Case:
    """A GraphQL POST as a client builds it, sent by `caller` ("admin", "viewer", None, ...).

    `json.dumps` writes a lone surrogate in a Python string as a `\\udXXX` escape and NUL
    as `\\u0000`, exactly what a hostile client puts on the wire.
    """
    payload: dict[str, Any] = {"query": query}
    if variables is not None:
        payload["variables"] = dict(variables)
    if operation_name is not None:
        payload["operationName"] = operation_name
    payload.update(extra or {})
    return Case(
        id=case_id,
        method="POST",
        path="/graphql",
        headers={"content-type": JSON, **bearer(caller), **(headers or {})},
        body=json.dumps(payload).encode(),
        status=status,
        code=code,
        message=message,
    )


def post(
    case_id: str,
    body: bytes,
    *,
    status: int,
    code: str | None,
    message: str | None = None,
    content_type: str | None = JSON,
    caller: str | None = "admin",
) -> Case:
    """A POST to /graphql with exactly these bytes."""
    headers = {"content-type": content_type} if content_type is not None else {}
    return Case(
        id=case_id,
        method="POST",
        path="/graphql",
        headers={**headers, **bearer(caller)},
        body=body,
        status=status,
        code=code,
        message=message,
    )


def b64(text: str) -> str:
    """A global ID spelt by hand: base64 of `text`."""
    return base64.b64encode(text.encode()).decode()
