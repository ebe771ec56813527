"""Render state, as the workers move it: claim with a lease, advance through the documented
statuses, complete, fail with a refund, and find renders that were lost.

pending -> poster-processing -> poster-done -> video-processing -> done; any -> error;
error -> failed (dismiss, in services.renders). Every change here is committed by the job
boundary and then published as an event.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from dxgl.services import credits
from dxgl.tables import Render
from dxgl.timeutil import utcnow

PROCESSING = ("poster-processing", "poster-done", "video-processing")
FINISHED = ("done", "error", "failed")
ORDER = ("pending", "poster-processing", "poster-done", "video-processing", "done")


async def claim(session: AsyncSession, render_id: str, *, lease_s: float, max_attempts: int) -> Render | None:
    """Take the render for this worker, or None when it is gone, finished, or held by a live lease.
    Safe against two workers racing: the claim is one conditional UPDATE."""
    now = utcnow()
    result = await session.execute(
        update(Render)
        .where(
            Render.id == render_id,
            or_(
                Render.status == "pending",
                Render.status.in_(PROCESSING) & (or_(Render.lease_until.is_(None), Render.lease_until < now)),
            ),
        )
        .values(
            status="poster-processing",
            attempts=Render.attempts + 1,
            lease_until=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
    )
    if result.rowcount != 1:
        return None
    render = await session.get_one(Render, render_id, populate_existing=True)
    if render.attempts > max_attempts:
        await fail(
            session,
            render,
            f"The render was interrupted {max_attempts} times and was given up; its credits were refunded",
        )
        return None
    return render


async def advance(session: AsyncSession, render: Render, status: str, *, lease_s: float) -> bool:
    """Move a claimed render forward; False when it was deleted meanwhile."""
    assert status in ORDER, status
    now = utcnow()
    result = await session.execute(
        update(Render)
        .where(Render.id == render.id, Render.status.in_(PROCESSING))
        .values(status=status, updated_at=now, lease_until=now + timedelta(seconds=lease_s))
    )
    if result.rowcount != 1:
        return False
    await session.refresh(render)
    return True


async def add_assets(session: AsyncSession, render: Render, names: list[str]) -> None:
    render.assets = sorted(set(render.assets) | set(names))
    await session.flush()


async def heartbeat(session: AsyncSession, render_ids: list[str], *, lease_s: float) -> None:
    await session.execute(
        update(Render)
        .where(Render.id.in_(render_ids), Render.status.in_(PROCESSING))
        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
    )


async def complete(
    session: AsyncSession, render: Render, *, file_size: int, has_web_variant: bool, assets: list[str]
) -> bool:
    if not await advance(session, render, "done", lease_s=0):
        return False
    render.file_size = file_size
    render.has_web_variant = has_web_variant
    render.assets = sorted(set(render.assets) | set(assets))
    render.lease_until = None
    render.error_message = None
    await session.flush()
    return True


async def fail(session: AsyncSession, render: Render, message: str) -> None:
    """``error`` with a message a user can act on, and the credits back (once, ever)."""
    render.status = "error"
    render.error_message = message[:2000]
    render.lease_until = None
    render.updated_at = utcnow()
    await session.flush()
    await credits.refund(session, render=render, note="render failed")


async def lost_renders(session: AsyncSession, *, lease_s: float) -> list[Render]:
    """Renders to queue again: processing with an expired lease (the worker died), and pending ones
    untouched for a whole lease (their queue entry may be gone). Touches them so the next sweep
    leaves them alone for another lease."""
    now = utcnow()
    stale = now - timedelta(seconds=lease_s)
    rows = (
        (
            await session.execute(
                select(Render).where(
                    Render.updated_at < stale,
                    or_(Render.status == "pending", Render.status.in_(PROCESSING) & (Render.lease_until < now)),
                )
            )
        )
        .scalars()
        .all()
    )
    for render in rows:
        render.updated_at = now  # one re-queue per lease period
    await session.flush()
    return list(rows)


async def unfinished(session: AsyncSession) -> list[list[str]]:
    """Ids of every render not finished, grouped by model (for the embedded runner's restart)."""
    rows = (
        await session.execute(
            select(Render.id, Render.model_id).where(Render.status.not_in(FINISHED)).order_by(Render.created_at)
        )
    ).all()
    groups: dict[str, list[str]] = {}
    for render_id, model_id in rows:
        groups.setdefault(model_id, []).append(render_id)
    return list(groups.values())
