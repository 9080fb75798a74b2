"""The schema extensions that fit subscriptions into the limits and the error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from domain.errors import ErrorCode
from graph.errors import map_errors
from graph.limits import priced
from graph.subscriptions.context import SubscriptionContext, operation_cost


class SubscriptionGuard(SchemaExtension):
    """WebSocket operations: subscriptions only, refused ones refused, errors coded.

    Strawberry skips the resolvers of a query whose result an extension set (that is how
    the cost and rate limits refuse), but not of a subscription; here such a refusal
    becomes the subscription's error. Each event's errors get their codes as they are sent.
    """

    def on_execute(self) -> Iterator[None]:
        """Refuse what the earlier checks refused."""
        ctx = self.execution_context
        if isinstance(ctx.context, SubscriptionContext):
            if ctx.operation_type is not OperationType.SUBSCRIPTION:
                raise GraphQLError(
                    "Only subscriptions are served over WebSocket; send queries and mutations "
                    "over HTTP.",
                    extensions={"code": ErrorCode.BAD_REQUEST.value},
                )
            refused = getattr(ctx.result, "errors", None)
            if refused:
                raise refused[0]
        yield

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Code every error of an event (or of the subscription's end) before it is sent."""
        errors = getattr(result, "errors", None)
        if errors:
            context = self.execution_context.context
            result.errors = map_errors(
                errors, executing=True, request_id=getattr(context, "request_id", None)
            )
        yield


class SubscriptionCost(SchemaExtension):
    """Notes what each event of a subscription will charge: its selection's cost.

    One of the limits (graph/schema.py's `operation_limits`), after the cost and rate limits,
    so a subscription they refused is not priced.
    """

    def __init__(self, list_estimate: int) -> None:
        self.list_estimate = list_estimate

    def on_execute(self) -> Iterator[None]:
        """Price a subscription the earlier checks let through, for `follow` to charge."""
        ctx = self.execution_context
        if (
            isinstance(ctx.context, SubscriptionContext)
            and ctx.operation_type is OperationType.SUBSCRIPTION
            and ctx.result is None
            and ctx.graphql_document is not None
        ):
            operation_cost.set(priced(ctx, self.list_estimate))
        yield
