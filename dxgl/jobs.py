"""Job bodies shared by the arq worker and the embedded runner: turn queued renders into assets.

One job takes the renders queued together (one model's renders of a request or batch). Renders
whose frames would be identical (differing only in background colour, overlays or watermark) are
drawn once and encoded per variant (``render_variants``). Files are written to a temporary folder
and published atomically, so a job that runs twice (at-least-once delivery) leaves one set.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from functools import partial
from pathlib import Path
from typing import Any

from dxgl.errors import DxglError
from dxgl.render import DatasetOutputs, RenderError, RenderOutputs
from dxgl.runtime import Runtime
from dxgl.services import overlays, render_state
from dxgl.services.assets import render_key
from dxgl.tables import Model3D, Render

log = logging.getLogger(__name__)

POSTER_FILES = ("poster.png", "poster_small.png")


async def run_renders(ctx: dict[str, Any], render_ids: list[str]) -> None:
    """arq entry point (also called by the embedded runner with ``{"runtime": rt}``)."""
    rt: Runtime = ctx["runtime"]
    claimed: list[Render] = []
    for render_id in render_ids:
        async with rt.unit_of_work() as session:
            render = await render_state.claim(
                session, render_id, lease_s=rt.settings.job_lease_seconds, max_attempts=rt.settings.max_render_attempts
            )
        if render is not None:
            claimed.append(render)
            await publish(rt, render)
        else:
            await publish_by_id(rt, render_id)  # e.g. given up after too many attempts
    groups: dict[tuple, list[tuple[Render, Any]]] = {}
    for render in claimed:
        try:
            spec = await job_spec(rt, render)
        except (RenderError, DxglError) as err:
            await fail(rt, render, err.message if isinstance(err, DxglError) else str(err))
            continue
        key = ("dataset", render.id) if is_dataset(render) else (render.model_id, spec.draw_key())
        groups.setdefault(key, []).append((render, spec))
    for group in groups.values():
        await _render_group(rt, group)


def is_dataset(render: Render) -> bool:
    return render.settings.get("effect") == "dataset"


async def job_spec(rt: Runtime, render: Render) -> Any:
    """The render library's spec for this render: a DatasetSpec or a (video) JobSpec."""
    from dxgl.render import DatasetSpec
    from dxgl.render.spec import JobSpec

    if is_dataset(render):
        return DatasetSpec.from_settings(
            render.settings, max_size=rt.settings.render_max_size, max_views=rt.settings.render_max_views
        )
    async with rt.unit_of_work() as session:
        images = await overlays.overlay_paths(session, rt, render.settings)
    return JobSpec.from_settings(
        render.settings,
        watermark=render.watermark,
        max_size=rt.settings.render_max_size,
        max_length=rt.settings.render_max_length,
        **images,
    )


