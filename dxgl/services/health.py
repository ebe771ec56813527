"""Health: can the database (and, in a Redis deployment, the queue) be reached right now, how many
renders wait, and has a worker been seen recently?

Workers say they are alive with a heartbeat: each arq worker writes one field of the Redis hash
``WORKERS_KEY`` (its id -> JSON with the Redis server's time of the beat and what the worker is), every
quarter of ``DXGL_WORKER_HEARTBEAT_SECONDS`` (``dxgl.jobs.capacity``). Times are Redis's own clock,
so machines whose clocks differ agree on ages. A worker counts as seen while its last beat is younger
than ``DXGL_WORKER_HEARTBEAT_SECONDS``. On the embedded default the API process is the worker: it
counts as seen while its in-process runner runs.

Render counts (and so the queue depth: renders still ``pending``) come from the database, the one
place every process shape shares.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from dxgl.contract import RenderStatus
from dxgl.tables import Render

WORKERS_KEY = "dxgl:workers"
# A worker's field is removed once its last beat is this much older than the heartbeat window: it
# stays visible (as not seen) for a while after it stopped, for /metrics and the operator.
FORGET_AFTER_WINDOWS = 60
EMBEDDED_WORKER = "embedded"


@dataclass
class WorkerSeen:
    """One worker's last heartbeat: ``age_s`` seconds ago; ``info`` is what it said of itself."""

    worker_id: str
    age_s: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class Workers:
    """The workers known now; ``seen`` counts those whose heartbeat is within the window."""

    window_s: float
    known: list[WorkerSeen] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return sum(1 for w in self.known if w.age_s <= self.window_s)

    @property
    def last_seen_age_s(self) -> float | None:
        return min((w.age_s for w in self.known), default=None)


@dataclass
class HealthReport:
    database_ok: bool
    detail: str = ""
    queue_kind: str = "embedded"  # embedded | redis
    queue_ok: bool = True
    queue_depth: int | None = None  # renders pending (None when the database is unreachable)
    workers: Workers | None = None

    def as_json(self) -> dict[str, Any]:
        """The /v1/health body of a healthy service."""
        workers = self.workers or Workers(0.0)
        age = workers.last_seen_age_s
        return {
            "status": "ok",
            "database": "ok",
            "queue": {"kind": self.queue_kind, "depth": self.queue_depth},
            "workers": {
                "seen": workers.seen > 0,
                "count": workers.seen,
                "lastSeenSecondsAgo": None if age is None else round(age, 1),
            },
        }


async def redis_now(redis: Any) -> float:
    """The Redis server's clock, in seconds: the one clock every machine's heartbeats share."""
    seconds, micros = await redis.time()
    return float(seconds) + float(micros) / 1e6


async def beat(redis: Any, worker_id: str, info: dict[str, Any]) -> None:
    """Record one heartbeat of ``worker_id`` (``info``: JSON-able facts about the worker)."""
    now = await redis_now(redis)
    await redis.hset(WORKERS_KEY, worker_id, json.dumps({**info, "beat": now}))


async def forget(redis: Any, worker_id: str) -> None:
    """A worker that stops cleanly takes its heartbeat with it."""
    await redis.hdel(WORKERS_KEY, worker_id)


async def workers_from_redis(redis: Any, window_s: float) -> Workers:
    """Every worker that beat recently, with the age of its last beat; long-gone ones are dropped."""
    now = await redis_now(redis)
    raw = await redis.hgetall(WORKERS_KEY)
    known, stale = [], []
    for key, value in raw.items():
        worker_id = key.decode() if isinstance(key, bytes) else str(key)
        try:
            info = json.loads(value)
            age = max(0.0, now - float(info.pop("beat")))
        except (ValueError, KeyError, TypeError):
            stale.append(worker_id)  # not ours to read: a damaged field
            continue
        if age > window_s * FORGET_AFTER_WINDOWS:
            stale.append(worker_id)
        else:
            known.append(WorkerSeen(worker_id, age, info))
    if stale:
        await redis.hdel(WORKERS_KEY, *stale)
    known.sort(key=lambda w: w.worker_id)
    return Workers(window_s, known)


def embedded_workers(running: bool, window_s: float) -> Workers:
    """The embedded default: the API process is the one worker, seen while its runner runs."""
    return Workers(window_s, [WorkerSeen(EMBEDDED_WORKER, 0.0, {"kind": "embedded"})] if running else [])


async def render_counts(engine: AsyncEngine) -> dict[str, int]:
    """Renders per status (every status present, 0 when none)."""
    async with engine.connect() as conn:
        rows = (await conn.execute(select(col(Render.status), func.count()).group_by(col(Render.status)))).all()
    counts = {status.value: 0 for status in RenderStatus}
    counts.update({str(status): int(n) for status, n in rows})
    return counts


async def pending_count(engine: AsyncEngine) -> int:
    """Renders waiting for a worker. One index range (renders.status is indexed), not a count of every
    status: /v1/health is unauthenticated and may be called often."""
    query = select(func.count()).select_from(Render).where(col(Render.status) == RenderStatus.PENDING.value)
    async with engine.connect() as conn:
        return int((await conn.execute(query)).scalar_one())


async def check(
    engine: AsyncEngine,
    timeout_s: float = 5.0,
    *,
    redis: Any = None,
    embedded_running: bool = False,
    heartbeat_s: float = 60.0,
) -> HealthReport:
    """Database first (its failure is the 503 of /v1/health); then the queue and the workers.
    ``redis``: the Redis client of a Redis deployment (None on the embedded default, where
    ``embedded_running`` says whether the in-process runner renders)."""
    try:
        depth = await asyncio.wait_for(pending_count(engine), timeout_s)
    except Exception as exc:  # any failure to reach the database is "unhealthy", never a 500
        return HealthReport(False, type(exc).__name__)
    if redis is None:
        return HealthReport(True, queue_depth=depth, workers=embedded_workers(embedded_running, heartbeat_s))
    try:
        workers = await asyncio.wait_for(workers_from_redis(redis, heartbeat_s), timeout_s)
    except Exception as exc:  # Redis down: nothing can be queued or rendered
        return HealthReport(True, type(exc).__name__, queue_kind="redis", queue_ok=False, queue_depth=depth)
    return HealthReport(True, queue_kind="redis", queue_depth=depth, workers=workers)
