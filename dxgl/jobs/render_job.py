"""The render job: turn queued renders into assets.

One job takes the renders queued together (one model's renders of a request or batch). Renders
whose frames would be identical (differing only in background colour, overlays or watermark) are
drawn once and encoded per variant (``render_variants``). The model is read from the worker's local
cache (``Runtime.cache``: fetched from the store on first use), so a worker shares no disk with the
API. Files are written to a local work folder, uploaded to their final keys (each upload atomic for
readers), and only then listed on the render (``render.assets``), which is what makes them visible:
a worker killed mid-upload leaves objects nobody is shown, and the job that runs again (at-least-once
delivery) writes the same keys, so one set remains. Every state change goes through
``services.render_state`` and is published after its commit.

System previews go first: before its own renders, every job renders the system previews still
waiting (oldest first, at most ``PREVIEWS_PER_JOB``), so a preview waits at most for the render in
progress on the embedded runner and on every arq worker, whatever the queue holds. A preview that
fails because of the file (``ModelFileError``) marks its model broken: its paid renders then end in
``error`` with their refund instead of running (``render_state.mark_model_broken``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import dxgl.render as render_library  # looked up at call time (tests count its calls)
from dxgl import metrics
from dxgl.contract import POSTER_FILES, RenderStatus, render_key, render_prefix
from dxgl.errors import DxglError
from dxgl.render import (
    DatasetOutputs,
    DatasetSpec,
    JobSpec,
    RenderError,
    RenderOutputs,
)
from dxgl.render.child import ModelFileError
from dxgl.runtime import Runtime
from dxgl.services import overlays, render_state
from dxgl.services.assets import render_source_key
from dxgl.services.render_settings import is_dataset, system_preview_size
from dxgl.tables import Model3D, Render

log = logging.getLogger(__name__)

Spec = JobSpec | DatasetSpec
Outputs = RenderOutputs | DatasetOutputs

# The render library reads its prefiltered-environment cache folder from this variable
# (dxgl.render.environment.cache_root); the jobs set it for the children they spawn.
ENVIRONMENT_CACHE_ENV = "DXGL_ENVIRONMENT_CACHE"
ENVIRONMENT_CACHE_FOLDER = "environments"

# How many waiting system previews one job renders before its own renders (a bound, so that a
# stream of uploads cannot starve paid renders).
PREVIEWS_PER_JOB = 8


async def run_renders(ctx: dict[str, Any], render_ids: list[str]) -> None:
    """arq entry point (also called by the embedded runner with ``{"runtime": rt}``): the waiting
    system previews first, then these renders."""
    rt: Runtime = ctx["runtime"]
    await _previews_first(rt)
    await _run(rt, render_ids)


async def _previews_first(rt: Runtime) -> None:
    tried: set[str] = set()
    while len(tried) < PREVIEWS_PER_JOB:
        async with rt.unit_of_work() as session:
            preview_id = await render_state.next_waiting_preview(session, skip=tried)
        if preview_id is None:
            return
        tried.add(preview_id)
        await _run(rt, [preview_id])


async def _run(rt: Runtime, render_ids: list[str]) -> None:
    claimed: list[Render] = []
    for render_id in render_ids:
        async with rt.unit_of_work() as session:
            render = await render_state.claim(
                session,
                render_id,
                lease_s=rt.settings.job_lease_seconds,
                max_attempts=rt.settings.max_render_attempts,
            )
        if render is not None:
            claimed.append(render)
    groups: dict[tuple[Any, ...], list[tuple[Render, Spec]]] = {}
    broken = await _broken_models(rt, {r.model_id for r in claimed if not r.is_system_preview})
    for render in claimed:
        if not render.is_system_preview and render.model_id in broken:
            # Queued before its model was found broken: it ends now, refunded, instead of running.
            await fail(rt, render, render_state.broken_model_message(broken[render.model_id]))
            continue
        try:
            spec = await job_spec(rt, render)
        except (RenderError, DxglError) as err:
            await fail(rt, render, err.message if isinstance(err, DxglError) else str(err))
            continue
        key = ("dataset", render.id) if isinstance(spec, DatasetSpec) else (render.model_id, spec.draw_key())
        groups.setdefault(key, []).append((render, spec))
    for group in groups.values():
        await _render_group(rt, group)


async def _broken_models(rt: Runtime, model_ids: set[str]) -> dict[str, str]:
    """Of these models, the ones marked broken, with their reason."""
    found: dict[str, str] = {}
    async with rt.unit_of_work() as session:
        for model_id in model_ids:
            model = await session.get(Model3D, model_id)
            if model is not None and model.broken_reason:
                found[model_id] = model.broken_reason
    return found


async def job_spec(rt: Runtime, render: Render) -> Spec:
    """The render library's spec for this render: a DatasetSpec or a (video) JobSpec. A system
    preview is drawn at ``system_preview_size`` (still capped by ``DXGL_RENDER_MAX_SIZE``). The
    overlays the settings name (background, foreground, environment) are fetched into the worker's
    cache first; one deleted since the render was created fails it (never a silent fallback: an
    environment overlay that is gone does not become the default studio)."""
    async with rt.unit_of_work() as session:
        keys = await overlays.overlay_keys(session, render.settings)
    images: dict[str, Path] = {}
    for arg, (overlay_id, key) in keys.items():
        try:
            images[arg] = await rt.cache.fetch(key)  # the worker's local copy (pinned while it renders)
        except FileNotFoundError:
            raise overlays.overlay_gone(overlay_id) from None
    environment_image = images.get(overlays.ENVIRONMENT_IMAGE_ARG)
    if is_dataset(render.settings):
        return DatasetSpec.from_settings(
            render.settings,
            max_size=rt.settings.render_max_size,
            max_views=rt.settings.render_max_views,
            environment_image=environment_image,
        )
    return JobSpec.from_settings(
        render.settings,
        size=system_preview_size(render.settings) if render.is_system_preview else None,
        watermark=render.watermark,
        max_size=rt.settings.render_max_size,
        max_length=rt.settings.render_max_length,
        bg_image=images.get("bg_image"),
        fg_image=images.get("fg_image"),
        environment_image=environment_image,
    )


async def _render_group(rt: Runtime, group: list[tuple[Render, Spec]]) -> None:
    renders = [r for r, _ in group]
    async with rt.unit_of_work() as session:
        model = await session.get(Model3D, renders[0].model_id)
    async with contextlib.AsyncExitStack() as held:
        try:
            if model is None:
                raise FileNotFoundError(renders[0].model_id)
            # The worker's local copy, fetched on first use and not evicted while this group renders.
            model_path = await held.enter_async_context(rt.cache.use(render_source_key(model)))
        except FileNotFoundError:
            for render in renders:
                await fail(rt, render, "The model file is missing from storage; upload the model again")
            return
        try:
            # The overlay images job_spec fetched: pinned too (evicted and fetched again if need be).
            for key in _overlay_keys(rt, group):
                await held.enter_async_context(rt.cache.use(key))
        except FileNotFoundError:
            for render in renders:
                await fail(rt, render, "An overlay image of this render is missing from storage; upload it again")
            return
        work = rt.storage.temp_dir()  # what a killed job leaves here goes at start or with the sweeper
        try:
            await _render_into(rt, group, model_path, work)
        finally:  # every outcome: published, failed, crashed or cancelled
            shutil.rmtree(work, ignore_errors=True)


def _overlay_keys(rt: Runtime, group: list[tuple[Render, Spec]]) -> set[str]:
    keys = set()
    for _, spec in group:
        images = (getattr(spec, "bg_image", None), getattr(spec, "fg_image", None), spec.look.environment_image)
        for image in images:
            key = rt.cache.key_of(image) if image is not None else None
            if key is not None:
                keys.add(key)
    return keys


def environment_cache_dir(rt: Runtime) -> Path:
    """Where the render children keep prefiltered environments (``DXGL_ENVIRONMENT_CACHE``): a
    folder of the worker's cache, so they persist across renders and restarts. The BlobCache's
    size bound counts them too (least recently used first), which keeps the disk bounded."""
    return (rt.settings.cache_dir or rt.settings.data_dir / "cache") / ENVIRONMENT_CACHE_FOLDER


def _set_environment_cache(rt: Runtime) -> None:
    """Spawned render children inherit the worker's environment: name this runtime's cache folder
    there, unless the operator named one (a value this process did not set itself)."""
    global _environment_cache_set
    current = os.environ.get(ENVIRONMENT_CACHE_ENV)
    if current and current != _environment_cache_set:
        return  # the operator's choice
    folder = environment_cache_dir(rt)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENVIRONMENT_CACHE_ENV] = _environment_cache_set = str(folder.resolve())


# The value _set_environment_cache put in the environment (None: not yet), told from an operator's.
_environment_cache_set: str | None = None


async def _render_into(rt: Runtime, group: list[tuple[Render, Spec]], model_path: Path, work: Path) -> None:
    renders = [r for r, _ in group]
    _set_environment_cache(rt)
    jobs = [(spec, work / render.id) for render, spec in group]
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    def on_event(name: str, payload: dict[str, Any]) -> None:  # called on the render thread
        loop.call_soon_threadsafe(events.put_nowait, (name, payload))

    timeout = rt.settings.job_timeout_seconds
    memory = rt.settings.render_memory_limit_bytes or None  # None: the library's measured default
    first = jobs[0][0]
    call: Callable[[], list[Any]]
    if isinstance(first, DatasetSpec):
        call = partial(_one_dataset, model_path, first, jobs[0][1], on_event, timeout, memory)
    else:
        video_jobs = [(s, o) for s, o in jobs if isinstance(s, JobSpec)]
        call = partial(
            render_library.render_variants,
            model_path,
            video_jobs,
            on_event=on_event,
            timeout_s=timeout,
            memory_limit_bytes=memory,
        )
    started = time.monotonic()
    task: asyncio.Future[list[Any]] = asyncio.ensure_future(asyncio.to_thread(call))
    # The lease is renewed until the last output is uploaded: uploads to an object store can take
    # longer than a lease, and a lease that ran out would hand the render to another worker.
    heartbeat = asyncio.create_task(_heartbeat(rt, [r.id for r in renders]))
    try:
        await _render_and_finish(rt, renders, jobs, task, events, started)
    finally:
        heartbeat.cancel()
        if not task.done():
            task.cancel()


async def _render_and_finish(
    rt: Runtime,
    renders: list[Render],
    jobs: list[tuple[Spec, Path]],
    task: asyncio.Future[list[Any]],
    events: asyncio.Queue[tuple[str, dict[str, Any]]],
    started: float,
) -> None:
    # When the child said it finished drawing and began closing the encoders: the encode time
    # (``dxgl.metrics``) is from then to the end of the render.
    encoding_at: list[float | None] = [None] * len(renders)

    async def handle(name: str, payload: dict[str, Any]) -> None:
        if name == "encoding":
            encoding_at[int(payload.get("job", 0))] = time.monotonic()
        await _on_event(rt, renders, jobs, name, payload)

    try:
        while not task.done():
            getter = asyncio.ensure_future(events.get())
            waiting: set[asyncio.Future[Any]] = {task, getter}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                await handle(*getter.result())
            else:
                getter.cancel()
        while not events.empty():
            await handle(*events.get_nowait())
        outputs = task.result()
    except RenderError as err:
        _observe(renders, started, "model_file" if isinstance(err, ModelFileError) else "render_error")
        if isinstance(err, ModelFileError) and any(r.is_system_preview for r in renders):
            await _mark_broken(rt, renders[0].model_id, str(err))
        for render in renders:
            await fail(rt, render, str(err))
        return
    except Exception:
        log.exception("render group %s crashed", [r.id for r in renders])
        _observe(renders, started, "crashed")
        for render in renders:
            await fail(
                rt, render, "The render failed unexpectedly; the credits were refunded. Try again or contact support"
            )
        return
    _observe(renders, started, None, encoding_at)
    for render, out in zip(renders, outputs):
        await _finish(rt, render, out)


def _observe(
    renders: list[Render], started: float, reason: str | None, encoding_at: list[float | None] | None = None
) -> None:
    """Each render's outcome, the group's render time and (videos) its encode time (``dxgl.metrics``)."""
    now = time.monotonic()
    for index, render in enumerate(renders):
        quality = str(render.settings.get("quality") or ("dataset" if is_dataset(render.settings) else "unknown"))
        began = encoding_at[index] if encoding_at else None
        metrics.observe_render(
            quality=quality,
            outcome="error" if reason else "done",
            render_seconds=now - started,
            encode_seconds=None if began is None else now - began,
            reason=reason,
        )


def _one_dataset(
    model_path: Path, spec: DatasetSpec, out_dir: Path, on_event: Any, timeout_s: float, memory_limit: int | None
) -> list[DatasetOutputs]:
    return [
        render_library.render_dataset(
            model_path, spec, out_dir, on_event=on_event, timeout_s=timeout_s, memory_limit_bytes=memory_limit
        )
    ]


async def _heartbeat(rt: Runtime, render_ids: list[str]) -> None:
    while True:
        await asyncio.sleep(max(0.5, rt.settings.job_lease_seconds / 3))
        async with rt.unit_of_work() as session:
            await render_state.heartbeat(session, render_ids, lease_s=rt.settings.job_lease_seconds)


async def _on_event(
    rt: Runtime, renders: list[Render], jobs: list[tuple[Spec, Path]], name: str, payload: dict[str, Any]
) -> None:
    """The poster is ready: publish it, then the render is poster-done and video-processing."""
    if name != "poster":
        return
    index = int(payload.get("job", 0))
    render, (_, out_dir) = renders[index], jobs[index]
    for filename in POSTER_FILES:
        await asyncio.to_thread(rt.storage.publish, out_dir / filename, render_key(render.id, filename))
    for status in (RenderStatus.POSTER_DONE, RenderStatus.VIDEO_PROCESSING):
        async with rt.unit_of_work() as session:
            current = await session.get(Render, render.id)
            lease = rt.settings.job_lease_seconds
            moved = current is not None and await render_state.advance(session, current, status, lease_s=lease)
            if moved and current is not None and status == RenderStatus.POSTER_DONE:
                await render_state.add_assets(session, current, [str(f) for f in POSTER_FILES])
        if not moved or current is None:
            await _drop_if_deleted(rt, render.id)
            return
        renders[index] = current


async def _drop_if_deleted(rt: Runtime, render_id: str) -> None:
    """A render deleted while it rendered owns no files: drop what this job published for it (the
    deletion's own clean-up may have run before this job published)."""
    async with rt.unit_of_work() as session:
        gone = await session.get(Render, render_id) is None
    if gone:
        await asyncio.to_thread(rt.storage.delete_prefix, render_prefix(render_id))


async def _finish(rt: Runtime, render: Render, out: Outputs) -> None:
    """Upload every output, then (only then) list them on the render and complete it."""
    files = out.files()
    for index, path in enumerate(files):
        await asyncio.to_thread(rt.storage.publish, path, render_key(render.id, path.name))
        if index == 0:
            await _test_pause_upload(render.id)
    async with rt.unit_of_work() as session:
        current = await session.get(Render, render.id)
        done = current is not None and await render_state.complete(
            session,
            current,
            file_size=out.main.stat().st_size,
            has_web_variant=isinstance(out, RenderOutputs),
            assets=[p.name for p in files],
        )
    if not done:
        # Deleted while rendering: drop the files it no longer owns. Not done for another reason
        # (another worker completed it first after a lost lease): its files are that render's.
        await _drop_if_deleted(rt, render.id)


# TEST ONLY (tests/e2e): a folder; when it holds a file named ``pause-next``, the first worker to
# take it (an atomic rename) stops for good in the middle of uploading a render's outputs, after
# the first file, so that a test can ``kill -9`` it there. Never set it in a deployment.
TEST_PAUSE_ENV = "DXGL_TEST_PAUSE_UPLOAD_DIR"


async def _test_pause_upload(render_id: str) -> None:
    folder = os.environ.get(TEST_PAUSE_ENV)
    if not folder:
        return
    try:
        os.rename(Path(folder, "pause-next"), Path(folder, f"paused-{render_id}-{os.getpid()}"))
    except FileNotFoundError:
        return
    log.warning("%s: paused while uploading the outputs of render %s (test only)", TEST_PAUSE_ENV, render_id)
    while True:
        await asyncio.sleep(3600)


async def _mark_broken(rt: Runtime, model_id: str, reason: str) -> None:
    """The system preview could not load or draw the file: the model is broken, and its paid
    renders already queued end in ``error`` with their refund now."""
    async with rt.unit_of_work() as session:
        failed = await render_state.mark_model_broken(session, model_id, reason)
    log.warning("model %s is broken (%s); %d queued render(s) failed and refunded", model_id, reason, len(failed))


async def fail(rt: Runtime, render: Render, message: str) -> None:
    """The render ends in ``error`` (refunded once), unless it already finished or was deleted."""
    async with rt.unit_of_work() as session:
        current = await session.get(Render, render.id)
        if current is not None:
            await render_state.fail(session, current, message)
