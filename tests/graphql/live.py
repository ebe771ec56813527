"""A real uvicorn server in a background thread, and a graphql-transport-ws client (``websockets``)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from typing import Any

import uvicorn
from websockets.asyncio.client import ClientConnection, connect

from dxgl.app import create_app
from dxgl.config import Settings
from dxgl.runtime import Runtime

# Guards against a hung test only; no assertion depends on how fast anything is.
RECEIVE_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """``create_app(settings)`` served by uvicorn on 127.0.0.1, with its own event loop and lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.port = _free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            ws="websockets-sansio",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="dxgl-live-server", daemon=True)

    def start(self) -> None:
        self.thread.start()
        for _ in range(600):
            if self.server.started or not self.thread.is_alive():
                break
            threading.Event().wait(0.1)
        assert self.server.started, "uvicorn did not start"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=60)

    @property
    def runtime(self) -> Runtime:
        return self.server.lifespan.state["runtime"]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/graphql"


class GraphQLWs:
    """The client side of graphql-transport-ws, just enough for tests."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn

    @classmethod
    async def open(cls, url: str, *, token: str | None = None, header_token: str | None = None) -> GraphQLWs:
        headers = {"Authorization": f"Bearer {header_token}"} if header_token else None
        conn = await connect(url, subprotocols=["graphql-transport-ws"], additional_headers=headers)
        client = cls(conn)
        payload = {"Authorization": f"Bearer {token}"} if token else {}
        await client.send({"type": "connection_init", "payload": payload})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.conn.send(json.dumps(message))

    async def receive(self) -> dict[str, Any]:
        while True:
            message = json.loads(await asyncio.wait_for(self.conn.recv(), RECEIVE_TIMEOUT_S))
            if message["type"] == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, op_id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        await self.send({"id": op_id, "type": "subscribe", "payload": {"query": query, "variables": variables or {}}})

    async def next_payload(self, op_id: str) -> dict[str, Any]:
        """The next result of ``op_id``: {"data": ...} or {"errors": [...]} (from next or error)."""
        message = await self.receive()
        assert message.get("id") == op_id, message
        if message["type"] == "error":
            return {"errors": message["payload"]}
        assert message["type"] == "next", message
        return message["payload"]

    async def close(self) -> None:
        await self.conn.close()
