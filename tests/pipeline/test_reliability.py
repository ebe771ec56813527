"""At-least-once rendering: a killed worker's render finishes once, charged once; a failed render
is refunded exactly once; lost renders are swept back into the queue."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import select

from dxgl.jobs import run_renders, sweep
from dxgl.runtime import Runtime
from dxgl.tables import LedgerEntry, Model3D, Render
from tests.api.helpers import assert_error, minimal_glb
from tests.pipeline.conftest import PIPELINE_REDIS, flush_redis, pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token

EXPECTED_FILES = ["poster.png", "poster_small.png", "thumb.mp4", "video.mp4", "web.mp4"]


async def _ledger(rt: Runtime, render_id: str) -> list[str]:
    async with rt.unit_of_work() as session:
        rows = (await session.execute(select(LedgerEntry.kind).where(LedgerEntry.render_id == render_id))).scalars()
        return sorted(rows)


async def test_kill_9_worker_mid_render_then_restart(tmp_path, postgres_url, live_server, workers, assets):
    flush_redis(PIPELINE_REDIS)
    # 3 s of video and short leases, so the sweeper notices the dead worker within seconds
    settings = pipeline_settings(
        tmp_path, postgres_url, redis_url=PIPELINE_REDIS, job_lease_seconds=3, sweeper_interval_seconds=1
    )
    settings.render_max_length = 3
    server = live_server(settings)
    first = workers(settings)
    token = await make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=60) as client:
        model = (assets / "CesiumMilkTruck.glb").read_bytes()
        r = await client.post(
            "/v1/models", headers=headers, files={"file": ("truck.glb", model)}, data={"renderSettings": '{"length":3}'}
        )
        render_id = r.json()["data"]["renderId"]
        await wait_for_status(client, headers, render_id, {"poster-processing", "poster-done", "video-processing"})
        first.kill9()
        mid = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]["status"]
        assert mid != "done"
        workers(settings)  # a new worker; the sweeper in it re-queues the lost render
        body = await wait_for_status(client, headers, render_id, {"done", "error"})
        assert body["status"] == "done", body
        credits = (await client.get("/v1/account", headers=headers)).json()["data"]["credits"]
    assert credits == 49  # charged once
    rt = server.runtime
    folder = rt.storage.path(f"renders/{render_id}")
    assert sorted(p.name for p in folder.iterdir()) == EXPECTED_FILES
    check = await Runtime.start(settings, migrate=False)
    try:
        assert await _ledger(check, render_id) == ["charge"]
        async with check.unit_of_work() as session:
            render = await session.get_one(Render, render_id)
        assert render.attempts == 2
    finally:
        await check.close()


async def test_failed_render_is_refunded_exactly_once(tmp_path, database_url):
    settings = pipeline_settings(tmp_path, database_url, run_renders_in_process=False)
    rt = await Runtime.start(settings, migrate=False)
    try:
        token = await make_token(settings, credits=5)
        from dxgl.app import create_app
        from tests.conftest import _WithState

        app = create_app(settings)
        async with app.router.lifespan_context(app) as state:
            api = state["runtime"]
            transport = httpx.ASGITransport(app=_WithState(app, state))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                headers = {"Authorization": f"Bearer {token}"}
                r = await client.post("/v1/models", headers=headers, files={"file": ("m.glb", minimal_glb(b"fail"))})
                render_id, model_id = r.json()["data"]["renderId"], r.json()["data"]["modelId"]
                assert_error(
                    await client.get(f"/v1/renders/{render_id}/video", headers=headers), 404, "video_not_found"
                )
                assert_error(
                    await client.get(f"/v1/renders/{render_id}/poster", headers=headers), 404, "poster_not_found"
                )
                assert_error(
                    await client.get(f"/v1/renders/{render_id}/thumb", headers=headers), 404, "thumb_not_found"
                )
                async with api.unit_of_work() as session:
                    key = (await session.get_one(Model3D, model_id)).storage_key
                api.storage.delete(key)  # the job can no longer run

                await run_renders({"runtime": api}, [render_id])
                await run_renders({"runtime": api}, [render_id])  # delivered twice: still one refund
                await sweep(api)
                body = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]
                assert body["status"] == "error"
                assert "upload the model again" in body["errorMessage"]
                assert (await client.get("/v1/account", headers=headers)).json()["data"]["credits"] == 5
                assert await _ledger(api, render_id) == ["charge", "refund"]
                dismissed = await client.patch(f"/v1/renders/{render_id}/dismiss", headers=headers)
                assert dismissed.json()["data"]["status"] == "failed"
                assert await _ledger(api, render_id) == ["charge", "refund"]
    finally:
        await rt.close()


async def test_sweeper_requeues_lost_pending_renders(tmp_path, database_url):
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(tmp_path, database_url, redis_url=PIPELINE_REDIS, job_lease_seconds=0.2)
    rt = await Runtime.start(settings, migrate=False)
    try:
        token = await make_token(settings)
        from dxgl.services import models
        from dxgl.services.auth import authenticate
        from dxgl.services.uploads import HashingWriter

        async with rt.unit_of_work() as session:
            caller = await authenticate(session, f"Bearer {token}")
        writer = HashingWriter(rt.storage.temp_path(), 10**6)
        writer.write(minimal_glb(b"sweep"))
        async with rt.unit_of_work() as session:
            result = await models.upload_model(session, rt, caller, upload=writer.finish("m.glb"))
        await rt.queue.pool.delete("arq:queue")  # the queue lost its entry (Redis restarted)
        await asyncio.sleep(0.5)
        assert await sweep(rt) == [result.render.id]
        assert await sweep(rt) == []  # not again within one lease
        jobs = await rt.queue.pool.queued_jobs()
        assert [j.args[0] for j in jobs] == [[result.render.id]]
    finally:
        await rt.close()
