"""GET /metrics in Prometheus text format: counts from the database, render timings and failures
from the process that rendered (in process on the embedded default, through Redis from workers),
worker heartbeats."""

from __future__ import annotations

import json

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dxgl.config import Settings
from dxgl.metrics import flush, observe_render
from dxgl.services import health
from tests.api.helpers import minimal_glb
from tests.api.test_health_report import HEALTH_REDIS, _flushed_redis
from tests.conftest import running_service as running


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def _scrape(service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await service.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return _samples(response.text)


def _get(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def test_embedded_metrics_count_renders_from_the_database_and_time_renders_in_process(settings):
    async with running(settings) as service:
        before = await _scrape(service)
        acct = await service.account(credits=5)
        assert (await acct.upload(minimal_glb(b"m"))).status_code == 201
        observe_render(quality="standard", outcome="done", render_seconds=12.0, encode_seconds=3.0)
        observe_render(quality="pro", outcome="error", render_seconds=0.7, reason="render_failed")
        after = await _scrape(service)
    assert _get(after, "dxgl_renders", status="pending") == _get(before, "dxgl_renders", status="pending") + 1
    assert _get(after, "dxgl_queue_depth") == _get(after, "dxgl_renders", status="pending")
    assert ("dxgl_renders", (("status", "done"),)) in after  # every status is listed, zero or not

    def grew(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert grew("dxgl_render_duration_seconds_count", quality="standard") == 1
    assert grew("dxgl_render_duration_seconds_sum", quality="standard") == pytest.approx(12.0)
    assert grew("dxgl_render_duration_seconds_bucket", quality="standard", le="10.0") == 0
    assert grew("dxgl_render_duration_seconds_bucket", quality="standard", le="20.0") == 1
    assert grew("dxgl_encode_duration_seconds_count", quality="standard") == 1
    assert grew("dxgl_encode_duration_seconds_count", quality="pro") == 0
    assert grew("dxgl_render_failures_total", reason="render_failed") == 1
    assert grew("dxgl_render_groups_finished_total", quality="pro", outcome="error") == 1
    assert grew("dxgl_render_groups_finished_total", quality="standard", outcome="done") == 1
    assert _get(after, "dxgl_workers_seen") == 0  # the API tests keep the in-process runner off


@pytest.fixture
async def redis_settings(tmp_path, database_url) -> Settings:
    await _flushed_redis()
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=HEALTH_REDIS)


async def test_with_redis_the_api_reports_what_workers_flushed_and_their_heartbeats(redis_settings):
    async with running(redis_settings) as service:
        pool = service.runtime.queue.pool
        before = await _scrape(service)
        assert _get(before, "dxgl_render_duration_seconds_count", quality="4k") == 0
        # What a worker does: observe in its process, then flush to Redis (the heartbeat task).
        observe_render(quality="4k", outcome="done", render_seconds=40.0, encode_seconds=9.0)
        not_flushed = await _scrape(service)
        assert _get(not_flushed, "dxgl_render_duration_seconds_count", quality="4k") == 0
        await flush(pool)
        observe_render(quality="4k", outcome="error", render_seconds=2.0, reason="timeout")
        await flush(pool)  # a second worker's flush adds to the same totals
        await health.beat(pool, "gpu-box:1", {"kind": "gpu"})
        await pool.hset(
            health.WORKERS_KEY, "cpu-box:2", json.dumps({"kind": "cpu", "beat": await health.redis_now(pool) - 600})
        )
        after = await _scrape(service)
    assert _get(after, "dxgl_render_duration_seconds_count", quality="4k") == 2
    assert _get(after, "dxgl_render_duration_seconds_sum", quality="4k") == pytest.approx(42.0)
    assert _get(after, "dxgl_encode_duration_seconds_bucket", quality="4k", le="10.0") == 1
    assert _get(after, "dxgl_render_failures_total", reason="timeout") == 1
    assert _get(after, "dxgl_workers_seen") == 1
    assert 0 <= _get(after, "dxgl_worker_heartbeat_age_seconds", worker="gpu-box:1", kind="gpu") < 60
    assert _get(after, "dxgl_worker_heartbeat_age_seconds", worker="cpu-box:2", kind="cpu") >= 600


@pytest.mark.render
async def test_a_real_render_reaches_the_render_and_encode_histograms(settings):
    """The job itself reports (render_job -> metrics.observe_render): a tiny Duck rendered by the
    embedded runner adds one render and one encode observation for its quality."""
    import asyncio

    from tests.conftest import ASSETS

    settings = settings.model_copy(
        update={"run_renders_in_process": True, "render_max_size": 160, "render_max_length": 1}
    )
    async with running(settings) as service:
        before = await _scrape(service)
        acct = await service.account(credits=5)
        r = await acct.upload(ASSETS / "Duck.glb")
        assert r.status_code == 201, r.text
        render_id = r.json()["data"]["renderId"]
        for _ in range(600):  # a deadline for a stuck render, not a speed check
            status = (await acct.request("GET", f"/v1/renders/{render_id}")).json()["data"]["status"]
            if status in ("done", "error"):
                break
            await asyncio.sleep(0.5)
        assert status == "done"
        after = await _scrape(service)

    def grew(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert grew("dxgl_render_duration_seconds_count", quality="standard") == 1
    assert grew("dxgl_encode_duration_seconds_count", quality="standard") == 1
    assert grew("dxgl_render_groups_finished_total", quality="standard", outcome="done") == 1
