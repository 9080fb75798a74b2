"""The root schema: each module's queries and mutations, composed, with the limits and
error handling that the settings ask for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import strawberry
import structlog
from graphql import GraphQLError, OperationDefinitionNode
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.permission import PermissionExtension
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.base import StrawberryObjectDefinition

from audit.access import AccessLogExtension
from config.settings import Settings
from domain.errors import ErrorCode
from graph.audit.queries import AuditQueries
from graph.auth.mutations import AuthMutations
from graph.customers.mutations import CustomerMutations
from graph.customers.queries import CustomerQueries
from graph.errors import ErrorMapping, is_expected, map_errors
from graph.execution import FastExecutionContext
from graph.features import Features
from graph.limits import (
    CostAnalysis,
    DocumentSizeLimiter,
    depth_rule,
    directive_count_rule,
)
from graph.node import NodeQueries
from graph.products.mutations import ProductMutations
from graph.products.queries import ProductQueries
from graph.ratelimit import RateLimit
from graph.scalars import SCALAR_MAP
from graph.subscriptions.extension import SubscriptionGuard
from graph.subscriptions.subscriptions import Subscription
from graph.tasks.mutations import TaskMutations
from graph.tasks.queries import TaskQueries
from graph.users.mutations import UserMutations
from graph.users.queries import UserQueries

log = structlog.get_logger("graph")


@strawberry.type
class Query(NodeQueries, ProductQueries, CustomerQueries, TaskQueries, UserQueries, AuditQueries):
    """Every read."""


@strawberry.type
class Mutation(AuthMutations, ProductMutations, CustomerMutations, TaskMutations, UserMutations):
    """Every write."""


class Schema(strawberry.Schema):
    """Strawberry's schema with a time limit, central error mapping and quiet expected errors."""

    def __init__(
        self,
        *args: Any,
        timeout_seconds: float | None = None,
        hide_suggestions: bool = False,
        masking: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_seconds = timeout_seconds
        self.hide_suggestions = hide_suggestions
        self.masking = masking

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute within the time limit, then map any error that escaped the operation hooks."""
        context = kwargs.get("context_value", args[2] if len(args) > 2 else None)
        request_id = getattr(context, "request_id", None)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                result = await super().execute(*args, **kwargs)
        except TimeoutError:
            message = f"The operation ran longer than {self.timeout_seconds:g} seconds."
            error = GraphQLError(message, extensions={"code": ErrorCode.TIMEOUT.value})
            result = ExecutionResult(data=None, errors=[error])
        if result.errors and self.masking:
            result.errors = map_errors(
                result.errors,
                executing=False,
                request_id=request_id,
                hide_suggestions=self.hide_suggestions,
            )
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log unexpected errors with their stack trace; expected ones are normal traffic."""
        for error in errors:
            if not is_expected(error):
                original: Any = error.original_error
                log.error(
                    "unexpected error",
                    path=error.path,
                    exc_info=(type(original), original, original.__traceback__),
                )


class AmbiguousOperation(CannotGetOperationTypeError):
    """A document of several operations and no `operationName` (HTTP 400, BAD_REQUEST)."""

    def as_http_error_reason(self) -> str:
        """What the client reads."""
        return "The document holds several operations: name the one to run in operationName."


class OperationChoice(SchemaExtension):
    """Refuses a document of several operations sent without `operationName`.

    The GraphQL spec makes that a request error, and graphql-core refuses it, but
    Strawberry picks the first operation before graphql-core sees the request. It is a
    400 like an unknown operation name.
    """

    def on_validate(self) -> Iterator[None]:
        """After validation (whose errors come first), count the operations when none is named."""
        yield
        context = self.execution_context
        document = context.graphql_document
        if context.pre_execution_errors:
            return
        # `operation_name` falls back to the first operation's name; the request's own is kept
        # privately.
        named = getattr(context, "_provided_operation_name", None)
        if named is None and document is not None:
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if len(operations) > 1:
                raise AmbiguousOperation(None)


def _extensions(
    settings: Settings, features: Features, observers: Sequence[Callable[[], SchemaExtension]]
) -> list[type[SchemaExtension] | Callable[[], SchemaExtension]]:
    # Observers first: their operation hook wraps every other extension's.
    extensions: list[type[SchemaExtension] | Callable[[], SchemaExtension]] = [
        *observers,
        OperationChoice,
    ]
    if features.audit:
        extensions.append(lambda: AccessLogExtension(log_variables=settings.audit_log_variables))
    if features.limits:
        # The size check runs before the parser, the others before validation completes.
        extensions += [
            lambda: DocumentSizeLimiter(settings.graphql_max_document_chars),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        ]
    if features.masking:
        extensions.append(lambda: ErrorMapping(hide_suggestions=settings.is_production))
    extensions += [lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)]
    if features.limits:
        # The rule classes are built once: the validation cache is keyed by the rules, so
        # classes made afresh for every request would make every validation a miss.
        rules = [
            depth_rule(settings.graphql_max_depth),
            *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
            directive_count_rule(settings.graphql_max_directives),
        ]
        extensions += [
            lambda: AddValidationRules(rules),
            lambda: CostAnalysis(settings.graphql_max_cost, settings.graphql_list_cost_estimate),
            # After CostAnalysis, so an operation over the cost limit takes nothing from the bucket.
            lambda: RateLimit(settings.graphql_list_cost_estimate),
        ]
    # Last, so that it sees what the cost and rate limits decided.
    extensions.append(
        lambda: SubscriptionGuard(
            list_estimate=settings.graphql_list_cost_estimate, limits=features.limits
        )
    )
    if settings.is_production:
        extensions.append(DisableIntrospection)
    return extensions


