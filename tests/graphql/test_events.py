"""The event bus on its own: per-account channels, per-render filtering, unsubscribe, and delivery
across event loops (in-process) and across connections (Redis)."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

from dxgl.config import Settings
from dxgl.events import InProcessEventBus, RedisEventBus, make_event_bus
from tests.conftest import REDIS_URL, service_missing

WAIT_S = 30  # guards against a hang only


def _redis_bus() -> RedisEventBus:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        service_missing("Redis", exc)
    return RedisEventBus(REDIS_URL)


@pytest.fixture(params=["in-process", "redis"])
async def bus(request):
    bus = InProcessEventBus() if request.param == "in-process" else _redis_bus()
    yield bus
    await bus.close()


async def _next(subscription) -> dict:
    return await asyncio.wait_for(subscription.__anext__(), WAIT_S)


async def test_subscribers_get_their_accounts_events_in_order(bus):
    a, b = uuid.uuid4().hex, uuid.uuid4().hex
    async with bus.subscribe(a) as all_of_a, bus.subscribe(a, "r1") as only_r1, bus.subscribe(b) as all_of_b:
        await bus.publish(a, {"id": "r1", "status": "pending"})
        await bus.publish(a, {"id": "r2", "status": "done"})
        await bus.publish(a, {"id": "r1", "status": "done"})
        await bus.publish(b, {"id": "rb", "status": "error"})
        assert [(await _next(all_of_a))["id"] for _ in range(3)] == ["r1", "r2", "r1"]
        assert [(await _next(only_r1))["status"] for _ in range(2)] == ["pending", "done"]
        assert (await _next(all_of_b))["id"] == "rb"  # nothing of account a came first


async def test_after_unsubscribe_a_new_subscriber_still_receives(bus):
    account = uuid.uuid4().hex
    async with bus.subscribe(account) as first:
        await bus.publish(account, {"id": "r", "status": "pending"})
        assert (await _next(first))["status"] == "pending"
    async with bus.subscribe(account) as second:
        await bus.publish(account, {"id": "r", "status": "done"})
        assert (await _next(second))["status"] == "done"


async def test_in_process_publish_from_another_thread_reaches_the_subscribers_loop():
    bus = InProcessEventBus()
    account = uuid.uuid4().hex
    async with bus.subscribe(account) as events:
        thread = threading.Thread(target=lambda: asyncio.run(bus.publish(account, {"id": "r", "status": "done"})))
        thread.start()
        thread.join()
        assert (await _next(events))["status"] == "done"


async def test_redis_events_cross_connections():
    """A worker process has its own bus (own connections); the API's subscriber hears it."""
    api, worker = _redis_bus(), RedisEventBus(REDIS_URL)
    account = uuid.uuid4().hex
    try:
        async with api.subscribe(account) as events:
            await worker.publish(account, {"id": "r", "status": "video-processing"})
            assert await _next(events) == {"id": "r", "status": "video-processing"}
    finally:
        await api.close()
        await worker.close()


def test_make_event_bus_picks_by_redis_url(tmp_path):
    assert isinstance(make_event_bus(Settings(data_dir=tmp_path, redis_url="")), InProcessEventBus)
    assert isinstance(make_event_bus(Settings(data_dir=tmp_path, redis_url=REDIS_URL)), RedisEventBus)
