"""Limits enforced before execution: document size, directives and query cost.

Cost model (docs/SECURITY.md): every object a query can return costs 1, scalars are
free. A connection's `edges` are multiplied by its `first` or `last` (or the default page
size); a plain list of objects is multiplied by an estimate of its length. Nested
multipliers compound, so `customers(first: 50) { tasks(first: 10) { ... } }` weighs 500
tasks. The cost is computed from the document and variables alone, before any resolver
runs, and is reported in `extensions.cost` of every response.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from strawberry.extensions import QueryDepthLimiter, SchemaExtension

from domain.errors import ErrorCode
from domain.pagination import DEFAULT_PAGE_SIZE


class DocumentSizeLimiter(SchemaExtension):
    """Refuses a document longer than `max_chars` before it is parsed."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars

    def on_parse(self) -> Iterator[None]:
        """Check the raw text's length first."""
        query = self.execution_context.query or ""
        if len(query) > self.max_chars:
            raise GraphQLError(
                f"The document is {len(query)} characters long; the limit is {self.max_chars}.",
                extensions={"code": ErrorCode.QUERY_TOO_LARGE.value, "maxLength": self.max_chars},
            )
        yield


def directive_count_rule(max_directives: int) -> type[ValidationRule]:
    """A validation rule: at most `max_directives` directives per operation, fragments included."""

    class DirectiveCountRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            self.count = 0
            self.reported = False

        def enter_directive(self, node: Any, *_args: Any) -> None:
            self.count += 1
            if self.count > max_directives and not self.reported:
                self.reported = True
                self.report_error(
                    GraphQLError(f"The document uses more than {max_directives} directives.", node)
                )

    return DirectiveCountRule


def depth_rule(max_depth: int) -> type[ValidationRule]:
    """Strawberry's depth limit, minus its crash on a spread of an undefined fragment.

    Strawberry's rule looks every spread up with `fragments[name]` while it is built, so
    `{ ...Nope }` raised KeyError('Nope') instead of the standard "Unknown fragment"
    error. When a spread names no fragment, this rule stays silent: graphql-core's
    `KnownFragmentNamesRule` reports it, and there is no depth to measure.
    """
    (strawberry_rule,) = QueryDepthLimiter(max_depth=max_depth).validation_rules

    class DepthRule(strawberry_rule):  # type: ignore[misc, valid-type]
        def __init__(self, context: ValidationContext) -> None:
            document = context.document
            defined = {
                d.name.value for d in document.definitions if isinstance(d, FragmentDefinitionNode)
            }
            if _spread_names(document) <= defined:
                super().__init__(context)
            else:
                ValidationRule.__init__(self, context)

    return DepthRule


def _spread_names(document: DocumentNode) -> set[str]:
    names: set[str] = set()
    stack: list[Any] = [
        d.selection_set for d in document.definitions if hasattr(d, "selection_set")
    ]
    while stack:
        selection_set = stack.pop()
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FragmentSpreadNode):
                names.add(selection.name.value)
            else:
                stack.append(selection.selection_set)
    return names


def _unwrap(type_: Any) -> Any:
    while isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return type_