@contextmanager
def _permissions_stripped(schema: Schema) -> Iterator[None]:
    """While open, no field of `schema`'s types carries a permission extension.

    Strawberry bakes field extensions into the resolvers when a schema is built, so a schema
    built inside this block checks no permissions; the fields get theirs back on exit.
    """
    saved = []
    for concrete in schema.schema_converter.type_map.values():
        if not isinstance(concrete.definition, StrawberryObjectDefinition):
            continue
        for field in concrete.definition.fields:
            kept = [e for e in field.extensions if not isinstance(e, PermissionExtension)]
            if len(kept) != len(field.extensions):
                saved.append((field, field.extensions))
                field.extensions = kept
    try:
        yield
    finally:
        for field, extensions in saved:
            field.extensions = extensions


def build_schema(
    settings: Settings,
    features: Features | None = None,
    *,
    observers: Sequence[Callable[[], SchemaExtension]] = (),
) -> Schema:
    """The schema with the limits, batching and production switches of `settings`, and the
    operation-level `observers` (metrics, traces) of the app."""
    features = features or Features()
    batching = (
        BatchingConfig(max_operations=settings.graphql_max_batch)
        if settings.graphql_max_batch
        else None
    )

    def build() -> Schema:
        return Schema(
            query=Query,
            mutation=Mutation,
            subscription=Subscription,
            config=StrawberryConfig(scalar_map=SCALAR_MAP, batching_config=batching),
            extensions=_extensions(settings, features, observers),
            execution_context_class=FastExecutionContext,
            timeout_seconds=settings.graphql_timeout_seconds,
            hide_suggestions=settings.is_production,
            masking=features.masking,
        )

    built = build()
    if features.rbac:
        return built
    with _permissions_stripped(built):
        return build()


def __getattr__(name: str) -> Any:
    """`schema`: the schema with default settings, what `strawberry export-schema
    graph.schema:schema` prints; built on first use, so importing builds nothing."""
    if name == "schema":
        built = build_schema(Settings.model_construct())
        globals()["schema"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
