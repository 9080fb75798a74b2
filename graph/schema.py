"""The root schema: each module's queries and mutations, composed."""

from __future__ import annotations

from typing import Any

import strawberry
import structlog
from graphql import GraphQLError
from strawberry.extensions import ParserCache, ValidationCache
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, ExecutionResult

from graph.auth.mutations import AuthMutations
from graph.customers.mutations import CustomerMutations
from graph.customers.queries import CustomerQueries
from graph.errors import ErrorMapping, is_expected, map_errors
from graph.node import NodeQueries
from graph.products.mutations import ProductMutations
from graph.products.queries import ProductQueries
from graph.scalars import SCALAR_MAP
from graph.tasks.mutations import TaskMutations
from graph.tasks.queries import TaskQueries
from graph.users.mutations import UserMutations
from graph.users.queries import UserQueries

log = structlog.get_logger("graph")


@strawberry.type
class Query(NodeQueries, ProductQueries, CustomerQueries, TaskQueries, UserQueries):
    """Every read."""


@strawberry.type
class Mutation(AuthMutations, ProductMutations, CustomerMutations, TaskMutations, UserMutations):
    """Every write."""


class Schema(strawberry.Schema):
    """Logs only unexpected errors, with their stack trace; expected ones are normal traffic."""

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """Execute, then map any error that escaped the operation hooks (a failed parse)."""
        result = await super().execute(*args, **kwargs)
        if result.errors:
            context = kwargs.get("context_value", args[3] if len(args) > 3 else None)
            request_id = getattr(context, "request_id", None)
            result.errors = map_errors(result.errors, executing=False, request_id=request_id)
        return result

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        for error in errors:
            if not is_expected(error):
                original: Any = error.original_error
                log.error(
                    "unexpected error",
                    path=error.path,
                    exc_info=(type(original), original, original.__traceback__),
                )


schema = Schema(
    query=Query,
    mutation=Mutation,
    config=StrawberryConfig(scalar_map=SCALAR_MAP),
    extensions=[
        ErrorMapping,
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
    ],
)
