"""Webhook endpoints and their events (docs/webhooks.md). The hooks below are called by the
services where events happen, inside the transaction that causes them."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.tables import Model3D


async def model_created(session: AsyncSession, model: Model3D) -> None:
    """A new model row was flushed in this transaction: record its ``model.created`` event."""
    return None
