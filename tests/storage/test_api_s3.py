"""The API on the S3 backend (a real SeaweedFS): uploads stream into the store and leave nothing on
the API's disk, downloads stream from it with Range / 206, ``DXGL_STORAGE_REDIRECT=presigned``
answers 302 after the same checks, and a render made by the in-process job body (the worker's
code) reads its model through the cache and publishes its files to the store."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest

from dxgl.config import Settings
from dxgl.storage import s3_uploads
from dxgl.storage.s3 import S3Storage
from tests.conftest import ASSETS, Service
from tests.conftest import running_service as _service

DUCK = ASSETS / "Duck.glb"


def _settings(tmp_path: Path, sqlite_template: Path, env: dict[str, str], **extra: Any) -> Settings:
    db = tmp_path / "db" / "dxgl.sqlite3"
    db.parent.mkdir(exist_ok=True)
    shutil.copyfile(sqlite_template, db)
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{db}",
        run_renders_in_process=False,
        storage_url=env["DXGL_STORAGE_URL"],
        **extra,
    )


@pytest.fixture
def s3_settings(tmp_path: Path, sqlite_template: Path, s3_env: dict[str, str]) -> Settings:
    return _settings(tmp_path, sqlite_template, s3_env)


def _nothing_left(service: Service) -> None:
    storage = service.runtime.storage
    assert isinstance(storage, S3Storage)
    assert list(storage.list("tmp")) == [] and s3_uploads.list_pending(storage.cfg) == []
    assert [p for p in storage.tmp_dir.rglob("*") if p.is_file()] == []  # nothing on the API's disk
    assert not (service.runtime.settings.data_dir / "files").exists()


async def test_upload_goes_to_the_store_and_downloads_stream_with_ranges(s3_settings: Settings) -> None:
    async with _service(s3_settings) as s3_service:
        owner, other = await s3_service.account(), await s3_service.account()
        r = await owner.upload(DUCK, name="Duck.glb")
        assert r.status_code == 201, r.text
        model_id = r.json()["data"]["modelId"]
        storage = s3_service.runtime.storage
        assert [b.key for b in storage.list("models")] == [f"models/{owner.id}/{model_id}.glb"]
        _nothing_left(s3_service)

        content = DUCK.read_bytes()
        whole = await owner.request("GET", f"/v1/models/{model_id}/file")
        assert whole.status_code == 200 and whole.content == content
        assert whole.headers["content-disposition"] == 'attachment; filename="Duck.glb"'
        part = await owner.request("GET", f"/v1/models/{model_id}/file", headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == content[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{len(content)}"
        tail = await owner.request("GET", f"/v1/models/{model_id}/file", headers={"Range": "bytes=-4"})
        assert tail.status_code == 206 and tail.content == content[-4:]
        beyond = await owner.request("GET", f"/v1/models/{model_id}/file", headers={"Range": f"bytes={len(content)}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(content)}"
        assert (await other.request("GET", f"/v1/models/{model_id}/file")).status_code == 404


async def test_an_upload_over_the_limit_leaves_no_parts(
    tmp_path: Path, sqlite_template: Path, s3_env: dict[str, str]
) -> None:
    settings = _settings(tmp_path, sqlite_template, s3_env, upload_limit_bytes=9 * 1024 * 1024)
    async with _service(settings) as service:
        owner = await service.account()
        r = await owner.upload(b"\0" * (10 * 1024 * 1024), name="big.glb")
        assert r.status_code == 400 and r.json()["error"]["code"] == "file_too_large"
        _nothing_left(service)
        assert list(service.runtime.storage.list()) == []


async def test_presigned_redirect_after_the_same_checks(
    tmp_path: Path, sqlite_template: Path, s3_env: dict[str, str]
) -> None:
    settings = _settings(tmp_path, sqlite_template, s3_env, storage_redirect="presigned", presigned_url_seconds=60)
    async with _service(settings) as service:
        owner, other = await service.account(), await service.account()
        model_id = (await owner.upload(DUCK, name="Duck.glb")).json()["data"]["modelId"]
        r = await owner.request("GET", f"/v1/models/{model_id}/file")
        assert r.status_code == 302 and r.headers["cache-control"] == "no-store"
        location = r.headers["location"]
        assert "X-Amz-Signature=" in location and "X-Amz-Expires=60" in location
        async with httpx.AsyncClient() as plain:  # no token: the URL alone grants the one object
            assert (await plain.get(location)).content == DUCK.read_bytes()
        assert (await other.request("GET", f"/v1/models/{model_id}/file")).status_code == 404  # no URL for others
        # HEAD is answered by the API itself: a URL presigned for GET would refuse a HEAD.
        head = await owner.request("HEAD", f"/v1/models/{model_id}/file")
        assert head.status_code == 200 and int(head.headers["content-length"]) == DUCK.stat().st_size
        no_token = await service.client.get(f"/v1/models/{model_id}/file")
        assert no_token.status_code == 401 and "location" not in no_token.headers


async def test_overlay_images_live_in_the_store(s3_settings: Settings) -> None:
    async with _service(s3_settings) as s3_service:
        from tests.api.test_overlays import image_bytes

        owner = await s3_service.account()
        png = image_bytes()
        r = await owner.request("POST", "/v1/overlays", files={"file": ("o.png", png, "image/png")})
        assert r.status_code == 200, r.text
        overlay_id = r.json()["data"]["id"]
        got = await owner.request("GET", f"/v1/overlays/{overlay_id}/image")
        assert got.status_code == 200 and got.content == png
        assert [b.key for b in s3_service.runtime.storage.list("overlays")] == [f"overlays/{overlay_id}.png"]
        _nothing_left(s3_service)


@pytest.mark.render
async def test_a_render_reads_through_the_cache_and_publishes_to_the_store(
    s3_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DXGL_ENVIRONMENT_CACHE")  # the session's shared folder (tests/conftest.py): this runtime's own
    async with _service(s3_settings) as s3_service:
        from dxgl.jobs import run_renders
        from tests.api.test_overlays import image_bytes

        rt = s3_service.runtime
        owner = await s3_service.account()
        files = {"file": ("bg.png", image_bytes(), "image/png")}
        overlay = (await owner.request("POST", "/v1/overlays", files=files, data={"layer": "background"})).json()
        overlay_id = overlay["data"]["id"]
        data = (await owner.upload(DUCK, name="Duck.glb", settings={"bgImageId": overlay_id})).json()["data"]
        await run_renders({"runtime": rt}, [data["renderId"]])
        render = (await owner.request("GET", f"/v1/renders/{data['renderId']}")).json()["data"]
        assert render["status"] == "done", render
        root = rt.cache.root
        # The prefiltered lighting has a folder of its own in the cache (environments/, issue 15).
        cached = sorted(
            p.name for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] != "environments"
        )
        assert cached == sorted([f"{data['modelId']}.glb", f"{overlay_id}.png"])  # fetched from the store
        assert list((root / "environments").glob("env-*.npz"))  # the studio, prepared once for later renders
        keys = sorted(b.key.rsplit("/", 1)[1] for b in rt.storage.list(f"renders/{data['renderId']}"))
        video = await owner.request("GET", f"/v1/renders/{data['renderId']}/video")
        assert video.status_code == 200 and video.content[4:8] == b"ftyp"
        part = await owner.request("GET", f"/v1/renders/{data['renderId']}/video", headers={"Range": "bytes=0-7"})
        assert part.status_code == 206 and part.content == video.content[:8]
        bundle = await owner.request("GET", f"/v1/renders/{data['renderId']}/bundle")
        assert bundle.status_code == 200
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            names = archive.namelist()
            assert names and set(names) <= set(keys) and any(n.endswith(".mp4") for n in names)
            for name in names:  # each member is the stored object, byte for byte
                stored = b"".join([c async for c in rt.storage.stream(f"renders/{data['renderId']}/{name}")])
                assert archive.read(name) == stored
        assert [p for p in rt.storage.tmp_dir.rglob("*") if p.is_file()] == []


async def test_graphql_uploads_stream_into_the_store_too(s3_settings: Settings) -> None:
    from tests.graphql.conftest import gql_upload

    async with _service(s3_settings) as s3_service:
        owner = await s3_service.account()
        result = await gql_upload(owner, DUCK.read_bytes(), name="duck.glb")
        assert "errors" not in result, result
        model_id = result["data"]["uploadModel"]["model"]["id"]
        got = await owner.request("GET", f"/v1/models/{model_id}/file")
        assert got.status_code == 200 and got.content == DUCK.read_bytes()
        _nothing_left(s3_service)
