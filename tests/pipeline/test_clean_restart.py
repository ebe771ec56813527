"""Clean restarts: what a killed process leaves in the storage's temporary folder (a half-received
upload, a render's work folder) is removed at start and by the sweeper once it is older than the
longest legitimate job, and nothing younger is ever touched (``LocalStorage.remove_stale_temp``).

Nothing here waits for a file to grow old: leftovers are made old by moving their mtimes back
(``os.utime``) past the max age, and every wait is on a condition, with a deadline that only
guards against a hang.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import select

from dxgl.config import Settings
from dxgl.contract import PROCESSING
from dxgl.jobs.sweeper import tick
from dxgl.runtime import Runtime, temp_max_age_s
from dxgl.storage import LocalStorage
from tests.conftest import ASSETS
from tests.live_server import ServeProcess, clean_env
from tests.pipeline.conftest import pipeline_settings

MAX_AGE_S = 3600.0
STALE_S = 2 * MAX_AGE_S  # how far back a leftover's mtimes are moved: well past the max age
HANG_GUARD_S = 300.0  # only against a hung test; nothing depends on how fast anything runs
BOUNDARY = "dxgl-clean-restart-boundary"


# --- helpers ----------------------------------------------------------------------------------


def _age(path: Path, seconds: float) -> None:
    """Move the mtime of ``path`` and of everything below it ``seconds`` into the past."""
    when = time.time() - seconds
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    for p in sorted(paths, key=lambda p: len(p.parts), reverse=True):  # deepest first
        os.utime(p, (when, when), follow_symlinks=False)


def _newest_age(path: Path) -> float:
    """Seconds since anything in ``path`` (itself included) was last modified."""
    paths = [path, *path.rglob("*")] if path.is_dir() else [path]
    return time.time() - max(p.lstat().st_mtime for p in paths)


def _wait(condition: Callable[[], object], what: str, *, guard_s: float = HANG_GUARD_S) -> object:
    deadline = time.monotonic() + guard_s
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def _young(path: Path, *, folder: bool = False) -> Path:
    """A temporary entry written just now: a live upload (a file) or a live work folder."""
    if folder:
        path.mkdir()
        (path / "frame.png").write_bytes(b"live")
    else:
        path.write_bytes(b"live upload")
    return path


# --- the rule, on a folder --------------------------------------------------------------------


def test_the_rule_removes_only_entries_older_than_the_max_age(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "files")
    tmp = storage.tmp_dir
    old_upload = tmp / "old.upload"
    old_upload.write_bytes(b"half an upload")
    old_glb = tmp / "old.glb"
    old_glb.write_bytes(b"staged")
    old_work = tmp / "tmpold"
    (old_work / "render-id").mkdir(parents=True)
    (old_work / "render-id" / "poster.png").write_bytes(b"png")
    # A work folder created long ago that a live render still writes into (deep down): young.
    live_work = tmp / "tmplive"
    (live_work / "render-id").mkdir(parents=True)
    (live_work / "render-id" / "video.mp4").write_bytes(b"mp4")
    young_upload = tmp / "young.upload"
    young_upload.write_bytes(b"still arriving")
    for path in (old_upload, old_glb, old_work, live_work):
        _age(path, STALE_S)
    os.utime(live_work / "render-id" / "video.mp4")  # written to just now
    on_the_edge = tmp / "edge.upload"
    on_the_edge.write_bytes(b"exactly max-age old")

    now = time.time()
    os.utime(on_the_edge, (now - MAX_AGE_S, now - MAX_AGE_S))
    removed = storage.remove_stale_temp(MAX_AGE_S, now=now)

    assert sorted(removed) == sorted([old_upload, old_glb, old_work])
    assert sorted(p.name for p in tmp.iterdir()) == ["edge.upload", "tmplive", "young.upload"]
    assert (live_work / "render-id" / "video.mp4").read_bytes() == b"mp4"
    assert storage.remove_stale_temp(MAX_AGE_S, now=now) == []  # nothing more, and no error


def test_the_default_max_age_is_the_job_timeout_plus_an_hour(tmp_path: Path) -> None:
    assert temp_max_age_s(Settings(data_dir=tmp_path, job_timeout_seconds=7200)) == 7200 + 3600
    assert temp_max_age_s(Settings(data_dir=tmp_path, temp_max_age_seconds=60)) == 60


async def test_runtime_start_and_each_sweeper_tick_remove_stale_temp(tmp_path: Path) -> None:
    """The two call sites: every process's start (the embedded server, API processes and arq
    workers all start through ``Runtime.start``) and the sweeper's tick."""
    settings = Settings(data_dir=tmp_path / "data", run_renders_in_process=False, temp_max_age_seconds=MAX_AGE_S)
    tmp = LocalStorage(settings.files_dir).tmp_dir
    stale = tmp / "killed.upload"
    stale.write_bytes(b"half")
    _age(stale, STALE_S)
    young = _young(tmp / "live.upload")

    rt = await Runtime.start(settings)
    try:
        assert not stale.exists() and young.exists()
        stale_work = tmp / "tmpkilled"
        (stale_work / "r").mkdir(parents=True)
        _age(stale_work, STALE_S)
        assert await tick(rt) == {"requeued": 0, "removed_temp": 1}
        assert not stale_work.exists() and young.exists()
    finally:
        await rt.close()


