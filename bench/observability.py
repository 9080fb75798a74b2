"""What observability costs, in process: one nested query, metrics off / on / on + traces.

`python -m bench.observability [--requests 300] [--rounds 5]` seeds an in-memory SQLite
database, builds three apps that differ only in observability and times the same nested
query through each over ASGI (no network), interleaving rounds to share any drift. Traces
go through the SDK's batch processor to an exporter that drops them, so the figure is the
cost inside the server, not the collector's.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from typing import Any

import httpx
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from sqlalchemy.ext.asyncio import AsyncEngine

from auth.passwords import PasswordHasher
from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import Base

QUERY = """query Nested { customers(first: 20) { edges { node { name
  tasks(first: 5) { edges { node { title status products { name price } } } } } } } }"""


class _Dropped(SpanExporter):
    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


async def _seed(engine: AsyncEngine) -> int:
    from tests.builders import add_customers, add_products, add_tasks, link
    from tests.conftest import add_login_user

    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    products = await add_products(engine, *({} for _ in range(10)))
    customers = await add_customers(engine, *({} for _ in range(20)))
    tasks = await add_tasks(engine, *({"customer_id": c} for c in customers for _ in range(5)))
    await link(engine, ((t, products[n % 10]) for n, t in enumerate(tasks)))
    password_hash = PasswordHasher().hash("bench-password-123")
    return await add_login_user(
        engine, email="bench@example.com", password_hash=password_hash, is_superuser=True
    )


async def _time(app: Any, token: str, requests: int) -> float:
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
        started = time.perf_counter()
        for _ in range(requests):
            response = await http.post("/graphql", json={"query": QUERY}, headers=headers)
            assert response.status_code == 200, response.text
        return (time.perf_counter() - started) / requests * 1000


async def main(requests: int, rounds: int) -> None:
    """Print the mean milliseconds per request of each variant, and the differences."""
    settings = Settings(
        environment="test",
        database_url="sqlite+aiosqlite://",
        log_level="WARNING",
        rate_limit_requests_per_minute=10**9,
        rate_limit_cost_per_minute=10**9,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = create_engine(settings)
    user_id = await _seed(engine)
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Dropped(), max_queue_size=65536))
    apps = {
        "metrics off, traces off": create_app(
            settings.model_copy(update={"metrics_enabled": False}), engine=engine
        ),
        "metrics on (default)": create_app(settings, engine=engine),
        "metrics on, traces on": create_app(settings, engine=engine, tracer_provider=provider),
    }
    token = next(iter(apps.values())).state.services.auth.codec.issue_access(user_id).token
    for app in apps.values():
        await _time(app, token, 30)  # warm up caches
    results: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, app in apps.items():
            results[name].append(await _time(app, token, requests))
    base = statistics.median(results["metrics off, traces off"])
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name:26} {median:7.3f} ms/request  ({median - base:+.3f} ms, "
            f"{(median / base - 1) * 100:+.1f} %)"
        )
    provider.shutdown()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
