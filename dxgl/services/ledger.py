"""The credit ledger as the account holder sees it: every grant, charge and refund of the caller's
account, newest first, one offset page at a time (the rows ``credits`` and ``accounts`` write)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import Scope
from dxgl.services.auth import Caller
from dxgl.services.pagination import Page
from dxgl.tables import LedgerEntry


def account_ledger(account_id: str) -> list[ColumnElement[bool]]:
    """The account's ledger rows (the filter every ledger read goes through)."""
    return [col(LedgerEntry.account_id) == account_id]


async def list_entries(
    session: AsyncSession, caller: Caller, *, page: Page, with_total: bool = True
) -> tuple[list[LedgerEntry], int | None]:
    """One page of the caller's ledger, newest first (entries written in the same instant: the
    later row first). Needs ``account:read``; ``with_total=False`` skips the count query."""
    caller.require(Scope.ACCOUNT_READ)
    where = account_ledger(caller.account_id)
    total = None
    if with_total:
        total = (await session.execute(select(func.count()).select_from(LedgerEntry).where(*where))).scalar_one()
    rows = await session.execute(
        select(LedgerEntry)
        .where(*where)
        .order_by(col(LedgerEntry.created_at).desc(), col(LedgerEntry.id).desc())
        .limit(page.limit)
        .offset(page.offset)
    )
    return list(rows.scalars()), total
