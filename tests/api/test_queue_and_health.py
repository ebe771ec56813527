"""The queue seam on real Redis (arq) and the health check against a database that goes away."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from dxgl.app import create_app
from dxgl.config import Settings
from tests.api.helpers import assert_error, minimal_glb
from tests.conftest import REDIS_URL, Service, _pg_admin, _WithState, service_missing

QUEUE_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/14"


async def _queued(redis_url: str) -> list[list[str]]:
    from arq import create_pool
    from arq.connections import RedisSettings

    pool = await create_pool(RedisSettings.from_dsn(redis_url))
    try:
        jobs = await pool.queued_jobs()
        return [job.args[0] for job in jobs if job.function == "run_renders"]
    finally:
        await pool.aclose()


@pytest.fixture
async def redis_service(tmp_path, database_url):
    import redis.asyncio as redis

    client = redis.from_url(QUEUE_REDIS)
    try:
        await client.flushdb()
    except Exception as exc:
        service_missing("Redis", exc)
    finally:
        await client.aclose()
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=QUEUE_REDIS)
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Service(app, state["runtime"], client)


async def test_renders_are_enqueued_on_arq_after_commit(redis_service):
    acct = await redis_service.account(credits=5)
    data = (await acct.upload(minimal_glb(b"q"))).json()["data"]
    assert await _queued(QUEUE_REDIS) == [[data["renderId"]]]
    batch = await acct.request(
        "POST", "/v1/renders/batch", json={"renders": [{"modelId": data["modelId"]}, {"modelId": data["modelId"]}]}
    )
    ids = [r["id"] for r in batch.json()["data"]]
    queued = await _queued(QUEUE_REDIS)
    assert sorted(queued, key=len) == [[data["renderId"]], ids]  # one job per model group of a batch
    # a request that fails (402) enqueues nothing
    assert_error(
        await acct.request(
            "POST", "/v1/renders", json={"modelId": data["modelId"], "renderSettings": {"quality": "pro"}}
        ),
        402,
        "no_credits",
    )
    assert len(await _queued(QUEUE_REDIS)) == 2


async def test_health_is_503_and_requests_are_500_internal_when_the_database_goes_away(tmp_path, postgres_url):
    name = f"dxgl_gone_{uuid.uuid4().hex[:8]}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    url = postgres_url.rsplit("/", 1)[0] + f"/{name}"
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=url))
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/v1/health")).status_code == 200
            service = Service(app, state["runtime"], client)
            acct = await service.account()
            await _pg_admin(f'DROP DATABASE "{name}" WITH (FORCE)')
            await asyncio.sleep(0.2)
            assert_error(await client.get("/v1/health"), 503, "service_unavailable")
            # anything unexpected is the 500 envelope without internals, in REST and in GraphQL
            err = assert_error(await acct.request("GET", "/v1/account"), 500, "internal")
            assert name not in err["message"] and "asyncpg" not in err["message"]
            gql = (await acct.request("POST", "/graphql", json={"query": "{ account { id } }"})).json()
            assert [e["extensions"]["code"] for e in gql["errors"]] == ["internal"]
