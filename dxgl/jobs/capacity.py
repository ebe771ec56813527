"""What one worker can do, found out once at its start, and its heartbeat while it runs.

* **Concurrency** (``DXGL_WORKER_CONCURRENCY``, renders at once; arq's ``max_jobs``): 0 means chosen
  here. On llvmpipe a render already uses every core (RENDERING-NOTES.md: two at once gain nothing),
  so 1. On a GPU the GPU draws in milliseconds and the CPU encodes, so one render per four cores
  (at least 2, at most 8). Chosen from files alone (``nvidia_present``): worker.py sizes arq before
  the start-up hook runs, and this process never touches EGL.
* **The platform probe** (``dxgl.render.probe``, in a spawned child): the EGL device and GL renderer
  (``DXGL_GPU_INDEX``), and one tiny NVENC encode. Its result reaches the render children through
  their environment: ``DXGL_H264_ENCODER`` (h264_nvenc when the probe worked, else libx264; an
  operator's own setting is kept and the probe skipped) and ``DXGL_X264_THREADS`` (x264's 1.5 threads
  per core, for this worker's cores over its concurrency, so concurrent renders do not oversubscribe
  the CPU and a container's CPU quota is respected).
* **The heartbeat**: every quarter of ``DXGL_WORKER_HEARTBEAT_SECONDS`` the worker writes its beat
  (``dxgl.services.health.beat``) and flushes its render timings (``dxgl.metrics.flush``) to Redis.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from typing import Any

from dxgl.config import Settings
from dxgl.metrics import flush
from dxgl.render.encode import H264_ENCODER_ENV, LIBX264, NVENC, X264_THREADS_ENV, available_cores, threads_for_cores
from dxgl.render.gl_platform import nvidia_present
from dxgl.render.probe import probe_platform, uses_gpu
from dxgl.services import health

log = logging.getLogger(__name__)

CORES_PER_GPU_RENDER = 4
GPU_CONCURRENCY = (2, 8)  # at least, at most
MIN_BEAT_S = 1.0


def render_concurrency(settings: Settings, *, gpu: bool | None = None, cores: int | None = None) -> int:
    """Renders at once per worker: the setting, or (0) 1 on llvmpipe and one per
    ``CORES_PER_GPU_RENDER`` cores on a GPU (within ``GPU_CONCURRENCY``)."""
    if settings.worker_concurrency > 0:
        return settings.worker_concurrency
    if not (nvidia_present() if gpu is None else gpu):
        return 1
    low, high = GPU_CONCURRENCY
    return max(low, min(high, (available_cores() if cores is None else cores) // CORES_PER_GPU_RENDER))


def encoder_environment(report: dict[str, Any], concurrency: int, environ: dict[str, str]) -> dict[str, str]:
    """The variables the render children inherit, from the probe's ``report``; a variable the
    operator set already (in ``environ``) is kept."""
    chosen: dict[str, str] = {}
    if not environ.get(H264_ENCODER_ENV):
        chosen[H264_ENCODER_ENV] = NVENC if report.get("nvenc") else LIBX264
    if not environ.get(X264_THREADS_ENV):
        cores = int(report.get("cores") or available_cores())
        chosen[X264_THREADS_ENV] = str(threads_for_cores(cores // max(1, concurrency)))
    return chosen


def worker_info(settings: Settings, report: dict[str, Any], concurrency: int) -> dict[str, Any]:
    """What a worker says of itself in each heartbeat (shown by /metrics)."""
    return {
        "kind": "gpu" if uses_gpu(report) else "cpu",
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "renderer": report.get("gl", {}).get("renderer", "?"),
        "encoder": os.environ.get(H264_ENCODER_ENV, LIBX264),
        "concurrency": concurrency,
    }


async def _heartbeat(redis: Any, worker_id: str, info: dict[str, Any], every_s: float) -> None:
    while True:
        try:
            await health.beat(redis, worker_id, info)
            await flush(redis)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis away for a moment: beat again next time
            log.warning("worker heartbeat failed; retrying in %.0f s", every_s, exc_info=True)
        await asyncio.sleep(every_s)


async def on_worker_start(ctx: dict[str, Any]) -> None:
    """At worker start (``ctx["runtime"]`` is up): probe the platform, start the heartbeat."""
    rt = ctx["runtime"]
    settings: Settings = rt.settings
    concurrency = render_concurrency(settings)
    try_nvenc = not os.environ.get(H264_ENCODER_ENV)  # the operator's choice stands unprobed
    # Raises RenderError: a worker that cannot make a GL context stops at once, not at each render.
    report = await asyncio.to_thread(probe_platform, try_nvenc=try_nvenc)
    chosen = encoder_environment(report, concurrency, dict(os.environ))
    os.environ.update(chosen)  # spawned render children inherit these
    log.info(
        "worker platform: %s, GL renderer %s; H.264 encoder %s (NVENC %s), x264 threads %s, %d render(s) at once",
        f"EGL device {report['device']['index']}" if report.get("device") else "Mesa EGL surfaceless",
        report.get("gl", {}).get("renderer", "?"),
        os.environ[H264_ENCODER_ENV],
        "works" if report.get("nvenc") else "unavailable",
        os.environ[X264_THREADS_ENV],
        concurrency,
    )
    ctx["dxgl_platform"] = report
    redis = getattr(rt.queue, "pool", None)
    if redis is None:
        return
    worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    every_s = max(MIN_BEAT_S, settings.worker_heartbeat_seconds / 4)
    info = worker_info(settings, report, concurrency)
    await health.beat(redis, worker_id, info)  # seen at once, not a quarter-window later
    ctx["dxgl_worker_id"] = worker_id
    ctx["dxgl_heartbeat"] = asyncio.create_task(_heartbeat(redis, worker_id, info, every_s), name="dxgl-heartbeat")


async def on_worker_stop(ctx: dict[str, Any]) -> None:
    """At worker stop: end the heartbeat, flush the last timings, leave the list of workers."""
    task = ctx.pop("dxgl_heartbeat", None)
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    redis = getattr(ctx["runtime"].queue, "pool", None)
    if redis is None:
        return
    try:
        await flush(redis)
        await health.forget(redis, ctx.pop("dxgl_worker_id"))
    except Exception:
        log.warning("could not flush the last metrics at worker stop", exc_info=True)
