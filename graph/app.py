"""The composition root: `create_app()` wires settings, database, schema and routes."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from audit.access import AccessLogMiddleware, AccessLogWriter
from audit.capture import set_actor
from auth.rbac import Principal
from auth.service import AuthService
from config.logging import configure_logging
from config.settings import Settings, get_settings
from domain.errors import DomainError, ServiceUnavailable, Unauthenticated
from graph.context import Context
from graph.features import Features
from graph.http import JSONGraphQLRouter, RequestIdMiddleware, request_id_of
from graph.lifecycle import Lifecycle
from graph.schema import build_schema
from graph.security import SecurityMiddleware
from graph.wiring import build_services
from persistence.database import create_engine, create_session_factory
from persistence.unit_of_work import SqlAlchemyUnitOfWork

READINESS_TIMEOUT_SECONDS = 2.0

log = structlog.get_logger("graph.app")

LANDING_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Task Graph API</title></head>
<body>
<h1>Task Graph API</h1>
<p>GraphQL endpoint: <code>POST /graphql</code>.</p>
<ul>
{graphiql}
<li><a href="/docs">HTTP API docs</a></li>
<li><a href="/healthz">Liveness</a> and <a href="/readyz">readiness</a></li>
</ul>
</body></html>
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: AsyncEngine | None = None,
    features: Features | None = None,
) -> FastAPI:
    """Build the app; tests pass their own settings or engine here, the benchmark features."""
    settings = settings or get_settings()
    features = features or Features()
    configure_logging(settings)
    engine = engine or create_engine(settings)
    session_factory = create_session_factory(engine)
    if not features.audit:
        session_factory.configure(sync_session_class=Session)

    lifecycle = Lifecycle()

    # Started by the first request; the lifespan writes what is still queued at shutdown.
    access_writer = AccessLogWriter(engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        lifecycle.install()
        # Everything built at startup lives as long as the process: moving it out of the
        # collector's generations keeps full collections (and the tail latency) short.
        gc.collect()
        gc.freeze()
        yield
        # Every queued access record is committed before the pool goes away.
        await access_writer.drain()
        await engine.dispose()
        await services.limiter.close()

    app = FastAPI(
        title="Task Graph API",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None if settings.is_production else "/redoc",
        openapi_url=None if settings.is_production else "/openapi.json",
    )
    app.state.settings = settings
    app.state.lifecycle = lifecycle
    app.state.engine = engine
    app.state.session_factory = session_factory

    services = build_services(settings)
    app.state.services = services

    async def context_getter(request: Request) -> AsyncIterator[Context]:
        uow = SqlAlchemyUnitOfWork(session_factory)
        principal, auth_error = await authenticate(services.auth, uow, request)
        set_actor(
            uow.session.sync_session,
            actor_id=principal.user_id if principal else None,
            request_id=request_id_of(request.scope),
        )
        request.scope.setdefault("state", {})["user_id"] = principal.user_id if principal else None
        try:
            yield Context(
                services=services,
                uow=uow,
                request_id=request_id_of(request.scope),
                client_ip=request.client.host if request.client else None,
                principal=principal,
                auth_error=auth_error,
                batch_loads=features.batching,
                check_permissions=features.rbac,
            )
        finally:
            await uow.close()

    graphql = JSONGraphQLRouter(
        build_schema(settings, features),
        context_getter=context_getter,
        graphql_ide="graphiql" if settings.is_graphiql_enabled else None,
        allow_queries_via_get=settings.graphql_get_queries,
    )
    app.include_router(graphql, prefix="/graphql")
    _add_pages(app, settings, session_factory, lifecycle)

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
    if features.audit:
        app.state.access_writer = access_writer
        app.add_middleware(AccessLogMiddleware, writer=access_writer, request_id_of=request_id_of)
    app.add_middleware(RequestIdMiddleware)
    return app


async def authenticate(
    auth: AuthService, uow: SqlAlchemyUnitOfWork, request: Request
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
    except sa_exc.TimeoutError:
        # An exhausted pool is overload, not a bug: a warning, no stack trace per request.
        log.warning("authentication waited too long for a database connection")
        return None, ServiceUnavailable("The service is busy; retry in a moment.")
    except Exception:
        # The database failed while loading the caller: answer cleanly, keep the trace in the log.
        log.exception("authentication failed")
        return None, ServiceUnavailable("The service is temporarily unavailable; retry later.")


def _add_pages(
    app: FastAPI,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    lifecycle: Lifecycle,
) -> None:
    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def landing() -> str:
        link = '<li><a href="/graphql">GraphiQL playground</a></li>'
        return LANDING_PAGE.format(graphiql=link if settings.is_graphiql_enabled else "")

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    async def database_answers() -> str | None:
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
        if lifecycle.draining:
            return JSONResponse(
                {"status": "unavailable", "reason": "shutting down"}, status_code=503
            )
        problem = await database_answers()
        if problem is not None:
            return JSONResponse({"status": "unavailable", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ok"})


app = create_app()
