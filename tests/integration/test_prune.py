"""Deleting expired token rows: `python -m auth.prune`, and the prune every N-th login."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from auth.passwords import PasswordHasher
from auth.prune.__main__ import main
from auth.service import AuthService
from auth.throttle import LoginThrottle, MemoryFailureCounter, ThrottlePolicy
from auth.tokens import TokenCodec
from config.settings import Settings
from graph.wiring import token_config
from persistence.models import Base, RefreshTokenModel, RevokedTokenModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import SUPERUSER_PASSWORD, add_login_user

refresh_t: Table = RefreshTokenModel.__table__  # type: ignore[assignment]
revoked_t: Table = RevokedTokenModel.__table__  # type: ignore[assignment]

EMAIL = "alice@test.example"


async def add_rows(engine: AsyncEngine, user_id: int) -> None:
    """One expired and one live row in each token table."""
    now = datetime.now(UTC)
    past, future = now - timedelta(hours=1), now + timedelta(hours=1)
    async with engine.begin() as conn:
        await conn.execute(
            insert(refresh_t),
            [
                {
                    "user_id": user_id,
                    "family_id": "family-a",
                    "token_hash": name,
                    "issued_at": now - timedelta(days=1),
                    "expires_at": expires_at,
                }
                for name, expires_at in (("hash-expired", past), ("hash-live", future))
            ],
        )
        await conn.execute(
            insert(revoked_t),
            [{"jti": "jti-expired", "expires_at": past}, {"jti": "jti-live", "expires_at": future}],
        )


async def remaining(engine: AsyncEngine) -> tuple[set[str], set[str]]:
    """The refresh token hashes and revoked jtis still stored."""
    async with engine.connect() as conn:
        hashes = set((await conn.execute(select(refresh_t.c.token_hash))).scalars())
        jtis = set((await conn.execute(select(revoked_t.c.jti))).scalars())
    return hashes, jtis


# ---------------------------------------------------------------- python -m auth.prune


@pytest.fixture
async def file_database(tmp_path: Path) -> AsyncIterator[tuple[str, AsyncEngine]]:
    """A SQLite file with every table, outside the run's database; its URL and engine."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'prune.db'}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield url, engine
    await engine.dispose()


async def test_given_expired_and_live_rows_when_the_command_runs_then_only_expired_go(
    file_database: tuple[str, AsyncEngine],
    password_hash: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, engine = file_database
    await add_rows(engine, await add_login_user(engine, email=EMAIL, password_hash=password_hash))

    # `main` calls asyncio.run, which needs a thread without a running loop.
    status = await asyncio.to_thread(main, ["--database-url", url])

    assert status == 0
    assert await remaining(engine) == ({"hash-live"}, {"jti-live"})
    assert "pruned 2 expired token row(s)" in capsys.readouterr().out


async def test_given_nothing_expired_when_the_command_runs_then_it_prints_zero(
    file_database: tuple[str, AsyncEngine], capsys: pytest.CaptureFixture[str]
) -> None:
    url, engine = file_database

    status = await asyncio.to_thread(main, ["--database-url", url])

    assert status == 0
    assert await remaining(engine) == (set(), set())
    assert "pruned 0 expired token row(s)" in capsys.readouterr().out


# ---------------------------------------------------------------- opportunistic prune


def auth_service(settings: Settings, *, prune_every: int) -> AuthService:
    """An AuthService like the app's, pruning every `prune_every` logins."""
    return AuthService(
        codec=TokenCodec(token_config(settings)),
        hasher=PasswordHasher(),
        throttle=LoginThrottle(MemoryFailureCounter(), ThrottlePolicy()),
        prune_every=prune_every,
    )


async def log_in(auth: AuthService, uow: SqlAlchemyUnitOfWork) -> str:
    """Alice logs in; returns the new refresh token's stored hash."""
    session = await auth.login(uow, email=EMAIL, password=SUPERUSER_PASSWORD, ip=None)
    return auth.codec.hash_refresh_token(session.refresh_token)


async def test_given_prune_every_login_when_logging_in_then_expired_rows_go(
    settings: Settings, engine: AsyncEngine, uow: SqlAlchemyUnitOfWork, password_hash: str
) -> None:
    await add_rows(engine, await add_login_user(engine, email=EMAIL, password_hash=password_hash))
    auth = auth_service(settings, prune_every=1)

    new_hash = await log_in(auth, uow)

    assert await remaining(engine) == ({"hash-live", new_hash}, {"jti-live"})


async def test_given_prune_every_second_login_when_logging_in_then_only_the_second_prunes(
    settings: Settings, engine: AsyncEngine, uow: SqlAlchemyUnitOfWork, password_hash: str
) -> None:
    await add_rows(engine, await add_login_user(engine, email=EMAIL, password_hash=password_hash))
    auth = auth_service(settings, prune_every=2)

    first_hash = await log_in(auth, uow)
    after_first = await remaining(engine)
    second_hash = await log_in(auth, uow)

    assert after_first == (
        {"hash-expired", "hash-live", first_hash},
        {"jti-expired", "jti-live"},
    )
    assert await remaining(engine) == ({"hash-live", first_hash, second_hash}, {"jti-live"})
