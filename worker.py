"""arq worker settings: ``arq worker.WorkerSettings`` or ``dxgl worker``.

A worker needs Redis (``DXGL_REDIS_URL``): without it nothing would ever hand it a render, so it
refuses to start. Resources live in ``ctx``: the Runtime (database, storage, queue for re-queuing,
event bus). The sweeper is an arq cron job with ``unique``: each tick runs on one worker only.
"""

from __future__ import annotations

import logging
import logging.config
from typing import Any

from arq import cron, run_worker
from arq.connections import RedisSettings

from dxgl.config import get_settings
from dxgl.jobs.capacity import on_worker_start, on_worker_stop, render_concurrency
from dxgl.jobs.render_job import run_renders
from dxgl.jobs.sweeper import cron_seconds, sweep_job
from dxgl.runtime import Runtime

SETTINGS = get_settings()
if not SETTINGS.redis_url:
    raise SystemExit("dxgl worker needs DXGL_REDIS_URL (redis://HOST:6379/0): it takes its renders from that queue")


async def startup(ctx: dict[str, Any]) -> None:
    ctx["runtime"] = await Runtime.start(SETTINGS)
    await on_worker_start(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await on_worker_stop(ctx)
    await ctx["runtime"].close()


class WorkerSettings:
    functions = [run_renders]
    cron_jobs = [
        cron(
            sweep_job,
            second=cron_seconds(SETTINGS.sweeper_interval_seconds),
            microsecond=0,
            unique=True,
            run_at_startup=True,
            timeout=max(30, int(SETTINGS.sweeper_interval_seconds) * 4),
        )
    ]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(SETTINGS.redis_url)
    # Renders at once (DXGL_WORKER_CONCURRENCY; on llvmpipe rendering uses every core: 1).
    max_jobs = render_concurrency(SETTINGS)
    job_timeout = int(SETTINGS.job_timeout_seconds) + 60
    # Lost jobs come back through the sweeper (leases in the database), not arq's own retries.
    max_tries = 1


def main() -> int:
    """``dxgl worker``: run the worker until stopped."""
    from arq.logs import default_log_config

    # As `arq worker.WorkerSettings` does: one line per job started and finished, and dxgl's own log.
    logging.config.dictConfig(default_log_config(verbose=False))
    logging.getLogger("dxgl").setLevel(SETTINGS.log_level.upper())
    logging.getLogger("dxgl").addHandler(logging.getLogger("arq").handlers[0])
    run_worker(WorkerSettings)  # type: ignore[arg-type]
    return 0
