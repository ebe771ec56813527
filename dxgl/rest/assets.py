"""/v1/renders/{id}/video|poster|thumb|bundle and /v1/models/{id}/file|view.glb: files with Range
support, the bundle as a streamed ZIP. Every answer streams from the store (``asset_response``:
the local folder's file, or ranged GETs of the S3 object), or, with
``DXGL_STORAGE_REDIRECT=presigned`` on an object store, is a 302 to a short-lived presigned URL, given
only after the same authentication, scope and tenancy checks as a streamed answer.

These GETs, and only these under /v1, also accept the portal's session cookie instead of a Bearer
token (docs/portal.md): the browser's ``<video>``, ``<img>``, download links and 3D viewer cannot
send a header. A GET changes nothing and SameSite=Lax keeps the cookie off cross-site subresource
requests, so no CSRF header is needed; tenancy and scopes are the same as with a token."""

from __future__ import annotations

import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import PurePosixPath
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    MalformedRangeHeader,
    RangeNotSatisfiable,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from dxgl.contract import ErrorCode, media_type_of
from dxgl.errors import DxglError
from dxgl.rest.http import Handler, authorization_of, file_response, limit, runtime, storage, with_limit_headers
from dxgl.rest.portal_auth import cookie_caller, expected_origin
from dxgl.services import assets, models, overlays, sessions
from dxgl.services.auth import Caller, authenticate

CHUNK = 1024 * 1024
# Renders never change once done; private because the download needs a token.
IMMUTABLE = "private, max-age=31536000, immutable"


