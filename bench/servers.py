"""Uvicorn factories of the benchmarked servers: `uvicorn --factory bench.servers:ours`.

Each app variant is the product's own composition root, `create_app`, given some other
collaborators (bench/variants.py); the wrapper here only adds the statement counter and its
route, never anything else. The settings come from the environment the benchmark sets for
the process (bench/processes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from bench.statements import (
    IN_FLIGHT_PATH,
    STATEMENTS_PATH,
    RequestCounting,
    StatementCounter,
    classify,
)

if TYPE_CHECKING:
    from bench.variants import Collaborators
    from config.settings import Settings

# Variant name -> factory attribute of this module, in the order the runner starts them.
FACTORIES = {
    "floor": "floor",
    "ours": "ours",
    "naive": "naive",
    "features-off": "features_off",
    "limits-off": "limits_off",
}
APP_VARIANTS = ("ours", "naive", "features-off", "limits-off")


def _product(variant: Callable[[Settings], Collaborators] | None = None) -> Any:
    """The product app with the collaborators of `variant` (none: the product's own), plus
    the statement counter route."""
    from config.settings import Settings
    from graph.app import create_app

    settings = Settings()
    app = create_app(settings, **(variant(settings) if variant is not None else {}))
    count_statements(app, app.state.engine.sync_engine)
    return app


def count_statements(app: Any, sync_engine: Any) -> StatementCounter:
    """Count every statement `sync_engine` sends and every /graphql request; serve the
    counts (resetting them) on a route. The counting middleware is the outermost layer."""
    counter = StatementCounter()

    def before_cursor_execute(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        counter.record(classify(statement))

    event.listen(sync_engine, "before_cursor_execute", before_cursor_execute)

    async def statements(_request: Request) -> JSONResponse:
        return JSONResponse(counter.take())

    async def in_flight(_request: Request) -> JSONResponse:
        return JSONResponse(counter.peek())

    app.add_route(STATEMENTS_PATH, statements, methods=["GET"], include_in_schema=False)
    app.add_route(IN_FLIGHT_PATH, in_flight, methods=["GET"], include_in_schema=False)
    app.add_middleware(RequestCounting, counter=counter)
    return counter


def ours() -> Any:
    """The production app: RBAC, audit, limits, masking and batching all on."""
    return _product()


def naive() -> Any:
    """The same app with loaders that do not batch: one statement per parent object (N+1)."""
    from bench import variants

    return _product(variants.naive)


def features_off() -> Any:
    """The same app without RBAC, audit, limits and error mapping (batching on)."""
    from bench import variants

    return _product(variants.features_off)


def limits_off() -> Any:
    """The same app without the limits (depth, cost, size, rate...)."""
    from bench import variants

    return _product(variants.limits_off)


def floor() -> Starlette:
    """The hand-written floor on the database of the DATABASE_URL setting."""
    from bench.floor import create_floor_app
    from config.settings import Settings

    return create_floor_app(Settings().database_url)
