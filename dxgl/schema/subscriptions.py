"""Live render status. Each subscription registers on the event bus first, then reads the current
state from the database (through the services) and sends it, then sends every change. Registering
before reading means no change is lost in between; an event that is not newer than what was already
sent for that render is skipped, so the client sees each state once and never goes backwards."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.types import Info

from dxgl.schema.types import Render
from dxgl.services import renders as render_service
from dxgl.services.pagination import Page


class _Sent:
    """What each render last looked like to this subscriber (``updatedAt`` ISO strings sort in time)."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[str, str]] = {}

    def fresh(self, event: dict[str, Any]) -> bool:
        key = str(event.get("id"))
        stamp = (str(event.get("updatedAt") or ""), str(event.get("status")))
        last = self._last.get(key)
        if last is not None and (stamp == last or stamp[0] < last[0]):
            return False
        self._last[key] = stamp
        return True


@strawberry.type
class Subscription:
    @strawberry.subscription(description="One render: its current state first, then every change (scope renders:read).")
    async def render_updated(self, info: Info, id: strawberry.ID) -> AsyncGenerator[Render, None]:
        ctx = info.context
        caller = await ctx.caller()
        render_service.authorize_watch(caller)
        sent = _Sent()
        async with ctx.events.subscribe(caller.account_id, str(id)) as events:
            async with ctx.unit_of_work() as session:
                current = Render.from_row(await render_service.get_render(session, caller, str(id)))
            sent.fresh(_stamp(current))
            yield current
            async for event in events:
                if sent.fresh(event):
                    yield Render.from_event(event)

    @strawberry.subscription(
        description="All renders of the caller's account: the current state of the newest `limit` renders "
        "(default 50, at most 100; oldest of them first), then every change of any render (scope renders:read)."
    )
    async def render_updates(self, info: Info, limit: int | None = None) -> AsyncGenerator[Render, None]:
        ctx = info.context
        caller = await ctx.caller()
        render_service.authorize_watch(caller)
        page = Page.parse(limit, 0)
        sent = _Sent()
        async with ctx.events.subscribe(caller.account_id) as events:
            async with ctx.unit_of_work() as session:
                rows, _ = await render_service.list_renders(session, caller, page=page, with_total=False)
                current = [Render.from_row(r) for r in reversed(rows)]
            for render in current:
                sent.fresh(_stamp(render))
                yield render
            async for event in events:
                if sent.fresh(event):
                    yield Render.from_event(event)


def _stamp(render: Render) -> dict[str, Any]:
    return {"id": render.id, "updatedAt": render.updated_at, "status": render.status}
