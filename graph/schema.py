"""The root schema: each module's queries and mutations, composed, with the limits and
error handling that the settings ask for.

`build_schema` is the product's schema. `assemble_schema` builds one from any `Extensions`,
which group the cross-cutting extensions by concern, so a composition (the benchmark's
variants, bench/variants.py) can leave a concern out without knowing the others' order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
from strawberry.schema.config import BatchingConfig, StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError
from strawberry.types import ExecutionContext, ExecutionResult

from config.settings import Settings
from domain.errors import ErrorCode
from graph.access_log import AccessLogExtension
from graph.audit.queries import AuditQueries
from graph.auth.mutations import AuthMutations
from graph.customers.mutations import CustomerMutations
from graph.customers.queries import CustomerQueries
from graph.errors import ErrorMapping, is_expected, map_errors
from graph.execution import FastExecutionContext
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
from graph.subscriptions.extension import SubscriptionCost, SubscriptionGuard
from graph.subscriptions.subscriptions import Subscription
from graph.tasks.mutations import TaskMutations
from graph.tasks.queries import TaskQueries
from graph.users.mutations import UserMutations
from graph.users.queries import UserQueries

log = structlog.get_logger("graph")

ExtensionFactory = type[SchemaExtension] | Callable[[], SchemaExtension]


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
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.timeout_seconds = timeout_seconds
        self.hide_suggestions = hide_suggestions

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
        if result.errors:
            result.errors = self.final_errors(result.errors, request_id)
        return result

    def final_errors(
        self, errors: list[GraphQLError], request_id: str | None
    ) -> list[GraphQLError]:
        """The errors as the client gets them: each with its code and the request id."""
        return map_errors(
            errors, executing=False, request_id=request_id, hide_suggestions=self.hide_suggestions
        )

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


@dataclass(frozen=True, slots=True)
class Extensions:
    """A schema's cross-cutting extensions, by concern.

    `assemble_schema` runs them in the order of these fields, around its own (operation
    choice, the parser and validation caches, the subscription guard), so each concern keeps
    its place whether or not another is there: a hook of an earlier extension wraps the same
    hook of a later one.
    """

    # Metrics and traces: first, so their operation hook wraps every other extension's.
    observers: Sequence[ExtensionFactory] = ()
    access_log: Sequence[ExtensionFactory] = ()
    # Checked on the raw text, before the parser (and its cache) sees it.
    parse_limits: Sequence[ExtensionFactory] = ()
    error_mapping: Sequence[ExtensionFactory] = ()
    # Validation rules, then the cost and rate limits, before any resolver runs.
    operation_limits: Sequence[ExtensionFactory] = ()


def product_extensions(
    settings: Settings, *, observers: Sequence[ExtensionFactory] = ()
) -> Extensions:
    """The product's extensions: access log, limits, rate limits and error mapping, as
    `settings` configure them, plus the app's operation-level `observers`."""
    # The rule classes are built once: the validation cache is keyed by the rules, so
    # classes made afresh for every request would make every validation a miss.
    rules = [
        depth_rule(settings.graphql_max_depth),
        *MaxAliasesLimiter(max_alias_count=settings.graphql_max_aliases).validation_rules,
        directive_count_rule(settings.graphql_max_directives),
    ]
    estimate = settings.graphql_list_cost_estimate
    return Extensions(
        observers=observers,
        access_log=[lambda: AccessLogExtension(log_variables=settings.audit_log_variables)],
        parse_limits=[
            lambda: DocumentSizeLimiter(settings.graphql_max_document_chars),
            lambda: MaxTokensLimiter(max_token_count=settings.graphql_max_tokens),
        ],
        error_mapping=[lambda: ErrorMapping(hide_suggestions=settings.is_production)],
        operation_limits=[
            lambda: AddValidationRules(rules),
            lambda: CostAnalysis(settings.graphql_max_cost, estimate),
            # After CostAnalysis, so an operation over the cost limit takes nothing from the bucket.
            lambda: RateLimit(estimate),
            # What each event of a subscription will charge, once the checks above let it through.
            lambda: SubscriptionCost(estimate),
        ],
    )


def _ordered(settings: Settings, extensions: Extensions) -> list[ExtensionFactory]:
    ordered: list[ExtensionFactory] = [
        *extensions.observers,
        OperationChoice,
        *extensions.access_log,
        *extensions.parse_limits,
        *extensions.error_mapping,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        *extensions.operation_limits,
        # Last, so that it sees what the cost and rate limits decided.
        SubscriptionGuard,
    ]
    if settings.is_production:
        ordered.append(DisableIntrospection)
    return ordered


def assemble_schema(
    settings: Settings, extensions: Extensions, *, schema_class: type[Schema] = Schema
) -> Schema:
    """A schema of the product's types with `extensions` and the time limit, batching and
    production switches of `settings`."""
    batching = (
        BatchingConfig(max_operations=settings.graphql_max_batch)
        if settings.graphql_max_batch
        else None
    )
    return schema_class(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        config=StrawberryConfig(scalar_map=SCALAR_MAP, batching_config=batching),
        extensions=_ordered(settings, extensions),
        execution_context_class=FastExecutionContext,
        timeout_seconds=settings.graphql_timeout_seconds,
        hide_suggestions=settings.is_production,
    )


def build_schema(settings: Settings, *, observers: Sequence[ExtensionFactory] = ()) -> Schema:
    """The product's schema for `settings`, with the app's operation-level `observers`
    (metrics, traces)."""
    return assemble_schema(settings, product_extensions(settings, observers=observers))


class SchemaFactory(Protocol):
    """What `create_app` builds its schema with; `build_schema` is the product's."""

    def __call__(
        self, settings: Settings, *, observers: Sequence[ExtensionFactory] = ()
    ) -> Schema: ...


def __getattr__(name: str) -> Any:
    """`schema`: the schema with default settings, what `strawberry export-schema
    graph.schema:schema` prints; built on first use, so importing builds nothing."""
    if name == "schema":
        built = build_schema(Settings.model_construct())
        globals()["schema"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
