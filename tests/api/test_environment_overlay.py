"""The environment overlay layer (issue 15): Radiance .hdr and OpenEXR .exr uploads, decoded whole
in the ingest sandbox; refusals store nothing (no row, no blob, no temporary file); the 100 MB
limit is enforced while streaming; renders name an environment overlay in ``environment`` and the
job hands its file to the render library. The last test renders real posters."""

from __future__ import annotations

import struct
from collections.abc import AsyncIterator
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from numpy.typing import NDArray
from sqlalchemy import func, select

from dxgl.contract import MAX_ENVIRONMENT_BYTES, MAX_OVERLAY_BYTES, ErrorCode
from dxgl.errors import DxglError
from dxgl.jobs import render_job
from dxgl.tables import Overlay, Render
from tests.api.helpers import assert_error, minimal_glb
from tests.api.test_overlays import image_bytes


def studio_like(width: int = 2048, height: int = 1024) -> NDArray[np.float32]:
    """(H, W, 3) float32: a dark room with one bright warm window on the left of the backdrop and
    a blue sky band at the top: distinct bright and dark regions, not symmetric about any turn."""
    img = np.full((height, width, 3), 0.05, np.float32)
    img[: height // 6] = [0.3, 0.5, 1.2]
    img[height // 3 : height // 2, width // 3 : width // 3 + width // 10] = [20.0, 16.0, 10.0]
    return img


def hdr_bytes(tmp_path: Path, img: NDArray[np.float32] | None = None, name: str = "env.hdr") -> bytes:
    path = tmp_path / name
    assert cv2.imwrite(str(path), (studio_like() if img is None else img)[:, :, ::-1])
    return path.read_bytes()


def exr_bytes(tmp_path: Path, width: int = 256, height: int = 128) -> bytes:
    path = tmp_path / "env.exr"
    rgb = studio_like(width, height)
    channels = {c: np.ascontiguousarray(rgb[:, :, i]) for i, c in enumerate("RGB")}
    with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels) as f:
        f.write(str(path))
    return path.read_bytes()


async def upload(acct, content: bytes, name: str = "env.hdr", layer: str | None = "environment", **fields):
    data = {"layer": layer, **fields} if layer is not None else fields
    return await acct.request("POST", "/v1/overlays", files={"file": (name, content)}, data=data)


async def own_environments(acct) -> list[dict]:
    items = (await acct.request("GET", "/v1/overlays?layer=environment")).json()["data"]
    return [o for o in items if not o["system"]]


async def nothing_stored(service, acct) -> None:
    """No overlay row, no blob, no temporary file anywhere in storage (its scratch folder included)."""
    assert await own_environments(acct) == []
    async with service.runtime.unit_of_work() as session:
        # This account's rows (the PostgreSQL database is shared by the tests of a run).
        count = select(func.count()).select_from(Overlay).where(Overlay.account_id == acct.id)
        rows = (await session.execute(count)).scalar_one()
    assert rows == 0
    assert not [p for p in service.runtime.storage.root.rglob("*") if p.is_file()]


async def test_an_hdr_environment_is_accepted_listed_and_usable(service, tmp_path):
    acct = await service.account(credits=20)
    r = await upload(acct, hdr_bytes(tmp_path), name="studio.hdr")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"id", "layer", "alignment", "name"}
    assert data["layer"] == "environment"
    (listed,) = await own_environments(acct)
    assert (listed["id"], listed["width"], listed["height"]) == (data["id"], 2048, 1024)
    backgrounds = (await acct.request("GET", "/v1/overlays?layer=background")).json()["data"]
    assert data["id"] not in {o["id"] for o in backgrounds}
    async with service.runtime.unit_of_work() as session:
        row = await session.get_one(Overlay, data["id"])
    assert row.storage_key.endswith(".hdr") and row.media_type == "image/vnd.radiance"
    assert service.runtime.storage.exists(row.storage_key)
    image = await acct.request("GET", f"/v1/overlays/{data['id']}/image")
    assert image.status_code == 200 and image.content == hdr_bytes(tmp_path)
    # GraphQL lists it with its layer too.
    from tests.graphql.conftest import gql

    found = await gql(acct, "{ overlays(layer: ENVIRONMENT) { id layer width height } }")
    assert {"id": data["id"], "layer": "ENVIRONMENT", "width": 2048, "height": 1024} in found["data"]["overlays"]

    # Renders name it in `environment`; the job hands its file to the spec (videos and datasets).
    model_id = (await acct.upload(minimal_glb(b"env-use"))).json()["data"]["modelId"]
    for settings in (
        {"environment": data["id"], "environmentRotation": 90},
        {"effect": "dataset", "environment": data["id"]},
    ):
        r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": settings})
        assert r.status_code == 201, r.text
        async with service.runtime.unit_of_work() as session:
            render = await session.get_one(Render, r.json()["data"]["id"])
        assert render.settings["environment"] == data["id"]
        spec = await render_job.job_spec(service.runtime, render)
        assert spec.look.environment_image is not None
        assert spec.look.environment_image.read_bytes() == hdr_bytes(tmp_path)


