"""/v1/account and /v1/health."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import authed, ok, runtime
from dxgl.rest.serializers import account_json
from dxgl.services import accounts, health
from dxgl.services.auth import Caller


@authed
async def get_account(request: Request, session: AsyncSession, caller: Caller) -> Response:
    return ok(account_json(await accounts.get_account(session, caller)))


async def get_health(request: Request) -> Response:
    """No authentication. 503 with the error envelope when the database cannot be reached."""
    report = await health.check(runtime(request).engine)
    if not report.database_ok:
        raise DxglError(ErrorCode.SERVICE_UNAVAILABLE, f"Database unreachable: {report.detail}")
    return ok({"status": "ok", "database": "ok"})


routes = [
    Route("/account", get_account, methods=["GET"]),
    Route("/health", get_health, methods=["GET"]),
]
