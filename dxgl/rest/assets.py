"""/v1/renders/{id}/video|poster|thumb|bundle: files with Range support, the bundle as a streamed ZIP."""

from __future__ import annotations

import time
import zipfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from anyio import to_thread
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from dxgl.rest.http import authed, file_response, storage
from dxgl.services import assets
from dxgl.services.auth import Caller

CHUNK = 1024 * 1024
# Renders never change once done; private because the download needs a token.
IMMUTABLE = "private, max-age=31536000, immutable"


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


routes = [
    Route("/renders/{id}/video", video, methods=["GET"]),
    Route("/renders/{id}/poster", poster, methods=["GET"]),
    Route("/renders/{id}/thumb", thumb, methods=["GET"]),
    Route("/renders/{id}/bundle", bundle, methods=["GET"]),
]
