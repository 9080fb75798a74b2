"""Persisted operations over HTTP: Apollo's automatic persisted queries (APQ), persisted
queries over GET with HTTP caching, and trusted documents (docs/PERSISTED_QUERIES.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config.settings import Settings
from domain.documents import TrustedDocument
from graph.app import create_app
from persistence.trusted_documents import SqlTrustedDocuments
from tests.e2e.test_abuse import CREATE_PRODUCT, product_count

PRODUCTS = "query Products { products(first: 2) { totalCount edges { node { sku } } } }"
TYPENAME = "query Typename { __typename }"
ME = "query Me { me { email } }"

AppFactory = Callable[..., AbstractAsyncContextManager["Api"]]


def sha256(document: str) -> str:
    """The hash Apollo's link sends: SHA-256 of the exact text, lower-case hex."""
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str, *, version: int = 1) -> dict[str, Any]:
    """The `extensions` of a persisted request for `document`."""
    return {"persistedQuery": {"version": version, "sha256Hash": sha256(document)}}


class Api:
    """Persisted requests to one app, with the superuser's token unless told otherwise."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    def _headers(self, anonymous: bool, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {} if anonymous else {"Authorization": f"Bearer {self.token}"}
        return {**headers, **(extra or {})}

    async def post(
        self, body: dict[str, Any], *, anonymous: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """POST `body`; the status and the JSON answer."""
        response = await self.http.post(
            "/graphql", json=body, headers=self._headers(anonymous, None)
        )
        return response.status_code, response.json()

    async def hash_only(self, document: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """POST only the hash of `document`."""
        return await self.post({"extensions": persisted(document)}, **kwargs)

    async def register(self, document: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        """POST the hash with its document, as Apollo's link does after a miss."""
        return await self.post({"query": document, "extensions": persisted(document)}, **kwargs)

    async def get(
        self,
        document: str,
        *,
        anonymous: bool = False,
        headers: dict[str, str] | None = None,
        with_document: bool = False,
    ) -> httpx.Response:
        """GET a persisted query by its hash, as `useGETForHashedQueries` does."""
        params = {"extensions": json.dumps(persisted(document))}
        if with_document:
            params["query"] = document
        return await self.http.get(
            "/graphql", params=params, headers=self._headers(anonymous, headers)
        )


def codes(answer: dict[str, Any]) -> list[str]:
    """The `extensions.code` of every error of an answer."""
    return [error["extensions"]["code"] for error in answer.get("errors", [])]


@pytest.fixture
def api_for(settings: Settings, engine: AsyncEngine, superuser_id: int) -> AppFactory:
    """Builds an app with the given setting changes and an `Api` to it."""

    @asynccontextmanager
    async def build(**changes: Any) -> AsyncIterator[Api]:
        app = create_app(settings.model_copy(update=changes), engine=engine)
        token = app.state.services.auth.codec.issue_access(superuser_id).token
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http, token)

    return build


@pytest.fixture
async def api(api_for: AppFactory) -> AsyncIterator[Api]:
    """The app with the default settings: APQ on, trusted documents off, GET queries off."""
    async with api_for() as built:
        yield built


async def register_trusted(
    session_factory: async_sessionmaker[AsyncSession], *documents: str
) -> None:
    """Register documents the way `python -m graph.persisted add` does."""
    await SqlTrustedDocuments(session_factory).add(
        TrustedDocument(sha256(document), document, source="test") for document in documents
    )


# ---- automatic persisted queries


async def test_given_an_unknown_hash_when_sent_alone_then_apollos_not_found_with_http_200(
    api: Api,
) -> None:
    status, answer = await api.hash_only(PRODUCTS)

    assert status == 200
    (error,) = answer["errors"]
    assert error["message"] == "PersistedQueryNotFound"
    assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert error["extensions"]["requestId"]
    assert "data" not in answer


async def test_given_a_hash_sent_with_its_document_when_sent_again_alone_then_it_runs(
    api: Api,
) -> None:
    status, registered = await api.register(PRODUCTS)
    assert status == 200
    assert registered["data"]["products"]["totalCount"] == 0

    status, answer = await api.hash_only(PRODUCTS)

    assert status == 200
    assert answer["data"] == registered["data"]


