"""Quotes (docs/api.md, "Quotes"): what creating a render or a batch would charge, creating nothing.

The same checks as creating (``renders.single_item`` / ``renders.batch_items`` then
``renders.validate_items``), so an invalid request gets the same error, and the same allocation and
watermark rule as charging (``credits.allocate``, ``credits.watermarked``) over unsaved renders
costed by ``render_settings.render_cost``. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import Scope
from dxgl.services import credits, renders
from dxgl.services.auth import Caller
from dxgl.services.render_settings import render_cost
from dxgl.tables import Account, Model3D, Render

# When the balance cannot cover the request, the items say what it would be charged with enough
# paid credits added (paid, no watermark): the allocation with this many paid credits.
_UNLIMITED = 10**15


@dataclass(frozen=True)
class QuoteItem:
    model_id: str
    credits: int
    paid_by: str  # "paid" | "free"
    watermark: bool


@dataclass(frozen=True)
class Quote:
    credits: int
    items: list[QuoteItem]
    paid: int  # the balance now
    free: int
    sufficient: bool

    def json(self) -> dict[str, Any]:
        """The REST ``data`` (the GraphQL type has the same fields)."""
        return {
            "credits": self.credits,
            "items": [
                {"modelId": i.model_id, "credits": i.credits, "paidBy": i.paid_by, "watermark": i.watermark}
                for i in self.items
            ],
            "balance": {"paid": self.paid, "free": self.free},
            "sufficient": self.sufficient,
        }


def price(paid: int, free: int, priced: list[tuple[str, dict[str, Any]]]) -> Quote:
    """Pure: the quote of (model id, validated settings) pairs against a balance of ``paid`` and
    ``free`` credits, by the charging rule itself."""
    # Unsaved rows (never added to a session): what credits.charge allocates over.
    rows = [
        Render(id="", account_id="", model_id=model_id, settings=settings, cost=render_cost(settings))
        for model_id, settings in priced
    ]
    split = credits.allocate(paid, free, rows)
    sufficient = split is not None
    if split is None:
        split = credits.allocate(_UNLIMITED, free, rows) or [(r.cost, 0) for r in rows]
    items = [
        QuoteItem(
            model_id=r.model_id,
            credits=r.cost,
            paid_by="free" if f > 0 else "paid",
            watermark=credits.watermarked(r.settings, f),
        )
        for r, (_, f) in zip(rows, split)
    ]
    return Quote(sum(r.cost for r in rows), items, paid, free, sufficient)


async def _validated(
    session: AsyncSession, caller: Caller, items: list[tuple[Model3D, Any]], *, batch: bool
) -> list[tuple[str, dict[str, Any]]]:
    return [
        (model.id, settings) for model, settings in await renders.validate_items(session, caller, items, batch=batch)
    ]


async def _quote(session: AsyncSession, caller: Caller, priced: list[tuple[str, dict[str, Any]]]) -> Quote:
    account = await session.get_one(Account, caller.account_id)
    return price(account.paid_credits, account.free_credits, priced)


def authorize(caller: Caller) -> None:
    """A quote reads prices and the balance and creates nothing: renders:read."""
    caller.require(Scope.RENDERS_READ)


async def quote_render(session: AsyncSession, caller: Caller, *, model_id: Any, raw_settings: Any) -> Quote:
    """The quote of ``POST /v1/renders`` with this body."""
    authorize(caller)
    model = await renders.single_item(session, caller, model_id)
    return await _quote(session, caller, await _validated(session, caller, [(model, raw_settings)], batch=False))


async def quote_batch(session: AsyncSession, caller: Caller, *, items: Any) -> Quote:
    """The quote of ``POST /v1/renders/batch`` with this ``renders`` list."""
    authorize(caller)
    resolved = await renders.batch_items(session, caller, items)
    return await _quote(session, caller, await _validated(session, caller, resolved, batch=True))
