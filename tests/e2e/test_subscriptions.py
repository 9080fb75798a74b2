"""Subscriptions end to end over a real WebSocket (uvicorn), with the `gql` client and raw
graphql-transport-ws frames: subscribe, mutate over HTTP, receive; filters; RBAC; cursors;
the authentication close codes; the legacy subprotocol refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from gql import Client
from gql import gql as gql_doc
from gql.transport.websockets import WebsocketsTransport
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from config.settings import Settings
from graph.app import create_app
from persistence.models import AuditAnchorModel
from tests.builders import add_customers, gid
from tests.conftest import GraphQLClient, token_for
from tests.e2e.servers import serve
from tests.rbac_helpers import People

TASK_CHANGED = """
subscription($after: String, $filter: TaskChangeFilter) {
  taskChanged(after: $after, filter: $filter) {
    cursor action id changedFields occurredAt
    task { id title status assignee { email } }
  }
}
"""
CREATE_TASK = """
mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id version } } }
"""
UPDATE_TASK = """
mutation($id: ID!, $input: UpdateTaskInput!) { updateTask(id: $id, input: $input) { task { id } } }
"""
DELETE_TASK = "mutation($id: ID!) { deleteTask(id: $id) { deletedId } }"
WAIT = 5.0


@pytest.fixture
async def live(app: Any) -> AsyncIterator[str]:
    """The app served by uvicorn; yields the WebSocket URL of /graphql."""
    async with serve(app) as base:
        yield base.replace("http://", "ws://") + "/graphql"


def transport(url: str, token: str | None) -> WebsocketsTransport:
    """gql's WebSocket transport speaking graphql-transport-ws with a bearer token."""
    return WebsocketsTransport(
        url=url,
        init_payload={"Authorization": f"Bearer {token}"} if token else {},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


class Feed:
    """Collects a subscription's events in the background."""

    def __init__(self, url: str, token: str, query: str, variables: dict[str, Any]) -> None:
        self.events: list[dict[str, Any]] = []
        self.error: BaseException | None = None
        self.ready = asyncio.Event()
        self._arrived = asyncio.Condition()
        self._task = asyncio.create_task(self._run(url, token, query, variables))

    async def _run(self, url: str, token: str, query: str, variables: dict[str, Any]) -> None:
        try:
            async with Client(transport=transport(url, token)) as session:
                self.ready.set()
                async for result in session.subscribe(gql_doc(query), variable_values=variables):
                    async with self._arrived:
                        self.events.append(result)
                        self._arrived.notify_all()
        except BaseException as error:
            self.error = error
            self.ready.set()
            async with self._arrived:
                self._arrived.notify_all()
            raise

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[dict[str, Any]]:  # noqa: ASYNC109
        """The first `count` events, waiting for them."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.events) >= count or self.error)
        if len(self.events) < count and self.error is not None:
            raise self.error
        return self.events[:count]

    async def wait_ended(self, timeout: float = WAIT) -> BaseException | None:  # noqa: ASYNC109
        """How the subscription ended."""
        try:
            await asyncio.wait_for(self._task, timeout)
        except BaseException as error:
            return error
        return None

    async def close(self) -> None:
        """Stop listening."""
        self._task.cancel()
        with suppress(BaseException):
            await self._task


async def subscribed(url: str, token: str, query: str = TASK_CHANGED, **variables: Any) -> Feed:
    """A feed whose subscription is registered on the server."""
    feed = Feed(url, token, query, variables)
    await feed.ready.wait()
    await asyncio.sleep(0.3)  # the subscribe message is processed
    return feed


async def test_given_a_task_subscription_when_created_updated_deleted_then_three_events(
    live: str, gql: GraphQLClient
) -> None:
    feed = await subscribed(live, gql.token or "")
    try:
        created = await gql.ok(CREATE_TASK, {"input": {"title": "Install"}})
        task_id = created["createTask"]["task"]["id"]
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"status": "DONE"}})
        await gql.ok(DELETE_TASK, {"id": task_id})
        events = [e["taskChanged"] for e in await feed.wait_for(3)]
    finally:
        await feed.close()
    assert [e["action"] for e in events] == ["CREATED", "UPDATED", "DELETED"]
    assert {e["id"] for e in events} == {task_id}
    assert events[0]["task"]["title"] == "Install"
    assert events[1]["task"]["status"] == "DONE"
    assert events[1]["changedFields"] == ["status"]
    assert events[2]["task"] is None
    cursors = [e["cursor"] for e in events]
    assert len(set(cursors)) == 3


def error_codes(message: dict[str, Any]) -> list[str]:
    """The codes of a `next` (errors in the payload) or `error` (a list) message."""
    payload = message["payload"]
    errors = payload if message["type"] == "error" else payload.get("errors", [])
    return [error["extensions"]["code"] for error in errors]


class Raw:
    """graphql-transport-ws frame by frame, to check close codes and error payloads."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def send(self, message: dict[str, Any]) -> None:
        """One frame."""
        await self.socket.send(json.dumps(message))

    async def receive(self, timeout: float = WAIT) -> dict[str, Any]:  # noqa: ASYNC109
        """The next frame, skipping pings."""
        while True:
            message: dict[str, Any] = json.loads(
                await asyncio.wait_for(self.socket.recv(), timeout)
            )
            if message["type"] != "ping":
                return message

    async def closed_with(self, timeout: float = 15) -> int | None:  # noqa: ASYNC109
        """The close code the server sent."""
        with suppress(ConnectionClosed):
            async with asyncio.timeout(timeout):
                while True:
                    await self.socket.recv()
        return self.socket.close_code

    async def init(self, token: str | None) -> dict[str, Any]:
        """`connection_init` with the token; the server's answer."""
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await self.send({"type": "connection_init", "payload": payload})
        return await self.receive()

    async def subscribe(self, op_id: str, query: str, **variables: Any) -> None:
        """Start an operation."""
        payload = {"query": query, "variables": variables}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})


