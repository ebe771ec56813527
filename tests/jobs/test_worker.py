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

# arq logs each finished job with its result; the sweep job's result names its job id. A unique
# cron job's id is "cron:<name>:<tick in unix ms>"; a random id would mean the tick is not shared.
SWEEP_DONE = re.compile(r"← cron:sweep_job ● \{'tick': '([^']+)'")
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
    return SWEEP_DONE.findall(log.read_text(errors="replace")) if log.exists() else []


def test_sweeper_ticks_once_across_workers(tmp_path: Path, postgres_url: str) -> None:
    flush_redis(PIPELINE_REDIS)
    settings = pipeline_settings(tmp_path, postgres_url, redis_url=PIPELINE_REDIS, sweeper_interval_seconds=1)
    workers = [Worker(settings, tmp_path / f"worker-{i}.log") for i in range(2)]
    for worker in workers:
        worker.start()
    try:
        # Wait (bounded) until both workers have swept, on at least five scheduled ticks in all.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ids = [_sweep_ids(w.log_path) for w in workers]
            if all(ids) and len(_scheduled(ids[0] + ids[1])) >= 5:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"not enough sweeps: {ids}")
    finally:
        for worker in workers:
            worker.stop()
    ids = [_sweep_ids(w.log_path) for w in workers]
    assert all(TICK_ID.match(i) for i in ids[0] + ids[1]), ids  # every sweep ran under a tick's id
    # Besides its one start-up sweep, every sweep a worker ran is a scheduled (whole-second) tick...
    for found in ids:
        assert len(found) - len(_scheduled(found)) <= 1, found
    # ...and no tick ran twice, on one worker or across the two.
    every = _scheduled(ids[0]) + _scheduled(ids[1])
    assert len(every) == len(set(every)), every
    # Both workers were up and sweeping (each ran its start-up sweep) while those ticks ran once: a
    # tick is shared by the workers, whichever of them takes it, not one loop per worker.


def _scheduled(ids: list[str]) -> list[str]:
    """The ids of scheduled ticks (whole seconds); a worker's start-up sweep runs at any moment."""
    return [i for i in ids if (m := TICK_ID.match(i)) and int(m.group(1)) % 1000 == 0]