async def test_given_a_hash_that_is_not_the_documents_when_sent_then_400_and_nothing_kept(
    api: Api,
) -> None:
    body = {"query": PRODUCTS, "extensions": persisted(TYPENAME)}

    status, answer = await api.post(body)

    assert status == 400
    (error,) = answer["errors"]
    assert error["message"] == "provided sha does not match query"
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert codes((await api.hash_only(TYPENAME))[1]) == ["PERSISTED_QUERY_NOT_FOUND"]


@pytest.mark.parametrize(
    "extensions",
    [
        {"persistedQuery": {"version": 2, "sha256Hash": sha256(TYPENAME)}},
        {"persistedQuery": {"version": 1, "sha256Hash": sha256(TYPENAME).upper()}},
        {"persistedQuery": {"version": 1, "sha256Hash": "abc"}},
        {"persistedQuery": {"version": 1}},
        {"persistedQuery": "yes"},
    ],
    ids=["version-2", "upper-case", "short", "no-hash", "not-an-object"],
)
async def test_given_a_malformed_persisted_query_extension_when_sent_then_400(
    api: Api, extensions: dict[str, Any]
) -> None:
    status, answer = await api.post({"extensions": extensions})

    assert status == 400
    assert codes(answer) == ["BAD_REQUEST"]


async def test_given_a_document_that_fails_validation_when_registered_then_it_is_not_kept(
    api: Api,
) -> None:
    invalid = "{ products { nope } }"

    _, answer = await api.register(invalid)

    assert codes(answer) == ["GRAPHQL_VALIDATION_FAILED"]
    assert codes((await api.hash_only(invalid))[1]) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_given_persisted_queries_off_when_a_hash_is_sent_then_not_supported(
    api_for: AppFactory,
) -> None:
    async with api_for(graphql_persisted_queries=False) as api:
        status, alone = await api.hash_only(TYPENAME)
        _, with_document = await api.register(TYPENAME)
        _, plain = await api.post({"query": TYPENAME})

    assert status == 200
    assert alone["errors"][0]["message"] == "PersistedQueryNotSupported"
    assert codes(alone) == codes(with_document) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
    assert plain["data"] == {"__typename": "Query"}