async def test_an_exr_environment_is_accepted(service, tmp_path):
    acct = await service.account()
    r = await upload(acct, exr_bytes(tmp_path), name="env.exr")
    assert r.status_code == 200, r.text
    (listed,) = await own_environments(acct)
    assert (listed["width"], listed["height"]) == (256, 128)
    async with service.runtime.unit_of_work() as session:
        assert (await session.get_one(Overlay, listed["id"])).storage_key.endswith(".exr")


def flat_rgbe_header(width: int, height: int) -> bytes:
    return b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (height, width)


async def test_corrupt_lying_and_foreign_files_are_invalid_format_and_store_nothing(service, tmp_path):
    acct = await service.account()
    good = hdr_bytes(tmp_path, studio_like(256, 128))
    cases = {
        "garbage": b"#?RADIANCE\n\x00\xff garbage with no header end",
        "truncated": good[: len(good) // 2],
        # The header promises 512x256 pixels; the data holds 256x128 (flat RGBE, 4 bytes a pixel).
        "lying": flat_rgbe_header(512, 256) + b"\x80\x80\x80\x81" * (256 * 128),
        # Above 8192x4096 (refused from the header, before anything is decoded).
        "too many pixels": flat_rgbe_header(16384, 8192) + b"\x80\x80\x80\x81" * 1024,
        "not 2:1": hdr_bytes(tmp_path, studio_like(256, 256)),
        "png named .hdr": image_bytes(),
        "glb named .hdr": minimal_glb(),
        "text named .hdr": b"hello, this is not an image\n" * 100,
    }
    for why, content in cases.items():
        error = assert_error(await upload(acct, content, name="env.hdr"), 400, "invalid_format")
        assert "environment image" in error["message"], (why, error)
        assert str(service.runtime.storage.root) not in error["message"], (why, error)  # no internal path
    await nothing_stored(service, acct)
    # An HDR is not a background image, and a PNG is not an environment.
    assert_error(await upload(acct, good, layer="background"), 400, "invalid_format")
    await nothing_stored(service, acct)


async def multipart_body(
    boundary: str, size: int, *, layer_first: str | None = None, layer_after: str | None = None
) -> AsyncIterator[bytes]:
    """A multipart body whose file part is ``size`` bytes (an HDR header, then zeros), generated
    chunk by chunk: never held whole in memory."""

    def field(name: str, value: str) -> bytes:
        return f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()

    if layer_first is not None:
        yield field("layer", layer_first)
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.hdr"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    head = flat_rgbe_header(8192, 4096)
    yield head
    chunk = b"\0" * (1024 * 1024)
    left = size - len(head)
    while left > 0:
        yield chunk[: min(left, len(chunk))]
        left -= len(chunk)
    yield b"\r\n"
    if layer_after is not None:
        yield field("layer", layer_after)
    yield f"--{boundary}--\r\n".encode()


async def streamed_upload(acct, size: int, **layers: str | None):
    boundary = "dxglboundary42"
    return await acct.request(
        "POST",
        "/v1/overlays",
        content=multipart_body(boundary, size, **layers),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


async def test_size_limits_per_layer_are_enforced(service):
    acct = await service.account()
    # Over 100 MB: refused while streaming (the layer named first, or not yet known).
    for layers in ({"layer_first": "environment"}, {"layer_after": "environment"}):
        error = assert_error(await streamed_upload(acct, MAX_ENVIRONMENT_BYTES + 1, **layers), 400, "file_too_large")
        assert "100 MB" in error["message"], layers
    await nothing_stored(service, acct)
    # Background and foreground keep the contract's 10 MB, whichever order the fields come in.
    for layers in ({"layer_first": "background"}, {"layer_after": "foreground"}, {}):
        r = await streamed_upload(acct, MAX_OVERLAY_BYTES + 1, **layers)
        assert "10 MB" in assert_error(r, 400, "file_too_large")["message"], layers
    await nothing_stored(service, acct)
    # 10 MB is within an environment's limit: this one is refused for its content, not its size.
    r = await streamed_upload(acct, MAX_OVERLAY_BYTES + 1, layer_first="environment")
    assert_error(r, 400, "invalid_format")
    await nothing_stored(service, acct)


async def test_environment_setting_must_name_an_environment_overlay(service, tmp_path):
    owner = await service.account(credits=20)
    other = await service.account(credits=20)
    env = (await upload(owner, hdr_bytes(tmp_path, studio_like(256, 128)))).json()["data"]["id"]
    bg = (await owner.request("POST", "/v1/overlays", files={"file": ("b.png", image_bytes())})).json()["data"]["id"]
    model_id = (await owner.upload(minimal_glb(b"env-ref"))).json()["data"]["modelId"]
    other_model = (await other.upload(minimal_glb(b"env-ref-other"))).json()["data"]["modelId"]

    async def create(acct, model: str, settings: dict):
        return await acct.request("POST", "/v1/renders", json={"modelId": model, "renderSettings": settings})

    message = assert_error(await create(owner, model_id, {"environment": bg}), 400, "invalid_settings")["message"]
    assert "environment overlay" in message and "background" in message
    message = assert_error(await create(owner, model_id, {"bgImageId": env}), 400, "invalid_settings")["message"]
    assert "bgImageId must name a background overlay" in message
    # Another account's environment overlay is not theirs to use.
    error = assert_error(await create(other, other_model, {"environment": env}), 400, "invalid_settings")
    assert "no environment overlay of yours" in error["message"]
    assert (await create(owner, model_id, {"environment": env})).status_code == 201


async def test_an_environment_deleted_before_the_render_fails_it_clearly(service, tmp_path):
    acct = await service.account(credits=20)
    env = (await upload(acct, hdr_bytes(tmp_path, studio_like(256, 128)))).json()["data"]["id"]
    model_id = (await acct.upload(minimal_glb(b"env-gone"))).json()["data"]["modelId"]
    r = await acct.request("POST", "/v1/renders", json={"modelId": model_id, "renderSettings": {"environment": env}})
    assert r.status_code == 201, r.text
    assert (await acct.request("DELETE", f"/v1/overlays/{env}")).status_code == 200
    async with service.runtime.unit_of_work() as session:
        render = await session.get_one(Render, r.json()["data"]["id"])
    with pytest.raises(DxglError) as raised:
        await render_job.job_spec(service.runtime, render)
    assert raised.value.code == ErrorCode.OVERLAY_NOT_FOUND and env in raised.value.message
    # The job fails the render with that message (refunded), rather than lighting it with the studio.
    await render_job._run(service.runtime, [render.id])
    body = (await acct.request("GET", f"/v1/renders/{render.id}")).json()["data"]
    assert body["status"] == "error" and env in body["errorMessage"] and "deleted" in body["errorMessage"]


async def test_graphql_uploads_environments_under_their_own_limit(service, tmp_path):
    from tests.graphql.test_overlays_ingest import upload_overlay

    acct = await service.account()
    result = await upload_overlay(acct, hdr_bytes(tmp_path, studio_like(512, 256)), layer="ENVIRONMENT", name="room")
    assert "errors" not in result, result
    created = result["data"]["uploadOverlay"]
    assert (created["layer"], created["width"], created["height"]) == ("ENVIRONMENT", 512, 256)
    # A PNG is no environment, an HDR no background; 10 MB is too much for a foreground only.
    for content, layer in ((image_bytes(), "ENVIRONMENT"), (hdr_bytes(tmp_path, studio_like(64, 32)), "BACKGROUND")):
        errors = (await upload_overlay(acct, content, layer=layer))["errors"]
        assert errors[0]["extensions"]["code"] == "invalid_format", (layer, errors)
    big = flat_rgbe_header(8192, 4096) + b"\0" * MAX_OVERLAY_BYTES
    errors = (await upload_overlay(acct, big, layer="FOREGROUND"))["errors"]
    assert errors[0]["extensions"]["code"] == "file_too_large"
    errors = (await upload_overlay(acct, big, layer="ENVIRONMENT"))["errors"]
    assert errors[0]["extensions"]["code"] == "invalid_format"  # within 100 MB: refused for its content
    assert [o["id"] for o in await own_environments(acct)] == [created["id"]]


# --- end to end: real posters ---------------------------------------------------------------------


def chrome_sphere_glb() -> bytes:
    """A mirror-like sphere: an icosphere, PBR metallic 1, roughness 0.05, white base colour."""
    import io

    import trimesh

    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    mesh.apply_translation((0.0, 0.1, 0.0))
    mesh.visual = trimesh.visual.TextureVisuals(
        material=trimesh.visual.material.PBRMaterial(
            baseColorFactor=[255, 255, 255, 255], metallicFactor=1.0, roughnessFactor=0.05
        )
    )
    buf = io.BytesIO()
    mesh.export(buf, file_type="glb")
    return buf.getvalue()


def poster(path_or_bytes: bytes) -> NDArray[np.float64]:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(path_or_bytes)).convert("RGBA"), dtype=np.float64)


