"""How many renders one worker runs at once (DXGL_WORKER_CONCURRENCY)."""

from __future__ import annotations

from dxgl.config import Settings


def render_concurrency(settings: Settings) -> int:
    """Renders at once per worker: the setting, or 1 when it is 0 (llvmpipe uses every core)."""
    return settings.worker_concurrency or 1
