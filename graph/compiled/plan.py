"""Read plans: what an operation selects, worked out once per document, operation and grant set.

A plan is pure data over graphql-core's ASTs: for each level, which statement loads it, which
fields each object answers and how (a column of its row and the scalar's own serializer, a
global ID, a cursor, a `__typename`), and which relations the caller may not read (module RBAC
is static per selection). Arguments are not part of a plan: they are coerced per request, so
one plan serves every variable value. `@skip`/`@include` are: their variables are in the key.

The planner answers None for anything it does not cover; the general executor then runs the
operation as before (it stays the reference).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

from graphql import (
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    VariableNode,
    Visitor,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetails,
    FragmentDetails,
    collect_subfields,
)
from graphql.execution.values import VariableValues

from auth.rbac import Module, Principal
from domain.customers.model import ORDER_FIELDS as CUSTOMER_ORDER
from domain.customers.model import Customer
from domain.products.model import ORDER_FIELDS as PRODUCT_ORDER
from domain.products.model import Product
from domain.tasks.model import ORDER_FIELDS as TASK_ORDER
from domain.tasks.model import Task
from domain.users.model import User
from graph.execution import field_plans

FieldDetailsList = list[FieldDetails]

# What an entry of a level does with its row; entries are (kind, response key, a, b).
TYPENAME: Final = 0  # a: the type name
GLOBAL_ID: Final = 1  # a: the type name
LEAF: Final = 2  # a: column index, b: (coerce, is non-null)
RELATION: Final = 3  # a: the Relation
EDGES: Final = 4  # a: the EdgePlan
PAGE_INFO: Final = 5  # a: the page info entries
TOTAL_COUNT: Final = 6
NODE: Final = 7  # a: the ObjectPlan
CURSOR: Final = 8
HAS_NEXT: Final = 9
HAS_PREVIOUS: Final = 10
START_CURSOR: Final = 11
END_CURSOR: Final = 12

Entry = tuple[int, str, Any, Any]

# The GraphQL object types the compiled path reads, with their table and entity.
TABLES: Final[dict[str, tuple[str, type[Any]]]] = {
    "Product": ("products", Product),
    "Customer": ("customers", Customer),
    "Task": ("tasks", Task),
    "User": ("users", User),
}
# Column index of each entity field, per table.
COLUMNS: Final[dict[str, dict[str, int]]] = {
    table: {f.name: i for i, f in enumerate(fields(entity))} for table, entity in TABLES.values()
}
# Root connections: field name -> (table, module whose READ it needs).
ROOT_CONNECTIONS: Final = {
    "products": ("products", Module.PRODUCTS),
    "customers": ("customers", Module.CUSTOMERS),
    "tasks": ("tasks", Module.TASKS),
}
# Roots by ID: field name -> (type name, module).
ROOT_OBJECTS: Final = {
    "product": ("Product", Module.PRODUCTS),
    "customer": ("Customer", Module.CUSTOMERS),
    "task": ("Task", Module.TASKS),
}
# `node(id:)` answers these types here; the others (users, roles, audit) take the general path.
NODE_TYPES: Final = {"Product": Module.PRODUCTS, "Customer": Module.CUSTOMERS, "Task": Module.TASKS}
# Relations: (parent type, field) -> (kind, module whose READ it needs).
RELATIONS: Final = {
    ("Customer", "tasks"): ("customer_tasks", Module.TASKS),
    ("Task", "products"): ("task_products", Module.PRODUCTS),
    ("Task", "customer"): ("task_customer", Module.CUSTOMERS),
    ("Task", "assignee"): ("task_assignee", Module.USERS),
}
# The fields a cursor may hold, per table: read when a cursor is selected.
SORTABLE: Final = {
    "products": tuple(PRODUCT_ORDER),
    "customers": tuple(CUSTOMER_ORDER),
    "tasks": tuple(TASK_ORDER),
}
MODULES: Final = (Module.PRODUCTS, Module.CUSTOMERS, Module.TASKS, Module.USERS)


class NotCovered(Exception):
    """The selection holds something the compiled path does not answer."""


@dataclass(slots=True, repr=False)
class ObjectPlan:
    """One object type's answer from its row."""

    type_name: str
    table: str
    entries: list[Entry]
    relations: list[Relation] = field(default_factory=list)
    # Whether this level or one below may report an error (so completion tracks paths).
    needs_paths: bool = False


