"""Builds the metrics and tracing of one app from the settings (part of the composition root)."""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable
from typing import Any

import structlog
from fastapi import FastAPI
from opentelemetry.sdk.trace import TracerProvider
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import SchemaExtension
from structlog.types import Processor

from config.settings import Settings
from observability import metrics
from observability.database import PoolSampler, count_statements
from observability.http import MetricsMiddleware
from observability.operations import OperationObserver
from observability.tracing import (
    INSTRUMENTATION,
    StatementSpans,
    add_trace_ids,
    provider_for,
)

log = structlog.get_logger("observability")


class Observability:
    """What `create_app` wires in: the operation observer, middleware, `/metrics`, SQL spans.

    Metrics are on unless `METRICS_ENABLED=false`; traces only with an OTLP endpoint or a
    tracer provider passed in (tests pass one with an in-memory exporter).
    """

    def __init__(
        self, settings: Settings, *, tracer_provider: TracerProvider | None = None
    ) -> None:
        self.settings = settings
        self.has_metrics = settings.metrics_enabled
        self.provider = tracer_provider or provider_for(settings)
        self.tracer = self.provider.get_tracer(INSTRUMENTATION) if self.provider else None
        self.names = metrics.OperationNames(settings.metrics_max_operation_names)
        self.statement_spans: StatementSpans | None = None

    @property
    def has_tracing(self) -> bool:
        """Whether spans are recorded and exported."""
        return self.tracer is not None

    def log_processors(self) -> list[Processor]:
        """structlog processors that put the trace on every log line.

        Always installed: structlog caches each logger's processors on first use, so one
        added later would miss loggers already used. Without a span it only reads a
        context variable and adds nothing.
        """
        return [add_trace_ids]

    def schema_observers(
        self, *, cost_of: Callable[[Any], int | None]
    ) -> list[Callable[[], SchemaExtension]]:
        """The operation-level extension, when there is anything to observe; `cost_of` reads
        an operation's price from its execution context (`graph.limits.known_cost`)."""
        if not (self.has_metrics or self.has_tracing):
            return []
        return [lambda: OperationObserver(names=self.names, cost_of=cost_of, tracer=self.tracer)]

    def install(self, app: FastAPI, engine: AsyncEngine, *, is_access_logged: bool) -> None:
        """Add the middleware (outermost, so it sees the access log's wait) and `/metrics`."""
        if self.has_metrics:
            count_statements(engine)
            sampler = PoolSampler(engine)
            app.add_middleware(
                MetricsMiddleware, sample_pool=sampler.sample, is_access_logged=is_access_logged
            )
            self._add_endpoint(app, sampler)
        if self.tracer is not None and self.provider is not None:
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            self.statement_spans = StatementSpans(self.tracer, engine)
            self.statement_spans.install()
            app.add_middleware(
                OpenTelemetryMiddleware,
                tracer_provider=self.provider,
                exclude_spans=["receive", "send"],
                excluded_urls="healthz,readyz,metrics",
            )

    def _add_endpoint(self, app: FastAPI, sampler: PoolSampler) -> None:
        settings = self.settings
        token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
        if settings.is_production and token is None:
            log.info("/metrics is not served: set METRICS_TOKEN to expose it in production")
            return
        directory = settings.prometheus_multiproc_dir
        if directory:
            # A worker that exits leaves its live gauges behind unless it says it is gone.
            atexit.register(_mark_process_dead, directory, os.getpid())
        endpoint = metrics.metrics_endpoint(
            token=token, multiprocess_dir=directory, before_scrape=sampler.sample
        )
        app.add_route("/metrics", endpoint, include_in_schema=False)


def _mark_process_dead(directory: str, pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
