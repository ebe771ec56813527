"""arq worker settings: ``arq worker.WorkerSettings`` or ``dxgl worker``.

A worker needs Redis (``DXGL_REDIS_URL``): without it nothing would ever hand it a render, so it
refuses to start. Resources live in ``ctx``: the Runtime (database, storage, queue for re-queuing,
event bus). The sweeper is an arq cron job with ``unique``: each tick runs on one worker only.
"""

from __future__ import annotations

from typing import Any

from arq import cron
from arq.connections import RedisSettings

from dxgl.config import get_settings
from dxgl.jobs.render_job import run_renders
from dxgl.jobs.sweeper import cron_seconds, sweep_job
from dxgl.runtime import Runtime

SETTINGS = get_settings()
if not SETTINGS.redis_url:
    raise SystemExit("dxgl worker needs DXGL_REDIS_URL (redis://HOST:6379/0): it takes its renders from that queue")


async def startup(ctx: dict[str, Any]) -> None:
    ctx["runtime"] = await Runtime.start(SETTINGS)


async def shutdown(ctx: dict[str, Any]) -> None:
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
    # Rendering uses both cores already (RENDERING-NOTES): one job at a time per worker.
    max_jobs = 1
    job_timeout = int(SETTINGS.job_timeout_seconds) + 60
    # Lost jobs come back through the sweeper (leases in the database), not arq's own retries.
    max_tries = 1
