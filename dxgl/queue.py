"""The queue seam: render ids go to arq on Redis when ``DXGL_REDIS_URL`` is set, otherwise to the
embedded in-process runner. Ids are enqueued only after the commit that created their rows
(``dxgl.uow``); the database stays the source of truth, the queue only carries ids.

Webhook deliveries have their own lane, so that they never wait behind a render that takes minutes:
on Redis a second arq queue (``WEBHOOK_QUEUE``, run by its own worker in the ``dxgl worker``
process), on the embedded default an in-process task of their own. What is sent is in the database
(the outbox, ``dxgl.services.webhooks``); the queue only carries "look now" (or "look at")."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from dxgl.timeutil import utcnow

log = logging.getLogger(__name__)

# The arq function name that runs renders (worker.py registers it).
RENDER_JOB = "run_renders"

# The arq function and queue that deliver webhooks (worker.py runs a worker for that queue).
WEBHOOK_JOB = "deliver_webhooks"
WEBHOOK_QUEUE = "dxgl:webhooks"
# The embedded delivery task looks at the outbox at least this often, woken or not.
WEBHOOK_POLL_S = 5.0

RenderHandler = Callable[[list[str]], Awaitable[None]]
# Deliver what is due; returns when the next delivery falls due (None: nothing waits).
WebhookHandler = Callable[[], Awaitable[datetime | None]]


class RenderQueue(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue(self, render_ids: Sequence[str]) -> None: ...
    async def enqueue_webhooks(self, at: datetime | None = None) -> None: ...


class ArqQueue:
    """Render ids as arq jobs on Redis; a separate ``worker.py`` process runs them."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.pool = None

    async def start(self) -> None:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool = await create_pool(RedisSettings.from_dsn(self.redis_url))

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.aclose()
            self.pool = None

    async def enqueue(self, render_ids: Sequence[str]) -> None:
        if not render_ids:
            return
        assert self.pool is not None, "queue not started"
        await self.pool.enqueue_job(RENDER_JOB, list(render_ids))

    async def enqueue_webhooks(self, at: datetime | None = None) -> None:
        """A delivery job on the webhook queue, now or at ``at`` (a retry's time: every job that
        finds the same next retry books the same job id, which arq refuses to queue twice)."""
        assert self.pool is not None, "queue not started"
        if at is None:
            await self.pool.enqueue_job(WEBHOOK_JOB, _queue_name=WEBHOOK_QUEUE)
        else:
            await self.pool.enqueue_job(
                WEBHOOK_JOB,
                _queue_name=WEBHOOK_QUEUE,
                _defer_until=at,
                _job_id=f"dxgl-webhooks-at-{int(at.timestamp() * 1000)}",
            )


class EmbeddedQueue:
    """In-process runner for the embedded default: one group of renders at a time, in order."""

    def __init__(self) -> None:
        self.handler: RenderHandler | None = None
        self.pending: asyncio.Queue[list[str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.webhook_handler: WebhookHandler | None = None
        self._webhook_wake = asyncio.Event()
        self._webhook_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Ids queue up until ``run_with`` gives the runner its job."""

    def run_with(self, handler: RenderHandler) -> None:
        self.handler = handler
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dxgl-embedded-runner")

    def deliver_with(self, handler: WebhookHandler) -> None:
        """Start the webhook delivery task (separate from the render runner: never behind a render)."""
        self.webhook_handler = handler
        if self._webhook_task is None:
            self._webhook_task = asyncio.create_task(self._run_webhooks(), name="dxgl-embedded-webhooks")

    async def close(self) -> None:
        for task in (self._task, self._webhook_task):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        self._task = self._webhook_task = None

    async def enqueue_webhooks(self, at: datetime | None = None) -> None:
        # A retry's time needs no wake-up: the task sleeps until the next due delivery by itself.
        if at is None:
            self._webhook_wake.set()

    async def _run_webhooks(self) -> None:
        assert self.webhook_handler is not None
        while True:
            self._webhook_wake.clear()  # before looking: a wake-up during the look is not lost
            try:
                next_at = await self.webhook_handler()
            except Exception:  # one failed round must not stop deliveries; the rows stay due
                log.exception("embedded webhook delivery failed")
                next_at = None
            wait = WEBHOOK_POLL_S
            if next_at is not None:
                wait = min(wait, max(0.0, (next_at - utcnow()).total_seconds()))
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that
            # arrives as the wait ends, and this loop would then outlive its shutdown.
            try:
                async with asyncio.timeout(wait):
                    await self._webhook_wake.wait()
            except TimeoutError:
                pass

    async def enqueue(self, render_ids: Sequence[str]) -> None:
        if render_ids:
            self.pending.put_nowait(list(render_ids))

    async def _run(self) -> None:
        assert self.handler is not None
        while True:
            ids = await self.pending.get()
            try:
                await self.handler(ids)
            except Exception:  # a failed job must not stop the runner; the job records the error
                log.exception("embedded render job failed for %s", ids)
            finally:
                self.pending.task_done()
