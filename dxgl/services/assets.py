"""Render assets: which file answers which request, and where files live in storage."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.runtime import Runtime
from dxgl.services.auth import Caller
from dxgl.services.renders import get_render
from dxgl.tables import Render


def render_key(render_id: str, filename: str) -> str:
    return f"renders/{render_id}/{filename}"


@dataclass(frozen=True)
class Asset:
    path: Path
    media_type: str
    filename: str


def _main_video(render: Render) -> str:
    return "video.mov" if render.settings.get("quality") == "pro" else "video.mp4"


def _asset(rt: Runtime, render: Render, filename: str, missing_code: str) -> Asset:
    if filename not in render.assets or not rt.storage.exists(render_key(render.id, filename)):
        raise DxglError(missing_code)
    media = {".mp4": "video/mp4", ".mov": "video/quicktime", ".png": "image/png", ".zip": "application/zip"}[
        Path(filename).suffix
    ]
    return Asset(rt.storage.path(render_key(render.id, filename)), media, f"{render.id}-{filename}")


async def video(session: AsyncSession, rt: Runtime, caller: Caller, render_id: str, *, quality: str | None) -> Asset:
    render = await get_render(session, caller, render_id)
    if quality not in (None, "", "web"):
        raise DxglError(ErrorCode.INVALID_REQUEST, 'quality must be "web" or absent')
    return _asset(rt, render, "web.mp4" if quality == "web" else _main_video(render), "video_not_found")


async def poster(session: AsyncSession, rt: Runtime, caller: Caller, render_id: str, *, quality: str | None) -> Asset:
    """The small poster by default (from ``poster-done`` on); ``quality=full`` for native size."""
    render = await get_render(session, caller, render_id)
    if quality not in (None, "", "full"):
        raise DxglError(ErrorCode.INVALID_REQUEST, 'quality must be "full" or absent')
    return _asset(rt, render, "poster.png" if quality == "full" else "poster_small.png", "poster_not_found")


async def thumb(session: AsyncSession, rt: Runtime, caller: Caller, render_id: str) -> Asset:
    render = await get_render(session, caller, render_id)
    return _asset(rt, render, "thumb.mp4", "thumb_not_found")


DATASET_ARCHIVE = "dataset.zip"


async def bundle(session: AsyncSession, rt: Runtime, caller: Caller, render_id: str) -> Asset | list[tuple[str, Path]]:
    """A dataset's archive as it is, or the (member name, file) pairs of a video render's bundle.
    Either way the render must be done."""
    render = await get_render(session, caller, render_id)
    if render.status != "done":
        raise DxglError(ErrorCode.VIDEO_NOT_FOUND, "The render is not done yet; its bundle is not available")
    if render.settings.get("effect") == "dataset":
        return _asset(rt, render, DATASET_ARCHIVE, "video_not_found")
    main = _main_video(render)
    members = [(main, main), ("web.mp4", "web.mp4"), ("poster.png", "poster.png"), ("thumb.mp4", "thumb.mp4")]
    out = []
    for member, filename in members:
        out.append((member, _asset(rt, render, filename, "video_not_found").path))
    return out
