"""Multiplexed delivery over a real WebSocket: equal live subscribers share one execution
per event; different grants, different variables, errors and replays do not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from websockets.asyncio.client import ClientConnection, connect

from auth.rbac import Action, Module, Principal
from graph.subscriptions import multiplex
from graph.subscriptions.context import EventScope
from tests.builders import gid
from tests.conftest import GraphQLClient
from tests.e2e.servers import serve
from tests.e2e.test_subscriptions import CREATE_TASK, TASK_CHANGED, Raw
from tests.rbac_helpers import People

TITLES = "subscription { taskChanged { cursor action task { id title } } }"
FILTERED = """
subscription($filter: TaskChangeFilter) {
  taskChanged(filter: $filter) { cursor task { title status } }
}
"""


@pytest.fixture
async def scopes(app: Any) -> list[EventScope]:
    """Every batch scope the hub hands out, to count executions."""
    realtime = app.state.realtime
    made: list[EventScope] = []

    def recording() -> EventScope:
        scope: EventScope = realtime.event_scope()
        made.append(scope)
        return scope

    realtime.hub.scope_factory = recording
    return made


@pytest.fixture
async def sockets(app: Any) -> AsyncIterator[Any]:
    """Opens initialised graphql-transport-ws connections with a token each."""
    opened: list[ClientConnection] = []
    async with serve(app) as base:
        url = base.replace("http://", "ws://") + "/graphql"

        async def open_(token: str) -> Raw:
            socket = await connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
            opened.append(socket)
            raw = Raw(socket)
            assert (await raw.init(token))["type"] == "connection_ack"
            return raw

        yield open_
        for socket in opened:
            await socket.close()


def totals(scopes: list[EventScope]) -> tuple[int, int]:
    """(events executed for a group, events sent from another subscriber's execution)."""
    return sum(s.executed for s in scopes), sum(s.reused for s in scopes)


async def test_given_four_equal_subscribers_when_a_task_is_created_then_one_execution_is_shared(
    sockets: Any, gql: GraphQLClient, scopes: list[EventScope]
) -> None:
    first, second = await sockets(gql.token), await sockets(gql.token)
    for socket, op_id in ((first, "a"), (first, "b"), (second, "a"), (second, "c")):
        await socket.subscribe(op_id, TITLES)
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "shared"}})
    messages = [await first.receive(), await first.receive()]
    messages += [await second.receive(), await second.receive()]
    assert sorted(m["id"] for m in messages[:2]) == ["a", "b"]
    assert sorted(m["id"] for m in messages[2:]) == ["a", "c"]
    payloads = [m["payload"] for m in messages]
    assert all(p == payloads[0] for p in payloads)
    assert payloads[0]["data"]["taskChanged"]["task"]["title"] == "shared"
    assert totals(scopes) == (1, 3)


async def test_given_equal_documents_and_different_grants_when_an_event_comes_then_not_shared(
    sockets: Any,
    gql: GraphQLClient,
    scopes: list[EventScope],
    app: Any,
    engine: AsyncEngine,
    password_hash: str,
) -> None:
    people = People(engine=engine, app=app, http=gql.http, password_hash=password_hash)
    reader = await people.user({"TASKS": [], "CUSTOMERS": [], "PRODUCTS": []})
    admin, viewer = await sockets(gql.token), await sockets(reader.gql.token)
    await admin.subscribe("1", TITLES)
    await viewer.subscribe("1", TITLES)
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "apart"}})
    seen = [await admin.receive(), await viewer.receive()]
    assert [m["payload"]["data"]["taskChanged"]["task"]["title"] for m in seen] == ["apart"] * 2
    # Executed apart, the result extensions still agree: they depend on the operation only,
    # which is what lets a group send one subscriber's payload to all.
    assert seen[0]["payload"]["extensions"] == seen[1]["payload"]["extensions"]
    assert totals(scopes) == (2, 0)


async def test_given_different_variables_when_an_event_comes_then_each_group_executes_once(
    sockets: Any, gql: GraphQLClient, scopes: list[EventScope]
) -> None:
    socket = await sockets(gql.token)
    await socket.subscribe("todo", FILTERED, filter={"status": ["TODO"]})
    await socket.subscribe("any", FILTERED, filter={})
    await socket.subscribe("any2", FILTERED, filter={})
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "plain"}})
    received = {(await socket.receive())["id"] for _ in range(3)}
    assert received == {"todo", "any", "any2"}
    assert totals(scopes) == (2, 1)


async def test_given_a_filter_dropping_the_event_when_equal_subscribers_then_none_receives_it(
    sockets: Any, gql: GraphQLClient, scopes: list[EventScope]
) -> None:
    socket = await sockets(gql.token)
    for op_id in ("1", "2", "3"):
        await socket.subscribe(op_id, FILTERED, filter={"status": ["DONE"]})
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "todo"}})
    await gql.ok(CREATE_TASK, {"input": {"title": "done", "status": "DONE"}})
    messages = [await socket.receive() for _ in range(3)]
    assert sorted(m["id"] for m in messages) == ["1", "2", "3"]
    assert {m["payload"]["data"]["taskChanged"]["task"]["title"] for m in messages} == {"done"}
    with pytest.raises(TimeoutError):
        await socket.receive(timeout=0.5)
    # The dropped event was executed by nobody; its others fell back and dropped it too.
    assert totals(scopes) == (2, 2)


