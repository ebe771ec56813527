"""3D-scan ZIP uploads end to end: a real uvicorn server (SQLite, embedded runner) renders them for
real (EGL, ffmpeg) at 160 px / 1 s, and the results are read back.

- fuze.zip (an OBJ scan, Z-up, base at z = 0) uploads, is stored as a GLB, and renders upright:
  on a 1:1 render without shadows the silhouette's bounding box is taller than wide in the poster
  and in every video frame (a bottle turned on its side would be wider than tall).
- The DamagedHelmet glTF folder, zipped, is ONE model whose stored GLB packs all five images.
- Two OBJs in one ZIP are refused; an MTL naming a missing texture uploads with a warning that the
  model detail shows (these two need no render and run on both databases via ``service``).
"""

from __future__ import annotations

import io
import json
import shutil
import struct
import zipfile
from pathlib import Path

import httpx
import numpy as np
import pytest
import trimesh
from PIL import Image
from sqlalchemy import func, select

from dxgl.config import Settings
from dxgl.tables import Model3D
from tests.conftest import ASSETS
from tests.ingest import builders as b
from tests.pipeline.conftest import pipeline_settings, wait_for_status
from tests.pipeline.test_quick_start import make_token
from tests.render.ffprobe import decode_frames

SQUARE_NO_SHADOW = {"aspect": "1:1", "bgColor": "#ffffff", "shadows": False, "length": 3}
# A pixel belongs to the model when some channel is this far from the white background.
BACKGROUND_TOLERANCE = 24


def glb_json(data: bytes) -> dict:
    """The JSON chunk of a GLB."""
    assert data[:4] == b"glTF", data[:16]
    length, kind = struct.unpack_from("<II", data, 12)
    assert kind == 0x4E4F534A
    return json.loads(data[20 : 20 + length])


def silhouette_box(rgb: np.ndarray) -> tuple[int, int]:
    """(height, width) of the bounding box of non-background pixels. ``rgb``: (H, W, 3) uint8."""
    mask = (255 - rgb.astype(np.int16)).max(axis=2) > BACKGROUND_TOLERANCE
    rows, cols = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
    assert rows.size and cols.size, "nothing but background"
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def zip_folder(folder: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.iterdir()):
            archive.write(path, prefix + path.name)
    return dest


async def start_sqlite(tmp_path: Path, sqlite_template: Path, live_server) -> tuple[Settings, httpx.AsyncClient, dict]:
    """A live server on a fresh SQLite copy (embedded runner), a client for it and a token's headers."""
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    settings = pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    server = live_server(settings)
    token = await make_token(settings, credits=10)
    client = httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=120)
    return settings, client, {"Authorization": f"Bearer {token}"}


async def upload(client: httpx.AsyncClient, headers: dict, path: Path, settings: dict) -> dict:
    response = await client.post(
        "/v1/models",
        headers=headers,
        files={"file": (path.name, path.read_bytes(), "application/zip")},
        data={"renderSettings": json.dumps(settings)},
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]


@pytest.mark.render
@pytest.mark.slow
async def test_fuze_scan_uploads_as_glb_and_renders_upright(tmp_path, sqlite_template, live_server):
    _, client, headers = await start_sqlite(tmp_path, sqlite_template, live_server)
    async with client:
        data = await upload(client, headers, ASSETS / "fuze.zip", SQUARE_NO_SHADOW)
        model = (await client.get(f"/v1/models/{data['modelId']}", headers=headers)).json()["data"]
        assert model["originalName"] == "fuze.zip" and model["warnings"] == []
        file = await client.get(f"/v1/models/{data['modelId']}/file", headers=headers)
        assert file.status_code == 200 and file.headers["content-type"] == "model/gltf-binary"
        assert file.content.startswith(b"glTF") and len(file.content) == model["fileSize"]
        doc = glb_json(file.content)
        assert len(doc["images"]) == 1 and doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]

        render = await wait_for_status(client, headers, data["renderId"], {"done", "error", "failed"})
        assert render["status"] == "done", render
        poster = await client.get(f"/v1/renders/{data['renderId']}/poster?quality=full", headers=headers)
        assert poster.status_code == 200 and poster.headers["content-type"] == "image/png"
        image = np.asarray(Image.open(io.BytesIO(poster.content)).convert("RGB"))
        assert image.shape[0] == image.shape[1], image.shape  # 1:1
        height, width = silhouette_box(image)
        assert height > 1.3 * width, f"poster silhouette {height}x{width} (h x w): the bottle does not stand"

        video = await client.get(f"/v1/renders/{data['renderId']}/video", headers=headers)
        assert video.status_code == 200
        (tmp_path / "fuze.mp4").write_bytes(video.content)
        frames = decode_frames(tmp_path / "fuze.mp4")
        assert frames.shape[0] >= 10 and frames.shape[1] == frames.shape[2], frames.shape
        boxes = [silhouette_box(frame) for frame in frames]
        lying = [(i, box) for i, box in enumerate(boxes) if box[0] <= box[1]]
        assert lying == [], f"frames where the silhouette is not taller than wide: {lying}"


