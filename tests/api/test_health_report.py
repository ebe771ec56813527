"""/v1/health reports the queue (its kind and depth) and whether a worker was seen recently, on the
embedded default and on Redis with a real worker start-up hook (platform probe + heartbeat)."""

from __future__ import annotations

import json

import pytest

from dxgl.config import Settings
from dxgl.jobs import capacity
from dxgl.runtime import Runtime
from dxgl.services import health
from tests.api.helpers import assert_error, minimal_glb
from tests.conftest import REDIS_URL, Service, service_missing
from tests.conftest import running_service as running

HEALTH_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/12"


async def _flushed_redis() -> None:
    import redis.asyncio as redis

    client = redis.from_url(HEALTH_REDIS)
    try:
        await client.flushdb()
    except Exception as exc:
        service_missing("Redis", exc)
    finally:
        await client.aclose()


async def test_embedded_health_counts_pending_renders_and_no_runner_means_no_worker(settings):
    async with running(settings) as service:
        await _embedded_checks(service)


async def _embedded_checks(service: Service) -> None:
    body = (await service.client.get("/v1/health")).json()["data"]
    assert body["queue"]["kind"] == "embedded"
    before = body["queue"]["depth"]  # PostgreSQL's database is shared by the whole test session
    # The API tests keep the in-process runner off: nothing renders, and health says so.
    assert body["workers"] == {"seen": False, "count": 0, "lastSeenSecondsAgo": None}
    acct = await service.account(credits=5)
    assert (await acct.upload(minimal_glb(b"h"))).status_code == 201
    body = (await service.client.get("/v1/health")).json()["data"]
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["queue"]["depth"] == before + 1


async def test_embedded_runner_counts_as_the_worker(tmp_path):
    async with running(Settings(data_dir=tmp_path / "data", run_renders_in_process=True)) as service:
        body = (await service.client.get("/v1/health")).json()["data"]
    assert body["workers"]["seen"] is True and body["workers"]["count"] == 1


@pytest.fixture
async def redis_settings(tmp_path, database_url) -> Settings:
    await _flushed_redis()
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, redis_url=HEALTH_REDIS, worker_heartbeat_seconds=30
    )


async def test_a_worker_is_seen_after_its_start_hook_and_gone_after_its_stop_hook(redis_settings, tmp_path):
    async with running(redis_settings) as service:
        await _worker_checks(service, redis_settings, tmp_path)


async def _worker_checks(service: Service, settings: Settings, tmp_path) -> None:
    before = (await service.client.get("/v1/health")).json()["data"]
    assert before["queue"]["kind"] == "redis" and isinstance(before["queue"]["depth"], int)
    assert before["workers"]["seen"] is False
    # The worker's own start-up: a Runtime of its own, the real platform probe (a spawned child with
    # a GL context) and the heartbeat to the same Redis.
    worker_rt = await Runtime.start(settings.model_copy(update={"data_dir": tmp_path / "worker"}), migrate=False)
    ctx = {"runtime": worker_rt}
    try:
        await capacity.on_worker_start(ctx)
        assert ctx["dxgl_platform"]["gl"]["renderer"] != "?"
        seen = (await service.client.get("/v1/health")).json()["data"]["workers"]
        assert seen["seen"] is True and seen["count"] == 1
        assert 0 <= seen["lastSeenSecondsAgo"] <= settings.worker_heartbeat_seconds
        known = await health.workers_from_redis(service.runtime.queue.pool, settings.worker_heartbeat_seconds)
        assert known.known[0].info["kind"] == "cpu" and known.known[0].info["concurrency"] == 1
    finally:
        await capacity.on_worker_stop(ctx)
        await worker_rt.close()
    after = (await service.client.get("/v1/health")).json()["data"]["workers"]
    assert after["seen"] is False


async def test_an_old_heartbeat_is_not_seen(redis_settings):
    async with running(redis_settings) as service:
        await _old_heartbeat_checks(service)


async def _old_heartbeat_checks(service: Service) -> None:
    pool = service.runtime.queue.pool
    now = await health.redis_now(pool)

    await pool.hset(health.WORKERS_KEY, "old-worker", json.dumps({"kind": "cpu", "beat": now - 31}))
    workers = (await service.client.get("/v1/health")).json()["data"]["workers"]
    assert workers["seen"] is False and workers["lastSeenSecondsAgo"] >= 31
    # Long gone (past FORGET_AFTER_WINDOWS windows): dropped from the hash when read.
    await pool.hset(health.WORKERS_KEY, "old-worker", json.dumps({"kind": "cpu", "beat": now - 30 * 61}))
    assert (await service.client.get("/v1/health")).json()["data"]["workers"]["lastSeenSecondsAgo"] is None
    assert not await pool.hexists(health.WORKERS_KEY, "old-worker")


async def test_health_is_503_when_redis_is_unreachable(redis_settings):
    import redis.asyncio as redis

    async with running(redis_settings) as service:
        pool = service.runtime.queue.pool
        # The Redis the API talks to goes away (a port nothing listens on).
        service.runtime.queue.pool = redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
        try:
            assert_error(await service.client.get("/v1/health"), 503, "service_unavailable")
        finally:
            await service.runtime.queue.pool.aclose()
            service.runtime.queue.pool = pool
