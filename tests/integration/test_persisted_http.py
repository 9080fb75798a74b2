"""Persisted queries where they meet HTTP and Redis: the caching headers of a persisted GET,
the coded refusal a request gets when the trusted list fails, and a Redis store that cannot
be reached. They import Starlette and Strawberry's HTTP layer (or open a socket), so they
are integration tests; the caches and the manifest reader are unit tests
(tests/unit/test_persisted_stores.py)."""

from __future__ import annotations

import pytest
from strawberry.http import GraphQLRequestData

from domain.errors import ErrorCode, ServiceUnavailable, TimedOut
from graph.http import RequestRefused
from graph.persisted.http_cache import cache_control, entity_tag, matches
from graph.persisted.operations import PersistedOperations
from graph.persisted.stores import MemoryDocumentStore, document_hash
from persistence.redis_stores import RedisDocumentStore

QUERY = "query Products { products(first: 1) { totalCount } }"


@pytest.mark.parametrize(
    ("is_authenticated", "max_age", "expected"),
    [
        (True, 60, "private, no-cache"),
        (False, 60, "public, max-age=60"),
        (False, 0, "public, no-cache"),
    ],
)
def test_given_who_asks_when_a_persisted_get_is_cacheable_then_the_cache_control_fits(
    is_authenticated: bool, max_age: int, expected: str
) -> None:
    assert cache_control(is_authenticated=is_authenticated, public_max_age_seconds=max_age) == (
        expected
    )


def test_given_if_none_match_headers_then_they_match_the_etag_as_rfc_9110_says() -> None:
    etag = entity_tag(b'{"data":{}}')

    assert matches(etag, etag)
    assert matches(f'"other", W/{etag}', etag)
    assert matches("*", etag)
    assert not matches('"other"', etag)
    assert not matches("", etag)


async def test_given_redis_unreachable_when_used_then_a_miss_and_nothing_raised() -> None:
    # Port 1 on the loopback refuses at once: the request goes on without the cache.
    store = RedisDocumentStore("redis://127.0.0.1:1/0")
    try:
        await store.put(document_hash(QUERY), QUERY)
        assert await store.get(document_hash(QUERY)) is None
    finally:
        await store.close()


class FailingTrustedDocuments:
    """A trusted list whose database fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    async def get(self, sha256: str) -> str | None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "code"),
    [
        # The adapter raises outages as domain errors (persistence.failures).
        (ServiceUnavailable("The service is unavailable."), ErrorCode.SERVICE_UNAVAILABLE),
        (TimedOut("The database took too long to answer."), ErrorCode.TIMEOUT),
        (RuntimeError("a bug"), ErrorCode.INTERNAL_SERVER_ERROR),
    ],
    ids=["outage", "timeout", "bug"],
)
async def test_given_the_trusted_list_failing_when_a_document_is_checked_then_a_coded_refusal(
    error: Exception, code: ErrorCode
) -> None:
    operations = PersistedOperations(
        cache=MemoryDocumentStore(10),
        trusted=FailingTrustedDocuments(error),
        automatic=True,
        trusted_mode="required",
    )
    data = GraphQLRequestData(query=QUERY, variables=None, operation_name=None, extensions=None)

    with pytest.raises(RequestRefused) as refused:
        await operations.resolve(data)

    assert refused.value.code == code
