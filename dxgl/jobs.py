"""Job bodies shared by the arq worker and the embedded runner."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


async def run_renders(ctx: dict[str, Any], render_ids: list[str]) -> None:
    """Render these renders (one model's group). The render pipeline fills this in; until then a
    queued render stays ``pending``."""
    log.info("render job received %s (render pipeline not installed yet; renders stay pending)", render_ids)
