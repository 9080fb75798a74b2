"""Shared fixtures: a real database (in-memory SQLite, or a fresh PostgreSQL database
when TEST_DATABASE_URL is set), the real app over HTTP, and a SQL statement counter."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from audit.capture import audited_session_factory
from auth.passwords import PasswordHasher
from config.settings import Settings
from persistence.database import create_engine
from persistence.models import Base, UserModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork

if TYPE_CHECKING:
    import httpx

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = TEST_DATABASE_URL.startswith("postgresql")


# The floors whose tests all count as database tests (tests/README.md): repositories,
# migrations, Redis stores, the app over HTTP, real servers on databases of their own.
DATABASE_FLOORS = ("tests/integration/", "tests/e2e/")
# A module that names these picks its database itself (a server's own database, a
# PostgreSQL-only probe) rather than through the `database_url` fixture.
DATABASE_CHOICE = ("TEST_DATABASE_URL", "ON_POSTGRES")


def touches_database(
    path: str, fixturenames: Iterable[str], keywords: Iterable[str], source: str
) -> bool:
    """Whether a test may touch a database, so that CI's PostgreSQL pass must run it: it is
    on a database floor, needs `database_url` (directly or through `engine`, `settings`,
    `app`...), is `postgres_only`, or its module reads the database choice itself."""
    return (
        path.startswith(DATABASE_FLOORS)
        or "database_url" in fixturenames
        or "postgres_only" in keywords
        or any(name in source for name in DATABASE_CHOICE)
    )


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test that may touch a database `database` (CI's PostgreSQL pass runs
    `-m database`; the others run once, on SQLite); skip PostgreSQL-only tests on SQLite."""
    sources: dict[Path, str] = {}
    for item in items:
        if item.path not in sources:
            sources[item.path] = item.path.read_text() if item.path.suffix == ".py" else ""
        path = item.path.relative_to(config.rootpath).as_posix()
        fixturenames = getattr(item, "fixturenames", ())
        if touches_database(path, fixturenames, item.keywords, sources[item.path]):
            item.add_marker(pytest.mark.database)
    if ON_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs TEST_DATABASE_URL pointing to PostgreSQL")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    """A database of this run's own: a fresh PostgreSQL database, or in-memory SQLite."""
    if not ON_POSTGRES:
        yield "sqlite+aiosqlite://"
        return
    name = f"test_{uuid.uuid4().hex[:12]}"
    await _admin(TEST_DATABASE_URL, f'CREATE DATABASE "{name}"')
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin(TEST_DATABASE_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    """Test settings on the run's database, logging JSON.

    JSON, not the console format of development: the console renderer draws each logged
    exception with rich (syntax-highlighted source and locals), about a second apiece, and
    the app's logging set-up stays in force for every later test in the process."""
    return Settings(  # type: ignore[call-arg]
        environment="test", database_url=database_url, log_format="json", _env_file=None
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    """The run's engine, with every table created from the models."""
    engine = create_engine(settings)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture(autouse=True)
async def _clean_tables(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    """Empty every table after each test that used the database."""
    yield
    if "engine" not in request.fixturenames:
        return
    engine: AsyncEngine = request.getfixturevalue("engine")
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


@pytest.fixture
def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions on the run's database."""
    return audited_session_factory(engine)


@pytest.fixture
async def uow(
    session_factory: async_sessionmaker[AsyncSession],
) -> AsyncIterator[SqlAlchemyUnitOfWork]:
    """A real unit of work, closed after the test."""
    unit = SqlAlchemyUnitOfWork(session_factory)
    yield unit
    await unit.close()


@dataclass
class StatementCounter:
    """Counts the SQL statements an engine runs while `counting` is on."""

    statements: list[str] = field(default_factory=list)
    counting: bool = False

    def __call__(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.counting:
            self.statements.append(statement)

    @property
    def count(self) -> int:
        """How many statements ran."""
        return len(self.statements)


@pytest.fixture
def statements(engine: AsyncEngine) -> Iterator[StatementCounter]:
    """Record statements between `statements.counting = True` and False; `.count` tells."""
    counter = StatementCounter()
    event.listen(engine.sync_engine, "before_cursor_execute", counter)
    yield counter
    event.remove(engine.sync_engine, "before_cursor_execute", counter)


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine) -> Any:
    """The real app, built by the composition root on the test database."""
    # Imported here, not at the top: unit tests load this file too, and import no web
    # framework (tests/README.md).
    from graph.app import create_app

    return create_app(settings, engine=engine)


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client that talks to the app in-process."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


class GraphQLClient:
    """Posts GraphQL over HTTP like an SPA does, with a bearer token when it has one."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token
        self.last_response: httpx.Response | None = None
        self.last_extensions: dict[str, Any] = {}

    def as_token(self, token: str | None) -> GraphQLClient:
        """The same client acting with another token (None: anonymous)."""
        return GraphQLClient(self.http, token)

    async def __call__(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        operation_name: str | None = None,
    ) -> dict[str, Any]:
        """The whole JSON body: `data` and maybe `errors`."""
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        sent = dict(headers or {})
        if self.token and not any(k.lower() == "authorization" for k in sent):
            sent["Authorization"] = f"Bearer {self.token}"
        response = await self.http.post("/graphql", json=body, headers=sent)
        self.last_response = response
        assert response.headers["content-type"].startswith("application/json"), response.text
        result: dict[str, Any] = response.json()
        # Every response reports its cost; tests that care read it from `last_extensions`,
        # the others compare bodies without it.
        self.last_extensions = result.pop("extensions", None) or {}
        return result

    async def ok(self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """`data` of a response that must have no errors."""
        result = await self(query, variables, **kwargs)
        assert "errors" not in result, result.get("errors")
        return result["data"]

    async def error(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """The single error of a response that must fail."""
        result = await self(query, variables, **kwargs)
        errors = result.get("errors")
        assert errors, result
        assert len(errors) == 1, result
        first: dict[str, Any] = errors[0]
        return first


SUPERUSER_EMAIL = "root@test.example"
SUPERUSER_PASSWORD = "root-password-for-tests"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The superuser's password hash, computed once (argon2 is slow on purpose)."""
    return PasswordHasher().hash(SUPERUSER_PASSWORD)


async def add_login_user(
    engine: AsyncEngine,
    *,
    email: str,
    password_hash: str,
    is_superuser: bool = False,
    is_active: bool = True,
) -> int:
    """Insert a user who can log in; returns the id."""
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        result = await conn.execute(
            insert(UserModel)
            .values(
                email=email,
                full_name=email.split("@")[0],
                password_hash=password_hash,
                is_superuser=is_superuser,
                is_active=is_active,
                created_at=now,
                updated_at=now,
            )
            .returning(UserModel.id)
        )
        return int(result.scalar_one())


def token_for(app: Any, user_id: int) -> str:
    """A valid access token for `user_id`, signed by the app's own codec."""
    return str(app.state.services.auth.codec.issue_access(user_id).token)


@pytest.fixture
async def superuser_id(engine: AsyncEngine, password_hash: str) -> int:
    """A superuser, created for the test."""
    return await add_login_user(
        engine, email=SUPERUSER_EMAIL, password_hash=password_hash, is_superuser=True
    )


@pytest.fixture
def gql(client: httpx.AsyncClient, app: Any, superuser_id: int) -> GraphQLClient:
    """GraphQL over HTTP through the real app, as a superuser."""
    return GraphQLClient(client, token_for(app, superuser_id))


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> GraphQLClient:
    """GraphQL over HTTP through the real app, without a token."""
    return GraphQLClient(client)
