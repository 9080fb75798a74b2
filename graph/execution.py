"""A leaner field execution for plain fields: the bulk of every large result.

graphql-core completes each field through the same general path: it builds a resolve info,
looks for arguments, calls the resolver, checks for an awaitable, then dispatches on the
return type. A field that is only an attribute of its object holding a scalar or enum
(`Product.name`, `Task.status`) needs none of that. `FastExecutionContext` reads such a
field straight off its object and coerces it with the type's own serializer; anything
unusual (a null in a non-null field, a failed coercion, a field with a resolver,
permission or argument) takes graphql-core's path, so errors read exactly as before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final
from weakref import WeakKeyDictionary

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLString,
    OperationType,
    Undefined,
)
from graphql.pyutils import Path, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

if TYPE_CHECKING:
    from graph.compiled.plan import ReadPlan

# (attribute name, coerce, is non-null) of a plain leaf field; coerce is None for a plain
# field of object types (an object, or a list of them), which is completed as usual.
Plan = tuple[str, Callable[[Any], Any] | None, bool]
_PLANS: Final[WeakKeyDictionary[GraphQLSchema, dict[GraphQLObjectType, dict[str, Plan]]]] = (
    WeakKeyDictionary()
)


def _coercer(leaf: GraphQLLeafType) -> Callable[[Any], Any]:
    coerce = leaf.coerce_output_value
    if leaf is GraphQLString or leaf is GraphQLID:
        return lambda value: value if type(value) is str else coerce(value)
    wrapped = getattr(leaf, "wrapped_cls", None)
    if isinstance(leaf, GraphQLEnumType) and wrapped is not None:
        # Strawberry's enum serializer scans every value per call; a dict answers at once.
        names = {
            member: name
            for member in wrapped
            for name, value in leaf.values.items()
            if value.value == member.value
        }
        return lambda value: names.get(value) or coerce(value)
    return coerce


def _unwrapped(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, GraphQLNonNull) else type_


def _plan(field: GraphQLField) -> Plan | None:
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField) or not definition.is_basic_field:
        return None
    # A configured default resolver (reading dict keys, say) is not `getattr`: no shortcut.
    if definition.default_resolver is not getattr:
        return None
    if field.args or not getattr(field.resolve, "_is_default", False):
        return None
    non_null = isinstance(field.type, GraphQLNonNull)
    inner = _unwrapped(field.type)
    if isinstance(inner, GraphQLLeafType):
        return definition.python_name, _coercer(inner), non_null
    item = _unwrapped(inner.of_type) if isinstance(inner, GraphQLList) else inner
    if isinstance(item, GraphQLObjectType):
        return definition.python_name, None, non_null
    return None


def field_plans(schema: GraphQLSchema) -> dict[GraphQLObjectType, dict[str, Plan]]:
    """The plain fields of every object type, computed once per schema."""
    plans = _PLANS.get(schema)
    if plans is None:
        plans = {}
        for named in schema.type_map.values():
            if isinstance(named, GraphQLObjectType) and not named.name.startswith("__"):
                fields = {name: p for name, f in named.fields.items() if (p := _plan(f))}
                if fields:
                    plans[named] = fields
        _PLANS[schema] = plans
    return plans


_GENERAL: Final = object()
# The types plain leaves hold; anything else is checked for being an awaitable first.
_PLAIN_VALUES: Final = frozenset({str, int, float, bool, Decimal, datetime, date})


def _leaf_value(source: Any, plan: Plan, is_awaitable: Callable[[Any], bool]) -> Any:
    """The completed value of a plain leaf, or _GENERAL when graphql-core's path must
    handle it (a null in a non-null field, a failed coercion, an awaitable), so that it
    resolves or reports it as it always does."""
    attribute, coerce, non_null = plan
    try:
        value = getattr(source, attribute)
        if value is None:
            return _GENERAL if non_null else None
        if type(value) not in _PLAIN_VALUES and is_awaitable(value):
            return _GENERAL
        coerced = coerce(value)  # type: ignore[misc]
    except Exception:
        return _GENERAL
    if coerced is None or coerced is Undefined:
        return _GENERAL
    return coerced


class FastExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context with a direct path for plain leaf fields."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        manager = self.middleware_manager
        # A middleware (an extension hooking `resolve`) must see every field: no shortcut.
        has_middleware = manager is not None and bool(getattr(manager, "middlewares", ()))
        self._plans = {} if has_middleware else field_plans(self.schema)

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        """A query the compiled read path covers is answered by its plan (graph/compiled/);
        everything else, and anything the plan cannot answer, by graphql-core as before."""
        general = super().execute_collected_root_fields
        if serially or new_defer_usages or self.operation.operation is not OperationType.QUERY:
            return general(root_type, root_value, grouped_field_set, serially, new_defer_usages)
        context = self.context_value
        planner = getattr(context, "planner", None)
        reads = getattr(context, "reads", None)
        principal = getattr(context, "principal", None)
        if planner is None or reads is None or principal is None or not self._plans:
            return general(root_type, root_value, grouped_field_set, serially, new_defer_usages)
        from graph.compiled.plan import readable_modules
        from graph.compiled.run import run

        plan: ReadPlan | None = planner.plan(
            self.schema,
            self.fragments,
            self.variable_values,
            self.operation,
            readable_modules(principal),
            lambda: grouped_field_set,
        )
        if plan is None:
            return general(root_type, root_value, grouped_field_set, serially, new_defer_usages)

        async def answer() -> Any:
            data = await run(self, plan, reads, principal)
            if data is not None:
                planner.answered += 1
                return data
            planner.abandoned += 1
            result = general(root_type, root_value, grouped_field_set, serially, new_defer_usages)
            return await result if self.is_awaitable(result) else result

        return answer()

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's loop over an object's fields, with plain leaves computed inline:
        no path, no call and no awaitable check for them."""
        fields = self._plans.get(parent_type)
        if fields is None:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        results: dict[str, Any] = {}
        awaitable_fields: list[str] = []
        is_awaitable = self.is_awaitable
        try:
            for response_name, field_details_list in grouped_field_set.items():
                plan = fields.get(field_details_list[0].node.name.value)
                if plan is not None and plan[1] is not None:
                    value = _leaf_value(source_value, plan, is_awaitable)
                    if value is not _GENERAL:
                        results[response_name] = value
                        continue
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                # As graphql-core does: settle the awaitables other fields already made.
                self.settle_in_background([results[name] for name in awaitable_fields])
            raise
        if not awaitable_fields:
            return results
        return self._results_later(results, awaitable_fields)

    @staticmethod
    async def _results_later(results: dict[str, Any], awaitable_fields: list[str]) -> Any:
        if len(awaitable_fields) == 1:
            name = awaitable_fields[0]
            results[name] = await results[name]
        else:
            awaited = await gather_with_cancel(*(results[name] for name in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
        return results

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
    ) -> Any:
        """A plain object field without a resolver call; everything else as graphql-core."""
        fields = self._plans.get(parent_type)
        if fields is not None:
            plan = fields.get(field_details_list[0].node.name.value)
            if plan is not None and plan[1] is None:
                return self._execute_plain_object_field(
                    parent_type, source, field_details_list, path, position_context, plan[0]
                )
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )

    def _execute_plain_object_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Path,
        position_context: Any,
        attribute: str,
    ) -> Any:
        """An attribute holding an object or a list of objects: no resolver call, then the
        usual completion and error handling."""
        try:
            value = getattr(source, attribute)
        except Exception:
            value = Undefined
        if value is Undefined or self.is_awaitable(value):
            return super().execute_field(
                parent_type, source, field_details_list, path, position_context
            )
        field_def = parent_type.fields[field_details_list[0].node.name.value]
        return_type = field_def.type
        info = self.build_resolve_info(
            field_def, [details.node for details in field_details_list], parent_type, path
        )
        try:
            completed = self.complete_value(
                return_type, field_details_list, info, path, value, position_context
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
        if self.is_awaitable(completed):
            return self._completed_later(completed, return_type, field_details_list, path)
        return completed

    async def _completed_later(
        self, completed: Any, return_type: Any, field_details_list: Any, path: Path
    ) -> Any:
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)
            return None
