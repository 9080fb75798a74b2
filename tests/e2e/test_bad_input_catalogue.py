"""Issue 10's bad-input catalogue, sent over HTTP to the production-mode app.

Every case in `tests/e2e/catalogue/` is one hostile request with the status and
`extensions.code` it must get. Whatever the case, the answer is never a 5xx, never a
masked INTERNAL_SERVER_ERROR, never a stack trace, and every error carries a code. The
data the cases address (users and roles, products, a customer, a task) is made once for
the module on an engine of its own, so the autouse `_clean_tables` (which empties the
run's `engine` after each test that uses it) leaves it alone. After the last case the
audit chain must verify, and none of the refused writes may have left a row.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.verify import audit_t, verify_database
from config.settings import Settings
from graph.app import create_app
from persistence.database import create_engine
from persistence.models import Base
from tests.builders import customers_t, gid, products_t, tasks_t
from tests.e2e.catalogue import (
    Case,
    bodies,
    documents,
    field_rules,
    ids,
    state,
    tokens,
    unstorable,
    values,
)
from tests.e2e.catalogue import operations as ops
from tests.rbac_helpers import (
    EVERYTHING,
    WRITE_ACTIONS,
    People,
    identity_snapshot,
    roles_t,
    users_t,
)

CASES: list[Case] = [
    *bodies.CASES,
    *unstorable.CASES,
    *field_rules.CASES,
    *ids.CASES,
    *values.CASES,
    *documents.CASES,
    *tokens.CASES,
    *state.CASES,
]
# The HS512 token of `test_jwt_attacks.BAD_TOKENS` signs with the HS256-sized secret on purpose.
pytestmark = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
PLACEHOLDER = re.compile(r"<<([a-z0-9_:-]+)>>")
BODY_PLACEHOLDER = re.compile(rb"<<([a-z0-9_:-]+)>>")
TABLES: dict[str, Table] = {
    "products": products_t,
    "customers": customers_t,
    "tasks": tasks_t,
    "users": users_t,
    "roles": roles_t,
    "audit_logs": audit_t,
}
# Generous buckets: rate limits and login throttling have tests of their own, and here
# they would make a case's answer depend on how many cases ran before it.
UNTHROTTLED: dict[str, Any] = {
    "rate_limit_requests_per_minute": 1_000_000,
    "rate_limit_cost_per_minute": 100_000_000,
    "login_max_failures_per_email": 1_000_000,
    "login_max_failures_per_ip": 1_000_000,
}


def test_given_the_catalogue_when_counted_then_it_has_300_distinct_cases() -> None:
    assert len(CASES) >= 300
    duplicates = sorted({case.id for case in CASES if [c.id for c in CASES].count(case.id) > 1})
    assert not duplicates


@dataclass
class World:
    """The module's app, its engine, and the values the cases' placeholders name."""

    http: httpx.AsyncClient
    engine: AsyncEngine
    values: dict[str, str]
    before: dict[str, Any]


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row, children first."""
    async with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            await conn.execute(table.delete())


