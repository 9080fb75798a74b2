"""The GraphQL router with WebSocket subscriptions: graphql-transport-ws only.

The legacy `graphql-ws` subprotocol is not offered, so a client asking only for it is
closed with 4406: Strawberry up to 0.312.3 let that protocol skip `connection_init` and
its authentication hook (CVE-2026-35523). `connection_init` must carry
`{"Authorization": "Bearer <access token>"}`; otherwise the socket closes with 4403.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import timedelta
from typing import Any

import orjson
from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http.exceptions import (
    NonJsonMessageReceived,
    NonTextMessageReceived,
    WebSocketDisconnected,
)
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from domain.errors import Unauthenticated
from graph.http import JSONGraphQLRouter
from graph.subscriptions.connection import Realtime
from graph.subscriptions.context import SubscriptionContext

REFUSED: dict[str, object] = {
    "message": "Authentication required: a valid 'Bearer <access token>'."
}


def bearer_token(params: Any) -> str | None:
    """The token of `{"Authorization": "Bearer <token>"}` (any case of the key), if any."""
    if not isinstance(params, dict):
        return None
    header = next(
        (value for key, value in params.items() if str(key).lower() == "authorization"), None
    )
    if not isinstance(header, str):
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class TextWebSocketAdapter(ASGIWebSocketAdapter):
    """Messages as text frames (the protocol's), with orjson; bad JSON closes with 4400."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        """Each text frame, parsed."""
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                try:
                    yield orjson.loads(text)
                except orjson.JSONDecodeError as error:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from error
        except KeyError as error:
            raise NonTextMessageReceived from error
        except WebSocketDisconnect:
            pass

    async def send_json(self, message: Mapping[str, object]) -> None:
        """One text frame."""
        try:
            await self.ws.send_text(orjson.dumps(message).decode())
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class RealtimeGraphQLRouter(JSONGraphQLRouter):
    """`JSONGraphQLRouter` that authenticates WebSocket connections at `connection_init`."""

    websocket_adapter_class = TextWebSocketAdapter

    def __init__(self, *args: Any, realtime: Realtime, **kwargs: Any) -> None:
        settings = realtime.settings
        super().__init__(
            *args,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            connection_init_wait_timeout=timedelta(
                seconds=settings.subscription_connection_init_seconds
            ),
            # Counted by `Connections.open`, with a coded TOO_MANY_REQUESTS error.
            max_subscriptions_per_connection=None,
            **kwargs,
        )
        self.realtime = realtime

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        """Authenticate the connection with the token in the `connection_init` payload."""
        if not isinstance(context, SubscriptionContext):
            raise ConnectionRejectionError(REFUSED)
        token = bearer_token(context.connection_params)
        if token is None:
            raise ConnectionRejectionError(REFUSED)
        try:
            principal = await self.realtime.connections.authenticate(token)
        except Unauthenticated:
            raise ConnectionRejectionError(REFUSED) from None
        await self.realtime.start()
        self.realtime.connections.admit(context.state, principal, token)
        unset: UnsetType = UNSET
        return unset
