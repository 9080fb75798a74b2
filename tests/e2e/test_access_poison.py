"""Issue 10, defect 1: a request whose text the database cannot store costs no one else.

Poisoned requests need no token. They carry a lone surrogate or a NUL byte, text that
SQLite cannot encode and PostgreSQL refuses: in their operation name or variables (which
the HTTP edge may refuse), or in the client address the server hands the app (which no
edge sees). Sent among normal requests at once, their records share group-committed
batches with the normal ones; every request must still have its record, stored as clean
text, whatever the poisoned ones were answered. Raw bodies are bytes: a lone surrogate
is not valid UTF-8 as text.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import orjson
import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from config.settings import Settings
from graph.app import create_app
from persistence.models import AccessLogModel

access_t = cast(Table, AccessLogModel.__table__)
NORMAL = b'{"query":"query A { __typename }"}'
POISONED_BODIES = [
    b'{"query":"query A { __typename }","operationName":"\\ud800"}',
    b'{"query":"query A { __typename }","operationName":"A\\u0000"}',
    b'{"query":"query A($s: String) { __typename }","variables":{"s":"x\\udfffy\\u0000"}}',
    b'{"query":"query A($s: String) { __typename }","variables":{"\\ud800":"x\\u0000"}}',
]
POISONED_ADDRESS = ("10.0.0.1\ud800\x00" + "9" * 80, 4711)
PATIENCE = 60.0  # seconds for the whole burst; longer means the requests hang


@dataclass
class Clients:
    """Two clients of one app: one from a normal address, one from a poisoned one."""

    normal: httpx.AsyncClient
    poisoned: httpx.AsyncClient


@pytest.fixture
async def clients(settings: Settings, engine: AsyncEngine) -> AsyncIterator[Clients]:
    """The real app with variable logging on, so poisoned variables reach the record too."""
    app = create_app(settings.model_copy(update={"audit_log_variables": True}), engine=engine)
    normal = httpx.ASGITransport(app=app)
    poisoned = httpx.ASGITransport(app=app, client=POISONED_ADDRESS)
    async with (
        httpx.AsyncClient(transport=normal, base_url="http://testserver") as normal_http,
        httpx.AsyncClient(transport=poisoned, base_url="http://testserver") as poisoned_http,
    ):
        yield Clients(normal_http, poisoned_http)


async def post(http: httpx.AsyncClient, body: bytes, request_id: str) -> int:
    """POST a raw JSON body to /graphql as request `request_id`; the status it got."""
    headers = {"content-type": "application/json", "x-request-id": request_id}
    response = await http.post("/graphql", content=body, headers=headers)
    return response.status_code


async def stored(engine: AsyncEngine) -> dict[str, list[dict[str, Any]]]:
    """The access records, by request id."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(access_t))).mappings().all()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["request_id"], []).append(dict(row))
    return by_id


def is_clean(value: Any) -> bool:
    """Whether a stored value holds no NUL and no lone surrogate, in any text or JSON."""
    try:
        return b"\\u0000" not in orjson.dumps(value, default=str)
    except TypeError:  # orjson refuses lone surrogates
        return False


async def test_given_poisoned_requests_among_normal_ones_when_sent_at_once_then_all_recorded(
    clients: Clients, engine: AsyncEngine
) -> None:
    # Given 200 normal requests with 25 poisoned ones spread among them.
    sends: list[tuple[httpx.AsyncClient, bytes, str]] = []
    for n in range(200):
        sends.append((clients.normal, NORMAL, f"normal-{n}"))
        if n % 8 == 3:
            body = POISONED_BODIES[n // 8 % len(POISONED_BODIES)]
            sends.append((clients.normal, body, f"poisoned-body-{n}"))
        if n % 8 == 7:
            sends.append((clients.poisoned, NORMAL, f"poisoned-address-{n}"))

    # When they are all sent at once.
    statuses = await asyncio.wait_for(
        asyncio.gather(*(post(http, body, rid) for http, body, rid in sends)), PATIENCE
    )

    # Then every request, normal or poisoned, has exactly one record, of clean text only.
    normal_ids = [rid for _, _, rid in sends if rid.startswith("normal-")]
    status_of = {rid: status for (_, _, rid), status in zip(sends, statuses, strict=True)}
    assert all(status_of[rid] == 200 for rid in normal_ids)
    records = await stored(engine)
    missing = [rid for _, _, rid in sends if rid not in records]
    assert missing == [], f"{len(missing)} of {len(sends)} records lost: {missing[:10]}"
    assert all(len(records[rid]) == 1 for _, _, rid in sends)
    assert all(records[rid][0]["operation_name"] == "A" for rid in normal_ids)
    unclean = [rid for rid, [record] in records.items() if not is_clean(record)]
    assert unclean == []
    # The poisoned address is kept as escaped text, cut to its column.
    address = records["poisoned-address-7"][0]["ip"]
    assert address.startswith("10.0.0.1\\ud800\\x00999")
    assert len(address) == 64