@pytest.fixture
async def raw(live: str) -> AsyncIterator[Any]:
    """Opens raw graphql-transport-ws connections (closed after the test)."""
    sockets: list[ClientConnection] = []

    async def open_(subprotocols: tuple[str, ...] = ("graphql-transport-ws",)) -> Raw:
        socket = await connect(live, subprotocols=list(subprotocols))  # type: ignore[arg-type]
        sockets.append(socket)
        return Raw(socket)

    yield open_
    for socket in sockets:
        await socket.close()


async def test_given_a_status_filter_when_tasks_change_then_only_matching_changes_arrive(
    live: str, gql: GraphQLClient
) -> None:
    feed = await subscribed(live, gql.token or "", filter={"status": ["DONE"]})
    try:
        await gql.ok(CREATE_TASK, {"input": {"title": "todo"}})
        done = await gql.ok(CREATE_TASK, {"input": {"title": "done", "status": "DONE"}})
        events = [e["taskChanged"] for e in await feed.wait_for(1)]
        await asyncio.sleep(0.3)
    finally:
        await feed.close()
    assert [e["task"]["title"] for e in events] == ["done"]
    assert len(feed.events) == 1
    assert events[0]["id"] == done["createTask"]["task"]["id"]


async def test_given_a_customer_filter_when_a_task_leaves_the_customer_then_that_change_arrives(
    live: str, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    acme, other = await add_customers(engine, {"name": "Acme"}, {"name": "Other"})
    feed = await subscribed(live, gql.token or "", filter={"customerId": gid("Customer", acme)})
    try:
        await gql.ok(
            CREATE_TASK, {"input": {"title": "elsewhere", "customerId": gid("Customer", other)}}
        )
        mine = await gql.ok(
            CREATE_TASK, {"input": {"title": "mine", "customerId": gid("Customer", acme)}}
        )
        task_id = mine["createTask"]["task"]["id"]
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"customerId": gid("Customer", other)}})
        events = [e["taskChanged"] for e in await feed.wait_for(2)]
    finally:
        await feed.close()
    assert [(e["action"], e["task"]["title"]) for e in events] == [
        ("CREATED", "mine"),
        ("UPDATED", "mine"),
    ]
    assert events[1]["changedFields"] == ["customer"]


