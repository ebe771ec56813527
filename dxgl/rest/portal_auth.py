"""``/auth/*``: the portal's sign-in endpoints (docs/portal.md), and the cookie authentication the
asset downloads under ``/v1`` accept. Every rule is ``dxgl.services.sessions``; this module reads
the cookie and headers and writes the REST envelope.

- ``POST /auth/signin`` ``{"email", "password"}`` -> 200 ``{"data": {"email", "accountId",
  "csrfToken"}}`` + ``Set-Cookie: dxgl_session=...``
- ``GET /auth/link?token=...`` -> 303 to ``/`` with the cookie, or to ``/?signin=invalid``
- ``GET /auth/session`` -> 200 as sign-in, or 401 ``unauthorized``
- ``POST /auth/signout`` (``X-DXGL-CSRF``) -> 204, the session revoked and the cookie cleared
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from dxgl.config import Settings
from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.rest.http import json_object, ok, runtime
from dxgl.services import sessions
from dxgl.services.auth import Caller

# Nothing an auth endpoint answers may be cached or leak its URL (a link token) onward.
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


def _settings(conn: HTTPConnection) -> Settings:
    settings = conn.state.runtime.settings
    assert isinstance(settings, Settings)
    return settings


def expected_origin(conn: HTTPConnection) -> str:
    """The origin this request's browser must be on (``DXGL_PUBLIC_URL``'s, or the proxy's)."""
    settings = _settings(conn)
    return sessions.expected_origin(
        settings.resolved_public_url,
        trust_proxy=settings.trust_proxy,
        forwarded_proto=conn.headers.get("x-forwarded-proto"),
        forwarded_host=conn.headers.get("x-forwarded-host"),
    )


async def cookie_caller(request: Request, session: AsyncSession, *, require_csrf: bool) -> Caller:
    """The caller a ``dxgl_session`` cookie authenticates (the Origin rule; the CSRF header unless
    ``require_csrf`` is False: the asset GETs, which change nothing), or 401."""
    info = await sessions.authenticate_cookie(
        session,
        cookie=request.cookies.get(sessions.COOKIE_NAME),
        origin=request.headers.get("origin"),
        expected=expected_origin(request),
        csrf=request.headers.get(sessions.CSRF_HEADER),
        require_csrf=require_csrf,
        idle_seconds=_settings(request).session_idle_seconds,
    )
    return info.caller


def _set_cookie(request: Request, response: Response, raw: str) -> None:
    response.set_cookie(
        sessions.COOKIE_NAME,
        raw,
        max_age=int(sessions.MAX_AGE.total_seconds()),
        path="/",
        secure=expected_origin(request).startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        sessions.COOKIE_NAME,
        path="/",
        secure=expected_origin(request).startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def _same_origin_post(request: Request) -> None:
    """A POST from a browser carries ``Origin``: it must be this service's (a cross-site form or
    script is refused before anything is read). Clients that send none (curl) are not browsers."""
    origin = request.headers.get("origin")
    expected = expected_origin(request)
    if origin is not None and not sessions.origin_matches(origin, expected):
        raise DxglError(ErrorCode.FORBIDDEN, f"Cross-origin request refused: sign in from {expected}")


def _home(request: Request) -> str:
    """``/`` of the public URL (its path, when the service is published under one)."""
    return (urlsplit(_settings(request).resolved_public_url).path.rstrip("/")) + "/"


async def signin(request: Request) -> Response:
    _same_origin_post(request)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise DxglError(ErrorCode.INVALID_REQUEST, 'Send {"email", "password"} as application/json')
    body = await json_object(request)  # read whole before any transaction
    rt = runtime(request)
    async with rt.unit_of_work() as session:
        attempt = await sessions.begin_password_signin(session, body.get("email"), body.get("password"))
    verdict = await sessions.verify_password(attempt.password_hash, attempt.password)  # outside a transaction
    async with rt.unit_of_work() as session:
        outcome = await sessions.finish_password_signin(session, attempt, verdict)
    if isinstance(outcome, DxglError):  # raised after the commit: the failure is counted
        raise outcome
    info, raw = outcome
    response = ok(info.json(), headers=NO_STORE)
    _set_cookie(request, response, raw)
    return response


async def link(request: Request) -> Response:
    async with runtime(request).unit_of_work() as session:
        outcome = await sessions.consume_signin_link(session, request.query_params.get("token"))
    home = _home(request)
    if outcome is None:
        return RedirectResponse(f"{home}?signin=invalid", status_code=303, headers=NO_STORE)
    _, raw = outcome
    response = RedirectResponse(home, status_code=303, headers=NO_STORE)
    _set_cookie(request, response, raw)
    return response


async def current_session(request: Request) -> Response:
    async with runtime(request).unit_of_work() as session:
        info = await sessions.session_from_cookie(
            session, request.cookies.get(sessions.COOKIE_NAME), idle_seconds=_settings(request).session_idle_seconds
        )
    return ok(info.json(), headers=NO_STORE)


async def signout(request: Request) -> Response:
    _same_origin_post(request)
    response = Response(status_code=204, headers=NO_STORE)
    async with runtime(request).unit_of_work() as session:
        try:
            info = await sessions.session_from_cookie(
                session,
                request.cookies.get(sessions.COOKIE_NAME),
                idle_seconds=_settings(request).session_idle_seconds,
                touch=False,
            )
        except DxglError as error:
            if error.code is ErrorCode.FORBIDDEN:
                raise
            info = None  # no live session: signed out already; the cookie is cleared all the same
        if info is not None:
            if not info.csrf_matches(request.headers.get(sessions.CSRF_HEADER)):
                raise DxglError(
                    ErrorCode.UNAUTHORIZED, f"Signing out needs the session's {sessions.CSRF_HEADER} header"
                )
            await sessions.revoke_session(session, info.id)
    _clear_cookie(request, response)
    return response


routes = [
    Route("/auth/signin", signin, methods=["POST"]),
    Route("/auth/link", link, methods=["GET"]),
    Route("/auth/session", current_session, methods=["GET"]),
    Route("/auth/signout", signout, methods=["POST"]),
]