class _CostWalker:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
        *,
        list_estimate: int,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = defaults
        self.list_estimate = list_estimate

    def page_size(self, field: FieldNode) -> int:
        for argument in field.arguments or ():
            if argument.name.value not in ("first", "last"):
                continue
            value: Any = argument.value
            if isinstance(value, VariableNode):
                name = value.name.value
                given = self.variables.get(name) if name in self.variables else None
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(0, given)
                value = self.defaults.get(name)  # the operation's default for the variable
            if isinstance(value, IntValueNode):
                return max(0, int(value.value))
        return DEFAULT_PAGE_SIZE

    def fields_of(
        self, selection_set: SelectionSetNode, parent: Any
    ) -> Iterator[tuple[FieldNode, Any]]:
        """The fields selected on `parent`, with fragments (inline or named) expanded."""
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection, parent
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                yield from self.fields_of(selection.selection_set, target)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    yield from self.fields_of(fragment.selection_set, target)

    def selection_cost(self, selection_set: SelectionSetNode, parent: Any, multiplier: int) -> int:
        return sum(
            self.field_cost(field, owner, multiplier)
            for field, owner in self.fields_of(selection_set, parent)
        )

    def field_cost(self, field: FieldNode, parent: Any, multiplier: int) -> int:
        name = field.name.value
        if name.startswith("__") or not isinstance(
            parent, GraphQLObjectType | GraphQLInterfaceType
        ):
            return 0
        definition = parent.fields.get(name)
        if definition is None or field.selection_set is None:
            return 0
        named = get_named_type(definition.type)
        if not isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType):
            return 0
        if named.name.endswith("Connection"):
            return multiplier + self.connection_cost(field, named, multiplier)
        if name == "node" and parent.name.endswith("Edge"):
            # The edge already paid for its node: one object per item.
            return self.selection_cost(field.selection_set, named, multiplier)
        if isinstance(_unwrap(definition.type), GraphQLList):
            multiplier *= self.list_estimate
        return multiplier + self.selection_cost(field.selection_set, named, multiplier)

    def connection_cost(self, field: FieldNode, connection: Any, multiplier: int) -> int:
        # Each edge costs 1 per item (with or without its node); pageInfo and totalCount come
        # once per connection. Fragments on the connection are expanded first.
        assert field.selection_set is not None
        items = multiplier * self.page_size(field)
        total = 0
        for child, owner in self.fields_of(field.selection_set, connection):
            if child.name.value == "edges" and owner is connection:
                edge = get_named_type(connection.fields["edges"].type)
                total += items
                if child.selection_set is not None:
                    total += self.selection_cost(child.selection_set, edge, items)
            else:
                total += self.field_cost(child, owner, multiplier)
        return total


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    *,
    list_estimate: int,
) -> int:
    """The cost of the operation that will run, before anything resolves."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1:
        return 0
    operation = operations[0]
    root = {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation.operation]
    defaults = {
        definition.variable.name.value: definition.default_value
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    walker = _CostWalker(schema, fragments, variables or {}, defaults, list_estimate=list_estimate)
    return walker.selection_cost(operation.selection_set, root, 1)


_COST_ATTRIBUTE = "_taskgraph_cost"


def priced(ctx: Any, list_estimate: int) -> int:
    """The operation's cost, computed once per operation and shared by the extensions that
    need it (the cost limit and the cost bucket)."""
    cost = getattr(ctx, _COST_ATTRIBUTE, None)
    if cost is None:
        cost = operation_cost(
            ctx.schema._schema,
            ctx.graphql_document,
            ctx.operation_name,
            ctx.variables,
            list_estimate=list_estimate,
        )
        setattr(ctx, _COST_ATTRIBUTE, cost)
    return int(cost)


def known_cost(ctx: Any) -> int | None:
    """The operation's cost if it has been priced (it got as far as execution), else None."""
    cost = getattr(ctx, _COST_ATTRIBUTE, None)
    return None if cost is None else int(cost)


class CostAnalysis(SchemaExtension):
    """Refuses operations above `max_cost` with QUERY_TOO_COMPLEX; reports the cost always."""

    def __init__(self, max_cost: int, list_estimate: int) -> None:
        self.max_cost = max_cost
        self.list_estimate = list_estimate
        self.cost: int | None = None

    def on_execute(self) -> Iterator[None]:
        """Price the validated document; short-circuit execution when it is too dear."""
        ctx = self.execution_context
        if ctx.graphql_document is not None:
            self.cost = priced(ctx, self.list_estimate)
            if self.cost > self.max_cost:
                error = GraphQLError(
                    f"The query costs {self.cost}; the limit is {self.max_cost}. "
                    "Ask for smaller pages or fewer nested fields.",
                    extensions={
                        "code": ErrorCode.QUERY_TOO_COMPLEX.value,
                        "cost": self.cost,
                        "maxCost": self.max_cost,
                    },
                )
                # A result set before execution makes Strawberry skip the resolvers entirely.
                ctx.result = GraphQLExecutionResult(data=None, errors=[error])
        yield

    def get_results(self) -> dict[str, Any]:
        """`extensions.cost` on every response that got as far as execution."""
        return {} if self.cost is None else {"cost": self.cost, "maxCost": self.max_cost}