async def test_given_a_viewer_when_a_task_event_selects_the_assignee_email_then_null_and_forbidden(
    raw: Any, gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    people = People(engine=engine, app=app, http=gql.http, password_hash=password_hash)
    viewer = await people.user({"TASKS": [], "CUSTOMERS": [], "PRODUCTS": []})
    other = await people.user({"USERS": []})
    socket = await raw()
    assert (await socket.init(viewer.gql.token))["type"] == "connection_ack"
    await socket.subscribe("1", TASK_CHANGED)
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "x", "assigneeId": gid("User", other.id)}})
    message = await socket.receive()
    assert message["type"] == "next", message
    event = message["payload"]["data"]["taskChanged"]
    assert event["task"]["title"] == "x"
    assert event["task"]["assignee"] is None
    (error,) = message["payload"]["errors"]
    assert error["path"] == ["taskChanged", "task", "assignee"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert error["extensions"]["permission"] == "users:read"


async def test_given_no_audit_grant_when_subscribing_to_the_audit_trail_then_forbidden(
    raw: Any, gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    people = People(engine=engine, app=app, http=gql.http, password_hash=password_hash)
    viewer = await people.user({"TASKS": []})
    auditor = await people.user({"AUDIT": []})
    refused = await raw()
    await refused.init(viewer.gql.token)
    await refused.subscribe("1", "subscription { auditLogAdded { id } }")
    assert error_codes(await refused.receive()) == ["FORBIDDEN"]

    allowed = await raw()
    await allowed.init(auditor.gql.token)
    await allowed.subscribe("1", "subscription { auditLogAdded { id entity action } }")
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "audited"}})
    message = await allowed.receive()
    assert message["payload"]["data"]["auditLogAdded"]["entity"] == "tasks"
    assert message["payload"]["data"]["auditLogAdded"]["action"] == "INSERT"


@pytest.mark.parametrize("token", [None, "not-a-token"])
async def test_given_no_or_a_bad_token_when_initialising_then_closed_with_4403(
    raw: Any, token: str | None
) -> None:
    socket = await raw()
    await socket.send(
        {
            "type": "connection_init",
            "payload": {"Authorization": f"Bearer {token}"} if token else {},
        }
    )
    assert await socket.closed_with() == 4403


async def test_given_a_subscribe_before_init_then_closed_with_4401(raw: Any) -> None:
    socket = await raw()
    await socket.subscribe("1", "subscription { productChanged { id } }")
    assert await socket.closed_with() == 4401


async def test_given_no_connection_init_when_the_wait_ends_then_closed_with_4408(
    settings: Settings, engine: AsyncEngine
) -> None:
    quick = create_app(
        settings.model_copy(update={"subscription_connection_init_seconds": 0.5}), engine=engine
    )
    async with serve(quick) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            assert await Raw(socket).closed_with() == 4408


async def test_given_the_legacy_graphql_ws_subprotocol_when_connecting_then_refused(
    raw: Any, gql: GraphQLClient
) -> None:
    socket = await raw(subprotocols=("graphql-ws",))
    # Before CVE-2026-35523 was fixed, a legacy client could `start` without `connection_init`.
    assert socket.socket.subprotocol is None
    assert await socket.closed_with() == 4406


async def test_given_a_cursor_when_resubscribing_then_exactly_the_missed_events_in_order(
    live: str, gql: GraphQLClient
) -> None:
    feed = await subscribed(live, gql.token or "")
    created = await gql.ok(CREATE_TASK, {"input": {"title": "t0"}})
    task_id = created["createTask"]["task"]["id"]
    (first,) = [e["taskChanged"] for e in await feed.wait_for(1)]
    await feed.close()
    for n in range(1, 11):
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"title": f"t{n}"}})
    resumed = await subscribed(live, gql.token or "", after=first["cursor"])
    try:
        replayed = [e["taskChanged"] for e in await resumed.wait_for(10)]
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"title": "live"}})
        events = [e["taskChanged"] for e in await resumed.wait_for(11)]
        await asyncio.sleep(0.3)
    finally:
        await resumed.close()
    assert [e["task"]["title"] for e in replayed] == [f"t{n}" for n in range(1, 11)]
    assert [e["task"]["title"] for e in events] == [*(f"t{n}" for n in range(1, 11)), "live"]
    assert len(resumed.events) == 11  # no duplicate at the seam


