"""The automatic persisted queries' in-process cache, the trusted list's cache and the
manifest reader, without a server. The HTTP caching rules, the refusals a request gets and
the Redis store are integration tests (tests/integration/test_persisted_http.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import build_schema

from graph.persisted.manifest import ManifestError, check_documents, read_documents
from graph.persisted.stores import (
    CachedTrustedDocuments,
    MemoryDocumentStore,
    document_hash,
)

QUERY = "query Products { products(first: 1) { totalCount } }"
# The committed SDL, held equal to the code's schema by tests/integration/test_schema.py.
SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())


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
        check_documents(documents, SCHEMA, max_chars=20_000)

    assert "broken.graphql: Broken: Cannot query field 'nope'" in str(refused.value)
    assert "typo.graphql" in str(refused.value)
    with pytest.raises(ManifestError, match="longer than GRAPHQL_MAX_DOCUMENT_CHARS"):
        check_documents(read_documents(path), SCHEMA, max_chars=10)
