"""Overlays: reusable background / foreground images. An account sees its own overlays plus the
published system overlays; it can delete only its own. Renders reference them by id."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ids import is_id, new_id
from dxgl.runtime import Runtime, after_commit, on_rollback
from dxgl.services.auth import Caller
from dxgl.services.render_settings import ALIGNMENTS
from dxgl.services.uploads import UploadedFile
from dxgl.tables import Overlay

MAX_OVERLAY_BYTES = 10 * 1024 * 1024
MAX_NAME = 100
MAX_DESCRIPTION = 500
MAX_PIXELS = 50_000_000
LAYERS = ("background", "foreground")
# Pillow format -> media type: PNG, JPEG and WebP, recognised by content.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
SUFFIX = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
# renderSettings image field -> (its alignment field, the overlay layer it must reference)
SETTINGS_REFS = {"bgImageId": ("bgAlign", "background"), "fgImageId": ("fgAlign", "foreground")}


@dataclass(frozen=True)
class ImageInfo:
    media_type: str
    width: int
    height: int


def inspect_image(upload: UploadedFile) -> ImageInfo:
    """Blocking. Reads only the header: format and size, before any pixel is decoded."""
    try:
        with Image.open(upload.path) as image:
            fmt, (width, height) = image.format, image.size
    except (OSError, Image.DecompressionBombError, ValueError):
        raise DxglError(ErrorCode.INVALID_FORMAT, "The overlay must be a PNG, JPEG or WebP image") from None
    if fmt not in FORMATS:
        raise DxglError(ErrorCode.INVALID_FORMAT, f"The overlay must be a PNG, JPEG or WebP image (this is {fmt})")
    if width * height > MAX_PIXELS:
        raise DxglError(ErrorCode.INVALID_FORMAT, f"The overlay is {width}x{height}: at most 50 megapixels")
    return ImageInfo(FORMATS[fmt], width, height)


def _choice(name: str, value: Any, options: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in options:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be one of {', '.join(options)}")
    return value


def _text(name: str, value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be text of at most {limit} characters")
    return value.strip()


async def upload_overlay(
    session: AsyncSession,
    rt: Runtime,
    caller: Caller | None,
    *,
    upload: UploadedFile,
    layer: Any = None,
    name: Any = None,
    description: Any = None,
    alignment: Any = None,
) -> Overlay:
    """Store an overlay for the caller, or a published system overlay when ``caller`` is None (CLI)."""
    try:
        if caller is not None:
            caller.require("overlays:write")
        layer = _choice("layer", layer, LAYERS, "background")
        alignment = _choice("alignment", alignment, ALIGNMENTS, "top-left")
        name = _text("name", name, MAX_NAME)
        description = _text("description", description, MAX_DESCRIPTION)
        if upload.size > MAX_OVERLAY_BYTES:
            raise DxglError(ErrorCode.FILE_TOO_LARGE, "An overlay image is at most 10 MB")
        info = await asyncio.to_thread(inspect_image, upload)
        overlay = Overlay(
            id=new_id(),
            account_id=caller.account_id if caller else None,
            layer=layer,
            name=name,
            description=description,
            alignment=alignment,
            storage_key="",
            media_type=info.media_type,
            width=info.width,
            height=info.height,
            file_size=upload.size,
        )
        overlay.storage_key = f"overlays/{overlay.id}{SUFFIX[info.media_type]}"
        session.add(overlay)
        await session.flush()
        rt.storage.publish(upload.path, overlay.storage_key)
        on_rollback(session, lambda: rt.storage.delete(overlay.storage_key))
        return overlay
    finally:
        upload.discard()


async def list_overlays(session: AsyncSession, caller: Caller, *, layer: Any = None) -> list[Overlay]:
    caller.require("overlays:read")
    where = [or_(Overlay.account_id == caller.account_id, Overlay.account_id.is_(None))]
    if layer not in (None, ""):
        where.append(Overlay.layer == _choice("layer", layer, LAYERS, "background"))
    rows = await session.execute(select(Overlay).where(*where).order_by(Overlay.created_at.desc(), Overlay.id))
    return list(rows.scalars())


async def _visible(session: AsyncSession, caller: Caller, overlay_id: Any) -> Overlay | None:
    overlay = await session.get(Overlay, overlay_id) if is_id(overlay_id) else None
    if overlay is None or overlay.account_id not in (None, caller.account_id):
        return None
    return overlay


async def delete_overlay(session: AsyncSession, rt: Runtime, caller: Caller, overlay_id: str) -> Overlay:
    """Delete one of the caller's overlays and its image (system overlays are not theirs to delete)."""
    caller.require("overlays:write")
    overlay = await _visible(session, caller, overlay_id)
    if overlay is None or overlay.account_id != caller.account_id:
        raise DxglError(ErrorCode.OVERLAY_NOT_FOUND)
    await session.delete(overlay)
    await session.flush()
    key = overlay.storage_key
    after_commit(session, lambda: rt.storage.delete(key))
    return overlay


async def resolve_settings_overlays(session: AsyncSession, caller: Caller, settings: dict[str, Any]) -> None:
    """Check ``bgImageId`` / ``fgImageId`` name overlays of the right layer that the caller may use,
    and fill in ``bgAlign`` / ``fgAlign`` from the overlay when the settings don't set them."""
    for field, (align_field, layer) in SETTINGS_REFS.items():
        if field not in settings:
            continue
        overlay = await _visible(session, caller, settings[field])
        if overlay is None:
            raise DxglError(
                ErrorCode.INVALID_SETTINGS, f"renderSettings.{field} names no overlay of yours or of the system"
            )
        if overlay.layer != layer:
            raise DxglError(ErrorCode.INVALID_SETTINGS, f"renderSettings.{field} must name a {layer} overlay")
        settings.setdefault(align_field, overlay.alignment)


async def overlay_paths(session: AsyncSession, rt: Runtime, settings: dict[str, Any]) -> dict[str, Any]:
    """For a job: the image files of the render's overlays, as JobSpec keyword arguments."""
    found: dict[str, Any] = {}
    for field, kwarg in (("bgImageId", "bg_image"), ("fgImageId", "fg_image")):
        if field in settings:
            overlay = await session.get(Overlay, settings[field])
            if overlay is None or not rt.storage.exists(overlay.storage_key):
                raise DxglError(
                    ErrorCode.OVERLAY_NOT_FOUND, f"The overlay {settings[field]} was deleted; choose another one"
                )
            found[kwarg] = rt.storage.path(overlay.storage_key)
    return found
