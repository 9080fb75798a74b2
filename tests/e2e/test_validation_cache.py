"""The validation cache hits: a document is validated once per schema, not once per request.

Strawberry's `ValidationCache` is keyed by the schema, the document and the rules; the
schema builds its rule classes once, so repeated documents find their entry. A counting
subclass of the directive rule tells how many validations ran.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql import ValidationContext, ValidationRule
from sqlalchemy.ext.asyncio import AsyncEngine

import graph.schema
from config.settings import Settings
from graph.app import create_app
from graph.limits import directive_count_rule as real_rule
from tests.conftest import GraphQLClient, token_for

FIRST = "query($n: Int) { products(first: $n) { edges { node { sku } } } }"
SECOND = "{ customers { edges { node { name } } } }"


@pytest.fixture
async def counted(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[tuple[GraphQLClient, list[str]]]:
    """A client of an app built after the directive rule was made to count its runs."""
    runs: list[str] = []

    def counting_rule(max_directives: int) -> type[ValidationRule]:
        base: Any = real_rule(max_directives)

        class Counting(base):  # type: ignore[misc]
            def __init__(self, context: ValidationContext) -> None:
                super().__init__(context)
                runs.append(context.document.loc.source.body if context.document.loc else "")

        return Counting

    monkeypatch.setattr(graph.schema, "directive_count_rule", counting_rule)
    app = create_app(settings, engine=engine)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http, token_for(app, superuser_id)), runs


async def test_given_one_document_when_sent_twice_then_it_is_validated_once(
    counted: tuple[GraphQLClient, list[str]],
) -> None:
    gql, runs = counted

    # Given a document validated once; when it is sent again, with other variables too
    await gql.ok(FIRST, {"n": 1})
    assert len(runs) == 1
    await gql.ok(FIRST, {"n": 1})
    await gql.ok(FIRST, {"n": 2})

    # Then the cache answered the repeats.
    assert runs == [FIRST]


async def test_given_a_cached_document_when_another_is_sent_then_only_that_one_is_validated(
    counted: tuple[GraphQLClient, list[str]],
) -> None:
    gql, runs = counted
    await gql.ok(FIRST, {"n": 1})

    await gql.ok(SECOND)
    await gql.ok(SECOND)
    await gql.ok(FIRST, {"n": 1})

    assert runs == [FIRST, SECOND]