@dataclass(slots=True, repr=False)
class EdgePlan:
    """An edge of a connection: its node, its cursor."""

    entries: list[Entry]
    node: ObjectPlan | None


@dataclass(slots=True, repr=False)
class ConnectionPlan:
    """A connection's answer from a page of rows."""

    table: str
    entries: list[Entry]
    edge: EdgePlan | None
    counted: bool

    @property
    def node(self) -> ObjectPlan | None:
        """The plan of the edges' nodes, when they are selected."""
        return None if self.edge is None else self.edge.node


@dataclass(slots=True, repr=False)
class Relation:
    """A field from one object to others: its statement, its guard, what it selects."""

    kind: str
    key: str
    parent_type: str
    field_def: GraphQLField
    details: FieldDetailsList
    # Static RBAC: the module the caller may not read, or None when the field is readable.
    forbidden: Module | None
    # Task.assignee without USERS read: readable only where the assignee is the caller.
    only_own_user: bool
    child: ObjectPlan | ConnectionPlan | None


@dataclass(slots=True, repr=False)
class Root:
    """A root field: a connection, an object by ID, or `node`."""

    kind: str  # "connection", "object", "node", "typename"
    key: str
    field_def: GraphQLField | None
    details: FieldDetailsList
    table: str = ""
    connection: ConnectionPlan | None = None
    # By type name: one plan for `product`/`customer`/`task`, one per type for `node`.
    objects: dict[str, ObjectPlan] = field(default_factory=dict)


@dataclass(slots=True, repr=False)
class ReadPlan:
    """A query operation's compiled answer: its root fields, in response order."""

    roots: list[Root]
    # The entity fields each table's statements read (the id always); the others are None.
    columns: dict[str, frozenset[str]] = field(default_factory=dict)


