"""A compressed catalogue file through a real render: the download is the file as uploaded, the
render loads the decoded copy stored at upload (``services.assets.render_source_key``)."""

from __future__ import annotations

from pathlib import Path

import pytest

import dxgl.render
from dxgl.tables import Model3D
from tests.assets import MODELS_DIR
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token
from tests.pipeline.test_system_preview import _App

pytestmark = [pytest.mark.render, pytest.mark.slow]

DRACO_DUCK = MODELS_DIR / "compressed" / "Duck-draco.glb"


async def test_draco_duck_renders_from_its_decoded_copy(tmp_path, database_url, monkeypatch):
    loaded: list[Path] = []
    real = dxgl.render.render_variants

    def recording(model_path, jobs, **kwargs):  # the real renderer, the file it loads noted
        loaded.append(Path(model_path))
        return real(model_path, jobs, **kwargs)

    monkeypatch.setattr(dxgl.render, "render_variants", recording)
    settings = pipeline_settings(tmp_path, database_url)
    token = await make_token(settings, credits=5)
    headers = {"Authorization": f"Bearer {token}"}
    content = DRACO_DUCK.read_bytes()
    async with _App(settings) as live:
        r = await live.client.post("/v1/models", headers=headers, files={"file": ("duck-draco.glb", content)})
        assert r.status_code == 201, r.text
        data = r.json()["data"]
        done = await wait_for_status(live.client, headers, data["renderId"], {"done", "error"})
        assert done["status"] == "done", done
        async with live.runtime.unit_of_work() as s:
            model = await s.get(Model3D, data["modelId"])
        assert model is not None and model.decoded_key
        assert loaded == [live.runtime.storage.path(model.decoded_key)]
        file = await live.client.get(f"/v1/models/{data['modelId']}/file", headers=headers)
        assert file.content == content
