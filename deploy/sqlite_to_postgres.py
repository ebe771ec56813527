"""Copy an embedded install's SQLite database into PostgreSQL (docs/deploy.md, "From the embedded
default to the production shape").

    dxgl serve stopped, then:
    .venv/bin/python deploy/sqlite_to_postgres.py \\
        --from sqlite+aiosqlite:////var/lib/dxgl/dxgl.sqlite3 \\
        --to postgresql+asyncpg://dxgl:PASSWORD@db.internal:5432/dxgl

Both databases are migrated to the latest schema first (the same Alembic migrations create both), so
rows copy table by table, in foreign-key order, through dxgl's own table definitions: SQLAlchemy turns
SQLite's stored JSON, booleans and timestamps into Python values and back into PostgreSQL's types.
The copy is one PostgreSQL transaction (all or nothing) and refuses a destination that already has
rows. Then the integer id sequences are moved past the copied ids, and every table's row count is
compared. Blobs are a separate step: ``dxgl storage migrate`` (docs/storage.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlmodel import SQLModel

import dxgl.tables  # noqa: F401  (registers every table on SQLModel.metadata)
from dxgl.db import migrate

BATCH = 1000


class CopyRefused(Exception):
    """The copy would lose or mix data: nothing was written."""


async def _count(conn: AsyncConnection, table: Any) -> int:
    return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def _revision(conn: AsyncConnection) -> str:
    return str((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one())


async def _reset_sequences(conn: AsyncConnection, tables: list[Any]) -> None:
    """Integer primary keys draw from sequences: move each past the ids just copied."""
    for table in tables:
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, Integer):
            column = keys[0].name
            await conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column}'), "
                    f'COALESCE((SELECT MAX("{column}") FROM "{table.name}"), 1), '
                    f'(SELECT MAX("{column}") FROM "{table.name}") IS NOT NULL)'
                )
            )


async def copy(source_url: str, target_url: str) -> dict[str, int]:
    """Copy every row of ``source_url`` (SQLite) into ``target_url`` (PostgreSQL); rows per table."""
    if not source_url.startswith("sqlite") or not target_url.startswith("postgresql"):
        raise CopyRefused("--from must be a sqlite+aiosqlite:/// URL and --to a postgresql+asyncpg:// URL")
    await asyncio.to_thread(migrate, source_url)
    await asyncio.to_thread(migrate, target_url)
    tables = list(SQLModel.metadata.sorted_tables)
    source = create_async_engine(source_url)
    target = create_async_engine(target_url)
    copied: dict[str, int] = {}
    try:
        async with source.connect() as src, target.begin() as dst:
            if await _revision(src) != await _revision(dst):
                raise CopyRefused("the two databases are at different migrations")
            for table in tables:
                if await _count(dst, table):
                    raise CopyRefused(f"the destination's {table.name} table has rows already: give an empty database")
            for table in tables:
                result = await src.stream(select(table))
                n = 0
                async for batch in result.mappings().partitions(BATCH):
                    await dst.execute(insert(table), [dict(row) for row in batch])
                    n += len(batch)
                copied[table.name] = n
            await _reset_sequences(dst, tables)
            for table in tables:
                if await _count(dst, table) != copied[table.name] or await _count(src, table) != copied[table.name]:
                    raise CopyRefused(f"{table.name}: row counts differ after the copy (was the source in use?)")
    finally:
        await source.dispose()
        await target.dispose()
    return copied


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", required=True, help="sqlite+aiosqlite:////path/dxgl.sqlite3")
    parser.add_argument("--to", dest="target", required=True, help="postgresql+asyncpg://user:pw@host:5432/db")
    args = parser.parse_args()
    try:
        copied = asyncio.run(copy(args.source, args.target))
    except CopyRefused as exc:
        print(f"nothing copied: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"copied_rows": copied, "total": sum(copied.values())}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
