"""The ASGI app behind ``/graphql``: HTTP POST/GET, GraphiQL for browsers, multipart uploads and
websockets speaking graphql-transport-ws."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from dxgl.schema.context import DxglContext
from dxgl.schema.schema import schema


class DxglGraphQL(GraphQL):
    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> DxglContext:
        # The runtime is the app's lifespan state (dxgl.app), on requests and websockets alike.
        return DxglContext(
            runtime=request.state.runtime,
            authorization=request.headers.get("authorization"),
            long_lived=isinstance(request, WebSocket),
        )

    async def on_ws_connect(self, context: Any) -> None:
        # graphql-transport-ws: the token may come in the connection_init payload instead of a header
        # (browsers cannot set headers on a websocket). Authentication itself happens per operation,
        # so a bad token is answered with the documented error code, not a closed socket.
        context.accept_connection_params(context.connection_params)
        return None


def graphql_app() -> DxglGraphQL:
    return DxglGraphQL(
        schema,
        graphql_ide="graphiql",
        multipart_uploads_enabled=True,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
