"""``GET /metrics``: Prometheus text format (docs/deploy.md)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response


async def metrics_endpoint(request: Request) -> Response:
    return PlainTextResponse("", media_type="text/plain; version=0.0.4")


def observe_render(
    *, quality: str, outcome: str, render_seconds: float, encode_seconds: float | None = None, reason: str | None = None
) -> None:
    """A render group finished (``outcome``: done | error; ``reason``: the error code)."""
    return None
