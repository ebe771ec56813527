"""Request and response plumbing of the REST adapter: the envelope, JSON bodies, authentication
inside the request's unit of work."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, MalformedRangeHeader, RangeNotSatisfiable, Response

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.runtime import Runtime
from dxgl.services import json_input
from dxgl.services.auth import Caller, authenticate, single_authorization
from dxgl.services.pagination import Page
from dxgl.storage import LocalStorage

MAX_JSON_BODY = 1024 * 1024

Handler = Callable[[Request, AsyncSession, Caller], Awaitable[Response]]


def runtime(request: Request) -> Runtime:
    """The app's resources: the lifespan state every request carries (``dxgl.app``)."""
    rt = request.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def storage(request: Request) -> LocalStorage:
    return runtime(request).storage


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"data": data}, status_code=status, headers=headers)


def paged(items: list[Any], total: int, page: Page) -> JSONResponse:
    return JSONResponse({"data": items, "meta": {"total": total, "offset": page.offset, "limit": page.limit}})


def error_response(err: DxglError) -> JSONResponse:
    return JSONResponse(err.envelope(), status_code=err.status, headers=err.headers or None)


async def read_body(request: Request) -> bytes:
    """The whole request body, within MAX_JSON_BODY bytes and the body timeout (408 ``timeout``).

    Called before any transaction opens, so a client that trickles its body holds only its own
    connection, never a database connection or SQLite's write lock. Starlette keeps the bytes on
    the request, so later reads (``json_object``) take them from there."""
    cached = getattr(request, "_body", None)
    if isinstance(cached, bytes):
        return cached
    limit_s = runtime(request).settings.body_timeout_seconds
    body = bytearray()
    try:
        async with asyncio.timeout(limit_s):
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > MAX_JSON_BODY:
                    raise DxglError(ErrorCode.INVALID_REQUEST, "JSON body is larger than 1 MB")
    except TimeoutError:
        raise DxglError(ErrorCode.TIMEOUT, f"The request body did not arrive within {limit_s:g} s") from None
    request._body = bytes(body)
    return request._body


async def json_body(request: Request) -> Any:
    return json_input.loads(await read_body(request), what="Request body")


async def json_object(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise DxglError(ErrorCode.INVALID_JSON, "Request body must be a JSON object")
    return body


def authorization_of(request: Request) -> str | None:
    return single_authorization(request.headers.getlist("authorization"))


async def caller_of(request: Request, session: AsyncSession) -> Caller:
    return await authenticate(session, authorization_of(request))


# Methods whose requests carry a body that a handler may read.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Run ``handler`` in one unit of work with the authenticated caller. The body (JSON routes)
    is read whole first, so the transaction spans database work only, never client I/O."""

    async def endpoint(request: Request) -> Response:
        authorization = authorization_of(request)  # a doubled header is refused before any read
        if request.method in _BODY_METHODS:
            await read_body(request)
        async with runtime(request).unit_of_work() as session:
            caller = await authenticate(session, authorization)
            return await handler(request, session, caller)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def page_of(request: Request) -> Page:
    return Page.parse(request.query_params.get("limit"), request.query_params.get("offset"))


def file_response(
    request: Request, path: Path, media_type: str, filename: str, *, ranges: bool = True, disposition: str = "inline"
) -> Response:
    """A file, with byte ranges (206) unless ``ranges`` is False. An unsatisfiable range is the 416
    envelope with ``Content-Range: bytes */size``; a malformed one the 400 envelope."""
    header = request.headers.get("range")
    if header is not None and not header.strip():
        header = ""  # an empty Range asks for nothing: answer the whole file
    if header and ranges:
        size = path.stat().st_size
        try:
            FileResponse._parse_range_header(header, size)
        except RangeNotSatisfiable:
            raise DxglError(ErrorCode.RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"}) from None
        except MalformedRangeHeader:
            raise DxglError(ErrorCode.INVALID_REQUEST, "Malformed Range header") from None
    elif header is not None:  # small files, and empty ranges, are answered whole
        request.scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k != b"range"]
    response = FileResponse(path, media_type=media_type, filename=filename, content_disposition_type=disposition)
    if not ranges:
        del response.headers["accept-ranges"]
    return response