async def test_given_equal_viewers_when_the_event_has_a_forbidden_field_then_each_own_error(
    sockets: Any,
    gql: GraphQLClient,
    scopes: list[EventScope],
    app: Any,
    engine: AsyncEngine,
    password_hash: str,
) -> None:
    people = People(engine=engine, app=app, http=gql.http, password_hash=password_hash)
    reader = await people.user({"TASKS": [], "CUSTOMERS": [], "PRODUCTS": []})
    assignee = await people.user({"USERS": []})
    first, second = await sockets(reader.gql.token), await sockets(reader.gql.token)
    await first.subscribe("1", TASK_CHANGED)
    await second.subscribe("1", TASK_CHANGED)
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "x", "assigneeId": gid("User", assignee.id)}})
    messages = [await first.receive(), await second.receive()]
    errors = [m["payload"]["errors"][0] for m in messages]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN", "FORBIDDEN"]
    assert [e["path"] for e in errors] == [["taskChanged", "task", "assignee"]] * 2
    # Each connection's own request id: the payload with errors was not shared.
    assert errors[0]["extensions"]["requestId"] != errors[1]["extensions"]["requestId"]
    assert totals(scopes) == (1, 0)


async def test_given_a_replaying_subscriber_when_it_is_live_then_it_joins_without_gap_or_repeat(
    sockets: Any, gql: GraphQLClient, scopes: list[EventScope]
) -> None:
    live = await sockets(gql.token)
    await live.subscribe("1", TITLES)
    await asyncio.sleep(0.3)
    await gql.ok(CREATE_TASK, {"input": {"title": "one"}})
    first = (await live.receive())["payload"]["data"]["taskChanged"]
    await gql.ok(CREATE_TASK, {"input": {"title": "two"}})
    await live.receive()
    late = await sockets(gql.token)
    resumed = (
        "subscription($after: String) { taskChanged(after: $after) { cursor task { title } } }"
    )
    await late.subscribe("1", resumed, after=first["cursor"])
    replayed = await late.receive()
    assert replayed["payload"]["data"]["taskChanged"]["task"]["title"] == "two"
    await asyncio.sleep(0.3)
    # Equal to `live` once live (the same document and grants, no variables besides `after`
    # would differ): share only with its own kind.
    again = await sockets(gql.token)
    await again.subscribe("1", resumed, after=first["cursor"])
    assert (await again.receive())["payload"]["data"]["taskChanged"]["task"]["title"] == "two"
    await asyncio.sleep(0.3)
    before = totals(scopes)
    await gql.ok(CREATE_TASK, {"input": {"title": "three"}})
    titles = [
        (await s.receive())["payload"]["data"]["taskChanged"]["task"]["title"]
        for s in (live, late, again)
    ]
    assert titles == ["three"] * 3
    for socket in (live, late, again):
        with pytest.raises(TimeoutError):
            await socket.receive(timeout=0.3)
    executed, reused = totals(scopes)
    # `live` alone, and `late` with `again` (equal documents and variables): two executions.
    assert (executed - before[0], reused - before[1]) == (2, 1)


def test_given_a_payload_then_the_shared_frame_is_what_the_message_serialises_to() -> None:
    payload = {"data": {"taskChanged": {"cursor": "Y3Vy", "title": 'é "x"'}}, "extensions": {}}
    sent: list[str] = []

    async def send(text: str) -> None:
        sent.append(text)

    operation = multiplex.Operation('op "1"', "subscription { x }", None, None, send)
    frame = operation.frame(orjson.dumps(payload).decode())
    message = {"id": 'op "1"', "type": "next", "payload": payload}
    assert frame == orjson.dumps(message).decode()


def test_given_requests_then_equal_keys_only_for_equal_documents_names_and_variables() -> None:
    key = multiplex.request_key
    assert key("q", {"a": 1, "b": 2}, None) == key("q", {"b": 2, "a": 1}, None)
    assert key("q", {"a": 1}, None) != key("q", {"a": 2}, None)
    assert key("q", None, "A") != key("q", None, "B")
    assert key("q", None, None) != key("r", None, None)
    assert key(None, None, None) is None
    assert key("q", {"a": object()}, None) is None


def test_given_principals_then_grants_key_ignores_identity_but_not_permissions() -> None:
    reads = frozenset({(Module.TASKS, Action.READ)})
    ann = Principal(user_id=1, email="ann@example.com", permissions=reads)
    bob = Principal(user_id=2, email="bob@example.com", permissions=reads)
    admin = Principal(user_id=3, email="root@example.com", is_superuser=True)
    assert multiplex.grants_key(ann) == multiplex.grants_key(bob)
    assert multiplex.grants_key(ann) != multiplex.grants_key(admin)


async def test_given_idle_subscriptions_then_no_unit_of_work_or_loaders_are_made_for_them(
    sockets: Any, gql: GraphQLClient, app: Any
) -> None:
    realtime = app.state.realtime
    made: list[EventScope] = []
    original = realtime.event_scope

    def recording() -> EventScope:
        scope: EventScope = original()
        made.append(scope)
        return scope

    realtime.event_scope = recording
    for _ in range(3):
        socket = await sockets(gql.token)
        await socket.subscribe("1", TITLES)
    await asyncio.sleep(0.3)
    assert made == []
    await gql.ok(CREATE_TASK, {"input": {"title": "still served"}})
    message = await socket.receive()
    assert message["payload"]["data"]["taskChanged"]["task"]["title"] == "still served"
