"""graphql-transport-ws with the portal's session cookie, on a real uvicorn server, SQLite and
PostgreSQL: the socket must come from the public origin (else closed 4403) and send the session's
CSRF token in connection_init; it is followed like a token (signed out, idle-expired: closed 4401,
on the next operation or by the periodic re-check). A Bearer token in connection_init works as
always, whatever cookie and Origin come with it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from dxgl.config import Settings
from dxgl.tables import PortalSession
from dxgl.timeutil import utcnow
from tests.api.test_portal_auth import PUBLIC, Signed, portal_settings, sha256, signed_in
from tests.graphql.live import GraphQLWs, answer
from tests.live_server import LiveServer

pytestmark = pytest.mark.slow  # live servers and websockets

ACCOUNT = "query { account { id } }"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return portal_settings(tmp_path, database_url, ws_recheck_seconds=3600.0)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


async def _open(
    live: LiveServer, signed: Signed, *, origin: str | None = PUBLIC, payload: dict[str, Any] | None = None
) -> GraphQLWs:
    """Connect with the cookie (and ``origin``), send connection_init with ``payload`` (default: the
    CSRF token); the ack is not read."""
    conn = await connect(
        live.ws_url,
        subprotocols=["graphql-transport-ws"],
        additional_headers=signed.cookie_header,
        origin=origin,  # type: ignore[arg-type]
    )
    ws = GraphQLWs(conn)
    await ws.send({"type": "connection_init", "payload": {"csrfToken": signed.csrf} if payload is None else payload})
    return ws


async def _acked(live: LiveServer, signed: Signed, **kwargs: Any) -> GraphQLWs:
    ws = await _open(live, signed, **kwargs)
    assert (await ws.receive())["type"] == "connection_ack"
    return ws


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "https://testserver"])
async def test_a_socket_from_another_site_is_refused_at_the_handshake(service, live, origin):
    """Another origin than the Host it came to and than the public origin: refused before it is
    accepted (HTTP 403), with or without the cookie."""
    _, signed = await signed_in(service)
    with pytest.raises(InvalidStatus) as refused:
        await _open(live, signed, origin=origin)
    assert refused.value.response.status_code == 403


@pytest.mark.parametrize("origin", [None, "host"])
async def test_a_cookie_socket_not_from_the_public_origin_is_closed_4403(service, live, origin):
    """No Origin (not a browser), or the address the server was reached at but not the public
    origin: a Bearer socket would be accepted; a cookie socket is closed with 4403."""
    _, signed = await signed_in(service)
    ws = await _open(live, signed, origin=live.url if origin == "host" else None)
    try:
        code, _, received = await ws.closed_by_server()
        assert code == 4403, (code, received)
        assert not [m for m in received if m.get("type") == "connection_ack"]
    finally:
        await ws.close()


async def test_right_origin_and_csrf_token_authenticate_the_socket(service, live):
    acct, signed = await signed_in(service)
    ws = await _acked(live, signed)
    try:
        assert (await answer(ws, "q"))["data"]["account"]["id"] == acct.id
    finally:
        await ws.close()


async def test_without_the_csrf_token_operations_are_unauthorized(service, live):
    _, signed = await signed_in(service)
    for payload in ({}, {"csrfToken": "forged"}):
        ws = await _acked(live, signed, payload=payload)
        try:
            result = await answer(ws, "q")
            assert [e["extensions"]["code"] for e in result["errors"]] == ["unauthorized"], result
        finally:
            await ws.close()


async def test_signing_out_closes_the_socket_4401_on_its_next_operation(service, live):
    acct, signed = await signed_in(service)
    ws = await _acked(live, signed)
    try:
        assert (await answer(ws, "q"))["data"]["account"]["id"] == acct.id
        assert (await service.client.post("/auth/signout", headers=signed.headers())).status_code == 204
        await ws.subscribe("after", ACCOUNT)
        code, reason, received = await ws.closed_by_server()
        assert code == 4401, (code, reason)
        assert not [m for m in received if m.get("id") == "after"], received
    finally:
        await ws.close()


async def test_the_periodic_recheck_closes_signed_out_and_idle_sessions(service, live, settings):
    settings.ws_recheck_seconds = 0.2
    _, out = await signed_in(service)
    _, idle = await signed_in(service)
    kept_acct, kept = await signed_in(service)
    sockets = {name: await _acked(live, s) for name, s in (("out", out), ("idle", idle), ("kept", kept))}
    try:
        assert (await service.client.post("/auth/signout", headers=out.headers())).status_code == 204
        async with service.runtime.unit_of_work() as session:
            await session.execute(
                update(PortalSession)
                .where(PortalSession.token_hash == sha256(idle.cookie))
                .values(last_seen_at=utcnow() - timedelta(seconds=settings.session_idle_seconds + 1))
            )
        # Nothing is sent on these sockets: the server's own re-check closes them.
        assert (await sockets["out"].closed_by_server())[0] == 4401
        assert (await sockets["idle"].closed_by_server())[0] == 4401
        assert (await answer(sockets["kept"], "q"))["data"]["account"]["id"] == kept_acct.id
    finally:
        for ws in sockets.values():
            await ws.close()
        await asyncio.sleep(0)


async def test_a_bearer_token_in_connection_init_wins_over_the_cookie(service, live):
    holder = await service.account()
    _, signed = await signed_in(service)
    for origin in (None, live.url):  # not from the public origin: no matter for a token
        ws = await _acked(live, signed, origin=origin, payload={"Authorization": f"Bearer {holder.token}"})
        try:
            assert (await answer(ws, "q"))["data"]["account"]["id"] == holder.id
        finally:
            await ws.close()
