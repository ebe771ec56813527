"""The document's Quick Start end to end on both deployment shapes: upload -> render -> download,
with the five statuses observed in order over a real graphql-transport-ws websocket."""

from __future__ import annotations

import io
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from dxgl.contract import RenderStatus
from dxgl.runtime import Runtime
from dxgl.services import accounts, auth
from tests.graphql.live import GraphQLWs
from tests.pipeline.conftest import PIPELINE_REDIS, flush_redis, pipeline_settings, wait_for_status
from tests.render.ffprobe import probe

pytestmark = pytest.mark.render

STATUSES = ["pending", "poster-processing", "poster-done", "video-processing", "done"]


def status_value(name: str) -> str:
    """The contract's status for a GraphQL ``RenderStatus`` value (``POSTER_DONE`` -> ``poster-done``)."""
    return RenderStatus[name].value


SUBSCRIPTION = "subscription { renderUpdates { id status fileSize hasWebVariant } }"


async def make_token(settings, credits: int = 50) -> str:
    rt = await Runtime.start(settings, migrate=False)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(
                session, email=f"qs-{uuid.uuid4().hex[:10]}@example.com", paid_credits=credits, free_credits=0
            )
            _, raw = await auth.create_token(session, account=account)
        return raw
    finally:
        await rt.close()


async def quick_start(base_url: str, ws_url: str, token: str, model: Path, tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    ws = await GraphQLWs.open(ws_url, token=token)
    await ws.subscribe("all", SUBSCRIPTION)
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        # curl -X POST /v1/models -F "file=@chair.glb" -F 'renderSettings={...}'
        r = await client.post(
            "/v1/models",
            headers=headers,
            files={"file": ("chair.glb", model.read_bytes(), "model/gltf-binary")},
            data={"renderSettings": '{"aspect":"16:9","bgColor":"#ffffff","length":6}'},
        )
        assert r.status_code == 201, r.text
        render_id = r.json()["data"]["renderId"]

        seen: list[str] = []
        while not seen or seen[-1] not in ("done", "error"):
            payload = await ws.next_payload("all")
            event = payload["data"]["renderUpdates"]
            if event["id"] == render_id:
                seen.append(status_value(event["status"]))
        assert seen == STATUSES, seen
        assert event["fileSize"] > 0 and event["hasWebVariant"] is True
        await ws.close()

        body = await wait_for_status(client, headers, render_id, {"done"})
        video = await client.get(f"/v1/renders/{render_id}/video", headers=headers)
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        assert len(video.content) == body["fileSize"]
        path = tmp_path / "chair.mp4"
        path.write_bytes(video.content)
        info = probe(path)
        assert info.codec == "h264" and info.width == 160 and info.height == 90 and info.frame_count == 30

        part = await client.get(f"/v1/renders/{render_id}/video", headers={**headers, "Range": "bytes=100-199"})
        assert part.status_code == 206
        assert part.content == video.content[100:200]
        assert part.headers["content-range"] == f"bytes 100-199/{len(video.content)}"
        assert part.headers["accept-ranges"] == "bytes"
        bad = await client.get(f"/v1/renders/{render_id}/video", headers={**headers, "Range": "bytes=99999999-"})
        assert bad.status_code == 416 and bad.json()["error"]["code"] == "range_not_satisfiable"
        assert bad.headers["content-range"] == f"bytes */{len(video.content)}"

        web = await client.get(f"/v1/renders/{render_id}/video?quality=web", headers=headers)
        assert web.status_code == 200 and web.content != video.content
        thumb = await client.get(f"/v1/renders/{render_id}/thumb", headers={**headers, "Range": "bytes=0-9"})
        assert thumb.status_code == 206 and len(thumb.content) == 10 and thumb.headers["content-type"] == "video/mp4"
        small = await client.get(f"/v1/renders/{render_id}/poster", headers=headers)
        full = await client.get(f"/v1/renders/{render_id}/poster?quality=full", headers=headers)
        assert small.headers["content-type"] == full.headers["content-type"] == "image/png"
        assert (
            small.content.startswith(b"\x89PNG")
            and full.content.startswith(b"\x89PNG")
            and small.content != full.content
        )

        bundle = await client.get(f"/v1/renders/{render_id}/bundle", headers=headers)
        assert bundle.status_code == 200 and "immutable" in bundle.headers["cache-control"]
        with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
            assert sorted(archive.namelist()) == ["poster.png", "thumb.mp4", "video.mp4", "web.mp4"]
            assert archive.read("video.mp4") == video.content
            assert archive.read("poster.png") == full.content
            assert all(info.date_time[0] >= 2026 for info in archive.infolist())  # real dates, not 1980


async def test_embedded_default(tmp_path, sqlite_template, live_server, duck):
    import shutil

    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    settings = pipeline_settings(tmp_path, f"sqlite+aiosqlite:///{db}")
    server = live_server(settings)
    token = await make_token(settings)
    await quick_start(f"http://127.0.0.1:{server.port}", server.ws_url, token, duck, tmp_path)


@pytest.mark.slow
async def test_postgres_redis_and_a_separate_worker(tmp_path, postgres_url, live_server, workers, duck):
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(tmp_path, postgres_url, redis_url=PIPELINE_REDIS)
    server = live_server(settings)
    workers(settings)
    token = await make_token(settings)
    await quick_start(f"http://127.0.0.1:{server.port}", server.ws_url, token, duck, tmp_path)
