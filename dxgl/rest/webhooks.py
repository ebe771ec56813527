"""/v1/webhooks: webhook endpoints (docs/webhooks.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.routing import BaseRoute

routes: list[BaseRoute] = []


def openapi_paths(operation: Callable[..., dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The OpenAPI path items of these routes (merged into ``/v1/openapi.json``); ``operation`` is
    ``dxgl.rest.openapi.operation`` (passed in: that module imports this one)."""
    return {}
