"""Two instances, A and B, on one PostgreSQL database and one Redis: the proven scale-out.

Each is a real `uvicorn graph.app:app` on loopback. Whatever one instance decides about a
token, a role, a bucket or the audit chain, the other must see at once; and a SIGTERM on A
under load loses nothing while B keeps serving. Redis database 12 belongs to these tests.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import ON_POSTGRES
from tests.e2e.servers import (
    ADMIN,
    PASSWORD,
    ROOT,
    SMALL,
    Api,
    Server,
    seeded_database,
    server_env,
    servers,
)

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(
    not (ON_POSTGRES and TEST_REDIS_URL),
    reason="two instances need a shared server database and Redis:"
    " set TEST_DATABASE_URL to PostgreSQL and TEST_REDIS_URL",
)
REQUESTS_PER_MINUTE = 60
FAILURES_PER_EMAIL = 3

LOGIN = """
mutation Login($email: String!, $password: String!) {
  login(email: $email, password: $password) { accessToken refreshToken }
}"""
REFRESH = """
mutation Refresh($token: String!) { refreshToken(refreshToken: $token) { refreshToken } }"""
LOGOUT = "mutation Logout($token: String!) { logout(refreshToken: $token) }"
ME = "{ me { email } }"
USERS = "{ users(first: 1) { totalCount } }"
CREATE_USER = """
mutation NewUser($input: CreateUserInput!) { createUser(input: $input) { user { id } } }"""
ASSIGN = """
mutation Assign($user: ID!, $role: ID!) { assignRole(userId: $user, roleId: $role) { user { id } } }
"""
CREATE_PRODUCT = """
mutation Create($input: CreateProductInput!) { createProduct(input: $input) { product { sku } } }
"""


def _redis_url() -> str:
    """TEST_REDIS_URL's server, database 12 (this module's own)."""
    base = TEST_REDIS_URL.rsplit("/", 1)[0] if TEST_REDIS_URL.count("/") > 2 else TEST_REDIS_URL
    return f"{base}/12"


def _ip() -> str:
    """A client address of one test's own (per-IP buckets and throttles start empty)."""
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


@pytest.fixture(scope="module")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A seeded PostgreSQL database of this module's own."""
    directory = tmp_path_factory.mktemp("scale")
    async with seeded_database(directory, *SMALL, prefix="test_scale") as url:
        yield url


@pytest.fixture(scope="module")
async def environment(database_url: str) -> dict[str, str]:
    """What both instances share: database, Redis, secrets, limits."""
    redis = Redis.from_url(_redis_url())
    await redis.flushdb()
    await redis.aclose()
    return server_env(
        database_url,
        REDIS_URL=_redis_url(),
        RATE_LIMIT_REQUESTS_PER_MINUTE=str(REQUESTS_PER_MINUTE),
        LOGIN_MAX_FAILURES_PER_EMAIL=str(FAILURES_PER_EMAIL),
        # Long enough for the SIGTERM test to see A's readiness turn 503 while it serves.
        SHUTDOWN_DRAIN_SECONDS="2",
    )


@pytest.fixture(scope="module")
async def pair(environment: dict[str, str]) -> AsyncIterator[tuple[Server, Server]]:
    """Instances A and B, for every test but the SIGTERM one."""
    async with servers(environment, 2) as (a, b):
        yield a, b


async def _login(api: Api, email: str, password: str = PASSWORD) -> dict[str, str]:
    tokens: dict[str, str] = (await api.ok(LOGIN, {"email": email, "password": password}))["login"]
    return tokens


async def _new_user(admin: Api, *, superuser: bool = False) -> str:
    """A user of the test's own (own buckets, own throttle); returns the email."""
    email = f"u{uuid.uuid4().hex[:10]}@scale.example"
    variables = {"input": {"email": email, "password": PASSWORD, "isSuperuser": superuser}}
    await admin.ok(CREATE_USER, variables)
    return email


async def _admin(server: Server) -> Api:
    api = Api(server.base_url, _ip())
    return api.as_token((await _login(api, ADMIN))["accessToken"])


