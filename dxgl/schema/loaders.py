"""Dataloaders: each batch function reads what one level of a query needs in a single statement,
through the services (which scope every read to the caller's account).

This module knows nothing of the GraphQL context: the context hands it a way to authenticate and
a way to open a unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from dxgl.events import render_event
from dxgl.services import models as model_service
from dxgl.services.auth import Caller
from dxgl.tables import Model3D

CallerFn = Callable[[], Awaitable[Caller]]
UnitOfWorkFn = Callable[[], AbstractAsyncContextManager[AsyncSession]]


@dataclass
class Loaders:
    renders_by_model: DataLoader[str, list[dict[str, Any]]]
    model_by_id: DataLoader[str, Model3D | None]


def make_loaders(caller: CallerFn, unit_of_work: UnitOfWorkFn, *, cache: bool) -> Loaders:
    """``cache=False`` for long-lived (websocket) contexts: batch, but never serve an old read."""

    async def renders_by_model(model_ids: Sequence[str]) -> list[list[dict[str, Any]]]:
        """Per model id, its renders (newest first) as API dicts; one query for all of them."""
        who = await caller()
        async with unit_of_work() as session:
            grouped = await model_service.renders_of_models(session, who, list(dict.fromkeys(model_ids)))
        return [[render_event(r) for r in grouped.get(mid, [])] for mid in model_ids]

    async def models_by_id(model_ids: Sequence[str]) -> list[Model3D | None]:
        """Per model id, the caller's live model, or None (deleted models leave renders behind)."""
        who = await caller()
        async with unit_of_work() as session:
            found = await model_service.models_by_ids(session, who, list(dict.fromkeys(model_ids)))
        return [found.get(mid) for mid in model_ids]

    return Loaders(
        renders_by_model=DataLoader(load_fn=renders_by_model, cache=cache),
        model_by_id=DataLoader(load_fn=models_by_id, cache=cache),
    )
