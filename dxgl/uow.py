"""The unit of work: one transaction per request or job step, committed at the boundary, and what
must happen only once it has committed (or only if it did not).

Services never commit. They flush, and register follow-ups on the session:

- ``enqueue_after_commit``: render ids for the queue (a worker must never see a row that is not
  committed yet);
- ``publish_after_commit``: a render's state as a status event (subscribers read what is committed);
- ``after_commit``: e.g. delete the files of a deleted row;
- ``on_rollback``: e.g. delete a file published for a row that is not going to exist;
- ``deliver_webhooks_after_commit``: this transaction wrote webhook deliveries (the outbox of
  ``dxgl.services.webhooks``); the delivery job is woken once it has committed.

Every render status event goes through ``publish_after_commit``; nothing publishes by hand. What a
published render means beyond the bus (its webhook deliveries) is written by the hooks registered
with ``before_commit_of_published``, inside the same transaction, just before it commits: the
outbox rows commit or roll back with the state change that caused them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger(__name__)


Enqueue = Callable[[Sequence[str]], Awaitable[None]]  # render ids -> the queue
Publish = Callable[[str, dict[str, Any]], Awaitable[None]]  # (account id, event) -> the bus
Deliver = Callable[[], Awaitable[None]]  # wake the webhook delivery job
# (session, the renders published in this transaction, each once) -> rows written before the commit
PublishedHook = Callable[[AsyncSession, list[Any]], Awaitable[None]]

_PUBLISHED_HOOKS: list[PublishedHook] = []


def before_commit_of_published(hook: PublishedHook) -> PublishedHook:
    """Register ``hook`` (once per process; it must use nothing but the session): every unit of
    work awaits it with the renders published in it before committing. ``dxgl.services.webhooks``
    registers its outbox writer here (imported by every service that changes a render)."""
    if hook not in _PUBLISHED_HOOKS:
        _PUBLISHED_HOOKS.append(hook)
    return hook


@dataclass
class _FollowUps:
    """What one transaction has asked to happen after it ends."""

    enqueue: list[list[str]] = field(default_factory=list)
    publish: list[Any] = field(default_factory=list)  # Render rows; serialised after the commit
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    on_rollback: list[Callable[[], None]] = field(default_factory=list)
    deliver_webhooks: bool = False


_KEY = "dxgl.follow_ups"


def _follow_ups(session: AsyncSession) -> _FollowUps:
    found = session.info.get(_KEY)
    if found is None:
        found = session.info[_KEY] = _FollowUps()
    assert isinstance(found, _FollowUps)
    return found


def enqueue_after_commit(session: AsyncSession, render_ids: Sequence[str]) -> None:
    """Queue these render ids (one job: they may share frames) once the transaction has committed."""
    _follow_ups(session).enqueue.append(list(render_ids))


def publish_after_commit(session: AsyncSession, render: Any) -> None:
    """Publish this render's state (as it is at commit time) as a status event after the commit."""
    _follow_ups(session).publish.append(render)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Run ``action`` only once the transaction has committed."""
    _follow_ups(session).after_commit.append(action)


def on_rollback(session: AsyncSession, cleanup: Callable[[], None]) -> None:
    """Run ``cleanup`` if the transaction does not commit."""
    _follow_ups(session).on_rollback.append(cleanup)


def deliver_webhooks_after_commit(session: AsyncSession) -> None:
    """Wake the webhook delivery job once this transaction (which wrote deliveries) has committed."""
    _follow_ups(session).deliver_webhooks = True


def _published_once(renders: list[Any]) -> list[Any]:
    """Each published render once, in the order of its first publication."""
    seen: dict[int, Any] = {}
    for render in renders:
        seen.setdefault(id(render), render)
    return list(seen.values())


def _run_all(actions: list[Callable[[], None]], what: str) -> None:
    for action in actions:
        try:
            action()
        except Exception:  # one failed clean-up must not hide the others or the request's outcome
            log.exception("%s failed", what)


@dataclass
class UnitOfWork:
    """Opens transactions on ``sessionmaker`` and hands their follow-ups to the queue and the bus.
    ``serialise`` turns a published render row into its event payload (the REST render JSON).
    ``deliver`` wakes the webhook delivery job (the queue's ``enqueue_webhooks``)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    enqueue: Enqueue
    publish: Publish
    serialise: Callable[[Any], dict[str, Any]]
    deliver: Deliver | None = None

    @asynccontextmanager
    async def __call__(self) -> AsyncIterator[AsyncSession]:
        async with self.sessionmaker() as session:
            try:
                yield session
                await _before_commit(session)
                await session.commit()
            except BaseException:
                await session.rollback()
                follow = session.info.pop(_KEY, None)
                if isinstance(follow, _FollowUps):
                    _run_all(follow.on_rollback, "clean-up after rollback")
                raise
            follow = session.info.pop(_KEY, None) or _FollowUps()
            # Serialise while the session is open: the rows are as committed (expire_on_commit=False).
            events = [(render.account_id, self.serialise(render)) for render in follow.publish]
        # In a thread: these are file and object-store deletions (network calls on S3).
        await asyncio.to_thread(_run_all, follow.after_commit, "after-commit action")
        for ids in follow.enqueue:
            await self.enqueue(ids)
        for account_id, event in events:
            await self.publish(account_id, event)
        if follow.deliver_webhooks and self.deliver is not None:
            try:
                await self.deliver()
            except Exception:  # the rows are committed; the job's periodic sweep still finds them
                log.exception("waking the webhook delivery job failed")


async def _before_commit(session: AsyncSession) -> None:
    follow = session.info.get(_KEY)
    if not isinstance(follow, _FollowUps) or not follow.publish or not _PUBLISHED_HOOKS:
        return
    renders = _published_once(follow.publish)
    for hook in _PUBLISHED_HOOKS:
        await hook(session, renders)