@pytest.mark.render
@pytest.mark.slow
async def test_damaged_helmet_folder_zipped_is_one_model_and_renders(tmp_path, sqlite_template, live_server):
    archive = zip_folder(ASSETS / "DamagedHelmet-gltf", tmp_path / "helmet.zip", prefix="DamagedHelmet/")
    _, client, headers = await start_sqlite(tmp_path, sqlite_template, live_server)
    async with client:
        data = await upload(client, headers, archive, {"aspect": "16:9", "length": 3})
        listing = (await client.get("/v1/models", headers=headers)).json()
        assert listing["meta"]["total"] == 1 and listing["data"][0]["id"] == data["modelId"]
        file = await client.get(f"/v1/models/{data['modelId']}/file", headers=headers)
        assert file.status_code == 200 and file.headers["content-type"] == "model/gltf-binary"
        doc = glb_json(file.content)
        assert len(doc["images"]) == 5
        assert all("bufferView" in image and "uri" not in image for image in doc["images"]), doc["images"]
        assert all("uri" not in buffer for buffer in doc["buffers"]) and len(doc["buffers"]) == 1
        scene = trimesh.load(io.BytesIO(file.content), file_type="glb")
        meshes = list(scene.geometry.values())
        source = trimesh.load(ASSETS / "DamagedHelmet-gltf" / "DamagedHelmet.gltf")
        assert [len(m.faces) for m in meshes] == [len(m.faces) for m in source.geometry.values()]
        material = meshes[0].visual.material
        textures = [
            material.baseColorTexture,
            material.metallicRoughnessTexture,
            material.normalTexture,
            material.occlusionTexture,
            material.emissiveTexture,
        ]
        assert all(t is not None for t in textures), textures

        render = await wait_for_status(client, headers, data["renderId"], {"done", "error", "failed"})
        assert render["status"] == "done", render
        poster = await client.get(f"/v1/renders/{data['renderId']}/poster?quality=full", headers=headers)
        image = np.asarray(Image.open(io.BytesIO(poster.content)).convert("RGB"))
        silhouette_box(image)  # something was drawn


async def test_two_objs_in_one_zip_are_refused(service, tmp_path):
    acct = await service.account(credits=3)
    archive = b.write_zip(
        tmp_path / "two.zip",
        {
            "chair/chair.obj": b.SIMPLE_OBJ,
            "table/table.obj": b.SIMPLE_OBJ,
            "chair/model.mtl": b.SIMPLE_MTL,
        },
    )
    response = await acct.upload(archive, name="two.zip")
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] in ("invalid_format", "invalid_model"), error
    assert "one model per ZIP" in error["message"], error
    async with service.runtime.unit_of_work() as session:
        rows = await session.execute(select(func.count()).select_from(Model3D).where(Model3D.account_id == acct.id))
        assert rows.scalar_one() == 0


@pytest.mark.slow  # a real ingest and render
async def test_missing_texture_uploads_with_a_visible_warning(service, tmp_path):
    acct = await service.account(credits=3)
    obj = b"mtllib scan.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl body\nf 1/1 2/2 3/3\nf 1/1 3/3 4/2\n"
    mtl = b"newmtl body\nKd 0.8 0.2 0.2\nmap_Kd missing.jpg\n"
    archive = b.write_zip(tmp_path / "scan.zip", {"scan.obj": obj, "scan.mtl": mtl})
    response = await acct.upload(archive, name="scan.zip")
    assert response.status_code == 201, response.text
    model_id = response.json()["data"]["modelId"]
    detail = (await acct.request("GET", f"/v1/models/{model_id}")).json()["data"]
    warnings = detail["warnings"]
    assert any("missing.jpg" in w and "body" in w for w in warnings), warnings
    file = await acct.request("GET", f"/v1/models/{model_id}/file")
    doc = glb_json(file.content)
    assert "images" not in doc or doc["images"] == []  # left untextured
    # A clean upload carries no warnings.
    clean = await acct.upload(b.write_zip(tmp_path / "clean.zip", {"scan.obj": obj.replace(b"mtllib scan.mtl\n", b"")}))
    assert clean.status_code == 201, clean.text
    clean_detail = (await acct.request("GET", f"/v1/models/{clean.json()['data']['modelId']}")).json()["data"]
    assert clean_detail["warnings"] == []
