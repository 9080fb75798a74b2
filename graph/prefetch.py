"""Prefetching: a list resolver loads the relations its selection asks for, level by level.

Relation fields answer from the per-request loaders. When the parent list's resolver has
already loaded the rows below it (one batched statement per level), each relation field
finds them in its loader and answers synchronously, without an awaitable per object; that
is most of what an async loader call per object costs (bench/README.md). Anything the
prefetch cannot see through (a `@skip`/`@include`, an argument that does not validate, a
relation the caller may not read) is simply not prefetched: the field then loads it as
before, with the same result and the same errors.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from contextlib import suppress
from typing import Any, Final

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.execution.values import VariableValues, get_argument_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments

from auth.rbac import Module
from domain.customers.model import Customer
from domain.tasks.model import Task
from graph.context import Info, context_of
from graph.relay import ConnectionArgs
from graph.tasks.inputs import task_criteria, task_page

EDGE_NODE: Final = ("edges", "node")
CUSTOMER: Final = frozenset({"Customer", "Node"})


class _Opaque(Exception):
    """The selection holds something the prefetch does not interpret."""


def _collect(
    info: Info,
    selection_set: SelectionSetNode | None,
    name: str,
    found: list[FieldNode],
    type_names: frozenset[str] | None,
) -> None:
    if selection_set is None:
        return
    fragments = info._raw_info.fragments
    for selection in selection_set.selections:
        if selection.directives:
            raise _Opaque
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                found.append(selection)
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, inner = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None or fragment.directives:
                raise _Opaque
            condition, inner = fragment.type_condition, fragment.selection_set
        else:  # pragma: no cover - the three kinds of selection are all there is
            raise _Opaque
        if condition is None or type_names is None or condition.name.value in type_names:
            _collect(info, inner, name, found, type_names)


def fields_named(
    info: Info,
    parents: Iterable[FieldNode],
    name: str,
    *,
    type_names: frozenset[str] | None = None,
) -> list[FieldNode]:
    """The `name` fields selected on `parents`, through fragments (only those on
    `type_names` when the parents' type is abstract)."""
    found: list[FieldNode] = []
    for parent in parents:
        _collect(info, parent.selection_set, name, found, type_names)
    return found


def fields_at(info: Info, parents: Iterable[FieldNode], path: Sequence[str]) -> list[FieldNode]:
    """The fields reached from `parents` by following the field names of `path`."""
    nodes = list(parents)
    for name in path:
        nodes = fields_named(info, nodes, name)
    return nodes


def arguments_of(info: Info, type_name: str, field_name: str, node: FieldNode) -> dict[str, Any]:
    """The arguments `node` passes to `type_name.field_name`, as its resolver receives them."""
    raw = info._raw_info
    parent = raw.schema.type_map[type_name]
    assert isinstance(parent, GraphQLObjectType)
    field = parent.fields[field_name]
    # Strawberry hands resolvers the plain dict of coerced variables.
    variables: Any = raw.variable_values
    if not isinstance(variables, VariableValues):
        variables = VariableValues({}, variables)
    coerced = get_argument_values(field, node, variables)
    definition = field.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
    schema: Any = info.schema
    return convert_arguments(
        coerced,
        definition.arguments,
        scalar_registry=schema.schema_converter.scalar_registry,
        config=schema.config,
    )


def _may_read(info: Info, module: Module) -> bool:
    principal = context_of(info).principal
    return principal is not None and principal.can(module)


async def _customers_loaded(
    info: Info, customers: Sequence[Customer], tasks_fields: Sequence[FieldNode]
) -> None:
    """Load each customer's page of tasks for every `tasks` field, and what lies below."""
    loaders = context_of(info).loaders
    if not customers or not _may_read(info, Module.TASKS):
        return
    loads = []
    for tasks_field in tasks_fields:
        args = arguments_of(info, "Customer", "tasks", tasks_field)
        key = (
            task_criteria(args.get("filter")),
            task_page(
                ConnectionArgs(
                    args.get("first"), args.get("after"), args.get("last"), args.get("before")
                ),
                args.get("order_by"),
            ),
        )
        loads.append(loaders.tasks_by_customer.load_many([(c.id, key) for c in customers]))
    # Every field's pages in one batch (a statement per distinct arguments), then the
    # relations below all of them together: aliases share those statements.
    groups = []
    for tasks_field, pages in zip(tasks_fields, await asyncio.gather(*loads), strict=True):
        tasks = [task for page in pages for task in page.items]
        groups.append((tasks, fields_at(info, [tasks_field], EDGE_NODE)))
    await _tasks_loaded(info, groups)


async def _tasks_loaded(
    info: Info, groups: Sequence[tuple[Sequence[Task], Sequence[FieldNode]]]
) -> None:
    """Load the relations that each group's selections (fields of Task selection sets) ask
    for, for that group's tasks: one statement per relation for all the groups."""
    loaders = context_of(info).loaders

    def wanted(name: str, module: Module) -> list[Task]:
        if not _may_read(info, module):
            return []
        return [
            task
            for tasks, selections in groups
            if fields_named(info, selections, name)
            for task in tasks
        ]

    if tasks := wanted("products", Module.PRODUCTS):
        await loaders.products_by_task.load_many(sorted({task.id for task in tasks}))
    if tasks := wanted("customer", Module.CUSTOMERS):
        ids = {task.customer_id for task in tasks if task.customer_id is not None}
        await loaders.customer_by_id.load_many(sorted(ids))
    # Without USERS read only the caller's own user shows, which the field loads itself.
    if tasks := wanted("assignee", Module.USERS):
        ids = {task.assignee_id for task in tasks if task.assignee_id is not None}
        await loaders.user_by_id.load_many(sorted(ids))


async def _quietly(prefetch: Awaitable[None]) -> None:
    # On any failure the fields load on their own, and report the error at their paths.
    with suppress(Exception):
        await prefetch


async def customer_list_loaded(info: Info, customers: Sequence[Customer]) -> None:
    """Prefetch below a root connection of customers."""

    async def prefetch() -> None:
        nodes = fields_at(info, info._raw_info.field_nodes, EDGE_NODE)
        await _customers_loaded(info, customers, fields_named(info, nodes, "tasks"))

    await _quietly(prefetch())


async def customer_loaded(info: Info, customer: Customer) -> None:
    """Prefetch below one customer fetched by `customer(id:)` or `node(id:)`."""

    async def prefetch() -> None:
        # `node(id:)` is abstract: only fragments on Customer (or Node) apply to a customer.
        tasks = fields_named(info, info._raw_info.field_nodes, "tasks", type_names=CUSTOMER)
        await _customers_loaded(info, [customer], tasks)

    await _quietly(prefetch())


async def task_list_loaded(info: Info, tasks: Sequence[Task]) -> None:
    """Prefetch below a root connection of tasks."""

    async def prefetch() -> None:
        selections = fields_at(info, info._raw_info.field_nodes, EDGE_NODE)
        await _tasks_loaded(info, [(tasks, selections)])

    await _quietly(prefetch())
