"""Live render status over a real websocket (graphql-transport-ws) against a real uvicorn server:
SQLite with the in-process bus, PostgreSQL with Redis pub/sub. Events are published through the bus
directly (as the render worker will), after the subscriber has received the current state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dxgl.config import Settings
from dxgl.events import EventBus, RedisEventBus
from tests.conftest import REDIS_URL, service_missing
from tests.graphql.conftest import status_name
from tests.graphql.live import GraphQLWs
from tests.live_server import LiveServer

RENDER_UPDATED = "subscription($id: ID!) { renderUpdated(id: $id) { id modelId status errorMessage updatedAt } }"
RENDER_UPDATES = "subscription { renderUpdates { id modelId status updatedAt } }"
PROGRESS = ["poster-processing", "poster-done", "video-processing", "done"]


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """PostgreSQL pairs with Redis (production shape), SQLite with in-process events (embedded)."""
    redis_url = ""
    if database_url.startswith("postgresql"):
        import redis

        try:
            redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        except Exception as exc:
            service_missing("Redis", exc)
        redis_url = REDIS_URL
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url)


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(settings) as server:
        yield server


@pytest.fixture
async def publisher(live: LiveServer, settings: Settings) -> AsyncIterator[EventBus]:
    """Where events come from: the server's own in-process bus, or (Redis) a separate bus, as a
    worker process would have."""
    if settings.redis_url:
        bus = RedisEventBus(settings.redis_url)
        yield bus
        await bus.close()
    else:
        yield live.runtime.events


async def _render_of_new_model(acct, path: Path) -> dict[str, Any]:
    response = await acct.upload(path)
    assert response.status_code == 201, response.text
    render_id = response.json()["data"]["renderId"]
    return (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]


def _event(render: dict[str, Any], status: str, step: int, **changes: Any) -> dict[str, Any]:
    """The render as the worker would publish it after a transition (updatedAt moves ``step`` s on)."""
    return {**render, "status": status, "updatedAt": _later(render["updatedAt"], step), **changes}


def _later(iso: str, seconds: int) -> str:
    moment = datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ") + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def test_render_updated_sends_current_state_then_each_change(service, live, publisher, duck, assets):
    acct = await service.account(credits=5)
    render = await _render_of_new_model(acct, duck)
    sibling = await _render_of_new_model(acct, assets / "BoxTextured.glb")
    ws = await GraphQLWs.open(live.ws_url, token=acct.token)
    try:
        await ws.subscribe("1", RENDER_UPDATED, {"id": render["id"]})
        first = await ws.next_payload("1")
        assert first["data"]["renderUpdated"]["status"] == "PENDING"  # the current state, from the database
        assert first["data"]["renderUpdated"]["id"] == render["id"]

        # Another render of the same account, a repeat and a stale event: none of them is sent.
        await publisher.publish(acct.id, _event(sibling, "done", 5))
        for step, status in enumerate(PROGRESS[:2], start=1):
            await publisher.publish(acct.id, _event(render, status, step))
        await publisher.publish(acct.id, _event(render, PROGRESS[1], 2))
        await publisher.publish(acct.id, _event(render, "pending", 0))
        await publisher.publish(acct.id, _event(render, PROGRESS[2], 3))
        await publisher.publish(acct.id, _event(render, "error", 4, errorMessage="GPU fell over"))

        received = [(await ws.next_payload("1"))["data"]["renderUpdated"] for _ in range(4)]
        assert [r["status"] for r in received] == [status_name(s) for s in PROGRESS[:3] + ["error"]]
        assert {r["id"] for r in received} == {render["id"]}
        assert received[-1]["errorMessage"] == "GPU fell over"
    finally:
        await ws.close()


async def test_render_updates_are_filtered_to_the_callers_account(service, live, publisher, duck, assets):
    a = await service.account(credits=5)
    b = await service.account(credits=5)
    render_a = await _render_of_new_model(a, duck)
    render_b = await _render_of_new_model(b, assets / "BoxTextured.glb")
    ws_a = await GraphQLWs.open(live.ws_url, token=a.token)
    # B authenticates with the upgrade request's header instead of the connection_init payload.
    ws_b = await GraphQLWs.open(live.ws_url, header_token=b.token)
    try:
        await ws_a.subscribe("a", RENDER_UPDATES)
        await ws_b.subscribe("b", RENDER_UPDATES)
        assert (await ws_a.next_payload("a"))["data"]["renderUpdates"]["id"] == render_a["id"]
        assert (await ws_b.next_payload("b"))["data"]["renderUpdates"]["id"] == render_b["id"]

        for step, status in enumerate(PROGRESS, start=1):
            await publisher.publish(a.id, _event(render_a, status, step))
        await publisher.publish(b.id, _event(render_b, "error", 1))

        seen_a = [(await ws_a.next_payload("a"))["data"]["renderUpdates"] for _ in PROGRESS]
        assert [(r["id"], r["status"]) for r in seen_a] == [(render_a["id"], status_name(s)) for s in PROGRESS]
        # B's next message is its own event: none of A's four was delivered before it.
        only_b = (await ws_b.next_payload("b"))["data"]["renderUpdates"]
        assert (only_b["id"], only_b["status"]) == (render_b["id"], "ERROR")
        # And A never got B's: A's next message is A's next event.
        await publisher.publish(a.id, _event(render_a, "failed", 9))
        assert (await ws_a.next_payload("a"))["data"]["renderUpdates"]["status"] == "FAILED"
    finally:
        await ws_a.close()
        await ws_b.close()


async def _subscription_error_codes(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> list[str]:
    """Open a connection, subscribe once, and return the codes of the errors it answers with."""
    ws = await GraphQLWs.open(url, token=token)
    try:
        await ws.subscribe("s", query, variables)
        return [e["extensions"]["code"] for e in (await ws.next_payload("s"))["errors"]]
    finally:
        await ws.close()


async def test_subscription_errors_use_the_rest_codes(service, live, duck):
    a = await service.account(credits=5)
    b = await service.account(credits=5)
    render_a = await _render_of_new_model(a, duck)
    others = await _subscription_error_codes(live.ws_url, RENDER_UPDATED, {"id": render_a["id"]}, token=b.token)
    assert others == ["render_not_found"]
    assert await _subscription_error_codes(live.ws_url, RENDER_UPDATES) == ["unauthorized"]  # anonymous
    models_only = await service.account(scopes="models:read")
    assert await _subscription_error_codes(live.ws_url, RENDER_UPDATES, token=models_only.token) == [
        "insufficient_scope"
    ]


async def test_queries_and_mutations_work_over_the_websocket_too(service, live, duck):
    acct = await service.account(credits=5)
    render = await _render_of_new_model(acct, duck)
    ws = await GraphQLWs.open(live.ws_url, token=acct.token)
    try:
        await ws.subscribe("q", "query($id: ID!) { render(id: $id) { id status model { id } } }", {"id": render["id"]})
        payload = await ws.next_payload("q")
        assert payload["data"]["render"] == {
            "id": render["id"],
            "status": "PENDING",
            "model": {"id": render["modelId"]},
        }
    finally:
        await ws.close()
