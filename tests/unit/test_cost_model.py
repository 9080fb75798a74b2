"""The cost model of graph/limits.py, priced on the real schema from parsed documents.

The schema is built from the committed `schema.graphql`, which the integration tests hold
equal to the code's (tests/integration/test_schema.py): the cost model reads only what the
SDL says (types, lists, arguments), and building the code's schema would import FastAPI.

Rules under test: every object costs 1 and scalars are free; a connection costs 1 and
its edges are multiplied by `first`/`last` (or the default page size); a plain list of
objects is multiplied by the list estimate; nested multipliers compound; `pageInfo` and
`totalCount` come once per connection; fragments are priced where they are spread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse

from domain.pagination import DEFAULT_PAGE_SIZE
from graph.limits import operation_cost

SCHEMA = build_schema((Path(__file__).resolve().parents[2] / "schema.graphql").read_text())

LIST_ESTIMATE = 3
BENCHMARK = (
    "{ customers(first: %d) { edges { node { id name email tasks(first: 10) { edges { node {"
    " id title status products { id name price } } } } } } } }"
)


def cost(
    document: str,
    variables: dict[str, Any] | None = None,
    *,
    operation_name: str | None = None,
    list_estimate: int = LIST_ESTIMATE,
) -> int:
    """The price of `document` on the real schema."""
    return operation_cost(
        SCHEMA,
        parse(document),
        operation_name,
        variables,
        list_estimate=list_estimate,
    )


# ---------------------------------------------------------------- objects and scalars


def test_given_only_scalars_when_priced_then_the_cost_is_zero() -> None:
    assert cost("{ __typename }") == 0


def test_given_one_object_with_scalars_when_priced_then_it_costs_one() -> None:
    assert cost("{ me { id email fullName isActive isSuperuser createdAt } }") == 1


def test_given_an_object_inside_an_object_when_priced_then_each_costs_one() -> None:
    assert cost('{ task(id: "x") { id customer { id } assignee { id } } }') == 3


def test_given_introspection_fields_when_priced_then_they_are_free() -> None:
    assert cost("{ __schema { types { name fields { name } } } }") == 0


def test_given_a_mutation_when_priced_then_its_payload_objects_count() -> None:
    create = (
        'mutation { createProduct(input: {sku: "a", name: "b", price: "1"}) { product { id } } }'
    )
    assert cost('mutation { deleteProduct(id: "x") { deletedId } }') == 1
    assert cost(create) == 2


# ---------------------------------------------------------------- connections


@pytest.mark.parametrize(
    ("arguments", "page"),
    [("(first: 7)", 7), ("(last: 4)", 4), ("", DEFAULT_PAGE_SIZE), ("(first: 0)", 0)],
)
def test_given_a_connection_when_priced_then_edges_are_multiplied_by_the_page(
    arguments: str, page: int
) -> None:
    # The connection itself is one object; each edge's node is one more.
    assert cost(f"{{ customers{arguments} {{ edges {{ node {{ id }} }} }} }}") == 1 + page


def test_given_a_page_size_variable_when_priced_then_its_value_is_used() -> None:
    document = "query($n: Int) { customers(first: $n) { edges { node { id } } } }"
    assert cost(document, {"n": 42}) == 1 + 42


def test_given_a_last_variable_when_priced_then_its_value_is_used() -> None:
    document = "query($n: Int) { customers(last: $n) { edges { node { id } } } }"
    assert cost(document, {"n": 9}) == 1 + 9


def test_given_a_page_size_variable_that_is_missing_when_priced_then_the_default_page_applies() -> (
    None
):
    document = "query($n: Int) { customers(first: $n) { edges { node { id } } } }"
    assert cost(document, {}) == 1 + DEFAULT_PAGE_SIZE


def test_given_a_page_size_variable_with_a_default_when_not_sent_then_the_default_is_priced() -> (
    None
):
    document = "query($n: Int = 100) { customers(first: $n) { edges { node { id } } } }"
    assert cost(document, {}) == 1 + 100


def test_given_page_info_and_total_count_when_priced_then_they_come_once_per_connection() -> None:
    document = "{ customers(first: 50) { totalCount pageInfo { hasNextPage endCursor } } }"
    # The connection (1) and its pageInfo object (1); totalCount is a scalar.
    assert cost(document) == 2


def test_given_page_info_inside_a_multiplied_connection_when_priced_then_once_per_parent() -> None:
    document = (
        "{ customers(first: 10) { edges { node { tasks(first: 5) {"
        " totalCount pageInfo { hasNextPage } } } } } }"
    )
    # customers 1 + 10 customers + 10 task connections + 10 pageInfo objects.
    assert cost(document) == 1 + 10 + 10 + 10


def test_given_edges_without_nodes_when_priced_then_each_edge_still_costs_one() -> None:
    assert cost("{ customers(first: 100) { edges { cursor } } }") == 1 + 100


# ---------------------------------------------------------------- lists and compounding


@pytest.mark.parametrize("estimate", [1, 3, 10])
def test_given_a_plain_list_when_priced_then_it_is_multiplied_by_the_list_estimate(
    estimate: int,
) -> None:
    assert cost("{ roles { id name } }", list_estimate=estimate) == estimate


def test_given_a_list_inside_a_list_when_priced_then_the_estimates_compound() -> None:
    # 3 roles, each with 3 grants.
    assert cost("{ roles { id grants { module } } }") == 3 + 3 * 3


def test_given_nested_connections_and_lists_when_priced_then_multipliers_compound() -> None:
    document = (
        "{ customers(first: 10) { edges { node { id tasks(first: 5) {"
        " edges { node { id products { id } } } } } } } }"
    )
    # 1 connection + 10 customers + 10 task connections + 50 tasks + 50 * 3 products.
    assert cost(document) == 1 + 10 + 10 + 50 + 150


@pytest.mark.parametrize(("page", "expected"), [(50, 2101), (100, 4201)])
def test_given_the_benchmark_query_when_priced_then_it_stays_under_the_default_limit(
    page: int, expected: int
) -> None:
    priced = cost(BENCHMARK % page)
    print(f"benchmark query with first: {page} costs {priced}")
    # 1 + page customers + page task connections + 10*page tasks + 3*10*page products.
    assert priced == 1 + page + page + 10 * page + 30 * page == expected
    assert priced < 5000


# ---------------------------------------------------------------- fragments


def test_given_a_named_fragment_on_a_node_when_priced_then_it_counts_where_it_is_spread() -> None:
    document = (
        "{ customers(first: 10) { edges { node { ...WithTasks } } } }"
        " fragment WithTasks on Customer { id tasks(first: 2) { edges { node { id } } } }"
    )
    assert cost(document) == 1 + 10 + 10 + 20


def test_given_a_fragment_spread_twice_when_priced_then_it_counts_twice() -> None:
    document = (
        "{ a: customers(first: 3) { edges { node { ...C } } }"
        "  b: customers(first: 4) { edges { node { ...C } } } }"
        " fragment C on Customer { tasks(first: 2) { edges { node { id } } } }"
    )
    assert cost(document) == (1 + 3 + 3 + 6) + (1 + 4 + 4 + 8)


def test_given_inline_fragments_on_an_interface_when_priced_then_their_fields_count() -> None:
    document = '{ node(id: "x") { id ... on Task { customer { id } products { id } } } }'
    # node 1 + customer 1 + 3 estimated products.
    assert cost(document) == 1 + 1 + 3


@pytest.mark.parametrize(
    "document",
    [
        "{ customers(first: 100) { ... on CustomerConnection { edges { node { id } } } } }",
        "{ customers(first: 100) { ...Page } }"
        " fragment Page on CustomerConnection { edges { node { id } } }",
    ],
    ids=["inline", "named"],
)
def test_given_a_fragment_on_the_connection_when_priced_then_edges_keep_the_page_size(
    document: str,
) -> None:
    assert cost(document) == 1 + 100


# ---------------------------------------------------------------- operations


def test_given_two_operations_when_one_is_named_then_only_that_one_is_priced() -> None:
    document = (
        "query Cheap { me { id } } query Dear { customers(first: 30) { edges { node { id } } } }"
    )
    assert cost(document, operation_name="Cheap") == 1
    assert cost(document, operation_name="Dear") == 31