async def _render_group(rt: Runtime, group: list[tuple[Render, Any]]) -> None:
    renders = [r for r, _ in group]
    async with rt.unit_of_work() as session:
        model = await session.get(Model3D, renders[0].model_id)
    model_path = rt.storage.path(model.storage_key) if model else None
    if model_path is None or not model_path.is_file():
        for render in renders:
            await fail(rt, render, "The model file is missing from storage; upload the model again")
        return
    work = rt.storage.temp_dir()
    jobs = [(spec, work / render.id) for render, spec in group]
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[tuple[str, dict]] = asyncio.Queue()

    def on_event(name: str, payload: dict) -> None:  # called on the render thread
        loop.call_soon_threadsafe(events.put_nowait, (name, payload))

    from dxgl.render import render_dataset, render_variants

    timeout = rt.settings.job_timeout_seconds
    if is_dataset(renders[0]):
        ((spec, out_dir),) = jobs
        call = partial(_one_dataset, render_dataset, model_path, spec, out_dir, on_event=on_event, timeout_s=timeout)
    else:
        call = partial(render_variants, model_path, jobs, on_event=on_event, timeout_s=timeout)
    task = asyncio.ensure_future(asyncio.to_thread(call))
    heartbeat = asyncio.create_task(_heartbeat(rt, [r.id for r in renders]))
    try:
        while not task.done():
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if getter.done():
                await _on_event(rt, renders, jobs, *getter.result())
            else:
                getter.cancel()
        while not events.empty():
            await _on_event(rt, renders, jobs, *events.get_nowait())
        outputs = task.result()
    except RenderError as err:
        for render in renders:
            await fail(rt, render, str(err))
        return
    except Exception:
        log.exception("render group %s crashed", [r.id for r in renders])
        for render in renders:
            await fail(
                rt, render, "The render failed unexpectedly; the credits were refunded. Try again or contact support"
            )
        return
    finally:
        heartbeat.cancel()
        if not task.done():
            task.cancel()
    try:
        for render, out in zip(renders, outputs):
            await _finish(rt, render, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _one_dataset(render_dataset: Any, *args: Any, **kwargs: Any) -> list[DatasetOutputs]:
    return [render_dataset(*args, **kwargs)]


async def _heartbeat(rt: Runtime, render_ids: list[str]) -> None:
    while True:
        await asyncio.sleep(max(0.5, rt.settings.job_lease_seconds / 3))
        async with rt.unit_of_work() as session:
            await render_state.heartbeat(session, render_ids, lease_s=rt.settings.job_lease_seconds)


async def _on_event(rt: Runtime, renders: list[Render], jobs: list[tuple[Any, Path]], name: str, payload: dict) -> None:
    if name != "poster":
        return
    index = int(payload.get("job", 0))
    render, (_, out_dir) = renders[index], jobs[index]
    for filename in POSTER_FILES:
        rt.storage.publish(out_dir / filename, render_key(render.id, filename))
    for status in ("poster-done", "video-processing"):
        async with rt.unit_of_work() as session:
            render = await session.get(Render, render.id)
            if render is None or not await render_state.advance(
                session, render, status, lease_s=rt.settings.job_lease_seconds
            ):
                return
            if status == "poster-done":
                await render_state.add_assets(session, render, list(POSTER_FILES))
        renders[index] = render
        await publish(rt, render)


def output_files(out: RenderOutputs | DatasetOutputs) -> tuple[list[Path], Path]:
    """(every file to publish, the main file whose size is ``fileSize``)."""
    if isinstance(out, DatasetOutputs):
        return [out.archive, out.poster_full, out.poster_small], out.archive
    return [out.video, out.web, out.thumb, out.poster_full, out.poster_small], out.video


async def _finish(rt: Runtime, render: Render, out: RenderOutputs | DatasetOutputs) -> None:
    files, main = output_files(out)
    for path in files:
        rt.storage.publish(path, render_key(render.id, path.name))
    render_id = render.id
    async with rt.unit_of_work() as session:
        current = await session.get(Render, render_id)
        done = current is not None and await render_state.complete(
            session,
            current,
            file_size=rt.storage.size(render_key(render_id, main.name)),
            has_web_variant=isinstance(out, RenderOutputs),
            assets=[p.name for p in files],
        )
    if not done:  # deleted while rendering: drop the files it no longer owns
        rt.storage.delete_prefix(f"renders/{render_id}")
        return
    await publish(rt, current)


async def fail(rt: Runtime, render: Render, message: str) -> None:
    async with rt.unit_of_work() as session:
        current = await session.get(Render, render.id)
        if current is None or current.status in render_state.FINISHED:
            return
        await render_state.fail(session, current, message)
    await publish(rt, current)


async def publish(rt: Runtime, render: Render) -> None:
    from dxgl.events import render_event

    bus = rt.extras.get("events")
    if bus is not None:
        await bus.publish(render.account_id, render_event(render))


async def publish_by_id(rt: Runtime, render_id: str) -> None:
    async with rt.unit_of_work() as session:
        render = await session.get(Render, render_id)
    if render is not None and render.status == "error":
        await publish(rt, render)


async def sweep(rt: Runtime) -> list[str]:
    """Queue again the renders that were lost (worker killed, queue emptied). Returns their ids."""
    async with rt.unit_of_work() as session:
        lost = await render_state.lost_renders(session, lease_s=rt.settings.job_lease_seconds)
    groups: dict[tuple, list[str]] = {}
    for render in lost:
        groups.setdefault((render.model_id, render.batch_id), []).append(render.id)
    for ids in groups.values():
        await rt.queue.enqueue(ids)
    if lost:
        log.info("sweeper queued %d lost render(s) again", len(lost))
    return [r.id for r in lost]


async def sweep_forever(rt: Runtime) -> None:
    while True:
        try:
            await sweep(rt)
        except Exception:  # a failed sweep is retried at the next interval
            log.exception("sweeper failed")
        await asyncio.sleep(rt.settings.sweeper_interval_seconds)


def start_embedded_runner(rt: Runtime) -> list[asyncio.Task[None]]:
    """The embedded default runs renders in this process, one group at a time. Nothing else can be
    running them, so every unfinished render is queued again at start (then the sweeper watches)."""
    from dxgl.queue import EmbeddedQueue

    assert isinstance(rt.queue, EmbeddedQueue)
    rt.queue.run_with(lambda ids: run_renders({"runtime": rt}, ids))
    return [asyncio.create_task(_resume_then_sweep(rt), name="dxgl-sweeper")]


async def _resume_then_sweep(rt: Runtime) -> None:
    async with rt.unit_of_work() as session:
        unfinished = await render_state.unfinished(session)
    for ids in unfinished:
        await rt.queue.enqueue(ids)
    await sweep_forever(rt)
