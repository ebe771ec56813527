"""Renders of one batch that differ only in what is applied after drawing share one pass of frames."""

from __future__ import annotations

import io

import httpx
import pytest
from PIL import Image

import dxgl.render
from tests.conftest import _WithState
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token

pytestmark = [pytest.mark.render, pytest.mark.slow]


async def test_bgcolor_variants_draw_frames_once(tmp_path, database_url, duck, monkeypatch):
    calls: list[int] = []
    real = dxgl.render.render_variants

    def counting(model_path, jobs, **kwargs):  # the real renderer, counted
        calls.append(len(jobs))
        return real(model_path, jobs, **kwargs)

    monkeypatch.setattr(dxgl.render, "render_variants", counting)
    settings = pipeline_settings(tmp_path, database_url, run_renders_in_process=False)
    token = await make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    from dxgl.app import create_app

    settings.run_renders_in_process = True
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            # the model exists before the batch: its own first render is not part of the batch
            upload = await client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck.read_bytes())})
            first = upload.json()["data"]
            await wait_for_status(client, headers, first["renderId"], {"done"})
            calls.clear()
            colours = ["#ff0000", "#00ff00", "#0000ff", "#000000"]
            batch = await client.post(
                "/v1/renders/batch",
                headers=headers,
                json={
                    "renders": [{"modelId": first["modelId"], "renderSettings": {"bgColor": c}} for c in colours]
                    + [{"modelId": first["modelId"], "renderSettings": {"bgColor": "#ffffff", "effect": "showcase"}}]
                },
            )
            assert batch.status_code == 201, batch.text
            ids = [r["id"] for r in batch.json()["data"]]
            for render_id in ids:
                assert (await wait_for_status(client, headers, render_id, {"done", "error"}))["status"] == "done"
            assert sorted(calls) == [1, 4]  # four colour variants drawn once; the showcase on its own
            for render_id, colour in zip(ids, colours):
                png = (await client.get(f"/v1/renders/{render_id}/poster?quality=full", headers=headers)).content
                corner = Image.open(io.BytesIO(png)).convert("RGB").getpixel((0, 0))
                want = tuple(int(colour[i : i + 2], 16) for i in (1, 3, 5))
                assert max(abs(a - b) for a, b in zip(corner, want)) <= 3, (corner, want)
