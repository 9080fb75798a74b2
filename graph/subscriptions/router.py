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
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    Operation as StrawberryOperation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message
from strawberry.types.unset import UNSET, UnsetType

from domain.errors import Unauthenticated
from graph.http import JSONGraphQLRouter
from graph.subscriptions import multiplex
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
        await self.send_text(orjson.dumps(message).decode())

    async def send_text(self, text: str) -> None:
        """One text frame, already serialised."""
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error


class MultiplexingHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """graphql-transport-ws whose subscriptions share executions (graph.subscriptions.multiplex).

    Each operation's task knows its operation (to send frames shared by another subscriber),
    and a `next` message it sends for its group is serialised once, for all of them.
    """

    async def run_operation(self, operation: StrawberryOperation[Any, Any]) -> None:
        """Run `operation` in its own task, which remembers which operation it is."""
        websocket = self.websocket
        if isinstance(websocket, TextWebSocketAdapter):
            multiplex.start_operation(
                multiplex.Operation(
                    operation.id,
                    operation.query,
                    operation.variables,
                    operation.operation_name,
                    websocket.send_text,
                )
            )
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        """Send `message`; a payload this task executes for its group is kept for the group."""
        frame = multiplex.fill(message)
        if frame is not None and isinstance(self.websocket, TextWebSocketAdapter):
            await self.websocket.send_text(frame)
            return
        await super().send_message(message)


class RealtimeGraphQLRouter(JSONGraphQLRouter):
    """`JSONGraphQLRouter` that authenticates WebSocket connections at `connection_init`."""

    websocket_adapter_class = TextWebSocketAdapter
    graphql_transport_ws_handler_class = MultiplexingHandler

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