async def test_given_a_cursor_before_the_archive_horizon_when_resuming_then_cursor_expired(
    raw: Any, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    from graph.subscriptions.cursor import encode_cursor

    async with engine.begin() as conn:
        await conn.execute(
            insert(AuditAnchorModel).values(
                id=1,
                last_archived_id=100,
                last_archived_hash="0" * 64,
                archived_at=datetime.now(UTC),
            )
        )
    socket = await raw()
    await socket.init(gql.token)
    await socket.subscribe("1", TASK_CHANGED, after=encode_cursor(5))
    message = await socket.receive()
    assert error_codes(message)[0] == "CURSOR_EXPIRED"


async def test_given_a_malformed_cursor_when_subscribing_then_bad_user_input(
    raw: Any, gql: GraphQLClient
) -> None:
    socket = await raw()
    await socket.init(gql.token)
    await socket.subscribe("1", TASK_CHANGED, after="nonsense")
    message = await socket.receive()
    assert error_codes(message)[0] == "BAD_USER_INPUT"


async def test_given_a_logout_when_subscribed_with_that_token_then_it_ends_unauthenticated(
    raw: Any, gql: GraphQLClient, app: Any, superuser_id: int
) -> None:
    token = token_for(app, superuser_id)
    socket = await raw()
    await socket.init(token)
    await socket.subscribe("1", TASK_CHANGED)
    await asyncio.sleep(0.3)
    await gql.as_token(token).ok("mutation { logout }")
    message = await socket.receive()
    assert message["type"] == "next"
    assert error_codes(message)[0] == "UNAUTHENTICATED"
    assert (await socket.receive())["type"] == "complete"


async def test_given_a_deactivated_user_when_subscribed_then_the_subscription_ends_unauthenticated(
    raw: Any, gql: GraphQLClient, app: Any, engine: AsyncEngine, password_hash: str
) -> None:
    people = People(engine=engine, app=app, http=gql.http, password_hash=password_hash)
    viewer = await people.user({"TASKS": []})
    socket = await raw()
    await socket.init(viewer.gql.token)
    await socket.subscribe("1", TASK_CHANGED)
    await asyncio.sleep(0.3)
    await gql.ok(
        "mutation($id: ID!) { updateUser(id: $id, input: {isActive: false}) { user { id } } }",
        {"id": viewer.gid},
    )
    message = await socket.receive()
    assert error_codes(message)[0] == "UNAUTHENTICATED"


async def test_given_an_expiring_token_when_it_expires_then_the_subscription_ends_unauthenticated(
    raw: Any, app: Any, superuser_id: int
) -> None:
    codec = app.state.services.auth.codec
    ttl = app.state.settings.access_token_ttl_seconds
    issued = datetime.now(UTC) - timedelta(seconds=ttl - 2)  # expires in 2 s
    token = codec.issue_access(superuser_id, now=issued).token
    socket = await raw()
    await socket.init(token)
    await socket.subscribe("1", TASK_CHANGED)
    message = await socket.receive(timeout=10)
    assert error_codes(message)[0] == "UNAUTHENTICATED"


async def test_given_the_connection_limit_when_one_more_subscription_then_too_many_requests(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    limited = create_app(
        settings.model_copy(update={"subscription_max_per_connection": 2}), engine=engine
    )
    async with serve(limited) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            socket = Raw(ws)
            await socket.init(token_for(limited, superuser_id))
            for op_id in ("1", "2", "3"):
                await socket.subscribe(op_id, "subscription { productChanged { id } }")
            message = await socket.receive()
    assert message["id"] == "3"
    assert error_codes(message)[0] == "TOO_MANY_REQUESTS"


async def test_given_a_query_over_the_websocket_then_refused(raw: Any, gql: GraphQLClient) -> None:
    socket = await raw()
    await socket.init(gql.token)
    await socket.subscribe("1", "{ products { totalCount } }")
    assert error_codes(await socket.receive()) == ["BAD_REQUEST"]


async def test_given_an_operation_over_the_cost_limit_when_subscribing_then_query_too_complex(
    settings: Settings, engine: AsyncEngine, superuser_id: int
) -> None:
    cheap = create_app(settings.model_copy(update={"graphql_max_cost": 2}), engine=engine)
    async with serve(cheap) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            socket = Raw(ws)
            await socket.init(token_for(cheap, superuser_id))
            await socket.subscribe("1", TASK_CHANGED)
            message = await socket.receive()
    assert error_codes(message)[0] == "QUERY_TOO_COMPLEX"


async def test_given_the_gql_client_when_a_product_changes_then_it_receives_the_event(
    live: str, gql: GraphQLClient
) -> None:
    async with Client(transport=transport(live, gql.token)) as session:
        stream = session.subscribe(
            gql_doc("subscription { productChanged { action product { sku } } }")
        )
        first = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0.3)
        await gql.ok(
            'mutation { createProduct(input: {sku: "SUB-1", name: "S", price: "1.00", stock: 1})'
            " { product { id } } }"
        )
        event = await asyncio.wait_for(first, WAIT)
        await stream.aclose()
    assert event == {"productChanged": {"action": "CREATED", "product": {"sku": "SUB-1"}}}


def gauge(scrape: str, name: str) -> float:
    """One unlabelled gauge's value in a Prometheus text scrape."""
    for line in scrape.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the scrape")


async def test_given_an_open_subscription_when_metrics_are_scraped_then_it_is_counted(
    live: str, gql: GraphQLClient
) -> None:
    async def scrape() -> tuple[float, float]:
        text = (await gql.http.get("/metrics")).text
        return (
            gauge(text, "graphql_websocket_connections"),
            gauge(text, "graphql_subscriptions_active"),
        )

    before = await scrape()
    feed = await subscribed(live, gql.token or "")
    try:
        during = await scrape()
    finally:
        await feed.close()
    for _ in range(50):  # the server notices the closed socket a moment later
        after = await scrape()
        if after == before:
            break
        await asyncio.sleep(0.1)

    assert during == (before[0] + 1, before[1] + 1)
    assert after == before


TASK_PRODUCTS_CHANGED = """
subscription($after: String, $filter: TaskChangeFilter) {
  taskChanged(after: $after, filter: $filter) {
    cursor action id changedFields task { title version products { sku } }
  }
}
"""
CREATE_PRODUCT = """
mutation($sku: String!) {
  createProduct(input: {sku: $sku, name: "P", price: "1.00", stock: 1}) { product { id } }
}
"""


async def _products(gql: GraphQLClient, *skus: str) -> list[str]:
    return [
        (await gql.ok(CREATE_PRODUCT, {"sku": sku}))["createProduct"]["product"]["id"]
        for sku in skus
    ]


async def test_given_a_change_of_a_tasks_products_alone_then_task_changed_reports_products(
    live: str, gql: GraphQLClient, engine: AsyncEngine
) -> None:
    acme, other = await add_customers(engine, {"name": "Acme"}, {"name": "Other"})
    p1, p2 = await _products(gql, "LINK-1", "LINK-2")
    created = await gql.ok(
        CREATE_TASK,
        {"input": {"title": "linked", "customerId": gid("Customer", acme), "productIds": [p1]}},
    )
    task_id = created["createTask"]["task"]["id"]
    everything = await subscribed(live, gql.token or "", TASK_PRODUCTS_CHANGED)
    acme_board = await subscribed(
        live, gql.token or "", TASK_PRODUCTS_CHANGED, filter={"customerId": gid("Customer", acme)}
    )
    other_board = await subscribed(
        live, gql.token or "", TASK_PRODUCTS_CHANGED, filter={"customerId": gid("Customer", other)}
    )
    try:
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"productIds": [p1, p2]}})
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"productIds": [p2]}})
        events = [e["taskChanged"] for e in await everything.wait_for(2)]
        filtered = [e["taskChanged"] for e in await acme_board.wait_for(2)]
        await asyncio.sleep(0.3)
    finally:
        for feed in (everything, acme_board, other_board):
            await feed.close()
    assert events == filtered
    assert [(e["action"], e["id"], e["changedFields"]) for e in events] == [
        ("UPDATED", task_id, ["products"]),
        ("UPDATED", task_id, ["products"]),
    ]
    assert [[p["sku"] for p in e["task"]["products"]] for e in events][1] == ["LINK-2"]
    assert events[0]["task"]["title"] == "linked"
    assert len(everything.events) == 2  # one event per mutation, not one per link
    assert other_board.events == []  # the filter applies to the task as read


