"""The composition root: `create_app()` wires settings, database, schema and routes."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection

from audit.capture import audited_session_factory, set_actor
from auth.rbac import Principal
from auth.service import AuthService
from config.logging import configure_logging
from config.settings import Settings, get_settings
from domain.errors import DomainError, ServiceUnavailable, TimedOut, Unauthenticated
from graph.access_log import AccessLogMiddleware
from graph.compiled.plan import Planner
from graph.context import Context, Services
from graph.cutoff import CutOffResponder, ShutdownGuard
from graph.dataloaders import LoaderFactory, Loaders
from graph.endpoint import GraphQLEndpoint, GraphQLSocketEndpoint
from graph.http import RequestIdMiddleware, http_error, request_id_of
from graph.lifecycle import Lifecycle, drain_seconds_for
from graph.limits import known_cost
from graph.pages import add_pages
from graph.schema import SchemaFactory, build_schema
from graph.security import SecurityMiddleware
from graph.subscriptions.router import RealtimeGraphQLRouter
from graph.wiring import build_persisted_operations, build_realtime, build_services
from observability.wiring import Observability
from persistence.access_log import AccessLogWriter
from persistence.database import create_engine, on_commit_start
from persistence.unit_of_work import SqlAlchemyUnitOfWork

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

READINESS_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger("graph.app")

# Sessions on the engine; the product's record every change in the audit log.
SessionFactory = Callable[[AsyncEngine], async_sessionmaker[AsyncSession]]
# The writer of the access log (one record per request), or None for no access log.
AccessLogFactory = Callable[[AsyncEngine], AccessLogWriter]
PlannerFactory = Callable[[], Planner]


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    tracer_provider: TracerProvider | None = None,
    services: Services | None = None,
    schema: SchemaFactory = build_schema,
    loaders: LoaderFactory = Loaders,
    sessions: SessionFactory = audited_session_factory,
    access_log: AccessLogFactory | None = AccessLogWriter,
    planner: PlannerFactory | None = Planner,
) -> FastAPI:
    """Build the app from its collaborators, each the product's unless given.

    Queries take the compiled read path (`graph/compiled/`) unless `planner` is None: the
    general executor alone is the reference the differential tests compare it with.

    Tests pass their own settings, engine, tracer provider or services; the benchmark builds
    its variants (bench/variants.py) from the schema, loaders, sessions and access log.
    """
    settings = settings or get_settings()
    observability = Observability(settings, tracer_provider=tracer_provider)
    configure_logging(settings, observability.log_processors())
    engine = engine or create_engine(settings)
    session_factory = sessions(engine)

    lifecycle = Lifecycle()

    # Started by the first request; the lifespan writes what is still queued at shutdown.
    access_writer = access_log(engine) if access_log is not None else None

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        lifecycle.install(drain_seconds=drain_seconds_for(settings))
        # Everything built at startup lives as long as the process: moving it out of the
        # collector's generations keeps full collections (and the tail latency) short.
        gc.collect()
        gc.freeze()
        yield
        # Requests cut off by uvicorn's grace roll back and answer before the pool goes away.
        await lifecycle.settle()
        await realtime.stop()
        # Every queued access record is committed before the pool goes away.
        if access_writer is not None:
            await access_writer.drain()
        await engine.dispose()
        await shared.limiter.close()
        await shared.auth.throttle.close()
        await persisted.close()

    app = FastAPI(
        title="Task Graph API",
        lifespan=lifespan,
        # /docs and /redoc are graph/pages' self-hosted ones, served along with openapi_url.
        docs_url=None,
        redoc_url=None,
        openapi_url=None if settings.is_production else "/openapi.json",
    )
    app.state.settings = settings
    app.state.lifecycle = lifecycle
    app.state.engine = engine
    app.state.session_factory = session_factory

    shared = services or build_services(settings)
    persisted = build_persisted_operations(settings, session_factory)
    app.state.persisted = persisted
    app.state.services = shared

    def unit_of_work() -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(session_factory)

    realtime = build_realtime(settings, engine, unit_of_work, shared.auth, loaders=loaders)
    # Query plans of the compiled read path, shared by every request (graph/compiled/).
    plans = planner() if planner is not None else None
    app.state.planner = plans
    app.state.realtime = realtime

    @asynccontextmanager
    async def http_context(request: HTTPConnection) -> AsyncIterator[Context]:
        """One HTTP request's context: its unit of work, loaders and authenticated caller."""
        uow = unit_of_work()
        principal, auth_error = await authenticate(shared.auth, uow, request)
        request_id = request_id_of(request.scope)
        user_id = principal.user_id if principal else None
        set_actor(uow.session.sync_session, actor_id=user_id, request_id=request_id)
        request.scope.setdefault("state", {})["user_id"] = user_id
        try:
            yield Context(
                services=shared,
                uow=uow,
                # Built on first use: most operations need none of them.
                loaders=partial(loaders, uow),
                request_id=request_id,
                client_ip=request.client.host if request.client else None,
                principal=principal,
                auth_error=auth_error,
                planner=plans,
                reads=uow.compiled_reads if plans is not None else None,
            )
        finally:
            await uow.close()

    def socket_context(websocket: HTTPConnection) -> AbstractAsyncContextManager[Context]:
        """One WebSocket connection's context (`GraphQLSocketEndpoint`'s)."""
        return realtime.context(websocket, shared)

    async def context_getter(request: HTTPConnection) -> AsyncIterator[Context]:
        """The router's context, should a request reach FastAPI's GraphQL routes.

        GET and POST are `GraphQLEndpoint`'s and WebSockets `GraphQLSocketEndpoint`'s.
        """
        if request.scope["type"] == "websocket":
            async with socket_context(request) as subscription_context:
                yield subscription_context
            return
        async with http_context(request) as context:
            yield context

    graphql = RealtimeGraphQLRouter(
        realtime=realtime,
        schema=schema(settings, observers=observability.schema_observers(cost_of=known_cost)),
        context_getter=context_getter,
        graphql_ide="graphiql" if settings.is_graphiql_enabled else None,
        allow_queries_via_get=settings.graphql_get_queries,
        persisted=persisted,
        public_max_age_seconds=settings.graphql_public_max_age_seconds,
    )
    app.include_router(graphql, prefix="/graphql")
    _add_pages(app, settings, session_factory, lifecycle)

    @app.exception_handler(StarletteHTTPException)
    async def graphql_shaped_refusals(request: Request, error: StarletteHTTPException) -> Response:
        """On /graphql, a refused method (405) gets the same coded body as every error."""
        if request.url.path.rstrip("/") == "/graphql":
            response = http_error(request, error.status_code, str(error.detail))
            response.headers.update(error.headers or {})
            return response
        return await http_exception_handler(request, error)

    # Innermost: GET and POST /graphql run the view without FastAPI's routing (graph/endpoint).
    app.add_middleware(GraphQLEndpoint, path="/graphql", view=graphql, open_context=http_context)
    # Then a request cut off at shutdown answers 503 with the usual headers and record.
    app.add_middleware(CutOffResponder)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_credentials=False,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
        expose_headers=["X-Request-ID"],
        max_age=600,
    )
    app.add_middleware(
        SecurityMiddleware,
        max_body_bytes=settings.max_body_bytes,
        graphql_path="/graphql",
        hsts=settings.is_production,
    )
    if access_writer is not None:
        app.state.access_writer = access_writer
        app.add_middleware(AccessLogMiddleware, writer=access_writer, request_id_of=request_id_of)
    app.add_middleware(RequestIdMiddleware)
    # Runs each request in a task of its own, so uvicorn's cancel at the end of the grace
    # reaches a request only through it: one that is committing finishes, the rest roll back.
    app.add_middleware(ShutdownGuard, lifecycle=lifecycle, watch_commits=on_commit_start)
    # WebSockets to /graphql skip FastAPI's routing and the middlewares above, which pass
    # them through but would keep a frame alive for the socket's life (graph/endpoint).
    app.add_middleware(
        GraphQLSocketEndpoint, path="/graphql", view=graphql, open_context=socket_context
    )
    app.state.observability = observability
    observability.install(app, engine, is_access_logged=access_writer is not None)
    return app