async def test_given_a_logout_on_a_when_its_tokens_are_used_on_b_then_both_are_refused(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    email = await _new_user(await _admin(a))
    on_a, on_b = Api(a.base_url, _ip()), Api(b.base_url, _ip())
    tokens = await _login(on_a, email)
    assert (await on_b.as_token(tokens["accessToken"]).ok(ME))["me"]["email"] == email

    assert await on_a.as_token(tokens["accessToken"]).ok(LOGOUT, {"token": tokens["refreshToken"]})

    assert await on_b.as_token(tokens["accessToken"]).codes(ME) == ["UNAUTHENTICATED"]
    assert await on_b.codes(REFRESH, {"token": tokens["refreshToken"]}) == ["UNAUTHENTICATED"]


async def test_given_a_role_granted_on_a_when_b_is_asked_then_it_applies_at_once(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    admin = await _admin(a)
    email = await _new_user(admin)
    on_b = Api(b.base_url, _ip())
    before = await _login(on_b, email)
    user_id = (await on_b.as_token(before["accessToken"]).ok("{ me { id } }"))["me"]["id"]
    assert await on_b.as_token(before["accessToken"]).codes(USERS) == ["FORBIDDEN"]
    roles = (await admin.ok("{ roles { id name } }"))["roles"]
    admin_role = next(role["id"] for role in roles if role["name"] == "admin")

    await admin.ok(ASSIGN, {"user": user_id, "role": admin_role})

    # The old token is revoked everywhere at once; a new one carries the new grants.
    assert await on_b.as_token(before["accessToken"]).codes(USERS) == ["UNAUTHENTICATED"]
    after = await _login(on_b, email)
    assert (await on_b.as_token(after["accessToken"]).ok(USERS))["users"]["totalCount"] >= 1


async def test_given_one_caller_when_it_alternates_between_a_and_b_then_one_bucket_limits_it(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    email = await _new_user(await _admin(a))
    ip = _ip()
    token = (await _login(Api(a.base_url, ip), email))["accessToken"]
    apis = [Api(a.base_url, ip, token), Api(b.base_url, ip, token)]
    started = time.monotonic()

    statuses = [
        (api.base_url, (await api.post(ME)).status_code)
        for api in itertools.islice(itertools.cycle(apis), REQUESTS_PER_MINUTE + 10)
    ]

    refill = (time.monotonic() - started) * REQUESTS_PER_MINUTE / 60
    passed = sum(1 for _, status in statuses if status == 200)
    # Per-instance buckets would let all 70 through; one shared bucket lets 60 (+ refill).
    assert passed <= REQUESTS_PER_MINUTE + refill + 1, statuses
    refused_on = {url for url, status in statuses if status == 429}
    assert refused_on == {a.base_url, b.base_url}, statuses


async def test_given_failed_logins_on_a_and_b_when_the_limit_is_reached_then_both_throttle(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    email = await _new_user(await _admin(a))
    wrong = {"email": email, "password": "not-the-password-at-all"}
    apis = [Api(a.base_url, _ip()), Api(b.base_url, _ip())]

    codes = [
        (await api.codes(LOGIN, wrong))[0]
        for api in itertools.islice(itertools.cycle(apis), FAILURES_PER_EMAIL + 2)
    ]

    assert codes == ["UNAUTHENTICATED"] * FAILURES_PER_EMAIL + ["TOO_MANY_REQUESTS"] * 2
    # The right password is refused too while the email is throttled, on either instance.
    right = {"email": email, "password": PASSWORD}
    assert await apis[1].codes(LOGIN, right) == ["TOO_MANY_REQUESTS"]


async def test_given_50_racing_refreshes_across_a_and_b_then_at_most_one_wins_and_family_dies(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    email = await _new_user(await _admin(a))
    refresh = (await _login(Api(a.base_url, _ip()), email))["refreshToken"]
    racers = [Api((a if n % 2 else b).base_url, _ip()) for n in range(50)]

    bodies = await asyncio.gather(*(api(REFRESH, {"token": refresh}) for api in racers))

    winners = [body["data"]["refreshToken"]["refreshToken"] for body in bodies if body.get("data")]
    codes = [error["extensions"]["code"] for body in bodies for error in body.get("errors", [])]
    assert len(winners) <= 1, bodies
    assert codes == ["UNAUTHENTICATED"] * (50 - len(winners)), codes
    # The spent token came back: its whole family is revoked, the winner's new token too.
    for token in winners:
        assert await racers[0].codes(REFRESH, {"token": token}) == ["UNAUTHENTICATED"]


async def _verify_chain(database_url: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "audit.verify"),
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, output.decode()


async def _scalar(database_url: str, sql: str) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(text(sql))).scalar_one()
    finally:
        await engine.dispose()


async def test_given_concurrent_writes_on_a_and_b_then_the_audit_chain_verifies_without_fork(
    pair: tuple[Server, Server], database_url: str
) -> None:
    a, b = pair
    admin = await _admin(a)
    email = await _new_user(admin, superuser=True)
    ip = _ip()
    token = (await _login(Api(a.base_url, ip), email))["accessToken"]
    writers = [Api(a.base_url, ip, token), Api(b.base_url, ip, token)]
    tag = uuid.uuid4().hex[:6].upper()

    bodies = await asyncio.gather(
        *(
            writers[n % 2](
                CREATE_PRODUCT,
                {"input": {"sku": f"C{tag}-{n}", "name": "Chained", "price": "1.00"}},
            )
            for n in range(40)
        )
    )

    assert all("errors" not in body for body in bodies), bodies
    code, output = await _verify_chain(database_url)
    assert code == 0, output
    forks = await _scalar(
        database_url,
        "SELECT count(*) FROM (SELECT prev_hash FROM audit_log GROUP BY prev_hash"
        " HAVING count(*) > 1) AS forked",
    )
    assert forks == 0


async def test_given_load_on_a_and_b_when_a_gets_sigterm_then_a_drains_b_serves_nothing_lost(
    environment: dict[str, str], database_url: str
) -> None:
    async with servers(environment, 2) as (a, b):
        admin = await _admin(a)
        email = await _new_user(admin, superuser=True)
        ip = _ip()
        token = (await _login(Api(b.base_url, ip), email))["accessToken"]
        # The load is under the rate limit: a few callers, one request at a time each.
        callers = [await _caller(server, admin, ip) for server in (a, b, a, b)]
        tag = uuid.uuid4().hex[:6].upper()
        outcomes: dict[str, tuple[str, str]] = {}
        readiness: list[tuple[float, int]] = []
        stop = asyncio.Event()

        async def load(api: Api, name: str) -> None:
            for n in itertools.count():
                if stop.is_set():
                    return
                sku = f"D{tag}-{name}-{n}"
                variables = {"input": {"sku": sku, "name": "Drained", "price": "1.00"}}
                try:
                    response = await api.post(CREATE_PRODUCT, variables, request_id=sku)
                    outcomes[sku] = (api.base_url, _outcome(response))
                except httpx.ConnectError:
                    outcomes[sku] = (api.base_url, "not connected")
                    await asyncio.sleep(0.05)
                except httpx.TransportError as error:
                    outcomes[sku] = (api.base_url, f"broken: {error!r}")
                await asyncio.sleep(0.02)

        async def watch_readiness() -> None:
            async with httpx.AsyncClient(base_url=a.base_url, timeout=1) as probe:
                while not stop.is_set():
                    try:
                        readiness.append(
                            (time.monotonic(), (await probe.get("/readyz")).status_code)
                        )
                    except httpx.TransportError:
                        readiness.append((time.monotonic(), 0))
                    await asyncio.sleep(0.1)

        tasks = [asyncio.create_task(load(api, str(n))) for n, api in enumerate(callers)]
        tasks.append(asyncio.create_task(watch_readiness()))
        await asyncio.sleep(1.0)
        signalled_at = time.monotonic()
        a.process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(a.process.wait(), 15)
        await asyncio.sleep(0.5)  # B goes on alone for a moment
        stop.set()
        await asyncio.gather(*tasks)
        served_after = await Api(b.base_url, ip, token).ok(ME)

    assert served_after["me"]["email"] == email
    after = [status for at, status in readiness if at > signalled_at]
    assert 503 in after, readiness  # A told the load balancer while it still listened
    on_a = [outcome for url, outcome in outcomes.values() if url == a.base_url]
    on_b = [outcome for url, outcome in outcomes.values() if url == b.base_url]
    assert set(on_b) == {"committed"}, on_b
    # A connection the kernel completed just before A closed its listening socket (or that
    # A accepted but had read nothing from) is reset when A stops: the client sees a broken
    # connection for a request the app never received. Allowed only for such requests: no
    # access record bears its request id (every request the app sees gets one).
    broken = {sku for sku, (url, outcome) in outcomes.items() if outcome.startswith("broken")}
    seen = set(
        await _scalar(
            database_url,
            "SELECT coalesce(array_agg(request_id), '{}') FROM access_log"
            f" WHERE request_id LIKE 'D{tag}-%'",
        )
    )
    assert not broken & seen, (broken & seen, on_a)
    # The lookup works: every answered request on A and B was recorded under its id.
    answered = {sku for sku, (_, outcome) in outcomes.items() if outcome == "committed"}
    assert answered
    assert answered <= seen, answered - seen
    on_a = [outcome for outcome in on_a if not outcome.startswith("broken")]
    assert set(on_a) <= {"committed", "unavailable", "not connected"}, on_a
    # A served during its drain: requests were committed after the signal.
    assert on_a.count("committed") > 0
    stored = set(
        await _scalar(
            database_url,
            f"SELECT coalesce(array_agg(sku), '{{}}') FROM products WHERE sku LIKE 'D{tag}-%'",
        )
    )
    committed = {sku for sku, (_, outcome) in outcomes.items() if outcome == "committed"}
    assert stored == committed
    audited = await _scalar(
        database_url,
        "SELECT count(*) FROM audit_log a JOIN products p ON a.entity_id = p.id::text"
        f" WHERE a.action = 'INSERT' AND a.entity LIKE 'product%' AND p.sku LIKE 'D{tag}-%'",
    )
    assert audited == len(committed)


async def _caller(server: Server, admin: Api, ip: str) -> Api:
    email = await _new_user(admin, superuser=True)
    caller_ip = _ip()
    token = (await _login(Api(server.base_url, caller_ip), email))["accessToken"]
    return Api(server.base_url, ip, token)


def _outcome(response: httpx.Response) -> str:
    """'committed', 'unavailable' (503 SERVICE_UNAVAILABLE), or what went wrong."""
    if response.status_code == 200 and (response.json().get("data") or {}).get("createProduct"):
        return "committed"
    if response.status_code == 503:
        codes = [error["extensions"]["code"] for error in response.json()["errors"]]
        if codes == ["SERVICE_UNAVAILABLE"]:
            return "unavailable"
    return f"{response.status_code}: {response.text[:200]}"
