"""``create_app()``: the ASGI application (REST under /v1, GraphQL at /graphql, the MCP server at
/mcp, the portal's sign-in under /auth, the portal itself at /) and its lifespan."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from dxgl.config import Settings, get_settings
from dxgl.jobs.embedded import start_embedded_runner
from dxgl.mcp.http import McpEndpoint
from dxgl.metrics import metrics_endpoint
from dxgl.rest.app import EXCEPTION_HANDLERS, auth_routes, v1_routes
from dxgl.runtime import Runtime
from dxgl.schema import graphql_app


def portal_pages() -> list[BaseRoute]:
    """The portal's browser app (``dxgl/portal/``), mounted last (it claims ``/`` and ``/portal``).
    Absent-safe: a build without the package serves the API alone."""
    try:
        from dxgl.portal.routes import portal_routes
    except ModuleNotFoundError as error:
        if error.name not in ("dxgl.portal", "dxgl.portal.routes"):
            raise  # the portal is there but broken: say so
        return []
    return list(portal_routes())


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Runtime]]:
        rt = await Runtime.start(settings)
        background = start_embedded_runner(rt) if rt.embedded and settings.run_renders_in_process else []
        try:
            # The MCP SDK's session manager: the task group its streamable HTTP requests run in.
            async with mcp.running():
                # Lifespan state reaches every request, in /v1, /graphql and /mcp alike, as
                # request.state.runtime.
                yield {"runtime": rt}
        finally:
            for task in background:
                task.cancel()
            # Wait for them to end before the engine goes: a task cancelled inside a transaction
            # rolls back on it (not awaited, its clean-up would wait on a disposed engine forever).
            await asyncio.gather(*background, return_exceptions=True)
            await rt.close()

    v1 = Starlette(routes=v1_routes(), exception_handlers=EXCEPTION_HANDLERS)
    graphql = graphql_app()
    # The MCP tools call this same app's /v1 in process, with each caller's own token (docs/mcp.md).
    mcp = McpEndpoint(lambda: app)
    routes: list[BaseRoute] = [
        Mount("/v1", app=v1),
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", graphql),
        Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
        *auth_routes(),
        Route("/metrics", metrics_endpoint),
        # --- the portal's pages: last, so /v1, /graphql and /auth are never shadowed ---------------
        *portal_pages(),
    ]
    app = Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    # Unknown paths (a trailing slash included) are 404 envelopes, never redirects that drop a POST body.
    v1.router.redirect_slashes = False
    app.router.redirect_slashes = False
    app.state.settings = settings
    return app
