"""The caller's rows, written once per domain: every service reads models, renders and overlays
through these filters, so no query can forget the account (or, for models, the soft delete).

An id that cannot be one of ours is "not found" without a query (``dxgl.ids.is_id``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ids import is_id
from dxgl.tables import Model3D, Overlay, Render


def live_models(account_id: str) -> list[ColumnElement[bool]]:
    """The account's models that are not deleted (archived ones included)."""
    return [col(Model3D.account_id) == account_id, col(Model3D.deleted_at).is_(None)]


async def live_model(session: AsyncSession, account_id: str, model_id: Any) -> Model3D:
    """One of the account's live models, or ``model_not_found``."""
    model = await session.get(Model3D, model_id) if is_id(model_id) else None
    if model is None or model.account_id != account_id or model.deleted_at is not None:
        raise DxglError(ErrorCode.MODEL_NOT_FOUND)
    return model


async def live_model_by_hash(session: AsyncSession, account_id: str, sha256: str) -> Model3D | None:
    """The account's live model holding this file (dedup), if any."""
    query = select(Model3D).where(*live_models(account_id), col(Model3D.sha256) == sha256.lower())
    return (await session.execute(query)).scalar_one_or_none()


def account_renders(account_id: str) -> list[ColumnElement[bool]]:
    """The account's renders (they outlive a deleted model)."""
    return [col(Render.account_id) == account_id]


async def account_render(session: AsyncSession, account_id: str, render_id: Any) -> Render:
    """One of the account's renders, or ``render_not_found``."""
    render = await session.get(Render, render_id) if is_id(render_id) else None
    if render is None or render.account_id != account_id:
        raise DxglError(ErrorCode.RENDER_NOT_FOUND)
    return render


def visible_overlays(account_id: str) -> list[ColumnElement[bool]]:
    """The account's own overlays and the published system overlays (``account_id`` NULL)."""
    return [or_(col(Overlay.account_id) == account_id, col(Overlay.account_id).is_(None))]


async def visible_overlay(session: AsyncSession, account_id: str, overlay_id: Any) -> Overlay | None:
    overlay = await session.get(Overlay, overlay_id) if is_id(overlay_id) else None
    if overlay is None or overlay.account_id not in (None, account_id):
        return None
    return overlay