async def test_given_a_task_created_with_products_then_one_created_event_naming_products(
    live: str, gql: GraphQLClient
) -> None:
    (p1,) = await _products(gql, "LINK-C")
    feed = await subscribed(live, gql.token or "", TASK_PRODUCTS_CHANGED)
    try:
        created = await gql.ok(CREATE_TASK, {"input": {"title": "new", "productIds": [p1]}})
        task_id = created["createTask"]["task"]["id"]
        await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"title": "renamed", "productIds": []}})
        await gql.ok(DELETE_TASK, {"id": task_id})
        events = [e["taskChanged"] for e in await feed.wait_for(3)]
        await asyncio.sleep(0.3)
    finally:
        await feed.close()
    assert len(feed.events) == 3
    assert [e["action"] for e in events] == ["CREATED", "UPDATED", "DELETED"]
    assert "products" in events[0]["changedFields"]
    assert events[1]["changedFields"] == ["products", "title"]
    assert events[2]["task"] is None


async def test_given_a_cursor_before_a_product_link_change_when_resuming_then_it_is_replayed(
    live: str, gql: GraphQLClient
) -> None:
    p1, p2 = await _products(gql, "LINK-R1", "LINK-R2")
    feed = await subscribed(live, gql.token or "", TASK_PRODUCTS_CHANGED)
    created = await gql.ok(CREATE_TASK, {"input": {"title": "resume", "productIds": [p1]}})
    task_id = created["createTask"]["task"]["id"]
    (first,) = [e["taskChanged"] for e in await feed.wait_for(1)]
    await feed.close()
    await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"productIds": [p2]}})
    await gql.ok(UPDATE_TASK, {"id": task_id, "input": {"title": "after"}})
    resumed = await subscribed(live, gql.token or "", TASK_PRODUCTS_CHANGED, after=first["cursor"])
    try:
        events = [e["taskChanged"] for e in await resumed.wait_for(2)]
        await asyncio.sleep(0.3)
    finally:
        await resumed.close()
    assert [e["changedFields"] for e in events] == [["products"], ["title"]]
    assert len(resumed.events) == 2
    assert events[1]["task"]["title"] == "after"


