"""arq worker settings: ``arq worker.WorkerSettings`` or ``dxgl worker``."""

from __future__ import annotations

from arq.connections import RedisSettings

from dxgl.config import get_settings
from dxgl.jobs import run_renders


class WorkerSettings:
    functions = [run_renders]
    redis_settings = RedisSettings.from_dsn(get_settings().redis_url or "redis://127.0.0.1:6379")
