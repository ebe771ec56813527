"""At-least-once rendering: a killed worker's render finishes once, charged once; a failed render
is refunded exactly once; lost renders are swept back into the queue.

Nothing here waits for a lease to run out or races a render against a sleep. Leases are a day
long, so no pause of a loaded machine lets the sweeper take a render from a live worker (and no
render another test left in the shared database counts as lost); where a test needs a lease to
have run out, it moves the render's clock back by one lease in the database (``_let_a_lease_pass``),
which is what a lease nobody renews comes to. The worker is killed on the event of its claim, and
the tests wait on status events and database state, each with a deadline that only guards against
a hang.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from dxgl.contract import PROCESSING, RenderStatus
from dxgl.jobs import run_renders, sweep
from dxgl.runtime import Runtime
from dxgl.tables import LedgerEntry, Model3D, Render
from dxgl.timeutil import utcnow
from tests.api.helpers import assert_error, minimal_glb
from tests.pipeline.conftest import PIPELINE_REDIS, flush_redis, pipeline_settings
from tests.pipeline.test_quick_start import make_token

EXPECTED_FILES = ["poster.png", "poster_small.png", "thumb.mp4", "video.mp4", "web.mp4"]
DAY_LEASE_S = 24 * 3600
HANG_GUARD_S = 300  # only against a hung test; nothing depends on how fast anything runs
RUN = ["poster-processing", "poster-done", "video-processing", "done"]  # one claim's statuses, in order


async def _ledger(rt: Runtime, render_id: str) -> list[str]:
    async with rt.unit_of_work() as session:
        rows = (await session.execute(select(LedgerEntry.kind).where(LedgerEntry.render_id == render_id))).scalars()
        return sorted(rows)


async def _render(rt: Runtime, render_id: str) -> Render:
    async with rt.unit_of_work() as session:
        return await session.get_one(Render, render_id)


async def _let_a_lease_pass(rt: Runtime, render_id: str) -> None:
    """The render as it is one lease (and a second) after it last changed: untouched for a whole
    lease and, if it was claimed, with a lease that ran out."""
    shift = timedelta(seconds=rt.settings.job_lease_seconds + 1)
    async with rt.unit_of_work() as session:
        render = await session.get_one(Render, render_id)
        render.updated_at -= shift
        if render.lease_until is not None:
            render.lease_until = min(render.lease_until, utcnow()) - shift


async def _statuses_until(events, render_id: str, last: set[str]) -> list[str]:
    """The statuses of ``render_id`` on a subscription, up to and including one of ``last``."""
    seen: list[str] = []
    async with asyncio.timeout(HANG_GUARD_S):
        async for event in events:
            if event["id"] == render_id:
                seen.append(event["status"])
                if event["status"] in last:
                    return seen
    raise AssertionError(f"the subscription ended; saw {seen}")


@pytest.mark.render
@pytest.mark.slow
async def test_kill_9_worker_mid_render_then_restart(tmp_path, postgres_url, live_server, workers, assets):
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(
        tmp_path,
        postgres_url,
        redis_url=PIPELINE_REDIS,
        job_lease_seconds=DAY_LEASE_S,
        sweeper_interval_seconds=1,
        render_max_length=3,
    )
    server = live_server(settings)
    first = workers(settings)
    token = await make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    check = await Runtime.start(settings, migrate=False)  # the test's own view: database, Redis bus, queue
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=60) as client:
            account_id = (await client.get("/v1/account", headers=headers)).json()["data"]["id"]
            async with check.events.subscribe(account_id) as events:
                model = (assets / "CesiumMilkTruck.glb").read_bytes()
                r = await client.post(
                    "/v1/models",
                    headers=headers,
                    files={"file": ("truck.glb", model)},
                    data={"renderSettings": '{"length":3}'},
                )
                assert r.status_code == 201, r.text
                render_id = r.json()["data"]["renderId"]
                # Killed the moment its claim is committed: before it can have drawn a frame.
                assert await _statuses_until(events, render_id, {"poster-processing"}) == [
                    "pending",
                    "poster-processing",
                ]
                first.kill9()

                mid = await _render(check, render_id)
                assert RenderStatus(mid.status) in PROCESSING, mid.status  # killed mid-render, not finished
                assert mid.attempts == 1 and mid.lease_until is not None and mid.lease_until > utcnow()
                assert await sweep(check) == []  # a live lease is left alone, dead worker or not
                after = await _render(check, render_id)  # untouched by that sweep
                assert (after.status, after.updated_at, after.lease_until) == (
                    mid.status,
                    mid.updated_at,
                    mid.lease_until,
                )

                await _let_a_lease_pass(check, render_id)  # nobody renews it: the lease runs out
                workers(settings)  # a new worker; its sweeper queues the lost render again
                again = await _statuses_until(events, render_id, {"done", "error"})
            assert again == RUN, again  # claimed once more and finished, not failed
            body = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]
            assert body["status"] == "done", body
            credits = (await client.get("/v1/account", headers=headers)).json()["data"]["credits"]
        assert credits == 49  # charged once
        folder = check.storage.path(f"renders/{render_id}")
        assert sorted(p.name for p in folder.iterdir()) == EXPECTED_FILES
        assert await _ledger(check, render_id) == ["charge"]
        render = await _render(check, render_id)
        assert render.attempts == 2 and render.lease_until is None
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
                assert render_id not in await sweep(api)  # a failed render is never queued again
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
    settings = pipeline_settings(tmp_path, database_url, redis_url=PIPELINE_REDIS, job_lease_seconds=DAY_LEASE_S)
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
            result = await models.upload_model(
                session, caller, intake=models.ModelIntake.of(rt.storage, rt.settings), upload=writer.finish("m.glb")
            )
        render_id = result.render.id
        await rt.queue.pool.delete("arq:queue")  # the queue lost its entry (Redis restarted)
        assert await sweep(rt) == []  # pending for less than a lease: not lost (yet)
        await _let_a_lease_pass(rt, render_id)
        assert await sweep(rt) == [render_id]
        assert await sweep(rt) == []  # not again within one lease
        jobs = await rt.queue.pool.queued_jobs()
        assert [j.args[0] for j in jobs] == [[render_id]]
        assert (await _render(rt, render_id)).status == "pending"  # queued again, not claimed by the sweeper
        await _let_a_lease_pass(rt, render_id)
        assert await sweep(rt) == [render_id]  # and again a lease later, while it stays lost
    finally:
        await rt.close()
