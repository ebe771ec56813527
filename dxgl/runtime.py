"""The process-wide resources of one deployment shape, built from Settings, and the unit of work
that every request or job runs in (commit at the boundary, enqueue after the commit)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from dxgl.config import Settings
from dxgl.db import make_engine, make_sessionmaker, migrate_async
from dxgl.events import EventBus, make_event_bus, render_event
from dxgl.queue import ArqQueue, EmbeddedQueue, RenderQueue
from dxgl.storage import LocalStorage
from dxgl.tables import Render

log = logging.getLogger(__name__)

_ENQUEUE = "dxgl.enqueue"
_ON_ROLLBACK = "dxgl.on_rollback"
_AFTER_COMMIT = "dxgl.after_commit"
_PUBLISH = "dxgl.publish"


def enqueue_after_commit(session: AsyncSession, render_ids: list[str]) -> None:
    """Queue these render ids once the current transaction has committed (never before)."""
    session.info.setdefault(_ENQUEUE, []).append(list(render_ids))


def on_rollback(session: AsyncSession, cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` (e.g. delete a file just published) if the transaction does not commit."""
    session.info.setdefault(_ON_ROLLBACK, []).append(cleanup)


def publish_after_commit(session: AsyncSession, render: Render) -> None:
    """Publish this render's state as a status event once the transaction has committed."""
    session.info.setdefault(_PUBLISH, []).append(render)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` (e.g. delete files of a deleted row) only once the transaction has committed."""
    session.info.setdefault(_AFTER_COMMIT, []).append(action)


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: LocalStorage
    queue: RenderQueue
    extras: dict = field(default_factory=dict)

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
        rt = cls(settings, engine, make_sessionmaker(engine), LocalStorage(settings.files_dir), queue)
        # Render status events: Redis pub/sub across processes, or in-process on the embedded default.
        rt.extras["events"] = make_event_bus(settings)
        return rt

    @property
    def embedded(self) -> bool:
        """True on the embedded default: renders run in this process (no Redis)."""
        return isinstance(self.queue, EmbeddedQueue)

    async def close(self) -> None:
        await self.queue.close()
        await self.extras["events"].close()
        await self.engine.dispose()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commit when the block succeeds, roll back (and clean up) when it raises;
        queued render ids are handed to the queue after the commit."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                session.info.pop(_AFTER_COMMIT, None)
                session.info.pop(_ENQUEUE, None)
                session.info.pop(_PUBLISH, None)
                for cleanup in session.info.pop(_ON_ROLLBACK, []):
                    try:
                        cleanup()
                    except Exception:
                        log.exception("cleanup after rollback failed")
                raise
            session.info.pop(_ON_ROLLBACK, None)
            actions = session.info.pop(_AFTER_COMMIT, [])
            groups = session.info.pop(_ENQUEUE, [])
            published = [(r.account_id, render_event(r)) for r in session.info.pop(_PUBLISH, [])]
        for action in actions:
            try:
                action()
            except Exception:
                log.exception("after-commit action failed")
        for ids in groups:
            await self.queue.enqueue(ids)
        for account_id, event in published:
            await self.events.publish(account_id, event)

    @property
    def events(self) -> EventBus:
        return self.extras["events"]
