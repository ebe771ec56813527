"""Database engine, sessions and migrations (SQLite by default, PostgreSQL via asyncpg)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_only

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


# Each try at SQLite's write lock waits this long in SQLite's own busy handler; between tries, a
# random pause, so that waiting writers do not wake in lock step.
_LOCK_TRY_MS = 200
_JITTER_S = (0.005, 0.05)


def make_engine(url: str, *, busy_seconds: float = 10.0) -> AsyncEngine:
    """An async engine. On SQLite every transaction starts with ``BEGIN IMMEDIATE`` so that
    concurrent writers queue for the write lock instead of failing on a lock upgrade, and WAL lets
    readers go on while one writes. A writer that cannot get the lock within ``busy_seconds``
    (tries of _LOCK_TRY_MS with jittered pauses) fails with "database is locked", which the
    adapters answer as 503 ``service_unavailable`` with ``Retry-After`` (:func:`is_busy`).
    Transactions never span client I/O (request bodies are read first), so this happens only
    when the machine is overloaded."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": _LOCK_TRY_MS / 1000})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={_LOCK_TRY_MS}")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
            # Runs in SQLAlchemy's greenlet on the event loop: pause with await_only(asyncio.sleep),
            # never time.sleep, so that other requests go on meanwhile.
            deadline = time.monotonic() + busy_seconds
            while True:
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                    return
                except OperationalError as exc:
                    if not is_busy(exc) or time.monotonic() >= deadline:
                        raise
                await_only(asyncio.sleep(random.uniform(*_JITTER_S)))

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def is_busy(exc: BaseException) -> bool:
    """True for SQLite's "database is locked" / "database is busy" (the write lock stayed taken)."""
    message = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError | sqlite3.OperationalError) and (
        "database is locked" in message or "database is busy" in message
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Apply every Alembic migration up to head (idempotent). Call from synchronous code."""
    from alembic import command

    if url.startswith("sqlite"):
        Path(url.split("///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(url), "head")


async def migrate_async(url: str) -> None:
    # Alembic's env.py drives its own event loop; keep it off ours.
    await asyncio.to_thread(migrate, url)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
