"""/v1/health: no authentication; never rate limited.

200 with the database, the queue (its kind and how many renders wait) and whether a worker was seen
recently (``dxgl.services.health``); 503 with the error envelope when the database, or the Redis
of a Redis deployment, cannot be reached. No worker seen is still 200: the API itself works, and
``workers.seen`` is what monitoring alerts on (docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.queue import ArqQueue, EmbeddedQueue
from dxgl.rest.http import ok, runtime
from dxgl.runtime import Runtime
from dxgl.services import health


def queue_sources(rt: Runtime) -> dict[str, Any]:
    """What ``health.check`` needs of the queue: the Redis client, or whether the embedded runner runs."""
    if isinstance(rt.queue, ArqQueue):
        return {"redis": rt.queue.pool}
    return {"embedded_running": isinstance(rt.queue, EmbeddedQueue) and rt.queue.handler is not None}


async def get_health(request: Request) -> Response:
    """No authentication. 503 with the error envelope when the database or the queue is unreachable."""
    rt = runtime(request)
    report = await health.check(rt.engine, heartbeat_s=rt.settings.worker_heartbeat_seconds, **queue_sources(rt))
    if not report.database_ok:
        raise DxglError(ErrorCode.SERVICE_UNAVAILABLE, f"Database unreachable: {report.detail}")
    if not report.queue_ok:
        raise DxglError(ErrorCode.SERVICE_UNAVAILABLE, f"Queue (Redis) unreachable: {report.detail}")
    return ok(report.as_json())


routes = [Route("/health", get_health, methods=["GET"])]
