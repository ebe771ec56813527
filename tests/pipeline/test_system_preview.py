"""The free system preview through real renders on the embedded default (the API process's
runner), on SQLite and PostgreSQL: Duck gets a free, unwatermarked preview that ends ``done`` with a
video, besides its charged first render; a file that passes ingest but that the renderer cannot
load marks its model broken, and the paid render queued with it ends in ``error`` with one refund,
without being rendered."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sqlalchemy import select
from sqlmodel import col

import dxgl.render
from dxgl.jobs.render_job import job_spec
from dxgl.tables import LedgerEntry, Model3D, Render
from tests.conftest import _WithState
from tests.ingest.builders import glb_bytes, triangle_document
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token

pytestmark = [pytest.mark.render, pytest.mark.slow]


def pointlike_glb() -> bytes:
    """A valid GLB whose one triangle has all three corners at one point: ingest accepts it (it is
    well-formed glTF), but there is nothing to frame or draw, and the scene loader refuses it."""
    import json

    doc, _ = triangle_document()
    doc["accessors"][0]["min"] = [0.5, 0.5, 0.5]
    doc["accessors"][0]["max"] = [0.5, 0.5, 0.5]
    doc["asset"]["extras"] = {"case": "pointlike"}
    positions = np.full((3, 3), 0.5, dtype=np.float32).tobytes()
    return glb_bytes(json.dumps(doc).encode(), positions)


async def _ledger(rt, render_id: str) -> list[tuple[str, int, int]]:
    async with rt.unit_of_work() as s:
        rows = (await s.execute(select(LedgerEntry).where(col(LedgerEntry.render_id) == render_id))).scalars()
        return sorted((r.kind, r.paid_delta, r.free_delta) for r in rows)


async def _preview_of(rt, model_id: str) -> Render:
    async with rt.unit_of_work() as s:
        query = select(Render).where(col(Render.model_id) == model_id, col(Render.is_system_preview).is_(True))
        return (await s.execute(query)).scalar_one()


class _App:
    """The app with its lifespan (the embedded runner renders in this process) and a client."""

    def __init__(self, settings) -> None:
        from dxgl.app import create_app

        self.app = create_app(settings)

    async def __aenter__(self):
        self._lifespan = self.app.router.lifespan_context(self.app)
        state = await self._lifespan.__aenter__()
        self.runtime = state["runtime"]
        transport = httpx.ASGITransport(app=_WithState(self.app, state))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://t", timeout=60)
        return self

    async def __aexit__(self, *exc):
        await self.client.aclose()
        await self._lifespan.__aexit__(*exc)


async def test_duck_gets_a_free_unwatermarked_preview_that_renders_first(tmp_path, database_url, duck, monkeypatch):
    drawn: list[str] = []
    real = dxgl.render.render_variants

    def recording(model_path, jobs, **kwargs):  # the real renderer, the renders it draws noted
        drawn.extend(Path(out_dir).name for _, out_dir in jobs)  # each job's folder is its render's id
        return real(model_path, jobs, **kwargs)

    monkeypatch.setattr(dxgl.render, "render_variants", recording)
    settings = pipeline_settings(tmp_path, database_url, system_preview=True)
    token = await make_token(settings, credits=5)
    headers = {"Authorization": f"Bearer {token}"}
    async with _App(settings) as live:
        started = time.monotonic()
        r = await live.client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck.read_bytes())})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        preview = await _preview_of(live.runtime, data["modelId"])
        done = await wait_for_status(live.client, headers, preview.id, {"done", "error"})
        elapsed = time.monotonic() - started
        print(f"\nupload -> system preview done: {elapsed:.2f} s ({database_url.split(':')[0]}, 160 px, 1 s cap)")
        assert done["status"] == "done", done
        assert done["isSystemPreview"] is True and done["fileSize"] > 0
        video = await live.client.get(f"/v1/renders/{preview.id}/video", headers=headers)
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        first = await wait_for_status(live.client, headers, data["renderId"], {"done", "error"})
        assert first["status"] == "done" and first["isSystemPreview"] is False
        account = (await live.client.get("/v1/account", headers=headers)).json()["data"]
        assert account["credits"] == 4  # the documented render only
        assert await _ledger(live.runtime, preview.id) == []
        assert await _ledger(live.runtime, data["renderId"]) == [("charge", -1, 0)]
        async with live.runtime.unit_of_work() as s:
            row = await s.get(Render, preview.id)
            assert row is not None and row.watermark is False and row.cost == 0
        # The preview was drawn first (the render job takes waiting previews before its own).
        assert drawn == [preview.id, data["renderId"]]
        # A duplicate makes no second preview.
        again = await live.client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck.read_bytes())})
        assert again.json()["data"]["duplicate"] is True
        listing = await live.client.get(f"/v1/renders?model={data['modelId']}&systemPreview=true", headers=headers)
        assert [x["id"] for x in listing.json()["data"]] == [preview.id]
        await wait_for_status(live.client, headers, again.json()["data"]["renderId"], {"done", "error"})


async def test_a_file_the_renderer_cannot_load_marks_the_model_broken(tmp_path, database_url, monkeypatch):
    calls: list[int] = []
    real = dxgl.render.render_variants

    def counting(model_path, jobs, **kwargs):
        calls.append(len(jobs))
        return real(model_path, jobs, **kwargs)

    monkeypatch.setattr(dxgl.render, "render_variants", counting)
    settings = pipeline_settings(tmp_path, database_url, system_preview=True)
    token = await make_token(settings, credits=5)
    headers = {"Authorization": f"Bearer {token}"}
    async with _App(settings) as live:
        r = await live.client.post("/v1/models", headers=headers, files={"file": ("point.glb", pointlike_glb())})
        assert r.status_code == 201, r.text  # ingest accepts it
        data = r.json()["data"]
        preview = await _preview_of(live.runtime, data["modelId"])
        failed_preview = await wait_for_status(live.client, headers, preview.id, {"done", "error"})
        assert failed_preview["status"] == "error", failed_preview
        paid = await wait_for_status(live.client, headers, data["renderId"], {"done", "error"})
        assert paid["status"] == "error"
        assert paid["errorMessage"].startswith("The model cannot be rendered:"), paid
        assert calls == [1]  # only the preview was drawn: the paid render never ran
        model = (await live.client.get(f"/v1/models/{data['modelId']}", headers=headers)).json()["data"]
        assert model["broken"] is True and model["brokenReason"] == failed_preview["errorMessage"]
        assert await _ledger(live.runtime, data["renderId"]) == [("charge", -1, 0), ("refund", 1, 0)]
        assert await _ledger(live.runtime, preview.id) == []

        # A new paid render ends in error at once, refunded once.
        new = await live.client.post("/v1/renders", headers=headers, json={"modelId": data["modelId"]})
        assert new.status_code == 201 and new.json()["data"]["status"] == "error"
        assert await _ledger(live.runtime, new.json()["data"]["id"]) == [("charge", -1, 0), ("refund", 1, 0)]
        assert (await live.client.get("/v1/account", headers=headers)).json()["data"]["credits"] == 5
        assert calls == [1]
        async with live.runtime.unit_of_work() as s:
            row = await s.get(Model3D, data["modelId"])
            assert row is not None and row.broken_reason


async def test_preview_job_spec_is_small_and_unwatermarked(tmp_path, database_url):
    """The size override: 480x270 for 16:9 when nothing caps it (the tests above cap at 160)."""
    from dxgl.runtime import Runtime
    from dxgl.services.render_settings import system_preview_settings

    settings = pipeline_settings(tmp_path, database_url, render_max_size=0, render_max_length=0)
    rt = await Runtime.start(settings)
    try:
        render = Render(
            id="x", account_id="a", model_id="m", settings=system_preview_settings(), is_system_preview=True
        )
        spec = await job_spec(rt, render)
        assert (spec.width, spec.height, spec.length, spec.watermark) == (480, 270, 3, False)
        assert spec.effect == "turntable" and spec.quality == "standard"
        paid = Render(id="y", account_id="a", model_id="m", settings=system_preview_settings())
        assert ((await job_spec(rt, paid)).width, (await job_spec(rt, paid)).height) == (1920, 1080)
    finally:
        await rt.close()
