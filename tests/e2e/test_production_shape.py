"""The production shape, end to end, with nothing shared but PostgreSQL, Redis and the S3 store:
the API process and two ``dxgl worker`` processes, each with its own empty data folder and cache.

1. The Quick Start: upload, render, download the video (whole and a ``Range``), the bundle, the
   poster; nothing stays on the API's disk, and the model reached a worker through its cache.
2. A worker is ``kill -9``-ed while it uploads a render's outputs (a test-only hook,
   ``DXGL_TEST_PAUSE_UPLOAD_DIR``, stops it there after its first file): meanwhile the client sees
   no asset; the other worker's sweeper queues the render again once its lease ran out, and it is
   done once, with one set of objects, charged once. A multipart upload left by another killed
   process is aborted by the workers' sweeper, and no temporary object remains.
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
import zipfile
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dxgl.config import Settings
from dxgl.jobs.render_job import TEST_PAUSE_ENV
from dxgl.runtime import Runtime
from dxgl.storage import s3_uploads
from dxgl.storage.s3 import S3Storage
from dxgl.storage.s3_config import S3Config
from dxgl.tables import LedgerEntry, Render
from dxgl.timeutil import utcnow
from tests.conftest import ASSETS
from tests.live_server import ServeProcess, clean_env
from tests.pipeline.conftest import Worker
from tests.pipeline.test_quick_start import make_token
from tests.storage.seaweed import SeaweedServer
from tests.storage.test_backends import _killed_mid_upload

pytestmark = [pytest.mark.render, pytest.mark.slow]

LEASE_S = 3
LIMIT_S = 300.0  # a guard against hanging, never a speed check


def _wait(what: str, check, limit_s: float = LIMIT_S):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.3)
    raise AssertionError(f"{what} did not happen within {limit_s:.0f} s")


class _Worker(Worker):
    """``dxgl worker`` with exactly this environment (its own data and cache folders)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc = None


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


async def test_api_and_two_workers_with_no_shared_disk(
    tmp_path: Path, e2e_postgres: str, e2e_redis: str, e2e_s3: SeaweedServer
) -> None:
    s3 = e2e_s3.env()
    common = {
        **s3,
        "DXGL_DATABASE_URL": e2e_postgres,
        "DXGL_REDIS_URL": e2e_redis,
        "DXGL_RENDER_MAX_SIZE": "160",
        "DXGL_RENDER_MAX_LENGTH": "1",
        "DXGL_JOB_LEASE_SECONDS": str(LEASE_S),
        "DXGL_SWEEPER_INTERVAL_SECONDS": "1",
        "DXGL_TEMP_MAX_AGE_SECONDS": "5",
        "DXGL_LOG_LEVEL": "warning",
    }
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    api_dir = tmp_path / "api"
    api = ServeProcess(clean_env(**common, DXGL_DATA_DIR=str(api_dir)))
    workers = [
        _Worker(
            clean_env(
                **common,
                DXGL_DATA_DIR=str(tmp_path / f"worker-{i}"),
                DXGL_CACHE_DIR=str(tmp_path / f"cache-{i}"),
                DXGL_CACHE_MAX_BYTES=str(64 * 1024 * 1024),
                **{TEST_PAUSE_ENV: str(pause_dir)},
            ),
            tmp_path / f"worker-{i}.log",
        )
        for i in range(2)
    ]
    storage = S3Storage(S3Config.from_url(s3["DXGL_STORAGE_URL"], s3), tmp_path / "test-scratch")
    api.start(expect_token=False)  # migrates the fresh database
    try:
        for worker in workers:
            worker.start()
        token = await make_token(Settings(data_dir=tmp_path / "token", database_url=e2e_postgres), credits=20)
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=api.url, headers=headers, timeout=60) as client:
            _quick_start(client, api_dir, tmp_path)
            render_id, pid, credits_before = _pause_a_worker_mid_upload(client, pause_dir)
            await _lease_kept_while_uploading(e2e_postgres, tmp_path, render_id)
            _kill_the_paused_worker(client, workers, render_id, pid)
            await _done_once_with_one_set(client, e2e_postgres, tmp_path, storage, render_id, credits_before)
            # What another killed process left in the store: the workers' sweeper removes it.
            _killed_mid_upload(s3, tmp_path / "killer-scratch")
            _wait("the sweep of the unfinished multipart upload", lambda: s3_uploads.list_pending(storage.cfg) == [])
            _wait("the sweep of temporary objects", lambda: list(storage.list("tmp")) == [])
    finally:
        for worker in workers:
            worker.stop()
        lines = api.stop()
    assert _files(api_dir / "tmp") == [] and not (api_dir / "files").exists(), lines[-20:]


def _render(client: httpx.Client, render_id: str) -> dict:
    return client.get(f"/v1/renders/{render_id}").json()["data"]


