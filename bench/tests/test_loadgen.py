"""The benchmark's Python load generator against a tiny Starlette app served in-process on
127.0.0.1: bounded by count and time, counting error answers, in closed and open loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.loadgen import Target, closed_loop, encode_request, open_loop


async def _answer(request: Request) -> Response:
    body = await request.body()
    if b"fail" in body:
        return JSONResponse({"errors": [{"message": "no"}]})
    if b"teapot" in body:
        return JSONResponse({"data": None}, status_code=418)
    return JSONResponse({"data": {"echo": len(body)}})


@pytest.fixture
async def target() -> AsyncIterator[Target]:
    """A Starlette app on a free loopback port for the length of one test."""
    app = Starlette(routes=[Route("/graphql", _answer, methods=["POST"])])
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    for _ in range(500):  # at most 5 s
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield Target("127.0.0.1", listener.getsockname()[1])
    server.should_exit = True
    await serving
    listener.close()


async def test_given_a_request_budget_when_loading_then_it_stops_at_that_count(
    target: Target,
) -> None:
    requests = [encode_request(target, b'{"query":"{ a }"}', {"X-Test": "1"})]
    result = await closed_loop(target, requests, concurrency=3, duration_s=5.0, max_requests=40)
    assert result.requests == 40
    assert result.errors == 0
    assert result.body_bytes > 0
    assert result.elapsed_s < 5.0


async def test_given_a_short_duration_when_loading_then_it_stops_in_time(target: Target) -> None:
    requests = [encode_request(target, b'{"query":"{ a }"}')]
    result = await closed_loop(target, requests, concurrency=2, duration_s=0.2)
    assert result.requests > 0
    assert result.elapsed_s < 1.0


async def test_given_error_answers_when_loading_then_each_kind_is_counted(target: Target) -> None:
    requests = [
        encode_request(target, b'{"query":"ok"}'),
        encode_request(target, b'{"query":"fail"}'),
        encode_request(target, b'{"query":"teapot"}'),
    ]
    result = await closed_loop(target, requests, concurrency=1, duration_s=5.0, max_requests=6)
    assert (result.requests, result.graphql_errors, result.http_errors) == (6, 2, 2)
    assert result.first_failure is not None


async def test_given_an_arrival_rate_when_loading_open_loop_then_it_sends_that_many(
    target: Target,
) -> None:
    requests = [encode_request(target, b'{"query":"{ a }"}')]
    result = await open_loop(target, requests, rate_per_s=200.0, duration_s=0.25, connections=4)
    assert result.requests == 50
    assert result.errors == 0
    assert 0.2 < result.elapsed_s < 2.0
