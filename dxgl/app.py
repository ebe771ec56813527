"""``create_app()``: the ASGI application (REST under /v1, GraphQL at /graphql) and its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount

from dxgl.config import Settings, get_settings
from dxgl.rest.app import EXCEPTION_HANDLERS, v1_routes
from dxgl.runtime import Runtime


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        rt = await Runtime.start(settings)
        try:
            # Lifespan state reaches every request, in /v1 and /graphql alike, as request.state.runtime.
            yield {"runtime": rt}
        finally:
            await rt.close()

    v1 = Starlette(routes=v1_routes(), exception_handlers=EXCEPTION_HANDLERS)
    app = Starlette(routes=[Mount("/v1", app=v1)], exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan)
    app.state.settings = settings
    return app
