"""/v1/health: no authentication; never rate limited."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import ok, runtime
from dxgl.services import health


async def get_health(request: Request) -> Response:
    """No authentication. 503 with the error envelope when the database cannot be reached."""
    report = await health.check(runtime(request).engine)
    if not report.database_ok:
        raise DxglError(ErrorCode.SERVICE_UNAVAILABLE, f"Database unreachable: {report.detail}")
    return ok({"status": "ok", "database": "ok"})


routes = [Route("/health", get_health, methods=["GET"])]
