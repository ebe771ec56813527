"""Request and response plumbing of the REST adapter: the envelope, JSON bodies, authentication
inside the request's unit of work, the rate limit after it, and ``Idempotency-Key`` on the
requests that create something (``creating``, ``run_idempotent``)."""

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
from dxgl.services import idempotency, json_input, rate_limit
from dxgl.services.auth import Caller, authenticate, single_authorization
from dxgl.services.pagination import Page
from dxgl.services.rate_limit import Bucket, Decision
from dxgl.services.uploads import UploadedFile
from dxgl.storage import Storage

MAX_JSON_BODY = 1024 * 1024

Handler = Callable[[Request, AsyncSession, Caller], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]
Work = Callable[[AsyncSession], Awaitable[Response]]


def runtime(request: Request) -> Runtime:
    """The app's resources: the lifespan state every request carries (``dxgl.app``)."""
    rt = request.state.runtime
    assert isinstance(rt, Runtime)
    return rt


def storage(request: Request) -> Storage:
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


async def limit(request: Request, caller: Caller, bucket: Bucket = Bucket.REQUESTS) -> Decision | None:
    """Take one request from the caller's bucket: 429 ``rate_limited`` when it is empty
    (``dxgl.services.rate_limit``; the limiter is this process's, one per Runtime)."""
    rt = runtime(request)
    return await rate_limit.limiter_for(rt, rt.settings).check(caller, bucket)


def with_limit_headers(response: Response, decision: Decision | None) -> Response:
    """A successful response tells the client where its bucket stands (RateLimit-*)."""
    if decision is not None:
        response.headers.update(decision.headers())
    return response


async def writer_caller(request: Request, *, upload: bool = False) -> tuple[Caller, Decision | None]:
    """Authenticate in a short transaction of its own (uploads and URL ingest then stream and parse
    for a long time, and must not hold a transaction meanwhile), then the rate limits: the
    request's, and with ``upload`` the stricter uploads bucket, both before the body is read."""
    async with runtime(request).unit_of_work() as session:
        caller = await caller_of(request, session)
    decision = await limit(request, caller)
    if upload:
        await limit(request, caller, Bucket.UPLOADS)
    return caller, decision


# Methods whose requests carry a body that a handler may read.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def authed(handler: Handler) -> Endpoint:
    """Run ``handler`` in one unit of work with the authenticated caller, within its rate limit.
    The body (JSON routes) is read whole first, so the transaction spans database work only,
    never client I/O."""

    async def endpoint(request: Request) -> Response:
        authorization = authorization_of(request)  # a doubled header is refused before any read
        if request.method in _BODY_METHODS:
            await read_body(request)
        async with runtime(request).unit_of_work() as session:
            caller = await authenticate(session, authorization)
            decision = await limit(request, caller)
            response = await handler(request, session, caller)
        return with_limit_headers(response, decision)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


# --- Idempotency-Key (docs/api.md, "Idempotent requests") -----------------------------------------


def idempotency_key(request: Request) -> str | None:
    """The request's ``Idempotency-Key`` (None when absent); 400 when malformed or sent twice."""
    values = request.headers.getlist(idempotency.HEADER)
    if len(values) > 1:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"Send one {idempotency.HEADER} header, not several")
    return idempotency.validate_key(values[0] if values else None)


def operation_of(request: Request) -> str:
    """What a fingerprint starts with: the method and the full path (``POST /v1/renders``)."""
    return f"{request.method} {request.url.path}"


# Response headers a replay repeats (the rate-limit headers are the replay's own).
_REPLAYED_HEADERS = ("content-type", "location")


def _replay(replay: idempotency.Replay) -> Response:
    headers = {**replay.headers, "Idempotent-Replayed": "true"}
    return Response(replay.body.encode(), status_code=replay.status_code, headers=headers)


def _recorded(response: Response) -> idempotency.Replay:
    headers = {k: v for k, v in response.headers.items() if k in _REPLAYED_HEADERS}
    return idempotency.Replay(response.status_code, bytes(response.body).decode(), headers)


async def run_idempotent(request: Request, caller: Caller, key: str | None, request_hash: str, work: Work) -> Response:
    """Run ``work`` (a handler body, given the unit of work's session) once per ``key``: without a
    key, just run it; with one, ``services.idempotency.run_once`` (claim, run and record in one
    transaction, or replay the first response; a failure releases the key)."""
    rt = runtime(request)
    if key is None:
        async with rt.unit_of_work() as session:
            return await work(session)
    outcome = await idempotency.run_once(
        rt.unit_of_work,
        account_id=caller.account_id,
        key=key,
        request_hash=request_hash,
        work=work,
        record=_recorded,
    )
    return _replay(outcome) if isinstance(outcome, idempotency.Replay) else outcome


async def run_upload_once(
    request: Request,
    caller: Caller,
    key: str | None,
    upload: UploadedFile,
    fields: dict[str, Any],
    work: Work,
    decision: Decision | None,
) -> Response:
    """A multipart upload's creating request, once per ``Idempotency-Key``: "the same request" is
    the same file (SHA-256), name and other fields (boundaries differ between retries). The upload
    is released whatever happens (the service consumes it; a replay or a conflict never used it)."""
    fingerprint = idempotency.upload_fingerprint(
        operation_of(request), sha256=upload.sha256, filename=upload.filename, fields=fields
    )
    try:
        response = await run_idempotent(request, caller, key, fingerprint, work)
    finally:
        await upload.release()
    return with_limit_headers(response, decision)


def creating(handler: Handler) -> Endpoint:
    """``authed`` for a POST that creates something: the same, plus ``Idempotency-Key`` (the
    fingerprint is the method, the path and the JSON body). Apply it instead of ``@authed``."""
    plain = authed(handler)

    async def endpoint(request: Request) -> Response:
        authorization = authorization_of(request)
        key = idempotency_key(request)
        if key is None:
            return await plain(request)  # one transaction, exactly as without idempotency
        body = await read_body(request)
        async with runtime(request).unit_of_work() as session:
            caller = await authenticate(session, authorization)
        decision = await limit(request, caller)
        response = await run_idempotent(
            request,
            caller,
            key,
            idempotency.json_fingerprint(operation_of(request), body),
            lambda session: handler(request, session, caller),
        )
        return with_limit_headers(response, decision)

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
