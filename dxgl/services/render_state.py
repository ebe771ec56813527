"""Render state, as the workers move it: claim with a lease, advance through the documented
statuses, complete, fail with a refund, dismiss, delete (refunding an unfinished render), and find
renders that were lost.

The statuses and which may follow which are the contract's (``dxgl.contract.TRANSITIONS``); every
conditional UPDATE here takes its allowed source statuses from there. Every change is committed by
the job or request boundary and published as a status event after that commit.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from dxgl.contract import FINISHED, PROCESSING, TRANSITIONS, ErrorCode, RenderStatus, sources_of
from dxgl.errors import DxglError
from dxgl.services import credits
from dxgl.tables import Model3D, Render
from dxgl.timeutil import utcnow
from dxgl.uow import publish_after_commit


def _in(statuses: frozenset[RenderStatus]) -> ColumnElement[bool]:
    return col(Render.status).in_([s.value for s in statuses])


async def claim(session: AsyncSession, render_id: str, *, lease_s: float, max_attempts: int) -> Render | None:
    """Take the render for this worker, or None when it is gone, finished, or held by a live lease.
    Safe against two workers racing: the claim is one conditional UPDATE. A render given up after
    too many attempts fails here (and that failure is published)."""
    now = utcnow()
    target = RenderStatus.POSTER_PROCESSING
    waiting = sources_of(target) - PROCESSING
    lease_expired = or_(col(Render.lease_until).is_(None), col(Render.lease_until) < now)
    result = await session.execute(
        update(Render)
        .where(
            col(Render.id) == render_id,
            or_(_in(waiting), _in(sources_of(target) & PROCESSING) & lease_expired),
        )
        .values(
            status=target.value,
            attempts=col(Render.attempts) + 1,
            lease_until=now + timedelta(seconds=lease_s),
            updated_at=now,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    render = await session.get_one(Render, render_id, populate_existing=True)
    if render.attempts > max_attempts:
        await fail(
            session,
            render,
            f"The render was interrupted {max_attempts} times and was given up; its credits were refunded",
        )
        return None
    publish_after_commit(session, render)
    return render


async def advance(session: AsyncSession, render: Render, status: RenderStatus, *, lease_s: float) -> bool:
    """Move a claimed render forward (renewing its lease); False when it was deleted or moved on."""
    now = utcnow()
    result = await session.execute(
        update(Render)
        .where(col(Render.id) == render.id, _in(sources_of(status) & PROCESSING))
        .values(status=status.value, updated_at=now, lease_until=now + timedelta(seconds=lease_s))
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(render)
    publish_after_commit(session, render)
    return True


async def add_assets(session: AsyncSession, render: Render, names: list[str]) -> None:
    render.assets = sorted(set(render.assets) | set(names))
    await session.flush()


async def heartbeat(session: AsyncSession, render_ids: list[str], *, lease_s: float) -> None:
    await session.execute(
        update(Render)
        .where(col(Render.id).in_(render_ids), _in(PROCESSING))
        .values(lease_until=utcnow() + timedelta(seconds=lease_s))
    )


async def complete(
    session: AsyncSession, render: Render, *, file_size: int, has_web_variant: bool, assets: list[str]
) -> bool:
    if not await advance(session, render, RenderStatus.DONE, lease_s=0):
        return False
    render.file_size = file_size
    render.has_web_variant = has_web_variant
    render.assets = sorted(set(render.assets) | set(assets))
    render.lease_until = None
    render.error_message = None
    await session.flush()
    return True


async def fail(session: AsyncSession, render: Render, message: str) -> bool:
    """``error`` with a message a user can act on, and the credits back (once, ever). False (and
    nothing changed) when the render had already finished or was deleted."""
    if RenderStatus(render.status) not in sources_of(RenderStatus.ERROR):
        return False
    # Conditional, like every worker-side change: a render deleted (and refunded) or finished since
    # it was read is left alone, and nothing is refunded or published for it.
    result = await session.execute(
        update(Render)
        .where(col(Render.id) == render.id, _in(sources_of(RenderStatus.ERROR)))
        .values(status=RenderStatus.ERROR.value, error_message=message[:2000], lease_until=None, updated_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await session.refresh(render)
    await credits.refund(session, render=render, note="render failed")
    publish_after_commit(session, render)
    return True


async def delete(session: AsyncSession, render: Render) -> bool:
    """Delete the render's row. One that had not finished (pending or processing: it never
    delivered its video) is refunded first, exactly as a failed render is (one ledger row, once
    ever); a ``done`` render keeps its charge, and an ``error`` or ``failed`` one was refunded when
    it failed. Returns True when this deletion refunded it.

    The row is locked first (PostgreSQL; a SQLite write transaction holds the database), so a
    worker finishing or failing it at the same moment either ran before (and this sees ``done`` or
    ``error``) or finds it gone (and changes, charges, refunds and publishes nothing)."""
    query = select(Render).where(col(Render.id) == render.id).with_for_update()
    if (await session.execute(query.execution_options(populate_existing=True))).scalar_one_or_none() is None:
        raise DxglError(ErrorCode.RENDER_NOT_FOUND)  # a concurrent request deleted it first
    refunded = RenderStatus(render.status) not in FINISHED and await credits.refund(
        session, render=render, note="render deleted before it finished"
    )
    await session.delete(render)
    await session.flush()
    return refunded


async def dismiss(session: AsyncSession, render: Render) -> None:
    """``error`` -> ``failed`` (the user has seen it); any other status is 409 invalid_state."""
    if RenderStatus.FAILED not in TRANSITIONS[RenderStatus(render.status)]:
        raise DxglError(
            ErrorCode.INVALID_STATE, f"Only renders in status error can be dismissed (this one is {render.status})"
        )
    render.status = RenderStatus.FAILED.value
    render.updated_at = utcnow()
    await session.flush()
    publish_after_commit(session, render)


async def lost_renders(session: AsyncSession, *, lease_s: float) -> list[Render]:
    """Renders to queue again: processing with an expired lease (the worker died), and pending ones
    untouched for a whole lease (their queue entry may be gone). Touches them so the next sweep
    leaves them alone for another lease."""
    now = utcnow()
    stale = now - timedelta(seconds=lease_s)
    waiting = sources_of(RenderStatus.POSTER_PROCESSING) - PROCESSING
    rows = (
        (
            await session.execute(
                select(Render).where(
                    col(Render.updated_at) < stale,
                    or_(_in(waiting), _in(PROCESSING) & (col(Render.lease_until) < now)),
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


async def expire_leases(session: AsyncSession) -> int:
    """End every lease now (the embedded runner's restart: it is the only process that renders, so
    whatever held a lease was this process before it was killed). Returns how many there were."""
    now = utcnow()
    result = await session.execute(
        update(Render).where(_in(PROCESSING), col(Render.lease_until) > now).values(lease_until=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def unfinished(session: AsyncSession) -> list[list[str]]:
    """Ids of every render not finished, grouped by model (for the embedded runner's restart)."""
    query = (
        select(col(Render.id), col(Render.model_id))
        .where(col(Render.status).not_in([s.value for s in FINISHED]))
        .order_by(col(Render.created_at))
    )
    groups: dict[str, list[str]] = {}
    for render_id, model_id in (await session.execute(query)).all():
        groups.setdefault(model_id, []).append(render_id)
    return list(groups.values())


def broken_model_message(reason: str) -> str:
    """The ``errorMessage`` of a paid render of a broken model (it is refunded)."""
    return f"The model cannot be rendered: {reason}. The credits were refunded; upload a repaired file"


async def mark_model_broken(session: AsyncSession, model_id: str, reason: str) -> list[Render]:
    """The model's system preview failed because of its file (it cannot be loaded or drawn): the
    model is marked broken with ``reason`` (the first reason stays), and every unfinished paid
    render of it ends in ``error`` now, refunded once (``fail``), instead of running. Renders
    created later fail at creation (``services.renders.create_renders``). Returns the renders
    failed here."""
    model = await session.get(Model3D, model_id, with_for_update=True)
    if model is None:
        return []
    if model.broken_reason is None:
        model.broken_reason = reason[:1000]
        await session.flush()
    query = select(Render).where(
        col(Render.model_id) == model_id,
        col(Render.is_system_preview).is_(False),
        col(Render.status).not_in([s.value for s in FINISHED]),
    )
    failed = []
    for render in (await session.execute(query)).scalars().all():
        if await fail(session, render, broken_model_message(model.broken_reason)):
            failed.append(render)
    return failed


async def next_waiting_preview(session: AsyncSession, *, skip: set[str]) -> str | None:
    """The oldest system preview still waiting (``pending``), other than ``skip``: the job renders
    these before its own renders (previews go first, on every worker and the embedded runner)."""
    query = (
        select(col(Render.id))
        .where(col(Render.is_system_preview).is_(True), col(Render.status) == RenderStatus.PENDING.value)
        .order_by(col(Render.created_at))
        .limit(len(skip) + 1)
    )
    for render_id in (await session.execute(query)).scalars():
        if render_id not in skip:
            return str(render_id)
    return None
