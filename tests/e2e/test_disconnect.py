"""A client that hangs up before its body arrives is not an error of ours."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.http import CLIENT_CLOSED_REQUEST
from persistence.models import AccessLogModel


async def test_given_client_disconnects_mid_body_when_posting_then_no_exception_and_499_logged(
    app: Any, engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # Given a POST whose body never completes: the client disconnects after the headers.
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages = [{"type": "http.request", "body": b'{"query": "{ me', "more_body": True}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    # When the app handles it
    await app(scope, receive, send)

    # Then it answers quietly (nobody reads it) and records the request as closed by the client.
    start = next(m for m in sent if m["type"] == "http.response.start")
    assert start["status"] == CLIENT_CLOSED_REQUEST
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    closed = select(func.count()).where(AccessLogModel.status_code == CLIENT_CLOSED_REQUEST)
    async with engine.connect() as conn:
        assert (await conn.execute(closed)).scalar_one() == 1
