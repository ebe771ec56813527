"""The process-wide resources of one deployment shape, built once from Settings: the database
engine and sessions, blob storage, the render queue, the status event bus, and the unit of work
that ties them together (``dxgl.uow``).

Only entry points hold a Runtime (the app's lifespan, the worker's ctx, the CLI). They hand each
service just what it uses: a session, the storage, a setting.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dxgl.config import Settings
from dxgl.db import make_engine, make_sessionmaker, migrate_async
from dxgl.events import EventBus, make_event_bus, render_event
from dxgl.queue import ArqQueue, EmbeddedQueue, RenderQueue
from dxgl.storage import LocalStorage
from dxgl.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: LocalStorage
    queue: RenderQueue
    events: EventBus
    _uow: UnitOfWork = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._uow = UnitOfWork(self.sessionmaker, self.queue.enqueue, self.events.publish, render_event)

    @classmethod
    async def start(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.resolved_database_url
        if migrate:
            await migrate_async(url)
        engine = make_engine(url)
        queue: RenderQueue = ArqQueue(settings.redis_url) if settings.redis_url else EmbeddedQueue()
        await queue.start()
        log.info("dxgl runtime: database=%s queue=%s", engine.url.get_backend_name(), type(queue).__name__)
        # Render status events: Redis pub/sub across processes, or in-process on the embedded default.
        events = make_event_bus(settings)
        return cls(settings, engine, make_sessionmaker(engine), LocalStorage(settings.files_dir), queue, events)

    @property
    def embedded(self) -> bool:
        """True on the embedded default: renders run in this process (no Redis)."""
        return isinstance(self.queue, EmbeddedQueue)

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
