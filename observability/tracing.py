"""OpenTelemetry traces: on when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, absent otherwise.

A trace of one request has three levels:

- the HTTP request, from opentelemetry-instrumentation-asgi, which also adopts an incoming
  `traceparent` (W3C trace context) as the parent;
- the GraphQL operation (`OperationObserver`, at operation level: name, type, cost);
- one span per SQL statement, from engine listeners here (the statement text, never its
  parameters, which hold password hashes and personal data).

No per-field span exists on purpose: a field-level hook (Strawberry's
`OpenTelemetryExtension`) would turn off the execution fast path of `graph/execution.py`.
When tracing is off nothing here is installed, so it costs nothing.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.types import ASGIApp
from structlog.types import EventDict, WrappedLogger

from config.settings import Settings

INSTRUMENTATION = "taskgraph"
_SPAN_KEY = "otel_span"
_MAX_STATEMENT = 2000


def provider_for(settings: Settings) -> TracerProvider | None:
    """An exporting tracer provider when an OTLP endpoint is configured, else None."""
    endpoint = settings.otel_exporter_otlp_endpoint
    if not endpoint:
        return None
    # Imported only when used: the exporter pulls in protobuf and an HTTP client.
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    # The generic endpoint is a base URL; the traces signal lives under /v1/traces.
    exporter = OTLPSpanExporter(endpoint=endpoint.rstrip("/") + "/v1/traces")
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def add_trace_ids(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """A structlog processor: `trace_id` and `span_id` of the current span, if one is recording."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict["trace_id"] = format(context.trace_id, "032x")
        event_dict["span_id"] = format(context.span_id, "016x")
    return event_dict


def http_middleware(app: ASGIApp, provider: TracerProvider) -> ASGIApp:
    """The request span (and `traceparent` adoption) around `app`; no receive/send spans."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    return OpenTelemetryMiddleware(
        app,
        tracer_provider=provider,
        exclude_spans=["receive", "send"],
        excluded_urls="healthz,readyz,metrics",
    )


class StatementSpans:
    """One client span per SQL statement of an engine, a child of whatever span is current."""

    def __init__(self, tracer: Tracer, engine: AsyncEngine) -> None:
        self.tracer = tracer
        self.sync_engine = engine.sync_engine
        self.system = "postgresql" if engine.dialect.name == "postgresql" else engine.dialect.name
        self.database = engine.url.database

    def install(self) -> None:
        """Listen to the engine's statements."""
        event.listen(self.sync_engine, "before_cursor_execute", self._before)
        event.listen(self.sync_engine, "after_cursor_execute", self._after)
        event.listen(self.sync_engine, "handle_error", self._failed)

    def remove(self) -> None:
        """Stop listening (tests share one engine between apps)."""
        event.remove(self.sync_engine, "before_cursor_execute", self._before)
        event.remove(self.sync_engine, "after_cursor_execute", self._after)
        event.remove(self.sync_engine, "handle_error", self._failed)

    def _before(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        if not trace.get_current_span().is_recording():
            # Outside any live request: the access-log writer's later batches, whose task
            # kept the context of the (long finished) request that started it.
            return
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = self.tracer.start_span(
            f"{verb} {self.database}" if self.database else verb,
            kind=SpanKind.CLIENT,
            attributes={
                "db.system.name": self.system,
                "db.namespace": self.database or "",
                "db.operation.name": verb,
                "db.query.text": statement[:_MAX_STATEMENT],
            },
        )
        if context is not None:
            setattr(context, _SPAN_KEY, span)
        else:
            span.end()

    def _after(
        self, _conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        span: Span | None = getattr(context, _SPAN_KEY, None)
        if span is not None:
            span.end()

    def _failed(self, exception_context: Any) -> None:
        span: Span | None = getattr(exception_context.execution_context, _SPAN_KEY, None)
        if span is not None:
            error = exception_context.original_exception
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
            span.end()
