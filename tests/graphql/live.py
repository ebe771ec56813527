"""A graphql-transport-ws client (``websockets``), for the servers of ``tests.live_server``."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

# Guards against a hung test only; no assertion depends on how fast anything is.
RECEIVE_TIMEOUT_S = 60


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

    async def closed_by_server(self) -> tuple[int | None, str, list[dict[str, Any]]]:
        """Wait until the server closes the socket (the wait is a hang guard only): its close code,
        its reason and every message received before the close."""
        received: list[dict[str, Any]] = []
        try:
            while True:
                received.append(json.loads(await asyncio.wait_for(self.conn.recv(), RECEIVE_TIMEOUT_S)))
        except ConnectionClosed as closed:
            frame = closed.rcvd
            return (frame.code if frame else None), (frame.reason if frame else ""), received

    async def close(self) -> None:
        await self.conn.close()


ACCOUNT_QUERY = "query { account { id } }"


async def answer(ws: GraphQLWs, op_id: str, query: str = ACCOUNT_QUERY) -> dict:
    """A query on the socket: its result (its ``complete`` message read too)."""
    await ws.subscribe(op_id, query)
    payload = await ws.next_payload(op_id)
    assert await ws.receive() == {"id": op_id, "type": "complete"}
    return payload