async def test_given_a_caller_over_its_rate_limit_when_subscribing_then_refused_and_nothing_else(
    settings: Settings, engine: AsyncEngine, superuser_id: int, gql: GraphQLClient
) -> None:
    # Each subscribe takes a request token; this app allows two a minute.
    limited = create_app(
        settings.model_copy(update={"rate_limit_requests_per_minute": 2}), engine=engine
    )
    async with serve(limited) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        async with connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            socket = Raw(ws)
            assert (await socket.init(token_for(limited, superuser_id)))["type"] == (
                "connection_ack"
            )
            for op_id in ("1", "2", "3"):
                await socket.subscribe(op_id, "subscription { productChanged { action } }")
            refused = await socket.receive()
            ended = await socket.receive()
            realtime = limited.state.realtime
            counted = (realtime.hub.subscriber_count, dict(realtime.connections.counts.by_user))
            # The two admitted ones still deliver (the mutation goes through another app).
            await gql.ok(CREATE_PRODUCT, {"sku": "RATE-1"})
            delivered = {(await socket.receive())["id"] for _ in range(2)}
    assert (refused["id"], refused["type"], ended) == ("3", "next", {"id": "3", "type": "complete"})
    (error,) = refused["payload"]["errors"]
    assert error["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert error["extensions"]["retryAfter"] >= 1
    assert counted == (2, {superuser_id: 2})
    assert delivered == {"1", "2"}


def test_given_the_redis_broker_without_a_redis_url_then_the_settings_are_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="SUBSCRIPTION_BROKER=redis needs REDIS_URL"):
        Settings(environment="test", subscription_broker="redis", _env_file=None)  # type: ignore[call-arg]