# --- kill -9 of a real ``dxgl serve`` mid-upload and mid-render ------------------------------


class _PartialUpload:
    """A multipart upload that never ends: the headers and the start of the body, then a trickle
    (so it stays a live upload, within the body timeout) until :meth:`stop`."""

    def __init__(self, server: ServeProcess) -> None:
        self.sock = _start_partial_upload(server)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._trickle, daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(0.5):
            try:
                self.sock.sendall(b"\0" * 1024)
            except OSError:  # the server is gone
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def _start_partial_upload(server: ServeProcess) -> socket.socket:
    """Send the headers and the start of a multipart upload (the connection stays open, the body
    half received)."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="file"; filename="big.glb"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    first_part = head + b"\0" * (256 * 1024)
    request = (
        f"POST /v1/models HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Authorization: Bearer {server.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        f"Content-Length: {len(first_part) + 10 * 1024 * 1024}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request + first_part)
    return sock


def _kill_9_everything(server: ServeProcess) -> None:
    """kill -9 the server and every process it started (the render child): the whole service
    dies at once, as when its machine or container does."""
    assert server.process is not None
    tree = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    for proc in tree:
        try:
            os.kill(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    server.process.wait(timeout=HANG_GUARD_S)
    psutil.wait_procs(tree[1:], timeout=HANG_GUARD_S)
    server.stop()  # joins the output reader


def _status(data_dir: Path, render_id: str) -> str:
    with sqlite3.connect(f"file:{data_dir / 'dxgl.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute("SELECT status FROM renders WHERE id = ?", (render_id,)).fetchone()[0]


def _ledger(data_dir: Path, render_id: str) -> list[str]:
    with sqlite3.connect(f"file:{data_dir / 'dxgl.sqlite3'}?mode=ro", uri=True) as db:
        return sorted(r[0] for r in db.execute("SELECT kind FROM ledger WHERE render_id = ?", (render_id,)))


def _stale_entries(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if _newest_age(p) > MAX_AGE_S)


@pytest.mark.render
@pytest.mark.slow
def test_kill_9_mid_upload_and_mid_render_then_restart_leaves_no_stale_temp(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_env(
        DXGL_DATA_DIR=str(data_dir),
        DXGL_RENDER_MAX_SIZE="160",
        DXGL_RENDER_MAX_LENGTH="3",
        DXGL_SWEEPER_INTERVAL_SECONDS="1",
        DXGL_TEMP_MAX_AGE_SECONDS=f"{MAX_AGE_S:g}",
        DXGL_LOG_LEVEL="warning",
    )
    tmp = data_dir / "files" / ".tmp"

    first = ServeProcess(env).start()
    try:
        token = first.token
        assert token is not None
        upload = _PartialUpload(first)
        half_upload = _wait(lambda: [p for p in tmp.glob("*.upload") if p.stat().st_size > 0], "an .upload file")
        assert isinstance(half_upload, list) and len(half_upload) == 1
        half_upload_path = half_upload[0]

        r = httpx.post(
            f"{first.url}/v1/models",
            headers=first.headers,
            files={"file": ("truck.glb", (ASSETS / "CesiumMilkTruck.glb").read_bytes())},
            data={"renderSettings": '{"length": 3}'},
            timeout=HANG_GUARD_S,
        )
        assert r.status_code == 201, r.text
        render_id = r.json()["data"]["renderId"]
        # The render is writing into its work folder (<tmp>/<work folder>/<render id>/).
        found = _wait(lambda: [p.parent for p in tmp.glob(f"*/{render_id}")], "the render's work folder")
        assert isinstance(found, list) and len(found) == 1
        work = found[0]
        assert half_upload_path.exists()  # still being received
        _kill_9_everything(first)
        upload.stop()
    finally:
        first.stop()

    assert _status(data_dir, render_id) in PROCESSING  # killed mid-render, not finished
    assert half_upload_path.exists() and work.is_dir()  # what kill -9 leaves behind
    for leftover in (half_upload_path, work):
        _age(leftover, STALE_S)
    young_upload = _young(tmp / "young.upload")  # as if a live upload had just begun
    young_work = _young(tmp / "tmpyoung", folder=True)

    second = ServeProcess(env).start(expect_token=False)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        # At start, before it answered: the stale leftovers are gone, the young entries are not.
        assert not half_upload_path.exists() and not work.exists()
        assert _stale_entries(tmp) == []
        assert young_upload.exists() and young_work.is_dir()

        def finished() -> dict | None:
            body = httpx.get(f"{second.url}/v1/renders/{render_id}", headers=headers, timeout=60).json()["data"]
            return body if body["status"] in {"done", "error", "failed"} else None

        body = _wait(finished, "the resumed render finished")
        assert isinstance(body, dict) and body["status"] == "done", body  # resumed and finished
        video = httpx.get(f"{second.url}/v1/renders/{render_id}/video", headers=headers, timeout=60)
        assert video.status_code == 200 and len(video.content) == body["fileSize"]
        assert _ledger(data_dir, render_id) == ["charge"]  # charged once, not refunded
        # The resumed render removed its own work folder; only the young entries are left.
        _wait(lambda: sorted(p.name for p in tmp.iterdir()) == ["tmpyoung", "young.upload"], "only young temp left")

        # The sweeper's tick: a leftover that turns stale while the server runs is removed too.
        stale = tmp / "killed-later.upload"
        stale.write_bytes(b"half")
        _age(stale, STALE_S)
        _wait(lambda: not stale.exists(), "the sweeper removed the stale upload")
        assert _stale_entries(tmp) == []
        assert young_upload.exists() and young_work.is_dir()
    finally:
        second.stop()


@pytest.mark.render
async def test_a_render_that_fails_removes_its_work_folder(tmp_path: Path) -> None:
    """Not only a published render: one that fails (here: past its deadline) leaves nothing in
    the temporary folder either, and is refunded."""
    from dxgl.jobs import run_renders
    from dxgl.services import accounts, auth, models
    from dxgl.services.uploads import HashingWriter
    from dxgl.tables import LedgerEntry, Render
    from tests.api.helpers import minimal_glb

    settings = pipeline_settings(tmp_path, "", run_renders_in_process=False, job_timeout_seconds=0.01)
    rt = await Runtime.start(settings)
    try:
        async with rt.unit_of_work() as session:
            account = await accounts.create_account(session, email="fail@example.com", paid_credits=5, free_credits=0)
            _, raw = await auth.create_token(session, account=account)
        async with rt.unit_of_work() as session:
            caller = await auth.authenticate(session, f"Bearer {raw}")
        writer = HashingWriter(rt.storage.temp_path(".upload"), 10**6)
        writer.write(minimal_glb(b"deadline"))
        async with rt.unit_of_work() as session:
            result = await models.upload_model(
                session, caller, intake=models.ModelIntake.of(rt.storage, rt.settings), upload=writer.finish("m.glb")
            )
        render_id = result.render.id
        assert list(rt.storage.tmp_dir.iterdir()) == []  # the upload's own temp files are gone

        await run_renders({"runtime": rt}, [render_id])
        async with rt.unit_of_work() as session:
            render = await session.get_one(Render, render_id)
            kinds = sorted(
                (await session.execute(select(LedgerEntry.kind).where(LedgerEntry.render_id == render_id))).scalars()
            )
        assert render.status == "error" and kinds == ["charge", "refund"], (render, kinds)
        assert list(rt.storage.tmp_dir.iterdir()) == []  # no work folder left behind
    finally:
        await rt.close()
