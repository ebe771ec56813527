"""The arq worker: it refuses to start without Redis, and its sweeper is one cron tick across all
workers (arq ``unique``), not one loop per worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.pipeline.conftest import PIPELINE_REDIS, Worker, flush_redis, pipeline_settings

pytestmark = pytest.mark.slow

# arq logs each job start as "<delay>s → <job id>:<function>(...)"; a unique cron job's id is
# "cron:<name>:<tick in unix ms>", anything else (a random id) means the tick is not shared.
SWEEP_START = re.compile(r"→ (\S+):cron:sweep_job\(")
TICK_ID = re.compile(r"^cron:sweep_job:(\d+)$")


def test_worker_refuses_to_start_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DXGL_")}
    env["DXGL_DATA_DIR"] = str(tmp_path / "data")
    done = subprocess.run(
        [sys.executable, "-m", "dxgl.cli", "worker"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "DXGL_REDIS_URL" in done.stderr
    assert not (tmp_path / "data").exists()  # it stopped before touching the database


def _sweep_ids(log: Path) -> list[str]:
    return SWEEP_START.findall(log.read_text(errors="replace")) if log.exists() else []


def test_sweeper_ticks_once_across_workers(tmp_path: Path, postgres_url: str) -> None:
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(tmp_path, postgres_url, redis_url=PIPELINE_REDIS, sweeper_interval_seconds=1)
    workers = [Worker(settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    for worker in workers:
        worker.start()
    try:
        # Wait (bounded) until both workers have run sweeps on at least three shared ticks.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ids = [_sweep_ids(w.log_path) for w in workers]
            ticks = [{i for i in found if TICK_ID.match(i)} for found in ids]
            if all(ids) and len(ticks[0] | ticks[1]) >= 3:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"not enough sweeps: {ids}")
    finally:
        for worker in workers:
            worker.stop()
    ids = [_sweep_ids(w.log_path) for w in workers]
    scheduled = [[i for i in found if TICK_ID.match(i)] for found in ids]
    # Besides its one start-up sweep, every sweep a worker ran belongs to a shared tick...
    for found, ticked in zip(ids, scheduled):
        assert len(found) - len(ticked) <= 1, found
    # ...and no tick ran twice, on one worker or across the two.
    every = scheduled[0] + scheduled[1]
    assert len(every) == len(set(every)), every
    stamps = sorted(int(TICK_ID.match(i).group(1)) for i in every)
    assert all(stamp % 1000 == 0 for stamp in stamps)  # ticks on whole seconds, the same on every worker
