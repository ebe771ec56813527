"""The process-wide resources of one deployment shape, built once from Settings: the database
engine and sessions, blob storage, the render queue, the status event bus, and the unit of work
that ties them together (``dxgl.uow``).

Only entry points hold a Runtime (the app's lifespan, the worker's ctx, the CLI). They hand each
service just what it uses: a session, the storage, a setting.

Clean restarts: ``Runtime.start`` removes what killed processes left in the storage's temporary
folder (``remove_stale_temp``; the sweeper runs the same on every tick). It is the one start-up that
every process shape passes through: the embedded ``dxgl serve``, the API processes of a Redis
deployment and every arq worker, before any of them takes an upload or a render.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dxgl.config import Settings
from dxgl.db import make_engine, make_sessionmaker, migrate_async
from dxgl.events import EventBus, make_event_bus, render_event
from dxgl.queue import ArqQueue, EmbeddedQueue, RenderQueue
from dxgl.storage import BlobCache, Storage, open_storage
from dxgl.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage
    queue: RenderQueue
    events: EventBus
    _uow: UnitOfWork = field(init=False, repr=False)
    # A worker's local copy of the models and overlays it renders (``DXGL_CACHE_DIR``, default
    # ``DXGL_DATA_DIR/cache``), made on first use: the API never needs one.
    _cache: BlobCache | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self._uow = UnitOfWork(
            self.sessionmaker,
            self.queue.enqueue,
            self.events.publish,
            render_event,
            deliver=self.queue.enqueue_webhooks,
        )

    @property
    def cache(self) -> BlobCache:
        if self._cache is None:
            root = self.settings.cache_dir or self.settings.data_dir / "cache"
            self._cache = BlobCache(self.storage, root, self.settings.cache_max_bytes)
        return self._cache

    @classmethod
    async def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            await migrate_async(url)
        engine = make_engine(url, busy_seconds=settings.db_busy_seconds)
        queue: RenderQueue = ArqQueue(settings.redis_url) if settings.redis_url else EmbeddedQueue()
        await queue.start()
        log.info("dxgl runtime: database=%s queue=%s", engine.url.get_backend_name(), type(queue).__name__)
        # Render status events: Redis pub/sub across processes, or in-process on the embedded default.
        events = make_event_bus(settings)
        rt = cls(settings, engine, make_sessionmaker(engine), open_storage(settings), queue, events)
        await rt.remove_stale_temp()
        return rt

    @property
    def embedded(self) -> bool:
        """True on the embedded default: renders run in this process (no Redis)."""
        return isinstance(self.queue, EmbeddedQueue)

    @property
    def temp_max_age_s(self) -> float:
        """How old a temporary upload or work folder must be to count as left behind: longer than
        the longest legitimate job (``DXGL_TEMP_MAX_AGE_SECONDS``; 0 = the job timeout + 1 hour)."""
        return temp_max_age_s(self.settings)

    async def remove_stale_temp(self) -> list[Path | str]:
        """Remove the temporary uploads and work folders older than ``temp_max_age_s`` (at start and
        on each sweeper tick; the rule is ``Storage.remove_stale_temp``) and, on an object store,
        the temporary objects and unfinished multipart uploads as old (``Storage.sweep_store``).
        Never raises: a failed clean-up is logged and tried again at the next tick."""
        removed: list[Path | str] = []
        for clean in (self.storage.remove_stale_temp, self.storage.sweep_store):
            try:
                removed.extend(await asyncio.to_thread(clean, self.temp_max_age_s))
            except Exception:
                log.exception("removing stale temporaries failed (%s)", clean.__name__)
        if removed:
            log.info("removed %d stale temporary upload(s), work folder(s) or object(s)", len(removed))
        return removed

    async def close(self) -> None:
        await self.queue.close()
        await self.events.close()
        await self.engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction (``dxgl.uow``): committed when the block succeeds, rolled back when it
        raises; queued render ids and status events are handed on after the commit."""
        async with self._uow() as session:
            yield session


def temp_max_age_s(settings: Settings) -> float:
    """``DXGL_TEMP_MAX_AGE_SECONDS``, or (0) the longest legitimate job plus an hour."""
    if settings.temp_max_age_seconds > 0:
        return settings.temp_max_age_seconds
    return settings.job_timeout_seconds + 3600.0
