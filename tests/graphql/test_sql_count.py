"""Nested fields load through per-request dataloaders: a dashboard page costs a fixed number of SQL
statements, however many models and renders it shows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from dxgl.ids import new_id
from dxgl.tables import Model3D, Render
from dxgl.timeutil import utcnow
from tests.graphql.conftest import gql

# Transaction control is not a query (SQLite's engine issues BEGIN IMMEDIATE itself).
_TRANSACTION = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)\b", re.IGNORECASE)


@contextmanager
def counted_statements(engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        if not _TRANSACTION.match(statement):
            statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", before)


async def _fifty_models_with_renders(service, account_id: str) -> None:
    """Rows straight into the database: the setup, not the thing under test."""
    base = utcnow()
    async with service.runtime.unit_of_work() as session:
        for i in range(50):
            model = Model3D(
                id=new_id(),
                account_id=account_id,
                original_name=f"m{i}.glb",
                sha256=f"{i:064x}",
                storage_key=f"models/{account_id}/{i}.glb",
                file_size=100 + i,
                created_at=base + timedelta(seconds=i),
            )
            session.add(model)
            await session.flush()
            for _ in range(2):
                session.add(
                    Render(id=new_id(), account_id=account_id, model_id=model.id, settings={"quality": "standard"})
                )
        await session.flush()


async def test_fifty_models_with_their_renders_take_three_statements(service):
    acct = await service.account()
    other = await service.account()
    await _fifty_models_with_renders(service, acct.id)
    await _fifty_models_with_renders(service, other.id)
    query = "{ models(limit: 50) { items { id originalName renders { id status modelId } } } }"
    with counted_statements(service.runtime.engine) as statements:
        result = await gql(acct, query)
    items = result["data"]["models"]["items"]
    assert len(items) == 50
    assert all(len(m["renders"]) == 2 and all(r["modelId"] == m["id"] for r in m["renders"]) for m in items)
    assert len(statements) <= 3, statements  # token lookup + models + renders

    # totalCount is one more statement, and only when selected.
    with counted_statements(service.runtime.engine) as statements:
        result = await gql(acct, "{ models(limit: 50) { totalCount items { renders { id } } } }")
    assert result["data"]["models"]["totalCount"] == 50
    assert len(statements) <= 4, statements


async def test_renders_with_their_models_take_three_statements(service):
    acct = await service.account()
    await _fifty_models_with_renders(service, acct.id)
    with counted_statements(service.runtime.engine) as statements:
        result = await gql(acct, "{ renders(limit: 100) { items { id model { id originalName } } } }")
    items = result["data"]["renders"]["items"]
    assert len(items) == 100 and all(r["model"]["originalName"].startswith("m") for r in items)
    assert len(statements) <= 3, statements  # token lookup + renders + models
