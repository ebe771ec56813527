"""Health: can the database be reached right now?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from dxgl.db import ping


@dataclass
class HealthReport:
    database_ok: bool
    detail: str = ""


async def check(engine: AsyncEngine, timeout_s: float = 5.0) -> HealthReport:
    try:
        await asyncio.wait_for(ping(engine), timeout_s)
    except Exception as exc:  # any failure to reach the database is "unhealthy", never a 500
        return HealthReport(False, type(exc).__name__)
    return HealthReport(True)
