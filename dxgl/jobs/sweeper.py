"""The sweeper: renders that were lost (their worker was killed, their queue entry vanished) are
queued again. The database is the source of truth: a render is lost when its lease expired or it
stayed pending for a whole lease. Each tick also removes the temporary uploads and render work
folders that killed processes left behind and, on an S3 store, the temporary objects and
unfinished multipart uploads they left there (``Runtime.remove_stale_temp``, also run at start).

Under arq it is a cron job with ``unique``: one tick runs once across all workers, however many
there are. The embedded runner calls ``sweep_forever``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from dxgl.runtime import Runtime
from dxgl.services import render_state

log = logging.getLogger(__name__)


async def sweep(rt: Runtime) -> list[str]:
    """Queue again the renders that were lost. Returns their ids."""
    async with rt.unit_of_work() as session:
        lost = await render_state.lost_renders(session, lease_s=rt.settings.job_lease_seconds)
    groups: dict[tuple[str, str | None], list[str]] = {}
    for render in lost:
        groups.setdefault((render.model_id, render.batch_id), []).append(render.id)
    for ids in groups.values():
        await rt.queue.enqueue(ids)
    if lost:
        log.info("sweeper queued %d lost render(s) again", len(lost))
    return [r.id for r in lost]


async def tick(rt: Runtime) -> dict[str, int]:
    """One sweeper tick: queue lost renders again, then remove stale temporary files (and stale
    temporary objects and multipart uploads in an S3 store: counted in ``removed_temp`` too)."""
    try:
        requeued = await sweep(rt)
    finally:  # a failed sweep (say, the database is down) still cleans the disk
        removed = await rt.remove_stale_temp()
    return {"requeued": len(requeued), "removed_temp": len(removed)}


async def sweep_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq cron entry point: one tick. Returns (and arq logs) which tick it was, by its job id, how
    many renders it queued again and how many stale temporary entries it removed."""
    return {"tick": ctx.get("job_id"), **await tick(ctx["runtime"])}


def cron_seconds(interval_s: float) -> set[int]:
    """The seconds of each minute at which an arq cron with this interval ticks (at least every
    second, at most once a minute)."""
    step = min(60, max(1, round(interval_s)))
    return set(range(0, 60, step))


async def sweep_forever(rt: Runtime) -> None:
    while True:
        try:
            await tick(rt)
        except Exception:  # a failed sweep is retried at the next interval
            log.exception("sweeper failed")
        await asyncio.sleep(rt.settings.sweeper_interval_seconds)