async def row_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many rows each table a refused write could touch holds."""
    async with engine.connect() as conn:
        return {
            name: int((await conn.execute(select(func.count()).select_from(table))).scalar_one())
            for name, table in TABLES.items()
        }


async def stored_state(engine: AsyncEngine) -> dict[str, Any]:
    """Row counts plus every user, role, grant and assignment."""
    return {"counts": await row_counts(engine), **await identity_snapshot(engine)}


async def populate(
    engine: AsyncEngine, app: Any, http: httpx.AsyncClient, settings: Settings, password_hash: str
) -> dict[str, str]:
    """Roles, users and tokens put in directly; business data made through the API, so the
    audit chain has records to verify. Returns the placeholder values."""
    people = People(engine, app, http, password_hash)
    admin_role = await people.role(EVERYTHING, name="catalogue-admin")
    manager_role = await people.role(
        {
            "PRODUCTS": WRITE_ACTIONS,
            "CUSTOMERS": WRITE_ACTIONS,
            "TASKS": WRITE_ACTIONS,
            "USERS": (),
        },
        name="catalogue-manager",
    )
    viewer_role = await people.role(
        {"PRODUCTS": (), "CUSTOMERS": (), "TASKS": ()}, name="catalogue-viewer"
    )
    spare_role = await people.role({"PRODUCTS": ()}, name="catalogue-role")
    admin = await people.user(role_ids=[admin_role], email="admin@catalogue.test")
    manager = await people.user(role_ids=[manager_role], email="manager@catalogue.test")
    viewer = await people.user(role_ids=[viewer_role], email="viewer@catalogue.test")
    # Their password is SUPERUSER_PASSWORD, as for every user `People` makes.
    changer = await people.user(role_ids=[viewer_role], email="changer@catalogue.test")

    async def create(mutation: str, field: str, node: str, variables: dict[str, Any]) -> str:
        data = await admin.gql.ok(mutation, variables)
        return str(data[field][node]["id"])

    product = await create(
        ops.CREATE_PRODUCT,
        "createProduct",
        "product",
        {"input": {"sku": "CAT-0001", "name": "Catalogue widget", "price": "19.90"}},
    )
    product2 = await create(
        ops.CREATE_PRODUCT,
        "createProduct",
        "product",
        {"input": {"sku": "CAT-0002", "name": "Catalogue gadget", "price": "5.00"}},
    )
    customer = await create(
        ops.CREATE_CUSTOMER,
        "createCustomer",
        "customer",
        {"input": {"name": "Buyer", "email": "buyer@catalogue.test", "company": "Acme"}},
    )
    customer2 = await create(
        ops.CREATE_CUSTOMER,
        "createCustomer",
        "customer",
        {"input": {"name": "Other buyer", "email": "other@catalogue.test"}},
    )
    task = await create(
        ops.CREATE_TASK,
        "createTask",
        "task",
        {
            "input": {
                "title": "Install",
                "customerId": customer,
                "productIds": [product],
                "assigneeId": viewer.gid,
            }
        },
    )
    page = await admin.gql.ok(
        "{ products(first: 1, orderBy: [{field: NAME}]) { edges { cursor } } }"
    )
    values = {
        "admin": str(admin.gql.token),
        "manager": str(manager.gql.token),
        "viewer": str(viewer.gql.token),
        "changer": str(changer.gql.token),
        "admin_user": admin.gid,
        "manager_user": manager.gid,
        "viewer_user": viewer.gid,
        "admin_role": gid("Role", admin_role),
        "viewer_role": gid("Role", viewer_role),
        "role": gid("Role", spare_role),
        "product": product,
        "product2": product2,
        "customer": customer,
        "customer2": customer2,
        "task": task,
        "name_cursor": page["products"]["edges"][0]["cursor"],
    }
    for name, factory in tokens.TOKENS.items():
        values[f"jwt:{name}"] = factory(settings, admin.id)
    values["jwt:unchanged"] = tokens.claim()(settings, admin.id)
    return values


@pytest.fixture(scope="module")
async def world(database_url: str, password_hash: str) -> AsyncIterator[World]:
    """The production-mode app on an engine of the module's own, with the cases' data."""
    settings = Settings(
        environment="production",
        jwt_secret="catalogue-" + "s" * 40,  # type: ignore[arg-type]
        database_url=database_url,
        # JSON logs: the console renderer takes seconds to draw a stack trace with locals.
        log_format="json",
        _env_file=None,  # type: ignore[call-arg]
        **UNTHROTTLED,
    )
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        await empty_tables(engine)
        app = create_app(settings, engine=engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            values = await populate(engine, app, http, settings, password_hash)
            yield World(http, engine, values, await stored_state(engine))
    finally:
        await empty_tables(engine)
        await engine.dispose()


def filled(text_: str, values: Mapping[str, str]) -> str:
    """`text_` with every `<<name>>` replaced by its value."""
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text_)


async def send(world: World, case: Case) -> httpx.Response:
    """The case's request, placeholders filled in; header values go out as Latin-1 bytes."""
    headers = [
        (name.encode(), filled(value, world.values).encode("latin-1"))
        for name, value in case.headers.items()
    ]
    body = BODY_PLACEHOLDER.sub(
        lambda match: world.values[match.group(1).decode()].encode(), case.body
    )
    if case.chunked:
        return await world.http.request(
            case.method, case.path, headers=headers, content=in_pieces(body)
        )
    return await world.http.request(case.method, case.path, headers=headers, content=body)


async def in_pieces(body: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    """`body` as a stream of chunks, so httpx sends no Content-Length."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def answer(response: httpx.Response) -> tuple[Any, list[dict[str, Any]]]:
    """The JSON body (None when it is not JSON) and its errors."""
    try:
        body = response.json()
    except ValueError:
        return None, []
    errors = body.get("errors") if isinstance(body, dict) else None
    return body, errors if isinstance(errors, list) else []


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_given_a_bad_input_when_sent_then_it_is_refused_with_its_code(
    world: World, case: Case
) -> None:
    counts = await row_counts(world.engine) if case.is_mutation else None

    response = await send(world, case)

    body, errors = answer(response)
    first = errors[0] if errors else {}
    code = (first.get("extensions") or {}).get("code")
    seen = f"got {response.status_code} {code} {str(first.get('message'))[:300]!r}"
    # What every answer must be, whatever the case.
    assert response.status_code < 500, seen
    assert "Traceback" not in response.text, seen
    if case.path.startswith("/graphql"):
        assert body is not None, f"not JSON: {response.text[:300]!r}"
    codes = [(error.get("extensions") or {}).get("code") for error in errors]
    assert None not in codes, f"an error without a code: {errors}"
    assert "INTERNAL_SERVER_ERROR" not in codes, seen
    # What this case must get.
    assert (response.status_code, code) == (case.status, case.code), seen
    if case.message is not None:
        assert case.message in first["message"], seen
    if counts is not None:
        assert await row_counts(world.engine) == counts, "a refused write left a row"


async def test_given_a_forged_token_with_no_claim_changed_when_sent_then_it_is_accepted(
    world: World,
) -> None:
    # The control of the `token-*` cases: the forging helpers make tokens this app accepts,
    # so each of those is refused for the one claim or key it changes.
    headers = {"authorization": f"Bearer {world.values['jwt:unchanged']}"}

    response = await world.http.post("/graphql", json={"query": ops.ME}, headers=headers)

    assert response.json()["data"] == {"me": {"email": "admin@catalogue.test"}}


async def test_given_every_case_was_sent_when_the_database_is_checked_then_nothing_was_written(
    world: World,
) -> None:
    async with world.engine.connect() as conn:
        report = await verify_database(conn)

    assert report.ok, report
    assert report.checked >= 5, "the module's own writes are on the chain"
    after = await stored_state(world.engine)
    assert after["counts"] == world.before["counts"], "a refused write left a row"
    assert after == world.before, "a refused write changed a user, role or grant"
