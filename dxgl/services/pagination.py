"""Offset pagination shared by every list (REST ``meta`` and GraphQL pages)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import DEFAULT_PAGE_LIMIT as DEFAULT_LIMIT
from dxgl.contract import MAX_PAGE_LIMIT as MAX_LIMIT
from dxgl.contract import ErrorCode
from dxgl.errors import DxglError


@dataclass(frozen=True)
class Page:
    limit: int = DEFAULT_LIMIT
    offset: int = 0

    @classmethod
    def parse(cls, limit: Any = None, offset: Any = None) -> Page:
        """From query-string or GraphQL values. ``limit`` above 100 is clamped to 100
        (CLARIFICATIONS.md); non-integers, ``limit < 1`` and ``offset < 0`` are refused."""
        return cls(limit=min(_int("limit", limit, DEFAULT_LIMIT, 1), MAX_LIMIT), offset=_int("offset", offset, 0, 0))


def _int(name: str, value: Any, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value) if not isinstance(value, bool) else None
    except (TypeError, ValueError):
        number = None
    if number is None or number < minimum or number > 2**31:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be an integer >= {minimum}")
    return number


async def fetch_page(
    session: AsyncSession, table: Any, where: list[Any], page: Page, *, with_total: bool = True
) -> tuple[list[Any], int | None]:
    """One page of ``table`` rows matching ``where``, newest first (ties by id), and the total
    (skipped when ``with_total`` is False: GraphQL counts only when ``totalCount`` is asked for)."""
    total = None
    if with_total:
        total = (await session.execute(select(func.count()).select_from(table).where(*where))).scalar_one()
    rows = await session.execute(
        select(table).where(*where).order_by(table.created_at.desc(), table.id).limit(page.limit).offset(page.offset)
    )
    return list(rows.scalars()), total