def _quick_start(client: httpx.Client, api_dir: Path, tmp_path: Path) -> None:
    duck = (ASSETS / "Duck.glb").read_bytes()
    r = client.post("/v1/models", files={"file": ("Duck.glb", duck, "model/gltf-binary")})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    done = _wait(
        "the first render", lambda: (b := _render(client, data["renderId"]))["status"] in ("done", "error") and b
    )
    assert done["status"] == "done", done
    video = client.get(f"/v1/renders/{data['renderId']}/video")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    part = client.get(f"/v1/renders/{data['renderId']}/video", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == video.content[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(video.content)}"
    assert client.get(f"/v1/renders/{data['renderId']}/poster").status_code == 200
    bundle = client.get(f"/v1/renders/{data['renderId']}/bundle")
    assert bundle.status_code == 200
    with zipfile.ZipFile(io.BytesIO(bundle.content)) as archive:
        assert archive.testzip() is None and any(n.endswith(".mp4") for n in archive.namelist())
    assert client.get(f"/v1/models/{data['modelId']}/file").content == duck
    # No shared disk: the API kept nothing, the model reached a worker through its own cache.
    assert _files(api_dir / "tmp") == [] and not (api_dir / "files").exists()
    cached = [p.name for i in range(2) for p in _files(tmp_path / f"cache-{i}")]
    assert f"{data['modelId']}.glb" in cached


def _pause_a_worker_mid_upload(client: httpx.Client, pause_dir: Path) -> tuple[str, int, int]:
    """Returns the render's id, the paused worker's pid and the account's credits before the render."""
    (pause_dir / "pause-next").touch()
    before = client.get("/v1/account").json()["data"]
    r = client.post("/v1/renders", json={"modelId": _last_model(client), "renderSettings": {"aspect": "1:1"}})
    assert r.status_code in (200, 201), r.text
    render_id = r.json()["data"]["id"]
    marker = _wait("a worker pausing mid-upload", lambda: next(iter(pause_dir.glob("paused-*")), None))
    paused_id, pid = marker.name.split("-")[1], int(marker.name.split("-")[2])
    assert paused_id == render_id
    # Mid-upload: the first file is in the store, but nothing is visible to the client.
    assert _render(client, render_id)["status"] != "done"
    assert client.get(f"/v1/renders/{render_id}/video").status_code == 404
    assert client.get(f"/v1/renders/{render_id}/bundle").status_code == 404
    return render_id, pid, before["credits"]


async def _lease_kept_while_uploading(database_url: str, tmp_path: Path, render_id: str) -> None:
    """A worker renews its lease until its last output is uploaded (uploads to a store can outlast
    a lease): after three lease lengths the render is still the paused worker's claim, not queued
    again for the other worker (which would claim it: one more attempt)."""
    rt = await Runtime.start(Settings(data_dir=tmp_path / "lease-check", database_url=database_url), migrate=False)

    async def snapshot() -> Render:
        async with rt.unit_of_work() as session:
            return await session.get_one(Render, render_id)

    try:
        first = await snapshot()
        await asyncio.sleep(LEASE_S * 3)
        later = await snapshot()
    finally:
        await rt.close()
    assert later.attempts == first.attempts and later.status == first.status != "done"
    assert later.lease_until is not None and later.lease_until > utcnow()


def _kill_the_paused_worker(client: httpx.Client, workers: list[_Worker], render_id: str, pid: int) -> None:
    victim = next(w for w in workers if w.proc is not None and w.proc.pid == pid)
    os.killpg(pid, signal.SIGKILL)  # the worker and its render children, as a machine that dies
    victim.proc.wait(timeout=30)  # type: ignore[union-attr]
    _wait("the render done by the other worker", lambda: _render(client, render_id)["status"] in ("done", "error"))
    assert _render(client, render_id)["status"] == "done"


def _last_model(client: httpx.Client) -> str:
    return client.get("/v1/models").json()["data"][0]["id"]


async def _done_once_with_one_set(
    client: httpx.Client,
    database_url: str,
    tmp_path: Path,
    storage: S3Storage,
    render_id: str,
    credits_before: int,
) -> None:
    rt = await Runtime.start(Settings(data_dir=tmp_path / "check", database_url=database_url), migrate=False)
    try:
        async with rt.unit_of_work() as session:
            render = await session.get_one(Render, render_id)
            entries = list(
                (await session.execute(select(LedgerEntry).where(LedgerEntry.render_id == render_id))).scalars()
            )
    finally:
        await rt.close()
    assert render.status == "done"
    assert [e.kind for e in entries] == ["charge"]  # charged once, never refunded
    charged = -(entries[0].paid_delta + entries[0].free_delta)
    assert charged > 0 and credits_before - client.get("/v1/account").json()["data"]["credits"] == charged
    stored = sorted(b.key.rsplit("/", 1)[1] for b in storage.list(f"renders/{render_id}"))
    assert stored == sorted(render.assets)  # one set: the second attempt wrote the same keys
    video = client.get(f"/v1/renders/{render_id}/video")
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