def authed(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """``dxgl.rest.http.authed`` for GETs that a browser makes: an ``Authorization`` header works as
    everywhere (a cookie beside it is ignored); without one, the ``dxgl_session`` cookie (Origin
    rule, no CSRF header). One unit of work, as ``http.authed``."""

    async def endpoint(request: Request) -> Response:
        authorization = authorization_of(request)  # a doubled header is refused before any read
        async with runtime(request).unit_of_work() as session:
            if not authorization and request.cookies.get(sessions.cookie_name(expected_origin(request))):
                caller = await cookie_caller(request, session, require_csrf=False)
            else:
                caller = await authenticate(session, authorization)
            decision = await limit(request, caller)  # downloads count against the caller's bucket too
            return with_limit_headers(await handler(request, session, caller), decision)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def _disposition(kind: str, filename: str) -> str:
    """As Starlette's FileResponse writes it (RFC 6266, ``filename*`` for non-ASCII names)."""
    quoted = quote(filename)
    return f"{kind}; filename*=utf-8''{quoted}" if quoted != filename else f'{kind}; filename="{filename}"'


async def asset_response(
    request: Request,
    key: str,
    size: int,
    media_type: str,
    filename: str,
    *,
    ranges: bool = True,
    disposition: str = "inline",
) -> Response:
    """The blob at ``key``: a presigned redirect when configured, the local file (Range via
    ``http.file_response``), or the object streamed chunk by chunk, one byte range answering 206
    with the same 416 / 400 rules as a local file (several ranges: the whole object, RFC 9110)."""
    rt = runtime(request)
    store = rt.storage
    # HEAD is answered here (a URL presigned for GET would refuse it).
    if rt.settings.storage_redirect == "presigned" and request.method == "GET":
        url = store.presigned_url(key, rt.settings.presigned_url_seconds)
        if url is not None:
            return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store"})
    local = store.local_path(key)
    if local is not None:
        return file_response(request, local, media_type, filename, ranges=ranges, disposition=disposition)
    headers = {"content-disposition": _disposition(disposition, filename), "content-length": str(size)}
    if ranges:
        headers["accept-ranges"] = "bytes"
    start, end, status = 0, size, 200
    header = (request.headers.get("range") or "").strip()
    if header and ranges:
        try:
            found = FileResponse._parse_range_header(header, size)
        except RangeNotSatisfiable:
            raise DxglError(ErrorCode.RANGE_NOT_SATISFIABLE, headers={"Content-Range": f"bytes */{size}"}) from None
        except MalformedRangeHeader:
            raise DxglError(ErrorCode.INVALID_REQUEST, "Malformed Range header") from None
        if len(found) == 1:
            (start, end), status = found[0], 206
            headers["content-range"] = f"bytes {start}-{end - 1}/{size}"
            headers["content-length"] = str(end - start)
    body = store.stream(key, start, end) if end > start else _nothing()
    if request.method == "HEAD":
        body = _nothing()
    return StreamingResponse(body, status_code=status, media_type=media_type, headers=headers)


async def _nothing() -> AsyncIterator[bytes]:
    return
    yield b""


async def _send(request: Request, asset: assets.Asset, *, ranges: bool = True, disposition: str = "inline") -> Response:
    return await asset_response(
        request, asset.key, asset.size, asset.media_type, asset.filename, ranges=ranges, disposition=disposition
    )


@authed
async def video(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.video(
        session,
        caller,
        request.path_params["id"],
        storage=storage(request),
        quality=request.query_params.get("quality"),
    )
    return await _send(request, asset)


@authed
async def poster(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.poster(
        session,
        caller,
        request.path_params["id"],
        storage=storage(request),
        quality=request.query_params.get("quality"),
    )
    return await _send(request, asset, ranges=False)


@authed
async def thumb(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.thumb(session, caller, request.path_params["id"], storage=storage(request))
    return await _send(request, asset)


class _Pipe:
    """A write-only file object for zipfile that hands over what was written since the last read."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.offset = 0

    def write(self, data: bytes) -> int:
        self.buffer.extend(data)
        self.offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self.offset

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


async def _zip_chunks(request: Request, members: list[tuple[str, assets.Asset]]) -> AsyncIterator[bytes]:
    """ZIP bytes made while reading the blobs from the store, one chunk at a time: never the whole
    archive (or a whole member) in memory. Stored, not deflated: the members are already
    compressed video and PNG."""
    store = storage(request)
    pipe = _Pipe()
    stamp = time.gmtime()[:6]
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[arg-type]
        for name, asset in members:
            with archive.open(zipfile.ZipInfo(name, date_time=stamp), "w", force_zip64=True) as dest:
                async for chunk in store.stream(asset.key):
                    dest.write(chunk)
                    if data := pipe.take():
                        yield data
            if data := pipe.take():
                yield data
    if data := pipe.take():
        yield data


@authed
async def bundle(request: Request, session: AsyncSession, caller: Caller) -> Response:
    render_id = request.path_params["id"]
    members = await assets.bundle(session, caller, render_id, storage=storage(request))
    if isinstance(members, assets.Asset):  # a dataset: its archive is the bundle
        response = await asset_response(
            request, members.key, members.size, members.media_type, f"{render_id}.zip", disposition="attachment"
        )
        if response.status_code != 302:
            response.headers["Cache-Control"] = IMMUTABLE
        return response
    return StreamingResponse(
        _zip_chunks(request, members),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{render_id}.zip"',
            "Cache-Control": IMMUTABLE,
        },
    )


def _download_name(original_name: str, model_id: str) -> str:
    return (original_name.rsplit(".", 1)[0] or model_id).replace('"', "")


@authed
async def model_file(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """GET /v1/models/:id/file (the model file, as uploaded or packed), with the cookie too."""
    model, key = await models.model_file(session, caller, request.path_params["id"], storage=storage(request))
    name = _download_name(model.original_name, model.id)
    size = await storage(request).stat_async(key) or 0
    return await asset_response(request, key, size, media_type_of(".glb"), f"{name}.glb", disposition="attachment")


@authed
async def model_view_glb(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """GET /v1/models/:id/view.glb (dxgl extension): the GLB renders load, for the portal's 3D view."""
    model, key = await models.model_file(
        session, caller, request.path_params["id"], storage=storage(request), decoded=True
    )
    name = _download_name(model.original_name, model.id)
    size = await storage(request).stat_async(key) or 0
    return await asset_response(request, key, size, media_type_of(".glb"), f"{name}.view.glb")


@authed
async def overlay_image(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """GET /v1/overlays/:id/image (dxgl extension): the overlay's image as uploaded, shown inline."""
    overlay = await overlays.overlay_image(session, caller, request.path_params["id"], storage=storage(request))
    key = overlay.storage_key
    size = await storage(request).stat_async(key) or 0
    suffix = PurePosixPath(key).suffix
    response = await asset_response(request, key, size, overlay.media_type, f"{overlay.id}{suffix}")
    if response.status_code != 302:
        response.headers["cache-control"] = IMMUTABLE  # an overlay's image never changes
    return response


routes = [
    Route("/models/{id}/file", model_file, methods=["GET"]),
    Route("/overlays/{id}/image", overlay_image, methods=["GET"]),
    Route("/models/{id}/view.glb", model_view_glb, methods=["GET"]),
    Route("/renders/{id}/video", video, methods=["GET"]),
    Route("/renders/{id}/poster", poster, methods=["GET"]),
    Route("/renders/{id}/thumb", thumb, methods=["GET"]),
    Route("/renders/{id}/bundle", bundle, methods=["GET"]),
]
