"""HTTP guards in front of GraphQL: content types, security headers, CSP, CORS, batching."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from tests.builders import products_t
from tests.conftest import GraphQLClient, token_for

ALLOWED_ORIGIN = "https://app.example.com"
QUERY = json.dumps({"query": "{ __typename }"})
CREATE_PRODUCT = (
    'mutation { createProduct(input: {sku: "BATCH-%d", name: "Batch", price: "1.00"})'
    " { product { id } } }"
)

Build = Callable[..., GraphQLClient]


@pytest.fixture
async def client_with(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[Build]:
    """Builds the real app with some settings changed; returns a superuser GraphQL client."""
    async with AsyncExitStack() as stack:

        def build(**overrides: Any) -> GraphQLClient:
            app = create_app(settings.model_copy(update=overrides), engine=engine)
            transport = httpx.ASGITransport(app=app)
            http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            stack.push_async_callback(http.aclose)
            return GraphQLClient(http, token_for(app, superuser_id))

        yield build


async def product_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(products_t))).scalar_one())


# ---------------------------------------------------------------- content types


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8"],
)
async def test_given_a_json_post_when_sent_then_it_runs(
    client: httpx.AsyncClient, content_type: str
) -> None:
    response = await client.post("/graphql", content=QUERY, headers={"content-type": content_type})
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_given_a_graphql_response_json_post_when_sent_then_it_runs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", content=QUERY, headers={"content-type": "application/graphql-response+json"}
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_given_a_client_that_accepts_graphql_response_json_when_it_posts_then_it_runs(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        content=QUERY,
        headers={
            "content-type": "application/json",
            "accept": "application/graphql-response+json, application/json",
        },
    )
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain; charset=utf-8",
        "multipart/form-data; boundary=xyz",
        "application/x-www-form-urlencoded",
        "application/graphql",
        None,
    ],
)
async def test_given_a_post_that_is_not_json_when_sent_then_415_with_a_json_error(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await client.post("/graphql", content=QUERY, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]
    assert "application/json" in error["message"]


# ---------------------------------------------------------------- security headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/graphql"), ("GET", "/graphql"), ("GET", "/"), ("GET", "/healthz")],
)
async def test_given_any_page_when_served_then_nosniff_and_no_referrer_are_sent(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    if method == "POST":
        response = await client.post(path, json={"query": "{ __typename }"})
    else:
        response = await client.get(path, headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_given_a_graphql_response_when_served_then_it_is_not_stored(
    client: httpx.AsyncClient,
) -> None:
    graphql = await client.post("/graphql", json={"query": "{ __typename }"})
    health = await client.get("/healthz")
    assert graphql.headers["cache-control"] == "no-store"
    assert "no-store" not in health.headers.get("cache-control", "")


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"content-type": "text/plain"}, QUERY),
        ({"content-type": "application/json"}, "x" * (1024 * 1024 + 1)),
    ],
    ids=["415", "413"],
)
async def test_given_a_request_refused_by_the_http_guard_when_answered_then_headers_are_sent(
    client: httpx.AsyncClient, headers: dict[str, str], content: str
) -> None:
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code in (413, 415)
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert response.headers.get("cache-control") == "no-store"


# ---------------------------------------------------------------- Content-Security-Policy


class PageAssets(HTMLParser):
    """The inline scripts and the external origins an HTML page uses."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts: list[str] = []
        self.origins: set[str] = set()
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            url = values.get(name) or ""
            if url.startswith(("http://", "https://")):
                parts = urlsplit(url)
                self.origins.add(f"{parts.scheme}://{parts.netloc}")
        self._in_inline_script = tag == "script" and "src" not in values

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.inline_scripts.append(data)


def directives(policy: str) -> dict[str, list[str]]:
    """`script-src 'self' x` → {"script-src": ["'self'", "x"]}."""
    parsed: dict[str, list[str]] = {}
    for part in policy.split(";"):
        name, *values = part.split()
        parsed[name] = values
    return parsed


def sha256_source(script: str) -> str:
    digest = hashlib.sha256(script.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def external_origins(policy: dict[str, list[str]]) -> set[str]:
    return {
        value
        for values in policy.values()
        for value in values
        if value.startswith(("http://", "https://"))
    }


async def test_given_the_graphiql_page_when_served_then_its_csp_admits_only_this_origin(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    page = PageAssets()
    page.feed(response.text)
    policy = directives(response.headers["content-security-policy"])

    assert page.inline_scripts, "GraphiQL's tabs travel in an inline JSON script"
    for script in page.inline_scripts:
        assert sha256_source(script) in policy["script-src"]
    assert page.origins == set()
    assert external_origins(policy) == set()
    assert "'unsafe-inline'" not in policy["script-src"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert policy["default-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["connect-src"] == ["'self'"]


async def test_given_the_landing_page_when_served_then_its_csp_allows_only_itself(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/")
    policy = directives(response.headers["content-security-policy"])
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]
    assert external_origins(policy) == set()
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'none'"]


async def test_given_a_json_response_when_served_then_no_csp_is_needed(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz")
    assert "content-security-policy" not in response.headers


# ---------------------------------------------------------------- CORS


@pytest.fixture
def cors(client_with: Build) -> GraphQLClient:
    return client_with(cors_origins=[ALLOWED_ORIGIN])


async def test_given_an_allowed_origin_when_it_posts_then_it_may_read_without_credentials(
    cors: GraphQLClient,
) -> None:
    response = await cors.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": ALLOWED_ORIGIN}
    )
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in response.headers
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()


async def test_given_an_allowed_origin_when_it_preflights_then_it_may_cache_for_ten_minutes(
    cors: GraphQLClient,
) -> None:
    response = await cors.http.options(
        "/graphql",
        headers={
            "origin": ALLOWED_ORIGIN,
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert response.headers["access-control-max-age"] == "600"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in response.headers


@pytest.mark.parametrize("origin", ["https://evil.example", "https://app.example.com.evil.test"])
async def test_given_another_origin_when_it_preflights_or_posts_then_it_is_not_allowed(
    cors: GraphQLClient, origin: str
) -> None:
    preflight = await cors.http.options(
        "/graphql", headers={"origin": origin, "access-control-request-method": "POST"}
    )
    post = await cors.http.post(
        "/graphql", json={"query": "{ __typename }"}, headers={"origin": origin}
    )
    assert preflight.status_code == 400
    for response in (preflight, post):
        # Without these two a browser lets no script on `origin` read the answer.
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers


# ---------------------------------------------------------------- batching


async def test_given_batching_of_three_when_three_operations_are_sent_then_each_runs(
    client_with: Build, engine: AsyncEngine
) -> None:
    gql = client_with(graphql_max_batch=3)
    batch = [{"query": CREATE_PRODUCT % n} for n in range(3)]
    response = await gql.http.post(
        "/graphql", json=batch, headers={"authorization": f"Bearer {gql.token}"}
    )
    assert response.status_code == 200
    results = response.json()
    assert len(results) == 3
    for result in results:
        assert "errors" not in result
        assert result["data"]["createProduct"]["product"]["id"]
        assert result["extensions"]["cost"] == 2
    assert await product_count(engine) == 3


async def test_given_batching_of_three_when_four_operations_are_sent_then_none_runs(
    client_with: Build, engine: AsyncEngine
) -> None:
    gql = client_with(graphql_max_batch=3)
    batch = [{"query": CREATE_PRODUCT % n} for n in range(4)]
    response = await gql.http.post(
        "/graphql", json=batch, headers={"authorization": f"Bearer {gql.token}"}
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["message"] == "Too many operations"
    assert await product_count(engine) == 0
