"""Quotes (docs/api.md, "Quotes"): what creating a render or a batch would charge, creating nothing.

The same checks as creating, in the same order, so an invalid request gets the same error
(``renders.create_render`` / ``renders.create_batch``), and the same allocation as charging:
``credits._allocate`` (paid credits first, free credits only for what paid cannot cover and may pay
for) is called on unsaved renders costed by ``render_settings.render_cost``. Nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.contract import MAX_BATCH, ErrorCode, Scope
from dxgl.errors import DxglError
from dxgl.services import credits, overlays, scoped
from dxgl.services.auth import Caller
from dxgl.services.render_settings import is_dataset, render_cost, validate_render_settings
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
    renders = [
        Render(id="", account_id="", model_id=model_id, settings=settings, cost=render_cost(settings))
        for model_id, settings in priced
    ]
    split = credits._allocate(paid, free, renders)
    sufficient = split is not None
    if split is None:
        split = credits._allocate(_UNLIMITED, free, renders) or [(r.cost, 0) for r in renders]
    items = [
        QuoteItem(
            model_id=r.model_id,
            credits=r.cost,
            paid_by="free" if f > 0 else "paid",
            # The charge's rule: free credits on a video mean a watermark, never on a dataset.
            watermark=f > 0 and not is_dataset(r.settings),
        )
        for r, (_, f) in zip(renders, split)
    ]
    return Quote(sum(r.cost for r in renders), items, paid, free, sufficient)


async def _validated(
    session: AsyncSession, caller: Caller, items: list[tuple[Model3D, Any]], *, batch: bool
) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for index, (model, raw) in enumerate(items):
        try:
            settings = validate_render_settings(raw)
            await overlays.resolve_settings_overlays(session, caller, settings)
        except DxglError as err:
            if batch:
                err.message = f"renders[{index}]: {err.message}"
            raise
        out.append((model.id, settings))
    return out


async def _quote(session: AsyncSession, caller: Caller, priced: list[tuple[str, dict[str, Any]]]) -> Quote:
    account = await session.get_one(Account, caller.account_id)
    return price(account.paid_credits, account.free_credits, priced)


def authorize(caller: Caller) -> None:
    """A quote reads prices and the balance and creates nothing: renders:read."""
    caller.require(Scope.RENDERS_READ)


async def quote_render(session: AsyncSession, caller: Caller, *, model_id: Any, raw_settings: Any) -> Quote:
    """The quote of ``POST /v1/renders`` with this body."""
    authorize(caller)
    if model_id is None or model_id == "":
        raise DxglError(ErrorCode.MODEL_ID_REQUIRED)
    model = await scoped.live_model(session, caller.account_id, model_id)
    return await _quote(session, caller, await _validated(session, caller, [(model, raw_settings)], batch=False))


async def quote_batch(session: AsyncSession, caller: Caller, *, items: Any) -> Quote:
    """The quote of ``POST /v1/renders/batch`` with this ``renders`` list."""
    authorize(caller)
    if not isinstance(items, list) or not items:
        raise DxglError(ErrorCode.RENDERS_REQUIRED)
    if len(items) > MAX_BATCH:
        raise DxglError(ErrorCode.TOO_MANY, f"A batch holds at most {MAX_BATCH} renders; this one has {len(items)}")
    resolved = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DxglError(ErrorCode.INVALID_REQUEST, f"renders[{index}] must be an object")
        if not item.get("modelId"):
            raise DxglError(ErrorCode.MODEL_ID_REQUIRED, f"renders[{index}].modelId is missing")
        model = await scoped.live_model(session, caller.account_id, item["modelId"])
        resolved.append((model, item.get("renderSettings")))
    return await _quote(session, caller, await _validated(session, caller, resolved, batch=True))