async def test_given_a_stored_document_over_the_size_limit_when_run_by_hash_then_refused(
    api_for: AppFactory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    # Registered behind the command's back: the limits still hold for what a hash resolves to.
    long_document = "{ __typename" + " " * 200 + "}"
    await register_trusted(session_factory, long_document)

    async with api_for(graphql_trusted_documents="required", graphql_max_document_chars=100) as api:
        _, answer = await api.hash_only(long_document)

    assert codes(answer) == ["QUERY_TOO_LARGE"]


# ---- over GET, with HTTP caching


async def test_given_a_persisted_query_when_sent_over_get_by_hash_then_it_runs_though_get_is_off(
    api: Api,
) -> None:
    await api.register(PRODUCTS)

    response = await api.get(PRODUCTS)

    assert response.status_code == 200, response.text
    assert response.json()["data"]["products"]["totalCount"] == 0
    assert response.headers["cache-control"] == "private, no-cache"
    assert response.headers["etag"].startswith('"')
    assert "Authorization" in response.headers["vary"]


async def test_given_the_etag_when_sent_in_if_none_match_then_304_without_a_body(
    api: Api,
) -> None:
    await api.register(PRODUCTS)
    first = await api.get(PRODUCTS)

    again = await api.get(PRODUCTS, headers={"If-None-Match": first.headers["etag"]})
    other = await api.get(PRODUCTS, headers={"If-None-Match": '"something-else"'})

    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == first.headers["etag"]
    assert again.headers["cache-control"] == "private, no-cache"
    assert other.status_code == 200
    assert other.json() == first.json()


async def test_given_an_anonymous_public_read_when_sent_over_get_then_public_max_age(
    api_for: AppFactory,
) -> None:
    async with api_for(graphql_public_max_age_seconds=120) as api:
        await api.register(TYPENAME, anonymous=True)
        anonymous = await api.get(TYPENAME, anonymous=True)
        signed_in = await api.get(TYPENAME)

    assert anonymous.json()["data"] == {"__typename": "Query"}
    assert anonymous.headers["cache-control"] == "public, max-age=120"
    assert signed_in.headers["cache-control"] == "private, no-cache"
    assert "Authorization" in anonymous.headers["vary"]


async def test_given_an_answer_with_errors_when_sent_over_get_then_no_store_and_no_etag(
    api: Api,
) -> None:
    await api.register(ME, anonymous=True)

    response = await api.get(ME, anonymous=True)

    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert response.headers["cache-control"] == "no-store"
    assert "etag" not in response.headers


async def test_given_an_unknown_hash_over_get_then_not_found_and_no_store(api: Api) -> None:
    response = await api.get(PRODUCTS, headers={"Accept": "text/html,*/*"})

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert codes(response.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert response.headers["cache-control"] == "no-store"


async def test_given_a_persisted_mutation_when_sent_over_get_by_hash_then_refused_and_never_run(
    api: Api, engine: AsyncEngine
) -> None:
    mutation = CREATE_PRODUCT % 1
    _, created = await api.register(mutation)
    assert created["data"]["createProduct"]["product"]["id"]

    response = await api.get(mutation)

    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "mutations are not allowed when using GET"
    assert codes(response.json()) == ["BAD_REQUEST"]
    assert await product_count(engine) == 1


async def test_given_a_document_in_the_url_when_get_queries_are_off_then_still_refused(
    api: Api,
) -> None:
    await api.register(PRODUCTS)

    response = await api.get(PRODUCTS, with_document=True)

    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_REQUEST"]


# ---- trusted documents


async def test_given_trusted_documents_required_when_an_unregistered_document_is_sent_then_refused(
    api_for: AppFactory,
) -> None:
    async with api_for(graphql_trusted_documents="required") as api:
        _, plain = await api.post({"query": PRODUCTS})
        _, by_hash = await api.hash_only(PRODUCTS)
        _, registering = await api.register(PRODUCTS)
        _, still_unknown = await api.hash_only(PRODUCTS)

    assert codes(plain) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert "python -m graph.persisted add" in plain["errors"][0]["message"]
    assert codes(by_hash) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert codes(registering) == ["PERSISTED_QUERY_NOT_ALLOWED"]
    assert codes(still_unknown) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_given_trusted_documents_required_when_a_registered_document_is_sent_then_it_runs(
    api_for: AppFactory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await register_trusted(session_factory, PRODUCTS)

    async with api_for(graphql_trusted_documents="required") as api:
        _, by_hash = await api.hash_only(PRODUCTS)
        _, in_full = await api.post({"query": PRODUCTS})
        _, with_hash = await api.register(PRODUCTS)
        over_get = await api.get(PRODUCTS)
        _, other = await api.post({"query": TYPENAME})

    for answer in (by_hash, in_full, with_hash, over_get.json()):
        assert answer["data"]["products"]["totalCount"] == 0, answer
    assert over_get.headers["cache-control"] == "private, no-cache"
    assert codes(other) == ["PERSISTED_QUERY_NOT_ALLOWED"]


async def test_given_trusted_documents_allowed_when_apq_is_off_then_registered_hashes_still_run(
    api_for: AppFactory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await register_trusted(session_factory, PRODUCTS)

    async with api_for(graphql_trusted_documents="allowed", graphql_persisted_queries=False) as api:
        _, registered = await api.hash_only(PRODUCTS)
        _, unknown = await api.hash_only(TYPENAME)
        _, plain = await api.post({"query": TYPENAME})

    assert registered["data"]["products"]["totalCount"] == 0
    assert codes(unknown) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert plain["data"] == {"__typename": "Query"}


async def test_given_trusted_documents_off_when_a_registered_hash_is_sent_then_the_list_is_unused(
    api: Api, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await register_trusted(session_factory, PRODUCTS)

    _, answer = await api.hash_only(PRODUCTS)

    assert codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"]