# Mean absolute difference (0-255, RGB) over the sphere's pixels above which two posters "differ
# clearly". A mirror sphere shows its whole environment: a different environment or a turn of 90
# degrees moves the 20x-bright window and the blue band across the sphere, changing most of its
# pixels by tens of levels, while the same settings rendered twice differ by about 0 (checked
# below: the render is deterministic). Measured at 160x90 (llvmpipe): studio vs uploaded 98,
# uploaded vs uploaded turned 90 degrees 24, studio vs turned 94, a repeat 0. 8 leaves a wide
# margin on both sides.
CLEAR_DIFFERENCE = 8.0


@pytest.mark.render
@pytest.mark.slow
async def test_a_chrome_sphere_reflects_the_uploaded_environment_and_its_rotation(
    tmp_path, sqlite_template, monkeypatch
):
    import shutil

    import httpx

    from dxgl.app import create_app
    from tests.conftest import _WithState
    from tests.pipeline.conftest import pipeline_settings, wait_for_status
    from tests.pipeline.test_quick_start import make_token

    monkeypatch.delenv("DXGL_ENVIRONMENT_CACHE")  # the session's shared folder (tests/conftest.py): this runtime's own
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    settings = pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    token = await make_token(settings)
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:
        transport = httpx.ASGITransport(app=_WithState(app, state))
        async with httpx.AsyncClient(transport=transport, base_url="http://t", timeout=120) as client:
            r = await client.post(
                "/v1/overlays",
                headers=headers,
                files={"file": ("env.hdr", hdr_bytes(tmp_path))},
                data={"layer": "environment"},
            )
            assert r.status_code == 200, r.text
            env = r.json()["data"]["id"]
            r = await client.post("/v1/models", headers=headers, files={"file": ("sphere.glb", chrome_sphere_glb())})
            assert r.status_code == 201, r.text
            model_id = r.json()["data"]["modelId"]
            looks = {
                "studio": {},
                "uploaded": {"environment": env},
                "uploaded+90": {"environment": env, "environmentRotation": 90},
                "uploaded+90 again": {"environment": env, "environmentRotation": 90},
            }
            posters: dict[str, NDArray[np.float64]] = {}
            for name, look in looks.items():
                body = {"modelId": model_id, "renderSettings": {"length": 3, "shadows": False, **look}}
                r = await client.post("/v1/renders", headers=headers, json=body)
                assert r.status_code == 201, r.text
                render_id = r.json()["data"]["id"]
                done = await wait_for_status(client, headers, render_id, {"done", "error"})
                assert done["status"] == "done", done
                png = await client.get(f"/v1/renders/{render_id}/poster?quality=full", headers=headers)
                assert png.status_code == 200, png.text
                posters[name] = poster(png.content)
    # The sphere's pixels: where the studio poster differs from the white background.
    base = posters["studio"]
    sphere = np.abs(base[..., :3] - 255.0).max(axis=2) > 3
    assert sphere.sum() > 200, "the sphere should cover a good part of the poster"

    def difference(a: str, b: str) -> float:
        return float(np.abs(posters[a][..., :3] - posters[b][..., :3])[sphere].mean())

    assert difference("studio", "uploaded") > CLEAR_DIFFERENCE
    assert difference("uploaded", "uploaded+90") > CLEAR_DIFFERENCE
    assert difference("studio", "uploaded+90") > CLEAR_DIFFERENCE
    assert difference("uploaded+90", "uploaded+90 again") < CLEAR_DIFFERENCE / 4
    # The prefiltered environments were kept in the worker's cache for the next render.
    cache = settings.data_dir / "cache" / "environments"
    assert cache.is_dir() and any(p.is_file() for p in cache.rglob("*"))


def test_rgbe_header_helper_matches_the_reader(tmp_path):
    """The hand-written lying header above is a header the reader accepts when the data matches."""
    from dxgl.hdri import probe_environment_image

    path = tmp_path / "flat.hdr"
    path.write_bytes(flat_rgbe_header(16, 8) + struct.pack("<4B", 128, 128, 128, 129) * (16 * 8))
    assert probe_environment_image(path) == ("hdr", 16, 8)
