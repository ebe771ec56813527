"""The texture budget per model through the API (issue 11, finding 4): a real uvicorn server (SQLite,
embedded runner; no Redis). A GLB of seven distinct 6900x6900 PNGs (1.1 MB) is refused at upload with
400 invalid_model naming the budget, and nothing is stored or charged; four of them (just under the
budget) upload and render for real, their textures scaled down before GL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.ingest import builders as b
from tests.pipeline.conftest import wait_for_status
from tests.pipeline.test_scan_uploads import start_sqlite

pytestmark = pytest.mark.slow  # a live server and a real render: not in the quick subset

SIDE = 6900


def _model(path: Path, count: int) -> Path:
    return b.textured_glb(path, [b.flat_png(SIDE, SIDE, (30 * i, 200 - 20 * i, 90)) for i in range(count)])


async def _upload(client: httpx.AsyncClient, headers: dict, path: Path) -> httpx.Response:
    return await client.post(
        "/v1/models",
        headers=headers,
        files={"file": (path.name, path.read_bytes(), "model/gltf-binary")},
        data={"renderSettings": '{"length": 3, "shadows": false}'},
    )


async def test_a_glb_over_the_texture_budget_is_refused_at_upload_and_nothing_is_stored(
    tmp_path, sqlite_template, live_server
):
    upload = _model(tmp_path / "seven-textures.glb", 7)
    assert upload.stat().st_size < 2_000_000
    settings, client, headers = await start_sqlite(tmp_path, sqlite_template, live_server)
    async with client:
        account_before = (await client.get("/v1/account", headers=headers)).json()["data"]

        response = await _upload(client, headers, upload)

        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_model"
        assert "the texture budget is 256 megapixels per model" in error["message"], error
        assert ".upload" not in error["message"] and ".tmp" not in error["message"]
        assert (await client.get("/v1/models", headers=headers)).json()["meta"]["total"] == 0
        assert (await client.get("/v1/account", headers=headers)).json()["data"] == account_before
    files = settings.files_dir
    stored = [p for p in files.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(files).parts]
    assert stored == []
    assert not any((files / ".tmp").iterdir())


@pytest.mark.render
@pytest.mark.slow
async def test_a_glb_just_under_the_budget_uploads_and_renders(tmp_path, sqlite_template, live_server):
    upload = _model(tmp_path / "four-textures.glb", 4)  # 254 of 256 megapixels with their mip chains
    _, client, headers = await start_sqlite(tmp_path, sqlite_template, live_server)
    async with client:
        response = await _upload(client, headers, upload)
        assert response.status_code == 201, response.text
        render_id = response.json()["data"]["renderId"]
        render = await wait_for_status(client, headers, render_id, {"done", "error", "failed"})
        assert render["status"] == "done", render
