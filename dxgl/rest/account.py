"""/v1/account."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.rest.http import authed, ok
from dxgl.rest.serializers import account_json
from dxgl.services import accounts
from dxgl.services.auth import Caller


@authed
async def get_account(request: Request, session: AsyncSession, caller: Caller) -> Response:
    return ok(account_json(await accounts.get_account(session, caller)))


routes = [
    Route("/account", get_account, methods=["GET"]),
]
