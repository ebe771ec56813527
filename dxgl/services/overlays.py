"""Overlays: reusable background / foreground images, and environment images that light a render
(dxgl's third layer, docs/overlays.md). An account sees its own overlays plus the published system
overlays; it can delete only its own. Renders reference them by id (``bgImageId``, ``fgImageId``,
``environment``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import (
    DEFAULT_ALIGNMENT,
    MAX_IMAGE_PIXELS,
    MAX_OVERLAY_DESCRIPTION,
    MAX_OVERLAY_NAME,
    OVERLAY_REFS,
    Alignment,
    ErrorCode,
    OverlayLayer,
    Scope,
    max_overlay_bytes,
    overlay_key,
)
from dxgl.errors import DxglError
from dxgl.ids import new_id
from dxgl.ingest.environment_images import check_environment_image
from dxgl.services import json_input, scoped
from dxgl.services.auth import Caller
from dxgl.services.render_settings import is_builtin_environment
from dxgl.services.uploads import UploadedFile, require_content
from dxgl.storage import Storage
from dxgl.tables import Overlay
from dxgl.uow import after_commit, on_rollback

# Pillow format -> media type: PNG, JPEG and WebP, recognised by content.
FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
SUFFIX = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "image/vnd.radiance": ".hdr",
    "image/x-exr": ".exr",
}
# The JobSpec keyword argument that receives each referenced overlay's image file.
_JOB_IMAGE_ARG = {"bgImageId": "bg_image", "fgImageId": "fg_image"}
# The setting naming an environment overlay (or a built-in environment), and the keyword argument
# of JobSpec / DatasetSpec.from_settings that receives its file.
ENVIRONMENT_FIELD = "environment"
ENVIRONMENT_IMAGE_ARG = "environment_image"


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
    if width * height > MAX_IMAGE_PIXELS:
        raise DxglError(
            ErrorCode.INVALID_FORMAT,
            f"The overlay is {width}x{height}: at most {MAX_IMAGE_PIXELS // 1_000_000} megapixels",
        )
    return ImageInfo(FORMATS[fmt], width, height)


def _inspect_environment(upload: UploadedFile) -> ImageInfo:
    """Blocking. An environment image (.hdr / .exr) decoded whole in the ingest sandbox: a file
    whose data does not match its header is refused here, not at its first render."""
    checked = check_environment_image(upload.path)
    return ImageInfo(checked.media_type, checked.width, checked.height)


def _choice(name: str, value: Any, options: tuple[str, ...], default: str) -> str:
    if value is None or value == "":
        return default
    if value not in options:
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be one of {', '.join(options)}")
    return str(value)


def upload_limit(layer: Any) -> int:
    """The byte limit to stream an overlay upload under: the layer's, when the request named a
    valid one before the file; else the largest (``upload_overlay`` then applies the layer's)."""
    return max_overlay_bytes(layer if layer in tuple(OverlayLayer) else None)


def _layer(value: Any) -> str:
    return _choice("layer", value, tuple(OverlayLayer), OverlayLayer.BACKGROUND.value)


def _text(name: str, value: Any, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value or not json_input.is_text(value):
        raise DxglError(ErrorCode.INVALID_REQUEST, f"{name} must be text of at most {limit} characters")
    return value.strip()


def authorize_upload(caller: Caller | None) -> None:
    """Uploading an overlay needs overlays:write, checked before the body is read. ``None`` is the
    server's admin publishing a system overlay (the CLI)."""
    if caller is not None:
        caller.require(Scope.OVERLAYS_WRITE)


async def upload_overlay(
    session: AsyncSession,
    caller: Caller | None,
    *,
    storage: Storage,
    upload: UploadedFile,
    layer: Any = None,
    name: Any = None,
    description: Any = None,
    alignment: Any = None,
) -> Overlay:
    """Store an overlay for the caller, or a published system overlay when ``caller`` is None (CLI).
    The temporary upload is always consumed."""
    try:
        authorize_upload(caller)
        require_content(upload)
        layer = _layer(layer)
        alignment = _choice("alignment", alignment, tuple(Alignment), DEFAULT_ALIGNMENT.value)
        name = _text("name", name, MAX_OVERLAY_NAME)
        description = _text("description", description, MAX_OVERLAY_DESCRIPTION)
        limit = max_overlay_bytes(layer)
        if upload.size > limit:
            what = "An environment image" if layer == OverlayLayer.ENVIRONMENT else "An overlay image"
            raise DxglError(ErrorCode.FILE_TOO_LARGE, f"{what} is at most {limit >> 20} MB")
        if layer == OverlayLayer.ENVIRONMENT:
            info = await asyncio.to_thread(_inspect_environment, upload)
        else:
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
        overlay.storage_key = key = overlay_key(overlay.id, SUFFIX[info.media_type])
        session.add(overlay)
        await session.flush()
        on_rollback(session, lambda: storage.delete(key))
        await asyncio.to_thread(storage.publish, upload.path, key)
        return overlay
    finally:
        await upload.release()


async def list_overlays(session: AsyncSession, caller: Caller, *, layer: Any = None) -> list[Overlay]:
    caller.require(Scope.OVERLAYS_READ)
    where = scoped.visible_overlays(caller.account_id)
    if layer not in (None, ""):
        where.append(col(Overlay.layer) == _layer(layer))
    query = select(Overlay).where(*where).order_by(col(Overlay.created_at).desc(), col(Overlay.id))
    return list((await session.execute(query)).scalars())


async def overlay_image(session: AsyncSession, caller: Caller, overlay_id: str, *, storage: Storage) -> Overlay:
    """An overlay whose stored image (``storage_key``) the caller may download: its own or a system
    overlay, e.g. for the portal's list."""
    caller.require(Scope.OVERLAYS_READ)
    overlay = await scoped.visible_overlay(session, caller.account_id, overlay_id)
    if overlay is None or await storage.stat_async(overlay.storage_key) is None:
        raise DxglError(ErrorCode.OVERLAY_NOT_FOUND)
    return overlay


async def delete_overlay(session: AsyncSession, caller: Caller, overlay_id: str, *, storage: Storage) -> Overlay:
    """Delete one of the caller's overlays and its image (system overlays are not theirs to delete)."""
    caller.require(Scope.OVERLAYS_WRITE)
    overlay = await scoped.visible_overlay(session, caller.account_id, overlay_id)
    if overlay is None or overlay.account_id != caller.account_id:
        raise DxglError(ErrorCode.OVERLAY_NOT_FOUND)
    await session.delete(overlay)
    await session.flush()
    key = overlay.storage_key
    after_commit(session, lambda: storage.delete(key))
    return overlay


async def resolve_settings_overlays(session: AsyncSession, caller: Caller, settings: dict[str, Any]) -> None:
    """Check ``bgImageId`` / ``fgImageId`` name overlays of the right layer that the caller may use,
    and fill in ``bgAlign`` / ``fgAlign`` from the overlay when the settings don't set them."""
    for ref in OVERLAY_REFS:
        if ref.image_field not in settings:
            continue
        overlay = await scoped.visible_overlay(session, caller.account_id, settings[ref.image_field])
        if overlay is None:
            raise DxglError(
                ErrorCode.INVALID_SETTINGS,
                f"renderSettings.{ref.image_field} names no overlay of yours or of the system",
            )
        if overlay.layer != ref.layer:
            raise DxglError(
                ErrorCode.INVALID_SETTINGS, f"renderSettings.{ref.image_field} must name a {ref.layer} overlay"
            )
        settings.setdefault(ref.align_field, overlay.alignment)
    await _resolve_environment(session, caller, settings)


async def _resolve_environment(session: AsyncSession, caller: Caller, settings: dict[str, Any]) -> None:
    """``environment`` is a built-in name, or names an environment overlay the caller may use."""
    value = settings.get(ENVIRONMENT_FIELD)
    if value is None or is_builtin_environment(value):
        return
    overlay = await scoped.visible_overlay(session, caller.account_id, value)
    if overlay is None:
        raise DxglError(
            ErrorCode.INVALID_SETTINGS,
            f"renderSettings.{ENVIRONMENT_FIELD} names no built-in environment and no environment overlay "
            "of yours or of the system",
        )
    if overlay.layer != OverlayLayer.ENVIRONMENT:
        raise DxglError(
            ErrorCode.INVALID_SETTINGS,
            f"renderSettings.{ENVIRONMENT_FIELD} must name an environment overlay; {value} is a {overlay.layer} overlay",
        )


async def overlay_keys(session: AsyncSession, settings: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """For a job: the render's overlays (their id and storage key), by JobSpec keyword argument
    (``environment_image`` for an environment overlay, also for datasets).
    The job fetches the images (``BlobCache``); one that is gone is overlay_not_found."""
    found: dict[str, tuple[str, str]] = {}
    for ref in OVERLAY_REFS:
        if ref.image_field in settings:
            overlay = await session.get(Overlay, settings[ref.image_field])
            if overlay is None:
                raise overlay_gone(settings[ref.image_field])
            found[_JOB_IMAGE_ARG[ref.image_field]] = (overlay.id, overlay.storage_key)
    environment = settings.get(ENVIRONMENT_FIELD)
    if environment is not None and not is_builtin_environment(environment):
        overlay = await session.get(Overlay, environment)
        if overlay is None:
            raise overlay_gone(environment)
        found[ENVIRONMENT_IMAGE_ARG] = (overlay.id, overlay.storage_key)
    return found


def overlay_gone(overlay_id: Any) -> DxglError:
    return DxglError(ErrorCode.OVERLAY_NOT_FOUND, f"The overlay {overlay_id} was deleted; choose another one")
