"""Login throttling over HTTP: per email, per client IP, across aliases, across instances.

The default policy is 5 failures per email and 20 per IP in 15 minutes. Each test gets a
fresh app, so the in-memory counters start empty. The Redis test runs only when
TEST_REDIS_URL is set; it uses its own email and client IP and deletes their keys.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from tests.conftest import SUPERUSER_PASSWORD, GraphQLClient, add_login_user

EMAIL = "alice@test.example"
WRONG = "not-the-right-password"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
REDIS_PREFIX = "taskgraph:login:"

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { user { email } }
}"""


@pytest.fixture
async def alice(engine: AsyncEngine, password_hash: str) -> int:
    """An active user whose password is SUPERUSER_PASSWORD."""
    return await add_login_user(engine, email=EMAIL, password_hash=password_hash)


@asynccontextmanager
async def client_from(app: Any, ip: str) -> AsyncIterator[GraphQLClient]:
    """An anonymous GraphQL client whose requests come from `ip`."""
    transport = httpx.ASGITransport(app=app, client=(ip, 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


async def attempt(client: GraphQLClient, email: str = EMAIL, password: str = WRONG) -> Any:
    """One login; the error's extensions, or None when it succeeded."""
    result = await client(LOGIN, {"email": email, "password": password})
    if "errors" not in result:
        assert result["data"]["login"]["user"]["email"] == email.strip().lower()
        return None
    return result["errors"][0]["extensions"]


async def fail(client: GraphQLClient, times: int, email: str = EMAIL) -> None:
    """`times` wrong-password logins, each refused as UNAUTHENTICATED."""
    for _ in range(times):
        assert (await attempt(client, email))["code"] == "UNAUTHENTICATED"


async def test_given_five_failures_for_an_email_when_trying_again_then_too_many_requests(
    anonymous: GraphQLClient, alice: int
) -> None:
    await fail(anonymous, 5)

    extensions = await attempt(anonymous)

    assert extensions["code"] == "TOO_MANY_REQUESTS"
    assert 0 < extensions["retryAfter"] <= 900


async def test_given_five_failures_when_the_right_password_comes_then_it_is_still_refused(
    anonymous: GraphQLClient, alice: int
) -> None:
    await fail(anonymous, 5)

    extensions = await attempt(anonymous, password=SUPERUSER_PASSWORD)

    assert extensions["code"] == "TOO_MANY_REQUESTS"
    assert extensions["retryAfter"] > 0


async def test_given_four_failures_when_the_fifth_attempt_is_right_then_it_logs_in(
    anonymous: GraphQLClient, alice: int
) -> None:
    await fail(anonymous, 4)

    assert await attempt(anonymous, password=SUPERUSER_PASSWORD) is None


async def test_given_a_good_login_after_failures_when_failing_again_then_the_count_restarts(
    anonymous: GraphQLClient, alice: int
) -> None:
    await fail(anonymous, 4)
    assert await attempt(anonymous, password=SUPERUSER_PASSWORD) is None

    await fail(anonymous, 4)

    assert await attempt(anonymous, password=SUPERUSER_PASSWORD) is None


async def test_given_failures_for_an_email_in_other_case_when_trying_then_they_add_up(
    anonymous: GraphQLClient, alice: int
) -> None:
    for variant in ("ALICE@test.example", "Alice@Test.Example", " alice@test.example"):
        assert (await attempt(anonymous, variant))["code"] == "UNAUTHENTICATED"
    await fail(anonymous, 2)

    assert (await attempt(anonymous))["code"] == "TOO_MANY_REQUESTS"


async def test_given_an_email_blocked_from_one_ip_when_another_ip_tries_then_still_refused(
    app: Any, alice: int
) -> None:
    async with client_from(app, "10.0.0.8") as attacker, client_from(app, "10.0.0.9") as other:
        await fail(attacker, 5)

        extensions = await attempt(other, password=SUPERUSER_PASSWORD)

    assert extensions["code"] == "TOO_MANY_REQUESTS"


async def test_given_twenty_simultaneous_wrong_logins_when_judged_then_at_most_five_are_tried(
    anonymous: GraphQLClient, alice: int
) -> None:
    results = await asyncio.gather(*(attempt(anonymous) for _ in range(20)))

    codes = [extensions["code"] for extensions in results]
    assert codes.count("UNAUTHENTICATED") <= 5, codes
    assert set(codes) == {"UNAUTHENTICATED", "TOO_MANY_REQUESTS"}


def aliased_logins(count: int) -> str:
    """One mutation document with `count` aliased login fields a1..aN."""
    fields = " ".join(
        f"a{n}: login(email: $email, password: $password) {{ user {{ email }} }}"
        for n in range(1, count + 1)
    )
    return f"mutation Batch($email: String!, $password: String!) {{ {fields} }}"


async def test_given_ten_aliased_wrong_logins_when_sent_then_no_extra_guesses_are_had(
    anonymous: GraphQLClient, alice: int
) -> None:
    # Mutation fields run one after another, and `login` is non-null: the first failure
    # nulls the whole answer and stops the rest. So a batch is one counted guess, and
    # five batches exhaust the email's budget exactly as five single requests do.
    batch = aliased_logins(10)
    codes: list[list[tuple[str, str]]] = []

    for _ in range(6):
        result = await anonymous(batch, {"email": EMAIL, "password": WRONG})
        assert result["data"] is None
        codes.append([(e["path"][0], e["extensions"]["code"]) for e in result["errors"]])

    assert codes[:5] == [[("a1", "UNAUTHENTICATED")]] * 5
    assert codes[5] == [("a1", "TOO_MANY_REQUESTS")]


async def test_given_ten_aliased_right_logins_after_four_failures_when_sent_then_all_succeed(
    anonymous: GraphQLClient, alice: int
) -> None:
    await fail(anonymous, 4)

    data = await anonymous.ok(aliased_logins(10), {"email": EMAIL, "password": SUPERUSER_PASSWORD})

    assert [data[f"a{n}"]["user"]["email"] for n in range(1, 11)] == [EMAIL] * 10


async def test_given_twenty_failures_from_one_ip_when_it_tries_a_new_email_then_refused(
    anonymous: GraphQLClient, alice: int
) -> None:
    for n in range(20):
        await fail(anonymous, 1, email=f"guess{n}@test.example")

    extensions = await attempt(anonymous, password=SUPERUSER_PASSWORD)

    assert extensions["code"] == "TOO_MANY_REQUESTS"
    assert extensions["retryAfter"] > 0


async def test_given_a_blocked_ip_when_another_ip_logs_in_then_it_works(
    app: Any, anonymous: GraphQLClient, alice: int
) -> None:
    for n in range(20):
        await fail(anonymous, 1, email=f"guess{n}@test.example")

    async with client_from(app, "10.0.0.9") as elsewhere:
        assert await attempt(elsewhere, password=SUPERUSER_PASSWORD) is None


async def test_given_nineteen_failures_from_one_ip_when_it_logs_in_right_then_it_works(
    anonymous: GraphQLClient, alice: int
) -> None:
    for n in range(19):
        await fail(anonymous, 1, email=f"guess{n}@test.example")

    assert await attempt(anonymous, password=SUPERUSER_PASSWORD) is None


# ---------------------------------------------------------------- shared counters in Redis


@pytest.fixture
async def redis_identity() -> AsyncIterator[tuple[str, str]]:
    """An email and a client IP of this test's own; their Redis keys go afterwards."""
    email = f"redis-{uuid.uuid4().hex[:12]}@test.example"
    ip = "10." + ".".join(str(b) for b in secrets.token_bytes(3))
    keys = [
        REDIS_PREFIX + "email:" + hashlib.sha256(email.encode()).hexdigest(),
        REDIS_PREFIX + "ip:" + ip,
    ]
    redis = Redis.from_url(REDIS_URL)
    try:
        yield email, ip
    finally:
        await redis.delete(*keys)
        await redis.aclose()


@pytest.mark.skipif(not REDIS_URL, reason="needs TEST_REDIS_URL, e.g. redis://127.0.0.1:6379/15")
async def test_given_two_instances_on_one_redis_when_failures_split_then_the_limit_is_shared(
    settings: Settings,
    engine: AsyncEngine,
    password_hash: str,
    redis_identity: tuple[str, str],
) -> None:
    email, ip = redis_identity
    await add_login_user(engine, email=email, password_hash=password_hash)
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    instances = [create_app(shared, engine=engine), create_app(shared, engine=engine)]
    try:
        async with client_from(instances[0], ip) as first, client_from(instances[1], ip) as second:
            await fail(first, 3, email=email)
            await fail(second, 2, email=email)

            on_first = await attempt(first, email, SUPERUSER_PASSWORD)
            on_second = await attempt(second, email, SUPERUSER_PASSWORD)
    finally:
        for app in instances:
            await app.state.services.auth.throttle._counter.close()
            await app.state.services.limiter.close()

    assert on_first["code"] == "TOO_MANY_REQUESTS"
    assert on_second["code"] == "TOO_MANY_REQUESTS"
    assert on_second["retryAfter"] > 0
