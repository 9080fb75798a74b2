"""OpenTelemetry traces of one nested query, exported to memory: the span tree and the logs.

The app gets a tracer provider with an in-memory exporter through `create_app`, as an
OTLP endpoint would give it one in production.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from tests.builders import add_customers, add_products, add_tasks, link
from tests.conftest import token_for

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
NESTED = """
query Nested {
  customers(first: 2) {
    edges { node { name tasks(first: 2) { edges { node { title products { name } } } } } }
  }
}"""


@pytest.fixture
async def traced(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> AsyncIterator[tuple[httpx.AsyncClient, InMemorySpanExporter, str]]:
    """An app whose spans go to memory, a client, and a token."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = create_app(settings, engine=engine, tracer_provider=provider)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http, exporter, token_for(app, superuser_id)
    finally:
        app.state.observability.statement_spans.remove()


async def _seed(engine: AsyncEngine) -> None:
    products = await add_products(engine, {}, {})
    customers = await add_customers(engine, {}, {})
    tasks = await add_tasks(engine, *({"customer_id": c} for c in customers for _ in range(2)))
    await link(engine, ((task, products[n % 2]) for n, task in enumerate(tasks)))


def _by_kind(spans: tuple[ReadableSpan, ...], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind == kind]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_given_a_traceparent_when_a_nested_query_runs_then_request_operation_sql_nest(
    traced: tuple[httpx.AsyncClient, InMemorySpanExporter, str],
    engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    http, exporter, token = traced
    await _seed(engine)
    headers = {
        "Authorization": f"Bearer {token}",
        "traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01",
        "X-Request-ID": "trace-test-1",
    }

    response = await http.post("/graphql", json={"query": NESTED}, headers=headers)

    assert response.status_code == 200
    assert "errors" not in response.json(), response.text
    spans = exporter.get_finished_spans()
    assert {format(span.context.trace_id, "032x") for span in spans} == {TRACE_ID}
    [request] = _by_kind(spans, SpanKind.SERVER)
    assert _parent_id(request) == int(PARENT_ID, 16)
    [operation] = [span for span in spans if span.name == "query Nested"]
    assert _parent_id(operation) == request.context.span_id
    attributes: dict[str, Any] = dict(operation.attributes or {})
    assert attributes["graphql.operation.type"] == "query"
    assert attributes["graphql.operation.name"] == "Nested"
    assert attributes["graphql.operation.cost"] == response.json()["extensions"]["cost"]
    statements = _by_kind(spans, SpanKind.CLIENT)
    # Customers, their tasks, the tasks' products: each statement a child of the operation.
    in_operation = [s for s in statements if _parent_id(s) == operation.context.span_id]
    assert len(in_operation) == 3
    texts = [str((s.attributes or {})["db.query.text"]) for s in in_operation]
    assert all(text.lstrip().upper().startswith(("SELECT", "WITH")) for text in texts), texts
    # The caller is loaded before the operation starts, within the request.
    assert any(_parent_id(s) == request.context.span_id for s in statements)
    # Every log line of the request carries the trace.
    lines = [r.msg for r in caplog.records if isinstance(r.msg, dict) and r.name != "httpx"]
    mine = [line for line in lines if line.get("request_id") == "trace-test-1"]
    assert mine
    assert all(line.get("trace_id") == TRACE_ID for line in mine), mine


async def test_given_no_endpoint_when_the_app_is_built_then_nothing_traces(
    settings: Settings, engine: AsyncEngine
) -> None:
    app = create_app(settings, engine=engine)
    observability = app.state.observability
    assert not observability.has_tracing
    assert observability.statement_spans is None
    event = {"event": "request"}
    for process in observability.log_processors():
        assert process(None, "info", dict(event)) == event  # no span, nothing added
