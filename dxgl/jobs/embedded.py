"""The embedded runner of ``dxgl serve`` without Redis: renders run in the API process, one group
at a time (the render itself is a spawned child process, so the API process never holds GL), and
webhook deliveries in a task of their own (never behind a render)."""

from __future__ import annotations

import asyncio

from dxgl.jobs.render_job import run_renders
from dxgl.jobs.sweeper import sweep_forever
from dxgl.jobs.webhook_delivery import start_webhook_delivery
from dxgl.queue import EmbeddedQueue
from dxgl.runtime import Runtime
from dxgl.services import render_state


def start_embedded_runner(rt: Runtime) -> list[asyncio.Task[None]]:
    """Start rendering queued renders in this process. Nothing else can be running them, so every
    unfinished render is queued again at start, and a lease still running is one this process held
    before it was killed: it ends now, so the render resumes at once instead of a lease later. Then
    the sweeper watches (stale temporary files went in ``Runtime.start``). Webhook deliveries start
    too (``start_webhook_delivery``; the queue's close ends them)."""
    assert isinstance(rt.queue, EmbeddedQueue)
    rt.queue.run_with(lambda ids: run_renders({"runtime": rt}, ids))
    start_webhook_delivery(rt)
    return [asyncio.create_task(_resume_then_sweep(rt), name="dxgl-sweeper")]


async def _resume_then_sweep(rt: Runtime) -> None:
    async with rt.unit_of_work() as session:
        await render_state.expire_leases(session)
        unfinished = await render_state.unfinished(session)
    for ids in unfinished:
        await rt.queue.enqueue(ids)
    await sweep_forever(rt)
