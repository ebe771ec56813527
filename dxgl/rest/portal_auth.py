"""``/auth/*``: the portal's sign-in endpoints (docs/portal.md), and the cookie authentication the
asset downloads under ``/v1`` accept. Every rule is ``dxgl.services.sessions``; this module reads
the cookie and headers and writes the REST envelope.

- ``POST /auth/signin`` ``{"email", "password"}`` -> 200 ``{"data": {"email", "accountId",
  "csrfToken"}}`` + ``Set-Cookie: dxgl_session=...``
- ``GET /auth/link?token=...`` -> a page naming the account, whose button POSTs the token (a GET
  uses nothing: link previews cannot use it up, other sites cannot sign a browser in with it);
  ``/?signin=invalid`` for a dead link
- ``POST /auth/link`` (form ``token``, same origin) -> 303 to ``/`` with the cookie, or to
  ``/?signin=invalid``
- ``GET /auth/session`` -> 200 as sign-in, or 401 ``unauthorized``
- ``POST /auth/signout`` (``X-DXGL-CSRF``) -> 204, the session revoked and the cookie cleared
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs, urlsplit

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
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
        cookie=request.cookies.get(sessions.cookie_name(expected_origin(request))),
        origin=request.headers.get("origin"),
        expected=expected_origin(request),
        csrf=request.headers.get(sessions.CSRF_HEADER),
        require_csrf=require_csrf,
        idle_seconds=_settings(request).session_idle_seconds,
    )
    return info.caller


def _set_cookie(request: Request, response: Response, raw: str) -> None:
    response.set_cookie(
        sessions.cookie_name(expected_origin(request)),
        raw,
        max_age=int(sessions.MAX_AGE.total_seconds()),
        path="/",
        secure=expected_origin(request).startswith("https://"),
        httponly=True,
        samesite="lax",
    )


def _clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        sessions.cookie_name(expected_origin(request)),
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


# The confirmation page: no script, no style, nothing loaded; its only form posts back here.
LINK_PAGE_HEADERS = {
    **NO_STORE,
    # Not no-referrer here: with it, a browser sends "Origin: null" on the form's POST, which the
    # same-origin rule refuses. same-origin still gives the URL (and its token) to no other site.
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
}
LINK_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in to dxgl</title></head>
<body><main><h1>Sign in to dxgl</h1>
<p>This one-time link signs you in as <strong>{email}</strong>.</p>
<form method="post" action="{action}"><input type="hidden" name="token" value="{token}">
<button type="submit">Sign in as {email}</button></form>
<p>Not you? Close this page; the link stays unused until it expires.</p></main></body></html>
"""


async def link_page(request: Request) -> Response:
    raw = request.query_params.get("token")
    async with runtime(request).unit_of_work() as session:
        email = await sessions.peek_signin_link(session, raw)
    home = _home(request)
    if email is None or raw is None:
        return RedirectResponse(f"{home}?signin=invalid", status_code=303, headers=NO_STORE)
    page = LINK_PAGE.format(
        email=html.escape(email), action=html.escape(f"{home}auth/link"), token=html.escape(raw, quote=True)
    )
    return HTMLResponse(page, headers=LINK_PAGE_HEADERS)


async def link(request: Request) -> Response:
    _same_origin_post(request)
    body = await request.body()  # a form of one token: small, read whole before the transaction
    if len(body) > 1024:
        raise DxglError(ErrorCode.INVALID_REQUEST, "The sign-in form is too large")
    token = (parse_qs(body.decode("latin-1")).get("token") or [None])[0]
    async with runtime(request).unit_of_work() as session:
        outcome = await sessions.consume_signin_link(session, token)
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
            session,
            request.cookies.get(sessions.cookie_name(expected_origin(request))),
            idle_seconds=_settings(request).session_idle_seconds,
        )
    return ok(info.json(), headers=NO_STORE)


async def signout(request: Request) -> Response:
    _same_origin_post(request)
    response = Response(status_code=204, headers=NO_STORE)
    async with runtime(request).unit_of_work() as session:
        try:
            info = await sessions.session_from_cookie(
                session,
                request.cookies.get(sessions.cookie_name(expected_origin(request))),
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
    Route("/auth/link", link_page, methods=["GET"]),
    Route("/auth/link", link, methods=["POST"]),
    Route("/auth/session", current_session, methods=["GET"]),
    Route("/auth/signout", signout, methods=["POST"]),
]