async def authenticate(
    auth: AuthService, uow: SqlAlchemyUnitOfWork, request: HTTPConnection
) -> tuple[Principal | None, DomainError | None]:
    """The caller of a request with a bearer token, or why the token was refused."""
    header = request.headers.get("authorization")
    if not header:
        return None, None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, Unauthenticated("The Authorization header must be 'Bearer <access token>'.")
    try:
        return await auth.authenticate(uow, token.strip()), None
    except Unauthenticated as error:
        return None, error
    except (ServiceUnavailable, TimedOut) as error:
        # Overload or an outage, not a bug: a warning, no stack trace per request.
        cause = error.__cause__ or error
        log.warning("authentication could not use the database", error=type(cause).__name__)
        return None, ServiceUnavailable(error.message)
    except Exception:
        # A bug while loading the caller: answer cleanly, keep the trace in the log.
        log.exception("authentication failed")
        return None, ServiceUnavailable("The service is temporarily unavailable; retry later.")


def _add_pages(
    app: FastAPI,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    lifecycle: Lifecycle,
) -> None:
    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    async def unready_reason() -> str | None:
        """Why the app should get no traffic now, or None when it is ready."""
        if lifecycle.draining:
            return "shutting down"
        try:
            async with session_factory() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), READINESS_TIMEOUT_SECONDS)
        except TimeoutError:
            return "database did not answer in time"
        except Exception as error:
            return f"database unavailable: {type(error).__name__}"
        return None

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """Readiness: 200 only when the database answers and the process is not draining."""
        problem = await unready_reason()
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ok"})

    # The landing page, GraphiQL's files, /docs, /redoc, the schema and the guides.
    add_pages(app, settings, readiness=unready_reason)


def __getattr__(name: str) -> Any:
    """`graph.app:app`, the process's app, built on first use (PEP 562).

    Importing this module does no I/O: the engine, the `./var` folder and the Redis clients
    come into being only when a server asks for `app`.
    """
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
