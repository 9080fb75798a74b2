"""One GraphQL operation, observed: its metrics and its span, from operation-level hooks.

`OperationObserver` implements `on_operation` only, never `resolve`, so Strawberry keeps
the execution fast path (a field-level hook would run for every field of every row). It is
the first extension of the schema: its hook wraps every other, so the operation's time
includes the limits and the rate limit, and its errors are already mapped when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from typing import Any

from graphql import OperationDefinitionNode
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from strawberry.extensions import SchemaExtension

from observability import metrics


def _operation_type(ctx: Any) -> str | None:
    """The operation's type as the document says; None when it did not parse or is ambiguous."""
    document = ctx.graphql_document
    if document is None:
        return None
    name = ctx.operation_name
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode) and (
            name is None or (definition.name is not None and definition.name.value == name)
        ):
            return str(definition.operation.value)
    return None


class OperationObserver(SchemaExtension):
    """Counts and times each operation by type and bounded name; spans it when tracing."""

    def __init__(
        self,
        *,
        names: metrics.OperationNames,
        cost_of: Callable[[Any], int | None],
        tracer: Tracer | None = None,
    ) -> None:
        self.names = names
        # The GraphQL layer prices operations; it says how to read the price back.
        self.cost_of = cost_of
        self.tracer = tracer

    def on_operation(self) -> Iterator[None]:
        """Around everything the operation does; records once it has ended, however it ended."""
        started = time.perf_counter()
        span_scope: Any = (
            self.tracer.start_as_current_span("graphql.operation", end_on_exit=True)
            if self.tracer is not None
            else nullcontext()
        )
        with span_scope as span:
            try:
                yield
            finally:
                self._record(time.perf_counter() - started, span)

    def _record(self, seconds: float, span: Span | None) -> None:
        ctx = self.execution_context
        operation_type = metrics.operation_type_label(_operation_type(ctx))
        is_valid = ctx.graphql_document is not None and not ctx.pre_execution_errors
        name = self.names.label(ctx.operation_name, is_valid=is_valid)
        cost = self.cost_of(ctx)
        metrics.OPERATIONS.labels(operation_type, name).inc()
        metrics.OPERATION_LATENCY.labels(operation_type, name).observe(seconds)
        if cost is not None:
            metrics.OPERATION_COST.labels(operation_type).observe(cost)
        if span is not None:
            self._describe(span, operation_type, cost)

    def _describe(self, span: Span, operation_type: str, cost: int | None) -> None:
        ctx = self.execution_context
        # The span carries the name the client sent (a span is not a time series).
        name = ctx.operation_name
        span.update_name(f"{operation_type} {name}" if name else operation_type)
        span.set_attribute("graphql.operation.type", operation_type)
        if name:
            span.set_attribute("graphql.operation.name", name[:256])
        if cost is not None:
            span.set_attribute("graphql.operation.cost", cost)
        result = ctx.result
        errors = getattr(result, "errors", None) or ctx.pre_execution_errors
        if errors:
            codes = sorted(
                {str((e.extensions or {}).get("code", "INTERNAL_SERVER_ERROR")) for e in errors}
            )
            span.set_attribute("graphql.error.codes", codes)
            span.set_status(Status(StatusCode.ERROR, ",".join(codes)))
