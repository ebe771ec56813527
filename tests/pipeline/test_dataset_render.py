"""A dataset render through the API: documented statuses, the archive as the bundle, posters."""

from __future__ import annotations

import io
import json
import shutil
import zipfile

import httpx
import pytest

from tests.api.helpers import assert_error
from tests.conftest import _WithState
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token

pytestmark = [pytest.mark.render, pytest.mark.slow]


async def test_dataset_render_end_to_end(tmp_path, sqlite_template, duck):
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    settings = pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}", render_max_size=64, render_max_views=6)
    token = await make_token(settings, credits=3)
    headers = {"Authorization": f"Bearer {token}"}
    from dxgl.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        bus = state["runtime"].events
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            model = (
                await client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck.read_bytes())})
            ).json()["data"]
            await wait_for_status(client, headers, model["renderId"], {"done"})
            account_id = (await client.get("/v1/account", headers=headers)).json()["data"]["id"]
            async with bus.subscribe(account_id) as events:
                r = await client.post(
                    "/v1/renders",
                    headers=headers,
                    json={"modelId": model["modelId"], "renderSettings": {"output": "dataset", "coverage": "sphere"}},
                )
                assert r.status_code == 201, r.text
                render_id = r.json()["data"]["id"]
                seen = []
                async for event in events:
                    if event["id"] == render_id:
                        seen.append(event["status"])
                        if event["status"] in ("done", "error"):
                            break
            assert seen == ["pending", "poster-processing", "poster-done", "video-processing", "done"], seen
            body = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]
            assert body["hasWebVariant"] is False and body["fileSize"] > 0
            assert (await client.get("/v1/account", headers=headers)).json()["data"]["credits"] == 1  # 3 - 1 - 1
            assert_error(await client.get(f"/v1/renders/{render_id}/video", headers=headers), 404, "video_not_found")
            assert_error(await client.get(f"/v1/renders/{render_id}/thumb", headers=headers), 404, "thumb_not_found")
            poster = await client.get(f"/v1/renders/{render_id}/poster", headers=headers)
            assert poster.status_code == 200 and poster.content.startswith(b"\x89PNG")
            bundle = await client.get(f"/v1/renders/{render_id}/bundle", headers=headers)
            assert bundle.status_code == 200 and "immutable" in bundle.headers["cache-control"]
            assert len(bundle.content) == body["fileSize"]
            with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
                names = archive.namelist()
                transforms = json.loads(archive.read("transforms.json"))
            for folder in ("images/", "depth/", "depth_16bit/", "normals/", "masks/"):
                assert len([n for n in names if n.startswith(folder) and n.endswith(".png")]) == 6, folder
            assert {
                "transforms.json",
                "transforms_train.json",
                "transforms_test.json",
                "points3d.ply",
                "overview.webp",
            } <= set(names)
            assert len(transforms["frames"]) == 6 and transforms["w"] == transforms["h"] == 64
            assert transforms["camera_model"] == "PINHOLE"
