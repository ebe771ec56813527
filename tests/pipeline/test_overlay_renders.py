"""Overlays in real renders: the background image covers the frame cropped from its anchor, the
foreground layer lands where placed, on 16:9, 1:1 and 9:16."""

from __future__ import annotations

import io

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.conftest import _WithState
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token

pytestmark = [pytest.mark.render, pytest.mark.slow]

SIZES = {"16:9": (160, 90), "1:1": (160, 160), "9:16": (90, 160)}


def gradient(width: int = 400, height: int = 300) -> Image.Image:
    """Red grows left to right, green top to bottom: a pixel's colour says where it came from."""
    x = np.linspace(0, 255, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height)[:, None].repeat(width, 1)
    return Image.fromarray(np.stack([x, y, np.full_like(x, 90)], -1).astype(np.uint8), "RGB")


def expected_cover(image: Image.Image, size: tuple[int, int], align: str) -> np.ndarray:
    """An independent cover-and-crop: scale to cover, crop from the anchor."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    rw, rh = max(w, round(image.width * scale)), max(h, round(image.height * scale))
    resized = np.asarray(image.resize((rw, rh), Image.BILINEAR))
    vertical, _, horizontal = align.partition("-") if align != "center" else ("center", "", "center")
    fx = {"left": 0.0, "center": 0.5, "right": 1.0}[horizontal]
    fy = {"top": 0.0, "center": 0.5, "bottom": 1.0}[vertical]
    ox, oy = round((rw - w) * fx), round((rh - h) * fy)
    return resized[oy : oy + h, ox : ox + w]


def png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


@pytest.mark.parametrize("aspect", ["16:9", "1:1", "9:16"])
async def test_background_and_foreground_overlays(tmp_path, sqlite_template, duck, aspect):
    import shutil

    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    settings = pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    token = await make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    from dxgl.app import create_app

    app = create_app(settings)
    background = gradient()
    logo = Image.new("RGBA", (200, 200), (0, 0, 0, 0))
    logo.paste((255, 0, 255, 255), (150, 0, 200, 50))  # a magenta block in the top-right corner
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            bg = (
                await client.post(
                    "/v1/overlays",
                    headers=headers,
                    files={"file": ("g.png", png(background))},
                    data={"alignment": "bottom-right"},
                )
            ).json()["data"]["id"]
            fg = (
                await client.post(
                    "/v1/overlays",
                    headers=headers,
                    files={"file": ("l.png", png(logo))},
                    data={"layer": "foreground", "alignment": "top-right"},
                )
            ).json()["data"]["id"]
            model = (
                await client.post("/v1/models", headers=headers, files={"file": ("duck.glb", duck.read_bytes())})
            ).json()["data"]
            await wait_for_status(client, headers, model["renderId"], {"done"})
            anchors = ["top-left", "bottom-right"]
            batch = await client.post(
                "/v1/renders/batch",
                headers=headers,
                json={
                    "renders": [
                        {
                            "modelId": model["modelId"],
                            "renderSettings": {"aspect": aspect, "bgImageId": bg, "bgAlign": a, "fgImageId": fg},
                        }
                        for a in anchors
                    ]
                },
            )
            assert batch.status_code == 201, batch.text
            for item, anchor in zip(batch.json()["data"], anchors):
                assert (await wait_for_status(client, headers, item["id"], {"done", "error"}))["status"] == "done"
                poster = (await client.get(f"/v1/renders/{item['id']}/poster?quality=full", headers=headers)).content
                frame = np.asarray(Image.open(io.BytesIO(poster)).convert("RGB")).astype(int)
                assert frame.shape[:2] == SIZES[aspect][::-1]
                want = expected_cover(background, SIZES[aspect], anchor).astype(int)
                h, w = frame.shape[:2]
                # corners away from the logo: the background image from the asked anchor
                for y, x in ((h - 3, 2), (h - 3, w - 3), (2, 2)):
                    assert np.abs(frame[y, x] - want[y, x]).max() <= 12, (anchor, (y, x), frame[y, x], want[y, x])
                # the foreground logo (covering the frame from top-right) sits in the top-right corner
                assert np.abs(frame[1, w - 2] - (255, 0, 255)).max() <= 12, frame[1, w - 2]
                # and not over the model in the middle
                assert np.abs(frame[h // 2, w // 2] - (255, 0, 255)).max() > 60
