"""Health: can the database be reached right now?"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from dxgl.db import ping
from dxgl.runtime import Runtime


@dataclass
class HealthReport:
    database_ok: bool
    detail: str = ""


async def check(rt: Runtime, timeout_s: float = 5.0) -> HealthReport:
    try:
        await asyncio.wait_for(ping(rt.engine), timeout_s)
    except Exception as exc:  # any failure to reach the database is "unhealthy", never a 500
        return HealthReport(False, type(exc).__name__)
    return HealthReport(True)
