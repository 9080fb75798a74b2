"""HTTP caching of persisted queries sent over GET (the hash in the URL, no document).

Only an answer without errors is cacheable; every other /graphql response stays
`no-store` (graph/security.py).

- A request with an `Authorization` header gets `private, no-cache`: a browser may keep
  it but asks again each time, and the `ETag` turns an unchanged answer into a 304.
- An anonymous one gets `public, max-age=GRAPHQL_PUBLIC_MAX_AGE_SECONDS`, so a CDN may
  serve it to everyone for that long (`public, no-cache` when the setting is 0).
- `Vary: Authorization` keeps a shared cache from answering a signed-in request with an
  anonymous answer.

The operation still runs for a conditional request: the ETag is the hash of the answer,
so a 304 saves the transfer, not the work.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request
from starlette.responses import Response

NOT_MODIFIED = 304


def cache_control(*, is_authenticated: bool, public_max_age_seconds: int) -> str:
    """The Cache-Control of a cacheable persisted GET answer."""
    if is_authenticated:
        return "private, no-cache"
    if public_max_age_seconds <= 0:
        return "public, no-cache"
    return f"public, max-age={public_max_age_seconds}"


def entity_tag(body: bytes) -> str:
    """A strong ETag: the answer's SHA-256, shortened (collisions need 2^64 answers)."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names `etag` (weak comparison, as RFC 9110 asks)."""
    if if_none_match.strip() == "*":
        return True
    bare = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == bare for tag in if_none_match.split(","))


def cacheable(request: Request, response: Response, *, public_max_age_seconds: int) -> Response:
    """`response` with its ETag and caching headers, or a 304 when the client has it."""
    etag = entity_tag(bytes(response.body))
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control(
            is_authenticated="authorization" in request.headers,
            public_max_age_seconds=public_max_age_seconds,
        ),
        "Vary": "Authorization",
    }
    if matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=NOT_MODIFIED, headers=headers)
    response.headers.update(headers)
    return response
