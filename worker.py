"""arq worker settings: ``arq worker.WorkerSettings`` or ``dxgl worker``.

A worker needs Redis (``DXGL_REDIS_URL``): without it nothing would ever hand it a render, so it
refuses to start. Resources live in ``ctx``: the Runtime (database, storage, queue for re-queuing,
event bus). The sweeper is an arq cron job with ``unique``: each tick runs on one worker only.

``dxgl worker`` (``main``) runs two arq workers in one process, sharing one Runtime: the render
worker (``WorkerSettings``: ``max_jobs`` renders, each for minutes) and the webhook worker
(``WebhookWorkerSettings``: its own queue and many concurrent jobs), so a delivery never waits
behind a render. ``arq worker.WorkerSettings`` alone runs renders only.
"""

from __future__ import annotations

import asyncio
import logging
import logging.config
from typing import Any

from arq import cron, func
from arq.connections import RedisSettings
from arq.worker import create_worker

from dxgl.config import get_settings
from dxgl.jobs.capacity import on_worker_start, on_worker_stop, render_concurrency
from dxgl.jobs.render_job import run_renders
from dxgl.jobs.sweeper import cron_seconds, sweep_job
from dxgl.jobs.webhook_delivery import deliver_webhooks
from dxgl.queue import WEBHOOK_JOB, WEBHOOK_QUEUE
from dxgl.runtime import Runtime

SETTINGS = get_settings()
if not SETTINGS.redis_url:
    raise SystemExit("dxgl worker needs DXGL_REDIS_URL (redis://HOST:6379/0): it takes its renders from that queue")


async def _own_runtime(ctx: dict[str, Any]) -> None:
    """The Runtime ``main`` shares, or (``arq worker.WorkerSettings``) one of this worker's own."""
    if "runtime" not in ctx:
        ctx["runtime"] = await Runtime.start(SETTINGS)
        ctx["owns_runtime"] = True


async def _close_runtime(ctx: dict[str, Any]) -> None:
    if ctx.pop("owns_runtime", False):
        await ctx["runtime"].close()


async def startup(ctx: dict[str, Any]) -> None:
    await _own_runtime(ctx)
    await on_worker_start(ctx)


async def shutdown(ctx: dict[str, Any]) -> None:
    await on_worker_stop(ctx)
    await _close_runtime(ctx)


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


class WebhookWorkerSettings:
    """The webhook queue: deliveries (each at most DXGL_WEBHOOK_TIMEOUT_SECONDS per request), many
    at once. A cron sweep each minute delivers what a lost wake-up left due (at least once)."""

    functions = [func(deliver_webhooks, name=WEBHOOK_JOB)]
    cron_jobs = [cron(deliver_webhooks, second=0, microsecond=0, unique=True, run_at_startup=True, timeout=600)]
    queue_name = WEBHOOK_QUEUE
    on_startup = _own_runtime
    on_shutdown = _close_runtime
    redis_settings = RedisSettings.from_dsn(SETTINGS.redis_url)
    max_jobs = 10
    job_timeout = 600
    max_tries = 1
    # No results kept: a retry's job id (dxgl.queue.ArqQueue.enqueue_webhooks) is free once it ran.
    keep_result = 0


async def _run_both() -> None:
    rt = await Runtime.start(SETTINGS)
    renders = create_worker(WorkerSettings, ctx={"runtime": rt})  # type: ignore[arg-type]
    hooks = create_worker(WebhookWorkerSettings, ctx={"runtime": rt}, handle_signals=False)  # type: ignore[arg-type]
    renders.on_stop = hooks.handle_sig  # SIGINT / SIGTERM stop both
    try:
        await asyncio.gather(renders.async_run(), hooks.async_run(), return_exceptions=True)
    finally:
        for worker in (hooks, renders):
            # The stop signal cancelled their running jobs: let those end (a cancelled job raises
            # CancelledError, which would cut ``close`` short before its on_shutdown), then close.
            await asyncio.gather(*worker.tasks.values(), return_exceptions=True)
            worker.tasks.clear()
            await worker.close()
        await rt.close()


def main() -> int:
    """``dxgl worker``: run the render worker and the webhook worker until stopped."""
    from arq.logs import default_log_config

    # As `arq worker.WorkerSettings` does: one line per job started and finished, and dxgl's own log.
    logging.config.dictConfig(default_log_config(verbose=False))
    logging.getLogger("dxgl").setLevel(SETTINGS.log_level.upper())
    logging.getLogger("dxgl").addHandler(logging.getLogger("arq").handlers[0])
    asyncio.run(_run_both())
    return 0
