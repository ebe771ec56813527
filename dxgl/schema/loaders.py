"""Dataloader batch functions: each reads what one level of a query needs in a single statement,
through the services (which scope every read to the caller's account)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from dxgl.events import render_event
from dxgl.services import models as model_service
from dxgl.tables import Model3D

if TYPE_CHECKING:
    from dxgl.schema.context import DxglContext


async def renders_by_model(ctx: DxglContext, model_ids: Sequence[str]) -> list[list[dict]]:
    """Per model id, its renders (newest first) as API dicts; one query for all of them."""
    caller = await ctx.caller()
    async with ctx.unit_of_work() as session:
        grouped = await model_service.renders_of_models(session, caller, list(dict.fromkeys(model_ids)))
    return [[render_event(r) for r in grouped.get(mid, [])] for mid in model_ids]


async def models_by_id(ctx: DxglContext, model_ids: Sequence[str]) -> list[Model3D | None]:
    """Per model id, the caller's live model, or None (deleted models leave renders behind)."""
    caller = await ctx.caller()
    async with ctx.unit_of_work() as session:
        found = await model_service.models_by_ids(session, caller, list(dict.fromkeys(model_ids)))
    return [found.get(mid) for mid in model_ids]
