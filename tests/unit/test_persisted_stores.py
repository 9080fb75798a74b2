"""The automatic persisted queries' in-process cache, the trusted list's cache, the HTTP
caching rules and the manifest reader, without a server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from strawberry.http import GraphQLRequestData

from domain.errors import ErrorCode
from graph.http import RequestRefused
from graph.persisted.http_cache import cache_control, entity_tag, matches
from graph.persisted.manifest import ManifestError, check_documents, read_documents
from graph.persisted.operations import PersistedOperations
from graph.persisted.stores import (
    CachedTrustedDocuments,
    MemoryDocumentStore,
    RedisDocumentStore,
    document_hash,
)
from graph.schema import schema

QUERY = "query Products { products(first: 1) { totalCount } }"


async def test_given_a_full_cache_when_another_is_kept_then_the_least_recently_used_goes() -> None:
    cache = MemoryDocumentStore(max_entries=2)
    await cache.put("a", "{ a }")
    await cache.put("b", "{ b }")
    assert await cache.get("a") == "{ a }"  # now "b" is the least recently used

    await cache.put("c", "{ c }")

    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == "{ a }"
    assert await cache.get("c") == "{ c }"


class CountingTrustedDocuments:
    """A trusted list that counts how often it is asked."""

    def __init__(self, documents: dict[str, str]) -> None:
        self.documents = documents
        self.reads = 0

    async def get(self, sha256: str) -> str | None:
        self.reads += 1
        return self.documents.get(sha256)


async def test_given_a_registered_document_when_asked_twice_then_it_is_read_once() -> None:
    source = CountingTrustedDocuments({document_hash(QUERY): QUERY})
    trusted = CachedTrustedDocuments(source, max_entries=10)

    assert await trusted.get(document_hash(QUERY)) == QUERY
    assert await trusted.get(document_hash(QUERY)) == QUERY
    assert await trusted.get("0" * 64) is None
    assert await trusted.get("0" * 64) is None

    # Rows never change, so hits are cached; misses are asked again (it may be added later).
    assert source.reads == 3


def test_given_apollos_documented_example_then_the_hash_is_the_same() -> None:
    assert document_hash("{__typename}") == (
        "ecf4edb46db40b5132295c0291d62fb65d6759a9eedfa4d5d612dd5ec54a6b38"
    )


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


def _manifest(tmp_path: Path, operations: list[dict[str, str]]) -> Path:
    path = tmp_path / "persisted-query-manifest.json"
    manifest = {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
    path.write_text(json.dumps(manifest))
    return path


def test_given_an_apollo_manifest_when_read_then_each_operation_is_a_document(
    tmp_path: Path,
) -> None:
    operation = {"id": document_hash(QUERY), "name": "Products", "type": "query", "body": QUERY}

    (document,) = read_documents(_manifest(tmp_path, [operation]))

    assert document.sha256 == document_hash(QUERY)
    assert document.document == QUERY
    assert document.operation_name == "Products"
    assert document.source == "persisted-query-manifest.json"


def test_given_a_manifest_id_that_is_not_the_bodys_hash_when_read_then_refused(
    tmp_path: Path,
) -> None:
    operation = {"id": "my-own-id", "name": "Products", "type": "query", "body": QUERY}

    with pytest.raises(ManifestError, match="must be the SHA-256 of `body`"):
        read_documents(_manifest(tmp_path, [operation]))


def test_given_a_graphql_file_when_read_then_its_exact_text_is_one_document(
    tmp_path: Path,
) -> None:
    path = tmp_path / "products.graphql"
    path.write_text(QUERY + "\n")

    (document,) = read_documents(path)

    assert document.sha256 == document_hash(QUERY + "\n")
    assert document.operation_name == "Products"


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("other.txt", QUERY, "expected an Apollo manifest"),
        ("bad.json", "{", "not JSON"),
        ("list.json", "[]", "not an Apollo manifest"),
    ],
)
def test_given_a_file_that_is_no_manifest_when_read_then_refused(
    tmp_path: Path, name: str, text: str, reason: str
) -> None:
    path = tmp_path / name
    path.write_text(text)

    with pytest.raises(ManifestError, match=reason):
        read_documents(path)


def test_given_documents_that_would_never_run_when_checked_then_each_is_named(
    tmp_path: Path,
) -> None:
    path = tmp_path / "broken.graphql"
    path.write_text("query Broken { products { nope } }")
    typo = tmp_path / "typo.graphql"
    typo.write_text("query Typo { products(first: 1) { totalCount }")
    documents = [*read_documents(path), *read_documents(typo)]

    with pytest.raises(ManifestError) as refused:
        check_documents(documents, schema._schema, max_chars=20_000)

    assert "broken.graphql: Broken: Cannot query field 'nope'" in str(refused.value)
    assert "typo.graphql" in str(refused.value)
    with pytest.raises(ManifestError, match="longer than GRAPHQL_MAX_DOCUMENT_CHARS"):
        check_documents(read_documents(path), schema._schema, max_chars=10)


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
        (ConnectionRefusedError("database down"), ErrorCode.SERVICE_UNAVAILABLE),
        (RuntimeError("a bug"), ErrorCode.INTERNAL_SERVER_ERROR),
    ],
    ids=["outage", "bug"],
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
