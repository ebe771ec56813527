"""/v1/renders/{id}/video|poster|thumb|bundle and /v1/models/{id}/file|view.glb: files with Range
support, the bundle as a streamed ZIP.

These GETs, and only these under /v1, also accept the portal's session cookie instead of a Bearer
token (docs/portal.md): the browser's ``<video>``, ``<img>``, download links and 3D viewer cannot
send a header. A GET changes nothing and SameSite=Lax keeps the cookie off cross-site subresource
requests, so no CSRF header is needed; tenancy and scopes are the same as with a token."""

from __future__ import annotations

import time
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dxgl.contract import media_type_of
from dxgl.rest.http import Handler, authorization_of, file_response, runtime, storage
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
            return await handler(request, session, caller)

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


@authed
async def video(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.video(
        session,
        caller,
        request.path_params["id"],
        storage=storage(request),
        quality=request.query_params.get("quality"),
    )
    return file_response(request, asset.path, asset.media_type, asset.filename)


@authed
async def poster(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.poster(
        session,
        caller,
        request.path_params["id"],
        storage=storage(request),
        quality=request.query_params.get("quality"),
    )
    return file_response(request, asset.path, asset.media_type, asset.filename, ranges=False)


@authed
async def thumb(request: Request, session: AsyncSession, caller: Caller) -> Response:
    asset = await assets.thumb(session, caller, request.path_params["id"], storage=storage(request))
    return file_response(request, asset.path, asset.media_type, asset.filename)


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


def _zip_chunks(members: list[tuple[str, Path]]) -> Iterator[bytes]:
    """ZIP bytes made while reading the files, one chunk at a time: never the whole archive in
    memory. Stored, not deflated: the members are already compressed video and PNG."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[arg-type]
        for name, path in members:
            info = zipfile.ZipInfo(name, date_time=time.gmtime(path.stat().st_mtime)[:6])
            with archive.open(info, "w", force_zip64=True) as dest, open(path, "rb") as src:
                while chunk := src.read(CHUNK):
                    dest.write(chunk)
                    yield pipe.take()
        yield pipe.take()
    yield pipe.take()


async def _async_chunks(members: list[tuple[str, Path]]) -> AsyncIterator[bytes]:
    chunks = _zip_chunks(members)
    while True:
        chunk = await to_thread.run_sync(next, chunks, None)
        if chunk is None:
            return
        if chunk:
            yield chunk


@authed
async def bundle(request: Request, session: AsyncSession, caller: Caller) -> Response:
    render_id = request.path_params["id"]
    members = await assets.bundle(session, caller, render_id, storage=storage(request))
    if isinstance(members, assets.Asset):  # a dataset: its archive is the bundle
        response = file_response(
            request, members.path, members.media_type, f"{render_id}.zip", disposition="attachment"
        )
        response.headers["Cache-Control"] = IMMUTABLE
        return response
    return StreamingResponse(
        _async_chunks(members),
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
    model, path = await models.model_file(session, caller, request.path_params["id"], storage=storage(request))
    name = _download_name(model.original_name, model.id)
    return file_response(request, path, media_type_of(".glb"), f"{name}.glb", disposition="attachment")


@authed
async def model_view_glb(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """GET /v1/models/:id/view.glb (dxgl extension): the GLB renders load, for the portal's 3D view."""
    model, path = await models.model_file(
        session, caller, request.path_params["id"], storage=storage(request), decoded=True
    )
    name = _download_name(model.original_name, model.id)
    return file_response(request, path, media_type_of(".glb"), f"{name}.view.glb")


@authed
async def overlay_image(request: Request, session: AsyncSession, caller: Caller) -> Response:
    """GET /v1/overlays/:id/image (dxgl extension): the overlay's image as uploaded, shown inline."""
    overlay, path = await overlays.overlay_image(session, caller, request.path_params["id"], storage=storage(request))
    response = file_response(request, path, overlay.media_type, f"{overlay.id}{path.suffix}")
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
