"""The code's schema itself: the committed SDL is what it exports, and the execution fast
path's plans of it never skip a guarded field.

Building the app's schema imports FastAPI (the request context is Strawberry's FastAPI
context), so these are integration tests; the contract checks on the committed SDL and the
fast path on a schema of its own are unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import GraphQLObjectType, GraphQLSchema

from graph.execution import field_plans
from graph.schema import schema as app_schema

ROOT = Path(__file__).resolve().parents[2]


def test_given_the_code_when_the_schema_is_exported_then_it_matches_the_committed_sdl() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert app_schema.as_str().strip() == committed.strip(), (
        "schema.graphql is stale: run `strawberry export-schema graph.schema:schema "
        "--output schema.graphql` and commit it"
    )


def test_given_the_app_schema_when_planned_then_guarded_relations_are_never_plain() -> None:
    # Given the real schema: a field with a permission must always run its extension.
    graphql_schema: GraphQLSchema = app_schema._schema
    plans = field_plans(graphql_schema)

    def plan_of(type_name: str) -> dict[str, Any]:
        found = graphql_schema.type_map[type_name]
        assert isinstance(found, GraphQLObjectType)
        return plans.get(found, {})

    task = plan_of("Task")
    assert {"id", "title", "status", "priority", "version", "dueDate"} <= set(task)
    assert not {"customer", "assignee", "products"} & set(task)
    assert "tasks" not in plan_of("Customer")
    assert "name" in plan_of("Customer")
    connection = plan_of("TaskConnection")
    assert connection["edges"][1] is None
    assert "totalCount" not in connection
    assert "cursor" not in plan_of("TaskEdge")
    assert plan_of("TaskEdge")["node"][1] is None
    assert plan_of("Query") == {}
    assert plan_of("Mutation") == {}
