"""The /v1 REST adapter: routes and the error envelope for every failure."""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from dxgl.contract import ErrorCode
from dxgl.db import is_busy
from dxgl.errors import DxglError
from dxgl.rest import account, assets, health, models, openapi, overlays, portal_auth, renders, webhooks
from dxgl.rest.http import error_response

log = logging.getLogger(__name__)

_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 400: "invalid_request"}


async def dxgl_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DxglError)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "internal" if exc.status_code >= 500 else "invalid_request")
    err = DxglError(code, exc.detail if exc.status_code != 404 else f"No route {request.method} {request.url.path}")
    err.status = exc.status_code
    return error_response(err)


async def database_error(request: Request, exc: Exception) -> Response:
    """A database failure. SQLite's write lock held past DXGL_DB_BUSY_SECONDS is 503 with
    Retry-After (come back shortly); anything else is a 500. A handler of its own (not the
    ``Exception`` one, which Starlette re-raises after answering) so the connection stays sound."""
    if is_busy(exc):
        log.warning("database busy on %s %s: 503", request.method, request.url.path)
        return error_response(
            DxglError(
                ErrorCode.SERVICE_UNAVAILABLE, "The database is busy; retry shortly", headers={"Retry-After": "1"}
            )
        )
    return await unexpected_error(request, exc)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(DxglError(ErrorCode.INTERNAL))


EXCEPTION_HANDLERS = {
    DxglError: dxgl_error,
    HTTPException: http_error,
    OperationalError: database_error,
    Exception: unexpected_error,
}


def v1_routes() -> list[BaseRoute]:
    """The routes of the public API document and dxgl's documented extensions (``/v1/openapi.json``
    lists exactly these)."""
    return [
        *assets.routes,
        *models.routes,
        *renders.routes,
        *overlays.routes,
        *account.routes,
        *health.routes,
        *webhooks.routes,
        *openapi.routes,
    ]


def auth_routes() -> list[BaseRoute]:
    """``/auth/*``: the portal's sign-in (docs/portal.md)."""
    return [*portal_auth.routes]
