"""WebSockets to /graphql are served by `GraphQLSocketEndpoint` (graph/endpoint.py), not by
FastAPI's WebSocket route: they work without that route, and a socket to any other path is
refused as FastAPI's router refused it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.routing import Match
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.e2e.servers import serve


async def test_given_no_fastapi_websocket_route_when_a_client_connects_then_it_is_served(
    app: Any, gql: Any
) -> None:
    before = len(app.router.routes)
    # Given: FastAPI's router can no longer route a WebSocket to the GraphQL view (GET and
    # POST do not use its routes either: `GraphQLEndpoint`).
    socket_scope = {"type": "websocket", "path": "/graphql", "root_path": "", "headers": []}
    app.router.routes[:] = [
        route for route in app.router.routes if route.matches(dict(socket_scope))[0] == Match.NONE
    ]
    assert len(app.router.routes) < before
    async with serve(app) as base:
        url = base.replace("http://", "ws://") + "/graphql"
        # When: a client opens a graphql-transport-ws connection and authenticates.
        async with connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
            payload = {"Authorization": f"Bearer {gql.token}"}
            await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
            answer = json.loads(await socket.recv())
            # Then: the dispatcher negotiated the subprotocol and the view acknowledged.
            assert socket.subprotocol == "graphql-transport-ws"
            assert answer["type"] == "connection_ack"


@pytest.mark.parametrize("path", ["/graphql/", "/other", "/healthz"])
async def test_given_a_websocket_to_another_path_when_connecting_then_refused(
    app: Any, path: str
) -> None:
    async with serve(app) as base:
        url = base.replace("http://", "ws://") + path
        # When a client opens a socket there, then the handshake is refused with 403.
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, subprotocols=["graphql-transport-ws"]):  # type: ignore[list-item]
                pass
        assert refused.value.response.status_code == 403
