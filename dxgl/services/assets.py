"""Render assets: which stored blob answers which download, and when it is available; and which
stored GLB of a model a render loads (``render_source_key``). An asset is named by its storage key
(and size): the adapter streams it from the store, or redirects to a presigned URL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import (
    ErrorCode,
    OutputFile,
    RenderStatus,
    bundle_members,
    main_video_file,
    media_type_of,
    render_key,
)
from dxgl.errors import DxglError
from dxgl.services.auth import Caller
from dxgl.services.render_settings import is_dataset
from dxgl.services.renders import get_render
from dxgl.storage import Storage
from dxgl.tables import Model3D, Render


def render_source_key(model: Model3D) -> str:
    """The one rule for which stored GLB a render (video or dataset) loads: the decoded, normalised
    copy made at upload when there is one, else the model file itself (plain glTF already, and every
    model stored before decoded copies existed). ``GET /v1/models/:id/file`` always answers the
    model file (``storage_key``)."""
    return model.decoded_key or model.storage_key


@dataclass(frozen=True)
class Asset:
    key: str
    size: int
    media_type: str
    filename: str


async def _asset(storage: Storage, render: Render, filename: str, missing: ErrorCode) -> Asset:
    """Only files the render lists as published (``render.assets``, set once every upload of the
    job finished) answer: what a worker killed mid-upload left in the store is never served."""
    key = render_key(render.id, filename)
    size = await storage.stat_async(key) if filename in render.assets else None
    if size is None:
        raise DxglError(missing)
    return Asset(key, size, media_type_of(filename), f"{render.id}-{filename}")


def _choice(quality: str | None, allowed: str) -> bool:
    """Is the optional ``quality`` query parameter ``allowed`` (True) or absent (False)?"""
    if quality not in (None, "", allowed):
        raise DxglError(ErrorCode.INVALID_REQUEST, f'quality must be "{allowed}" or absent')
    return quality == allowed


async def video(
    session: AsyncSession, caller: Caller, render_id: str, *, storage: Storage, quality: str | None
) -> Asset:
    render = await get_render(session, caller, render_id)
    web = _choice(quality, "web")
    filename = OutputFile.WEB if web else main_video_file(render.settings["quality"])
    return await _asset(storage, render, filename, ErrorCode.VIDEO_NOT_FOUND)


async def poster(
    session: AsyncSession, caller: Caller, render_id: str, *, storage: Storage, quality: str | None
) -> Asset:
    """The small poster by default (from ``poster-done`` on); ``quality=full`` for native size."""
    render = await get_render(session, caller, render_id)
    filename = OutputFile.POSTER if _choice(quality, "full") else OutputFile.POSTER_SMALL
    return await _asset(storage, render, filename, ErrorCode.POSTER_NOT_FOUND)


async def thumb(session: AsyncSession, caller: Caller, render_id: str, *, storage: Storage) -> Asset:
    render = await get_render(session, caller, render_id)
    return await _asset(storage, render, OutputFile.THUMB, ErrorCode.THUMB_NOT_FOUND)


async def bundle(
    session: AsyncSession, caller: Caller, render_id: str, *, storage: Storage
) -> Asset | list[tuple[str, Asset]]:
    """A dataset's archive as it is, or the (member name, asset) pairs of a video render's bundle.
    Either way the render must be done."""
    render = await get_render(session, caller, render_id)
    if render.status != RenderStatus.DONE:
        raise DxglError(ErrorCode.VIDEO_NOT_FOUND, "The render is not done yet; its bundle is not available")
    if is_dataset(render.settings):
        return await _asset(storage, render, OutputFile.DATASET_ARCHIVE, ErrorCode.VIDEO_NOT_FOUND)
    members = bundle_members(render.settings["quality"])
    return [(str(name), await _asset(storage, render, name, ErrorCode.VIDEO_NOT_FOUND)) for name in members]