class _Builder:
    """Builds one plan; raises NotCovered at the first thing it does not answer."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: OperationDefinitionNode,
        readable: frozenset[Module],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.operation = operation
        self.readable = readable
        self.plain = field_plans(schema)
        self.columns: dict[str, set[str]] = {}

    def read(self, table: str, *names: str) -> None:
        self.columns.setdefault(table, set()).update(names)

    def subfields(self, type_name: str, details: FieldDetailsList) -> dict[str, FieldDetailsList]:
        parent = self.schema.type_map[type_name]
        assert isinstance(parent, GraphQLObjectType)
        collected = collect_subfields(
            self.schema, self.fragments, self.variables, self.operation, parent, details
        )
        if collected.new_defer_usages or collected.forbidden_directive_instances:
            raise NotCovered
        return collected.grouped_field_set

    def object_plan(self, type_name: str, details: FieldDetailsList) -> ObjectPlan:
        table = TABLES[type_name][0]
        columns = COLUMNS[table]
        gql_type = self.schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        plain = self.plain.get(gql_type, {})
        plan = ObjectPlan(type_name, table, [])
        for key, sub in self.subfields(type_name, details).items():
            name = sub[0].node.name.value
            if name == "__typename":
                plan.entries.append((TYPENAME, key, type_name, None))
            elif name == "id":
                plan.entries.append((GLOBAL_ID, key, type_name, None))
            elif (type_name, name) in RELATIONS:
                relation = self.relation(type_name, key, name, sub)
                plan.relations.append(relation)
                plan.entries.append((RELATION, key, relation, None))
                child = relation.child
                below = child.node if isinstance(child, ConnectionPlan) else child
                if relation.forbidden or relation.only_own_user:
                    plan.needs_paths = True
                if below is not None and below.needs_paths:
                    plan.needs_paths = True
            else:
                leaf = plain.get(name)
                if leaf is None or leaf[1] is None or leaf[0] not in columns:
                    raise NotCovered
                attribute, coerce, non_null = leaf
                self.read(table, attribute)
                plan.entries.append((LEAF, key, columns[attribute], (coerce, non_null)))
        return plan

    def relation(
        self, parent_type: str, key: str, name: str, details: FieldDetailsList
    ) -> Relation:
        kind, module = RELATIONS[(parent_type, name)]
        gql_parent = self.schema.type_map[parent_type]
        assert isinstance(gql_parent, GraphQLObjectType)
        field_def = gql_parent.fields[name]
        may_read = module in self.readable
        only_own_user = kind == "task_assignee" and not may_read
        forbidden = None if may_read or only_own_user else module
        child: ObjectPlan | ConnectionPlan | None = None
        if kind == "task_customer" and forbidden is None:
            self.read("tasks", "customer_id")
        elif kind == "task_assignee" and forbidden is None:
            self.read("tasks", "assignee_id")
        if forbidden is None:
            if kind == "customer_tasks":
                child = self.connection_plan("tasks", "Task", _named(field_def.type), details)
            else:
                child = self.object_plan(_object_name(field_def.type), details)
        return Relation(kind, key, parent_type, field_def, details, forbidden, only_own_user, child)

    def connection_plan(
        self, table: str, node_type: str, type_name: str, details: FieldDetailsList
    ) -> ConnectionPlan:
        plan = ConnectionPlan(table, [], None, False)
        gql_type = self.schema.type_map[type_name]
        assert isinstance(gql_type, GraphQLObjectType)
        for key, sub in self.subfields(type_name, details).items():
            name = sub[0].node.name.value
            if name == "__typename":
                plan.entries.append((TYPENAME, key, type_name, None))
            elif name == "totalCount":
                plan.counted = True
                plan.entries.append((TOTAL_COUNT, key, None, None))
            elif name == "pageInfo":
                info_type = _named(gql_type.fields[name].type)
                entries = self.page_info(info_type, sub)
                if any(entry[0] in (START_CURSOR, END_CURSOR) for entry in entries):
                    self.read(table, *SORTABLE[table])
                plan.entries.append((PAGE_INFO, key, entries, None))
            elif name == "edges":
                edge_type = _object_name(gql_type.fields[name].type)
                edge = self.edge_plan(node_type, edge_type, sub)
                if any(entry[0] == CURSOR for entry in edge.entries):
                    self.read(table, *SORTABLE[table])
                if plan.edge is not None:
                    # Two keys for the edges (aliases): one node plan must serve both.
                    raise NotCovered
                plan.edge = edge
                plan.entries.append((EDGES, key, edge, None))
            else:  # pragma: no cover - a connection has no other fields
                raise NotCovered
        return plan

    def edge_plan(self, node_type: str, edge_type: str, details: FieldDetailsList) -> EdgePlan:
        plan = EdgePlan([], None)
        for key, sub in self.subfields(edge_type, details).items():
            name = sub[0].node.name.value
            if name == "__typename":
                plan.entries.append((TYPENAME, key, edge_type, None))
            elif name == "cursor":
                plan.entries.append((CURSOR, key, None, None))
            elif name == "node":
                if plan.node is not None:
                    raise NotCovered
                plan.node = self.object_plan(node_type, sub)
                plan.entries.append((NODE, key, plan.node, None))
            else:  # pragma: no cover - an edge has no other fields
                raise NotCovered
        return plan

    def page_info(self, type_name: str, details: FieldDetailsList) -> list[Entry]:
        kinds = {
            "hasNextPage": HAS_NEXT,
            "hasPreviousPage": HAS_PREVIOUS,
            "startCursor": START_CURSOR,
            "endCursor": END_CURSOR,
        }
        entries: list[Entry] = []
        for key, sub in self.subfields(type_name, details).items():
            name = sub[0].node.name.value
            if name == "__typename":
                entries.append((TYPENAME, key, type_name, None))
            else:
                entries.append((kinds[name], key, None, None))
        return entries

    def root(self, query: GraphQLObjectType, key: str, details: FieldDetailsList) -> Root:
        name = details[0].node.name.value
        if name == "__typename":
            return Root("typename", key, None, details)
        field_def = query.fields.get(name)
        if field_def is None:
            raise NotCovered
        if name in ROOT_CONNECTIONS:
            table, module = ROOT_CONNECTIONS[name]
            if module not in self.readable:
                raise NotCovered  # the general path reports it
            node_type = {"products": "Product", "customers": "Customer", "tasks": "Task"}[name]
            connection = self.connection_plan(table, node_type, _named(field_def.type), details)
            return Root("connection", key, field_def, details, table, connection)
        if name in ROOT_OBJECTS:
            type_name, module = ROOT_OBJECTS[name]
            if module not in self.readable:
                raise NotCovered
            objects = {type_name: self.object_plan(type_name, details)}
            return Root("object", key, field_def, details, objects=objects)
        if name == "node":
            objects = {
                type_name: self.object_plan(type_name, details)
                for type_name, module in NODE_TYPES.items()
                if module in self.readable
            }
            return Root("node", key, field_def, details, objects=objects)
        raise NotCovered

    def build(self, grouped: dict[str, FieldDetailsList]) -> ReadPlan:
        query = self.schema.query_type
        assert query is not None
        roots = [self.root(query, key, details) for key, details in grouped.items()]
        return ReadPlan(roots, {table: frozenset(names) for table, names in self.columns.items()})


def _named(type_: Any) -> str:
    while isinstance(type_, GraphQLNonNull | GraphQLList):
        type_ = type_.of_type
    return str(type_.name)


def _object_name(type_: Any) -> str:
    name = _named(type_)
    if name not in TABLES and not name.endswith("Edge"):
        raise NotCovered
    return name


def _directive_variables(operation: OperationDefinitionNode, fragments: Sequence[Any]) -> list[str]:
    """The variables `@skip`/`@include` read anywhere in the operation or its fragments."""
    names: list[str] = []

    class Collector(Visitor):
        def enter_directive(self, node: Any, *_args: Any) -> None:
            if node.name.value in ("skip", "include"):
                for argument in node.arguments:
                    value = argument.value
                    if isinstance(value, VariableNode) and value.name.value not in names:
                        names.append(value.name.value)

    collector = Collector()
    visit(operation, collector)
    for fragment in fragments:
        visit(fragment, collector)
    return sorted(names)


def readable_modules(principal: Principal) -> frozenset[Module]:
    """The modules among those the compiled path reads that `principal` may read."""
    return frozenset(module for module in MODULES if principal.can(module))


@dataclass(slots=True)
class _Cached:
    operation: OperationDefinitionNode
    plan: ReadPlan | None


class Planner:
    """Plans by (operation, grants, @skip/@include values), least recently used dropped first.

    Shared by every request of an app: a plan holds no row data and no caller.
    """

    def __init__(self, max_plans: int = 256) -> None:
        self._plans: OrderedDict[Hashable, _Cached] = OrderedDict()
        self._directive_names: dict[int, tuple[OperationDefinitionNode, list[str]]] = {}
        self._max_plans = max_plans
        # Runs the plans answered, and runs the general executor answered instead.
        self.answered = 0
        self.abandoned = 0

    def __len__(self) -> int:
        return len(self._plans)

    def plans(self) -> list[ReadPlan | None]:
        """The cached plans (None for an operation not covered), oldest first."""
        return [cached.plan for cached in self._plans.values()]

    def _names(
        self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
    ) -> list[str]:
        known = self._directive_names.get(id(operation))
        if known is not None and known[0] is operation:
            return known[1]
        names = _directive_variables(operation, [f.definition for f in fragments.values()])
        if len(self._directive_names) >= self._max_plans:
            self._directive_names.clear()
        self._directive_names[id(operation)] = (operation, names)
        return names

    def plan(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDetails],
        variables: VariableValues,
        operation: OperationDefinitionNode,
        readable: frozenset[Module],
        grouped: Callable[[], dict[str, FieldDetailsList]],
    ) -> ReadPlan | None:
        """The plan of `operation` for a caller who may read `readable`, or None when the
        compiled path does not cover it."""
        coerced = variables.coerced
        directive_values = tuple(
            repr(coerced.get(name)) for name in self._names(operation, fragments)
        )
        key = (id(operation), readable, directive_values)
        cached = self._plans.get(key)
        if cached is not None and cached.operation is operation:
            self._plans.move_to_end(key)
            return cached.plan
        try:
            plan: ReadPlan | None = _Builder(
                schema, fragments, variables, operation, readable
            ).build(grouped())
        except (NotCovered, KeyError):
            plan = None
        self._plans[key] = _Cached(operation, plan)
        if len(self._plans) > self._max_plans:
            self._plans.popitem(last=False)
        return plan
