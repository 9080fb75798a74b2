"""Running a read plan: coerce the arguments, one statement per level, then a table-driven
completion of the rows into the response.

Arguments are coerced by graphql-core and Strawberry exactly as for the resolvers, and checked
by the same domain functions, before any statement runs; anything that would raise (a bad
cursor, a page too large, an ID of the wrong type) makes the whole operation take the general
path, which reports it as it always has. The only errors reported here are the static
FORBIDDEN of a relation the caller may not read, placed exactly where the general path puts
them (`handle_field_error`: same message, locations, path and original error).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Final

import structlog
from graphql import GraphQLError
from graphql.execution.values import get_argument_values
from graphql.pyutils import Path
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.arguments import convert_arguments

from auth.rbac import Module, Principal
from domain.customers.model import ORDER_FIELDS as CUSTOMER_ORDER
from domain.customers.model import normalise_customer_filter
from domain.errors import DomainError
from domain.pagination import Page, encode_cursor_values
from domain.products.model import ORDER_FIELDS as PRODUCT_ORDER
from domain.products.model import validate_product_filter
from domain.tasks.service import prepare_task_filter
from domain.validation import clean_search
from graph.common import sort_keys
from graph.compiled.plan import (
    COLUMNS,
    CURSOR,
    EDGES,
    END_CURSOR,
    GLOBAL_ID,
    HAS_NEXT,
    HAS_PREVIOUS,
    LEAF,
    NODE,
    PAGE_INFO,
    RELATION,
    START_CURSOR,
    TOTAL_COUNT,
    ConnectionPlan,
    EdgePlan,
    Entry,
    NotCovered,
    ObjectPlan,
    ReadPlan,
    Relation,
)
from graph.customers.inputs import customer_criteria
from graph.permissions import missing_permission
from graph.ports import CompiledReads, Row
from graph.products.inputs import product_criteria
from graph.relay import ConnectionArgs, decode_global_id, decode_id_of, encode_global_id
from graph.tasks.inputs import task_criteria, task_page

if TYPE_CHECKING:
    from graph.execution import FastExecutionContext

log = structlog.get_logger("graph.compiled")

_ORDER_FIELDS: Final = {"products": PRODUCT_ORDER, "customers": CUSTOMER_ORDER}


def _root_criteria(table: str, args: dict[str, Any]) -> object:
    """The filter as the list services hand it to the repositories."""
    if table == "products":
        found = product_criteria(args.get("filter"))
        return validate_product_filter(replace(found, search=clean_search(found.search)))
    if table == "customers":
        customers = customer_criteria(args.get("filter"))
        return normalise_customer_filter(replace(customers, search=clean_search(customers.search)))
    return prepare_task_filter(task_criteria(args.get("filter")))


# The prefetch's order: a level's pages of tasks, then products, customers, assignees.
_KIND_ORDER: Final = {
    "customer_tasks": 0,
    "task_products": 1,
    "task_customer": 2,
    "task_assignee": 3,
}


def _object(relation: Relation) -> ObjectPlan:
    child = relation.child
    assert isinstance(child, ObjectPlan)
    return child


def _connection_args(args: dict[str, Any]) -> ConnectionArgs:
    return ConnectionArgs(
        args.get("first"), args.get("after"), args.get("last"), args.get("before")
    )


class Run:
    """One request's run of a plan."""

    def __init__(
        self,
        executor: FastExecutionContext,
        plan: ReadPlan,
        reads: CompiledReads,
        principal: Principal,
    ) -> None:
        self.executor = executor
        self.plan = plan
        self.reads = reads
        self.user_id = principal.user_id
        # Per relation (by identity): its prepared arguments, then what it loaded.
        self.arguments: dict[int, Any] = {}
        self.loaded: dict[int, Any] = {}
        self.counts: dict[int, Any] = {}
        # Rows already read, by table and id: a by-ID relation reads only the others.
        self.known: dict[str, dict[int, Row]] = {}
        self.errors: list[tuple[Exception, Relation, Path]] = []
        self.completed: dict[tuple[int, int], dict[str, Any]] = {}

    # -- arguments ------------------------------------------------------------------------

    def _args(self, field_def: Any, details: Any) -> dict[str, Any]:
        """The arguments of a field, as its resolver receives them."""
        coerced = get_argument_values(field_def, details[0].node, self.executor.variable_values)
        definition = field_def.extensions[GraphQLCoreConverter.DEFINITION_BACKREF]
        schema: Any = self.executor.schema._strawberry_schema  # type: ignore[attr-defined]
        return convert_arguments(
            coerced,
            definition.arguments,
            scalar_registry=schema.schema_converter.scalar_registry,
            config=schema.config,
        )

    def prepare(self) -> None:
        """Coerce and check every argument of the plan; raises where the general path
        would report an error."""
        for root in self.plan.roots:
            if root.kind == "typename":
                continue
            args = self._args(root.field_def, root.details)
            if root.kind == "connection":
                criteria = _root_criteria(root.table, args)
                if root.table == "tasks":
                    page = task_page(_connection_args(args), args.get("order_by"))
                else:
                    page = _connection_args(args).page(
                        sort_keys(args.get("order_by")), _ORDER_FIELDS[root.table]
                    )
                self.arguments[id(root)] = (criteria, page)
                assert root.connection is not None
                self._prepare_level(root.connection.node)
            elif root.kind == "object":
                (type_name,) = root.objects
                self.arguments[id(root)] = (type_name, decode_id_of(args["id"], type_name))
                self._prepare_level(root.objects[type_name])
            else:
                type_name, pk = decode_global_id(args["id"])
                if type_name not in root.objects:
                    raise NotCovered  # another type, or one the caller may not read
                self.arguments[id(root)] = (type_name, pk)
                self._prepare_level(root.objects[type_name])

    def _prepare_level(self, plan: ObjectPlan | None) -> None:
        if plan is None:
            return
        for relation in plan.relations:
            child = relation.child
            if relation.kind == "customer_tasks" and isinstance(child, ConnectionPlan):
                args = self._args(relation.field_def, relation.details)
                self.arguments[id(relation)] = (
                    task_criteria(args.get("filter")),
                    task_page(_connection_args(args), args.get("order_by")),
                )
                self._prepare_level(child.node)
            elif isinstance(child, ObjectPlan):
                self._prepare_level(child)

    # -- statements -----------------------------------------------------------------------

    def _columns(self, table: str) -> frozenset[str]:
        return self.plan.columns.get(table, frozenset())

    def _remember(self, table: str, rows: Sequence[Row]) -> None:
        known = self.known.setdefault(table, {})
        for row in rows:
            known[row[0]] = row

    async def _by_ids(self, table: str, ids: set[int]) -> dict[int, Row]:
        known = self.known.setdefault(table, {})
        missing = [pk for pk in ids if pk not in known]
        if missing:
            known.update(await self.reads.by_ids(table, sorted(missing), self._columns(table)))
        return {pk: known[pk] for pk in ids if pk in known}

    async def fetch(self) -> None:
        """Every statement of the plan: per root its page or object, then one statement per
        relation and level (siblings of one level share it, as the prefetch's loaders do),
        then the counts, which the general path also runs last."""
        for root in self.plan.roots:
            counts: list[tuple[Relation, Any]] = []
            if root.kind == "connection":
                criteria, page = self.arguments[id(root)]
                found = await self.reads.page(root.table, criteria, page, self._columns(root.table))
                self._remember(root.table, found.items)
                self.loaded[id(root)] = found
                connection = root.connection
                assert connection is not None
                await self._fetch_levels([(connection.node, found.items)], counts)
                if connection.counted:
                    self.counts[id(root)] = await self.reads.count(root.table, criteria)
            elif root.kind in ("object", "node"):
                type_name, pk = self.arguments[id(root)]
                plan = root.objects[type_name]
                rows = await self._by_ids(plan.table, {pk})
                self.loaded[id(root)] = rows.get(pk)
                await self._fetch_levels([(plan, list(rows.values()))], counts)
            await self._count_tasks(counts)

    async def _count_tasks(self, counts: list[tuple[Relation, Any]]) -> None:
        """The customers' task counts: one statement per distinct filter, as the loader."""
        by_criteria: dict[Any, list[int]] = {}
        for _, (ids, criteria) in counts:
            by_criteria.setdefault(criteria, []).extend(ids)
        found = {
            criteria: await self.reads.task_counts_by_customer(list(dict.fromkeys(ids)), criteria)
            for criteria, ids in by_criteria.items()
        }
        for relation, (_, criteria) in counts:
            self.counts[id(relation)] = found[criteria]

    async def _fetch_levels(
        self,
        level: list[tuple[ObjectPlan | None, Sequence[Row]]],
        counts: list[tuple[Relation, Any]],
    ) -> None:
        """Load the relations below `level`, then below theirs, one level at a time."""
        while level:
            groups: dict[Hashable, list[tuple[Relation, Sequence[Row]]]] = {}
            for plan, rows in level:
                if plan is None or not rows:
                    continue
                for relation in plan.relations:
                    if relation.forbidden is not None:
                        continue
                    key: Hashable = (relation.kind, relation.only_own_user)
                    if relation.kind == "customer_tasks":
                        key = (relation.kind, self.arguments[id(relation)])
                    groups.setdefault(key, []).append((relation, rows))
            below: list[tuple[ObjectPlan | None, Sequence[Row]]] = []
            for key in sorted(groups, key=lambda k: _KIND_ORDER[k[0]]):  # type: ignore[index]
                below.extend(await self._fetch_relations(groups[key], counts))
            level = below

    async def _fetch_relations(
        self, members: list[tuple[Relation, Sequence[Row]]], counts: list[tuple[Relation, Any]]
    ) -> list[tuple[ObjectPlan | None, Sequence[Row]]]:
        """One statement for relations of one kind (and arguments) below one level."""
        first = members[0][0]
        kind = first.kind
        below: list[tuple[ObjectPlan | None, Sequence[Row]]] = []
        if kind == "customer_tasks":
            criteria, page = self.arguments[id(first)]
            ids = list(dict.fromkeys(row[0] for _, rows in members for row in rows))
            pages = await self.reads.tasks_by_customer(ids, criteria, page, self._columns("tasks"))
            tasks = [task for found in pages.values() for task in found.items]
            self._remember("tasks", tasks)
            for relation, rows in members:
                self.loaded[id(relation)] = pages
                child = relation.child
                assert isinstance(child, ConnectionPlan)
                if child.counted:
                    counts.append((relation, ([row[0] for row in rows], criteria)))
                mine = [task for row in rows for task in pages[row[0]].items]
                below.append((child.node, mine))
            return below
        if kind == "task_products":
            ids = list(dict.fromkeys(row[0] for _, rows in members for row in rows))
            by_task = await self.reads.products_by_task(ids, self._columns("products"))
            for relation, rows in members:
                self.loaded[id(relation)] = by_task
                unique = {p[0]: p for row in rows for p in by_task.get(row[0], ())}
                below.append((_object(relation), list(unique.values())))
            return below
        column = COLUMNS["tasks"]["customer_id" if kind == "task_customer" else "assignee_id"]
        targets: set[int] = {
            row[column] for _, rows in members for row in rows if row[column] is not None
        }
        if first.only_own_user:
            targets &= {self.user_id}
        found_rows = await self._by_ids(_object(first).table, targets)
        for relation, rows in members:
            self.loaded[id(relation)] = found_rows
            seen: set[int] = {row[column] for row in rows} & found_rows.keys()
            below.append((_object(relation), [found_rows[pk] for pk in sorted(seen)]))
        return below

    # -- completion -----------------------------------------------------------------------

    def complete(self) -> dict[str, Any]:
        """The response's data, in the order of the root fields."""
        data: dict[str, Any] = {}
        for root in self.plan.roots:
            path = Path(None, root.key, "Query")
            if root.kind == "typename":
                data[root.key] = "Query"
            elif root.kind == "connection":
                assert root.connection is not None
                data[root.key] = self._connection(
                    root.connection, self.loaded[id(root)], self.counts.get(id(root)), path
                )
            else:
                row = self.loaded[id(root)]
                if row is None:
                    data[root.key] = None
                else:
                    type_name = self.arguments[id(root)][0]
                    data[root.key] = self._object(root.objects[type_name], row, path)
        return data

    def _connection(
        self, plan: ConnectionPlan, page: Page[Row], count: int | None, path: Path | None
    ) -> dict[str, Any]:
        result: dict[str, Any] = {}
        items = page.items
        cursor_columns = [COLUMNS[plan.table][key.field] for key in page.order]
        for kind, key, a, _ in plan.entries:
            if kind == EDGES:
                result[key] = self._edges(a, page, cursor_columns, path, key)
            elif kind == PAGE_INFO:
                result[key] = self._page_info(a, page, items, cursor_columns)
            elif kind == TOTAL_COUNT:
                result[key] = count
            else:
                result[key] = a
        return result

    def _edges(
        self,
        plan: EdgePlan,
        page: Page[Row],
        cursor_columns: list[int],
        path: Path | None,
        key: str,
    ) -> list[dict[str, Any]]:
        edges = []
        order = page.order
        node = plan.node
        edges_path = None
        if path is not None and node is not None and node.needs_paths:
            edges_path = Path(path, key, None)
        for index, row in enumerate(page.items):
            edge: dict[str, Any] = {}
            for kind, edge_key, a, _ in plan.entries:
                if kind == NODE:
                    node_path = None
                    if edges_path is not None:
                        node_path = Path(Path(edges_path, index, None), edge_key, None)
                    edge[edge_key] = self._object(a, row, node_path)
                elif kind == CURSOR:
                    edge[edge_key] = encode_cursor_values(
                        order, [row[c] for c in cursor_columns], row[0]
                    )
                else:
                    edge[edge_key] = a
            edges.append(edge)
        return edges

    @staticmethod
    def _page_info(
        entries: list[Entry], page: Page[Row], items: Sequence[Row], cursor_columns: list[int]
    ) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for kind, key, a, _ in entries:
            if kind == HAS_NEXT:
                info[key] = page.has_next_page
            elif kind == HAS_PREVIOUS:
                info[key] = page.has_previous_page
            elif kind in (START_CURSOR, END_CURSOR):
                if not items:
                    info[key] = None
                else:
                    row = items[0] if kind == START_CURSOR else items[-1]
                    info[key] = encode_cursor_values(
                        page.order, [row[c] for c in cursor_columns], row[0]
                    )
            else:
                info[key] = a
        return info

    def _object(self, plan: ObjectPlan, row: Row, path: Path | None) -> dict[str, Any]:
        if plan.relations:
            return self._fields(plan, row, path)
        # Tasks share products: an object without relations is completed once per request,
        # as the general path maps each product once (`product_nodes`).
        key = (id(plan), row[0])
        done = self.completed.get(key)
        if done is None:
            done = self.completed[key] = self._fields(plan, row, path)
        return done

    def _fields(self, plan: ObjectPlan, row: Row, path: Path | None) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for kind, key, a, b in plan.entries:
            if kind == LEAF:
                value = row[a]
                if value is None:
                    if b[1]:
                        raise NotCovered  # a null in a non-null field: the general path reports it
                    result[key] = None
                else:
                    coerced = b[0](value)
                    if coerced is None:
                        raise NotCovered
                    result[key] = coerced
            elif kind == GLOBAL_ID:
                result[key] = encode_global_id(a, row[0])
            elif kind == RELATION:
                result[key] = self._relation(a, row, path)
            else:
                result[key] = a
        return result

    def _relation(self, relation: Relation, row: Row, path: Path | None) -> Any:
        here = None if path is None else Path(path, relation.key, relation.parent_type)
        if relation.forbidden is not None:
            self._forbid(relation, relation.forbidden, here)
            return None
        kind = relation.kind
        child = relation.child
        if kind == "customer_tasks":
            assert isinstance(child, ConnectionPlan)
            page = self.loaded[id(relation)][row[0]]
            count = self.counts[id(relation)][row[0]] if child.counted else None
            return self._connection(child, page, count, here)
        assert isinstance(child, ObjectPlan)
        if kind == "task_products":
            found = self.loaded[id(relation)].get(row[0], [])
            if here is None or not child.needs_paths:
                return [self._object(child, product, None) for product in found]
            return [
                self._object(child, product, Path(here, index, None))
                for index, product in enumerate(found)
            ]
        column = COLUMNS["tasks"]["customer_id" if kind == "task_customer" else "assignee_id"]
        target = row[column]
        if relation.only_own_user and target != self.user_id:
            self._forbid(relation, Module.USERS, here)
            return None
        if target is None:
            return None
        found_row = self.loaded[id(relation)].get(target)
        return None if found_row is None else self._object(child, found_row, here)

    def _forbid(self, relation: Relation, module: Module, path: Path | None) -> None:
        assert path is not None, "a plan with a guarded relation tracks paths"
        self.errors.append((missing_permission(module), relation, path))

    def report(self) -> None:
        """Hand the errors to graphql-core, as the guarded fields would have raised them."""
        for error, relation, path in self.errors:
            self.executor.handle_field_error(error, relation.field_def.type, relation.details, path)


async def run(
    executor: FastExecutionContext, plan: ReadPlan, reads: CompiledReads, principal: Principal
) -> dict[str, Any] | None:
    """The data of `plan` for this request, or None when the general path must answer."""
    compiled = Run(executor, plan, reads, principal)
    try:
        compiled.prepare()
        await compiled.fetch()
        data = compiled.complete()
    except (DomainError, GraphQLError, NotCovered):
        # A bad argument, an unavailable database, a value the plan does not answer: the
        # general path meets the same and reports it in its place.
        return None
    except Exception:
        # Not expected: the general path answers, and the log says why the plan did not.
        log.warning("compiled read abandoned", exc_info=True)
        return None
    compiled.report()
    return data
