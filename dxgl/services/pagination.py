"""Offset pagination shared by every list (REST ``meta`` and GraphQL pages)."""

from __future__ import annotations

import re
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
        """From query-string or GraphQL values. ASCII digits only (no sign, ``_``, spaces or
        other scripts' digits); ``limit`` above 100 is clamped to 100 (CLARIFICATIONS.md) however
        large, ``offset`` above MAX_OFFSET to MAX_OFFSET (an empty page); ``limit < 1`` is refused."""
        return cls(
            limit=min(_int("limit", limit, DEFAULT_LIMIT, 1), MAX_LIMIT),
            offset=min(_int("offset", offset, 0, 0), MAX_OFFSET),
        )


# The largest offset a database is asked for (a 32-bit signed integer); beyond it, clamped.
MAX_OFFSET = 2**31 - 1
_DIGITS = re.compile(r"[0-9]+")
_MAX_DIGITS = 12  # longer digit strings are beyond every clamp: not converted at all


def _int(name: str, value: Any, default: int, minimum: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value) if len(value) <= _MAX_DIGITS else 10**_MAX_DIGITS
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = None
    if number is None or number < minimum:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be an integer >= {minimum} (ASCII digits)")
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
