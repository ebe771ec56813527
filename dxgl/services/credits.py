"""Credits: charging renders (all-or-nothing, safe under concurrency) and refunding them once.

Spending order: paid credits first, free credits only for what paid credits cannot cover, and only
for work free credits may pay for (standard videos, watermarked; 100x800 datasets). A customer who
bought credits never gets a watermarked video while paid credits remain. docs/credits.md says so.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.services import webhooks
from dxgl.services.render_settings import free_credits_may_pay, is_dataset, render_cost
from dxgl.tables import Account, LedgerEntry, Render

_RETRIES = 8


def allocate(paid: int, free: int, renders: list[Render]) -> list[tuple[int, int]] | None:
    """Split each render's cost into (paid, free) parts, or None when the balance cannot cover all.
    Pure (the renders need only ``cost`` and ``settings``): charging and quotes use it alike."""
    fixed = sum(r.cost for r in renders if not free_credits_may_pay(r.settings))
    paid_left = paid - fixed
    free_left = free
    if paid_left < 0:
        return None
    split: list[tuple[int, int]] = []
    for r in renders:
        if not free_credits_may_pay(r.settings):
            split.append((r.cost, 0))
        elif paid_left >= r.cost:
            paid_left -= r.cost
            split.append((r.cost, 0))
        elif free_left >= r.cost:
            free_left -= r.cost
            split.append((0, r.cost))
        else:
            return None
    return split


def watermarked(settings: dict[str, object], free_used: int) -> bool:
    """Free credits on a video mean a PREVIEW watermark; a free dataset has none (CLARIFICATIONS.md)."""
    return free_used > 0 and not is_dataset(settings)


async def charge(session: AsyncSession, *, account_id: str, renders: list[Render]) -> None:
    """Charge every render in ``renders`` (already added to the session) or none of them.

    The deduction is one conditional UPDATE (``... WHERE paid_credits >= p AND free_credits >= f``), so
    two requests can never both spend the same credits, on SQLite or PostgreSQL; if a concurrent charge
    changed the balance between our read and our update, we read again and retry."""
    for r in renders:
        r.cost = render_cost(r.settings)
    for _ in range(_RETRIES):
        balance = (
            await session.execute(
                select(col(Account.paid_credits), col(Account.free_credits)).where(col(Account.id) == account_id)
            )
        ).one()
        split = allocate(balance.paid_credits, balance.free_credits, renders)
        if split is None:
            needed = sum(r.cost for r in renders)
            raise DxglError(
                ErrorCode.NO_CREDITS,
                f"Not enough credits: this needs {needed}, the account has {balance.paid_credits} paid and "
                f"{balance.free_credits} free (free credits pay only for standard renders)",
            )
        paid = sum(p for p, _ in split)
        free = sum(f for _, f in split)
        moved = (
            await session.execute(
                update(Account)
                .where(
                    col(Account.id) == account_id, col(Account.paid_credits) >= paid, col(Account.free_credits) >= free
                )
                .values(paid_credits=col(Account.paid_credits) - paid, free_credits=col(Account.free_credits) - free)
                .returning(col(Account.paid_credits), col(Account.free_credits))
            )
        ).first()
        if moved is not None:
            # RETURNING gives the balance this very UPDATE left (a concurrent charge may have moved
            # it since our read): credits.low compares exactly what this charge crossed.
            after = (moved.paid_credits, moved.free_credits)
            before = (after[0] + paid, after[1] + free)
            await webhooks.credits_charged(session, account_id=account_id, before=before, after=after)
            break
    else:
        raise DxglError(ErrorCode.NO_CREDITS, "Not enough credits (the balance changed while charging; try again)")
    for r, (p, f) in zip(renders, split):
        r.paid_credits_used = p
        r.free_credits_used = f
        r.watermark = watermarked(r.settings, f)
        session.add(LedgerEntry(account_id=account_id, kind="charge", paid_delta=-p, free_delta=-f, render_id=r.id))
    await session.flush()


async def refund(session: AsyncSession, *, render: Render, note: str = "") -> bool:
    """Give back what ``render`` was charged, exactly once (a unique ledger row per render and kind).
    Returns False when it was already refunded, and for a system preview: nothing was charged for
    it (no charge row), so it gets no refund row either."""
    if render.is_system_preview:
        return False
    try:
        async with session.begin_nested():
            session.add(
                LedgerEntry(
                    account_id=render.account_id,
                    kind="refund",
                    paid_delta=render.paid_credits_used,
                    free_delta=render.free_credits_used,
                    render_id=render.id,
                    note=note[:255],
                )
            )
            await session.flush()
    except IntegrityError:
        return False
    await session.execute(
        update(Account)
        .where(col(Account.id) == render.account_id)
        .values(
            paid_credits=col(Account.paid_credits) + render.paid_credits_used,
            free_credits=col(Account.free_credits) + render.free_credits_used,
        )
    )
    await session.flush()
    return True
