"""One refresh token presented twice at the same moment: at most one new pair comes out.

The race needs a server database: on PostgreSQL each refresh runs in its own session and
connection, and the spend is one conditional `UPDATE ... RETURNING`, so the second
transaction waits for the first and then finds the token already used. SQLite (one shared
connection in the tests) gets the sequential version of the same rule.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from auth.service import AuthService, TokenPair
from domain.errors import Unauthenticated
from persistence.models import RefreshTokenModel
from persistence.unit_of_work import SqlAlchemyUnitOfWork
from tests.conftest import SUPERUSER_PASSWORD, add_login_user

refresh_t: Table = RefreshTokenModel.__table__  # type: ignore[assignment]

EMAIL = "alice@test.example"
ROUNDS = 10

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { refreshToken }
}"""
REFRESH = """
mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { refreshToken } }"""


@pytest.fixture
async def alice(engine: AsyncEngine, password_hash: str) -> int:
    """An active user whose password is SUPERUSER_PASSWORD."""
    return await add_login_user(engine, email=EMAIL, password_hash=password_hash)


@pytest.fixture
def auth(app: Any) -> AuthService:
    """The app's own authentication service."""
    service: AuthService = app.state.services.auth
    return service


async def login(auth: AuthService, sessions: async_sessionmaker[AsyncSession]) -> TokenPair:
    """A fresh session (token family) for alice."""
    uow = SqlAlchemyUnitOfWork(sessions)
    try:
        return await auth.login(uow, email=EMAIL, password=SUPERUSER_PASSWORD, ip=None)
    finally:
        await uow.close()


async def spend(
    auth: AuthService, sessions: async_sessionmaker[AsyncSession], token: str
) -> TokenPair | BaseException:
    """One refresh in its own unit of work; the session, or what it raised."""
    uow = SqlAlchemyUnitOfWork(sessions)
    try:
        return await auth.refresh(uow, refresh_token=token)
    except Exception as error:
        return error
    finally:
        await uow.close()


async def used_in_family(engine: AsyncEngine, family_of_token: str, auth: AuthService) -> int:
    """How many tokens of the token's family are marked used."""
    token_hash = auth.codec.hash_refresh_token(family_of_token)
    family = select(refresh_t.c.family_id).where(refresh_t.c.token_hash == token_hash)
    async with engine.connect() as conn:
        count = await conn.execute(
            select(func.count()).where(
                refresh_t.c.family_id == family.scalar_subquery(),
                refresh_t.c.used_at.is_not(None),
            )
        )
        return int(count.scalar_one())


@pytest.mark.postgres_only
async def test_given_one_refresh_token_when_two_sessions_spend_it_at_once_then_one_wins(
    auth: AuthService,
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    alice: int,
) -> None:
    for _ in range(ROUNDS):
        token = (await login(auth, session_factory)).refresh_token

        results = await asyncio.gather(
            spend(auth, session_factory, token), spend(auth, session_factory, token)
        )

        winners = [r for r in results if isinstance(r, TokenPair)]
        losers = [r for r in results if not isinstance(r, TokenPair)]
        assert len(winners) == 1, results
        assert all(isinstance(loser, Unauthenticated) for loser in losers), losers
        assert await used_in_family(engine, token, auth) == 1


@pytest.mark.postgres_only
async def test_given_one_refresh_token_when_two_http_requests_spend_it_at_once_then_one_wins(
    app: Any, alice: int
) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        for _ in range(ROUNDS // 2):
            login_body = {
                "query": LOGIN,
                "variables": {"email": EMAIL, "password": SUPERUSER_PASSWORD},
            }
            token = (await http.post("/graphql", json=login_body)).json()["data"]["login"][
                "refreshToken"
            ]
            body = {"query": REFRESH, "variables": {"token": token}}

            answers = await asyncio.gather(
                http.post("/graphql", json=body), http.post("/graphql", json=body)
            )

            results = [answer.json() for answer in answers]
            winners = [r for r in results if "errors" not in r]
            codes = [e["extensions"]["code"] for r in results for e in r.get("errors", [])]
            assert len(winners) == 1, results
            assert codes == ["UNAUTHENTICATED"], results


async def test_given_one_refresh_token_when_spent_twice_in_turn_then_only_the_first_works(
    auth: AuthService,
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    alice: int,
) -> None:
    token = (await login(auth, session_factory)).refresh_token

    first = await spend(auth, session_factory, token)
    second = await spend(auth, session_factory, token)

    assert isinstance(first, TokenPair)
    assert isinstance(second, Unauthenticated)
    assert await used_in_family(engine, token, auth) == 1
