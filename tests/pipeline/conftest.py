"""Pipeline fixtures: real uvicorn servers, real renders (small: 160 px, 1 s), real workers."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from dxgl.config import Settings
from tests.conftest import REDIS_URL, service_missing
from tests.live_server import LiveServer, clean_env

PIPELINE_REDIS = REDIS_URL.rsplit("/", 1)[0] + "/13"


def pipeline_settings(tmp_path: Path, database_url: str, *, redis_url: str = "", **extra: object) -> Settings:
    values: dict = {"run_renders_in_process": True, "render_max_size": 160, "render_max_length": 1, **extra}
    return Settings(data_dir=tmp_path / "data", database_url=database_url, redis_url=redis_url, **values)


def flush_redis(url: str) -> None:
    import redis

    try:
        client = redis.from_url(url)
        client.flushdb()
        client.close()
    except Exception as exc:
        service_missing("Redis", exc)


class Worker:
    """``dxgl worker`` (arq with worker.WorkerSettings) in its own process and process group (to
    kill -9 it), started outside the checkout: the installed command must find worker.py by itself."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.env = clean_env(
            DXGL_DATA_DIR=str(settings.data_dir),
            DXGL_DATABASE_URL=settings.database_url,
            DXGL_REDIS_URL=settings.redis_url,
            DXGL_RENDER_MAX_SIZE=str(settings.render_max_size),
            DXGL_RENDER_MAX_LENGTH=str(settings.render_max_length),
            # "1", not "1.0": whole seconds read back as an integer setting too
            DXGL_JOB_LEASE_SECONDS=f"{settings.job_lease_seconds:g}",
            DXGL_SWEEPER_INTERVAL_SECONDS=f"{settings.sweeper_interval_seconds:g}",
        )
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self) -> Worker:
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dxgl.cli", "worker"],
                cwd=self.log_path.parent,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def live_server() -> Iterator[Callable[[Settings], LiveServer]]:
    """``live_server(settings)`` starts a LiveServer; every one is stopped after the test."""
    with contextlib.ExitStack() as running:
        yield lambda settings: running.enter_context(LiveServer(settings))


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[Settings], Worker]]:
    """``workers(settings)`` starts a ``dxgl worker`` (log in tmp_path); all stop after the test."""
    numbers = itertools.count()
    with contextlib.ExitStack() as running:
        yield lambda settings: running.enter_context(Worker(settings, tmp_path / f"worker-{next(numbers)}.log"))


async def wait_for_status(
    client: httpx.AsyncClient, headers: dict, render_id: str, statuses: set[str], limit_s: float = 300
) -> dict:
    """Poll until the render reaches one of ``statuses`` (a guard against hanging, not a speed check)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        body = (await client.get(f"/v1/renders/{render_id}", headers=headers)).json()["data"]
        if body["status"] in statuses:
            return body
        await asyncio.sleep(0.3)
    raise AssertionError(f"render {render_id} never reached {statuses}; last {body}")
