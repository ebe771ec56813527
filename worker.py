"""arq worker settings: ``arq worker.WorkerSettings`` or ``dxgl worker``.

Resources live in ``ctx``: the Runtime (database, storage, queue for re-queuing, event bus) and
the sweeper task that queues lost renders again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from arq.connections import RedisSettings

from dxgl.config import get_settings
from dxgl.jobs import run_renders, sweep_forever
from dxgl.runtime import Runtime

SETTINGS = get_settings()


async def startup(ctx: dict[str, Any]) -> None:
    ctx["runtime"] = rt = await Runtime.start(SETTINGS)
    ctx["sweeper"] = asyncio.create_task(sweep_forever(rt), name="dxgl-sweeper")


async def shutdown(ctx: dict[str, Any]) -> None:
    ctx["sweeper"].cancel()
    await ctx["runtime"].close()


class WorkerSettings:
    functions = [run_renders]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings = RedisSettings.from_dsn(SETTINGS.redis_url or "redis://127.0.0.1:6379")
    # Rendering uses both cores already (RENDERING-NOTES): one job at a time per worker.
    max_jobs = 1
    job_timeout = int(SETTINGS.job_timeout_seconds) + 60
    # Lost jobs come back through the sweeper (leases in the database), not arq's own retries.
    max_tries = 1
