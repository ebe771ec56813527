"""An open graphql-transport-ws socket follows its credentials: revoking its token (or letting it
expire) closes it with 4401, suspending its account with 4403; checked before every operation and
every ws_recheck_seconds. An operation sent after the revocation is not run. Real uvicorn server,
real database, the real CLI; the waits are hang guards only."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from dxgl.config import Settings
from dxgl.services import accounts, auth
from dxgl.tables import ApiToken, Render
from dxgl.timeutil import utcnow
from tests.graphql.live import GraphQLWs, answer
from tests.graphql.test_limits import NESTED_16
from tests.live_server import LiveServer, clean_env

pytestmark = pytest.mark.slow  # live servers, CLI processes and websockets: not in the quick subset

RENDER_UPDATES = "subscription { renderUpdates { id status } }"
CREATE = "mutation($m: ID) { createRender(modelId: $m) { id } }"
ACCOUNT = "query { account { id } }"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # Only the per-operation check, unless a test shortens the period (before opening its socket).
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url="",
        run_renders_in_process=False,
        ws_recheck_seconds=3600.0,
    )


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


def _cli(settings: Settings, *args: str) -> str:
    env = clean_env(DXGL_DATA_DIR=str(settings.data_dir), DXGL_DATABASE_URL=settings.database_url)
    result = subprocess.run(
        [sys.executable, "-m", "dxgl.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


async def _model(acct, duck) -> str:
    response = await acct.upload(duck)
    assert response.status_code == 201, response.text
    return response.json()["data"]["modelId"]


async def _renders(service, account_id: str) -> int:
    async with service.runtime.unit_of_work() as session:
        return (
            await session.execute(select(func.count()).select_from(Render).where(Render.account_id == account_id))
        ).scalar_one()


async def _watching(live: LiveServer, token: str, *, renders: int = 0) -> GraphQLWs:
    """A socket with a live renderUpdates subscription (the current state of the account's
    ``renders`` renders received) that has answered a query."""
    ws = await GraphQLWs.open(live.ws_url, token=token)
    await ws.subscribe("watch", RENDER_UPDATES)
    for _ in range(renders):
        assert "data" in await ws.next_payload("watch")
    assert "data" in await answer(ws, "hello")
    return ws


async def test_revoking_the_token_closes_the_socket_and_a_mutation_after_it_creates_nothing(
    service, live, settings, duck
):
    acct = await service.account(credits=5)
    model_id = await _model(acct, duck)
    other = await service.account(credits=5)
    ws = await _watching(live, acct.token, renders=1)
    ws_other = await _watching(live, other.token)
    try:
        out = await asyncio.to_thread(_cli, settings, "tokens", "revoke", acct.token[:16])
        assert "revoked 1 token" in out
        await ws.subscribe("m", CREATE, {"m": model_id})
        code, reason, received = await ws.closed_by_server()
        assert code == 4401, (code, reason, received)
        assert "revoked" in reason
        assert not [m for m in received if m.get("id") == "m"], received
        assert await _renders(service, acct.id) == 1  # the upload's render only
        # Another account's socket is not affected.
        assert (await answer(ws_other, "still"))["data"]["account"]["id"] == other.id
    finally:
        await ws.close()
        await ws_other.close()


async def test_suspending_the_account_closes_the_socket_with_4403(service, live, settings, duck):
    acct = await service.account(credits=5)
    model_id = await _model(acct, duck)
    ws = await _watching(live, acct.token, renders=1)
    try:
        await asyncio.to_thread(_cli, settings, "accounts", "suspend", "--email", acct.email)
        await ws.subscribe("m", CREATE, {"m": model_id})
        code, reason, received = await ws.closed_by_server()
        assert code == 4403, (code, reason, received)
        assert "suspended" in reason
        assert not [m for m in received if m.get("id") == "m"], received
        assert await _renders(service, acct.id) == 1
    finally:
        await ws.close()


async def test_an_idle_socket_is_closed_by_the_periodic_recheck(service, live, settings):
    settings.ws_recheck_seconds = 0.2
    revoked = await service.account()
    suspended = await service.account()
    kept = await service.account()
    sockets = {name: await _watching(live, a.token) for name, a in (("r", revoked), ("s", suspended), ("k", kept))}
    try:
        async with service.runtime.unit_of_work() as session:
            await auth.revoke_tokens(session, prefix=revoked.token)
            await accounts.set_status(
                session, account=await accounts.get_by_email(session, suspended.email), status="suspended"
            )
        # Nothing is sent on these sockets: the server's own re-check closes them.
        assert (await sockets["r"].closed_by_server())[0] == 4401
        assert (await sockets["s"].closed_by_server())[0] == 4403
        assert (await answer(sockets["k"], "q"))["data"]["account"]["id"] == kept.id
    finally:
        for ws in sockets.values():
            await ws.close()


async def test_an_expired_token_closes_the_socket_with_4401(service, live):
    acct = await service.account()
    ws = await _watching(live, acct.token)
    try:
        async with service.runtime.unit_of_work() as session:
            await session.execute(
                update(ApiToken)
                .where(ApiToken.account_id == acct.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        await ws.subscribe("q", ACCOUNT)
        code, reason, received = await ws.closed_by_server()
        assert code == 4401 and "expired" in reason, (code, reason)
        assert not [m for m in received if m.get("id") == "q"], received
    finally:
        await ws.close()


async def test_operation_limits_apply_over_the_websocket(service, live):
    acct = await service.account()
    ws = await GraphQLWs.open(live.ws_url, token=acct.token)
    try:
        await ws.subscribe("deep", NESTED_16)
        errors = (await ws.next_payload("deep"))["errors"]
        assert {e["extensions"]["code"] for e in errors} == {"query_too_complex"}
        assert (await answer(ws, "q"))["data"]["account"]["id"] == acct.id  # the socket stays open
    finally:
        await ws.close()
