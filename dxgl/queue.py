"""The queue seam: render ids go to arq on Redis when ``DXGL_REDIS_URL`` is set, otherwise to the
embedded in-process runner. Ids are enqueued only after the commit that created their rows
(``dxgl.uow``); the database stays the source of truth, the queue only carries ids."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

log = logging.getLogger(__name__)

# The arq function name that runs renders (worker.py registers it).
RENDER_JOB = "run_renders"

RenderHandler = Callable[[list[str]], Awaitable[None]]


class RenderQueue(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def enqueue(self, render_ids: Sequence[str]) -> None: ...


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


class EmbeddedQueue:
    """In-process runner for the embedded default: one group of renders at a time, in order."""

    def __init__(self) -> None:
        self.handler: RenderHandler | None = None
        self.pending: asyncio.Queue[list[str]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Ids queue up until ``run_with`` gives the runner its job."""

    def run_with(self, handler: RenderHandler) -> None:
        self.handler = handler
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="dxgl-embedded-runner")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

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
