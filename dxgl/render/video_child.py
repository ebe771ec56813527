"""The video child process: load the model, draw every frame once, feed every job's encoder.

Runs only inside the process ``video.render_job`` / ``video.render_variants`` spawn (through
``dxgl.render.child.run_render_child``). It sends ("started", {}), ("poster", {"path": ...}),
("frames", {"done": i, "total": n}) and ("encoding", {}) events per job and returns one
RenderOutputs per job; a failure is reported to the parent by ``dxgl.proc``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from dxgl.contract import OutputFile
from dxgl.proc import Emit
from dxgl.render.child import SendEvent, job_events, start_child_logging
from dxgl.render.spec import JobSpec
from dxgl.render.types import RenderOutputs

log = logging.getLogger("dxgl.render")

FRAME_EVENTS_PER_JOB = 20  # how many ("frames", ...) progress events one job sends at most


def _draw_all(model_path: Path, jobs: list[tuple[JobSpec, Path]], send: SendEvent) -> list[RenderOutputs]:
    # Imports here: the GL stack loads only in this process, after the platform is chosen.
    from dxgl.render.camera import camera_path, poster_frame_index
    from dxgl.render.encode import EncodePlan, JobEncoder
    from dxgl.render.scene import load_scene

    spec = jobs[0][0]
    scene = load_scene(model_path)
    poses = camera_path(spec, scene.frame_points, scene.bounds)
    total = len(poses)
    poster = poster_frame_index(spec)
    encoders: list[JobEncoder] = []
    renderer = None
    try:
        # ffmpeg processes start before the GL context exists: no fork ever follows a context.
        for index, (job_spec, out_dir) in enumerate(jobs):
            plan = EncodePlan(
                out_dir=Path(out_dir),
                width=job_spec.width,
                height=job_spec.height,
                frame_count=total,
                fps=job_spec.fps,
                quality=job_spec.quality,
                bg_color=job_spec.bg_color,
                watermark=job_spec.watermark,
                bg_image=job_spec.bg_image,
                bg_align=job_spec.bg_align,
                fg_image=job_spec.fg_image,
                fg_align=job_spec.fg_align,
                poster_frame=poster,
            )
            encoders.append(JobEncoder(plan, on_poster=_poster_event(send, index, Path(out_dir) / OutputFile.POSTER)))
        from dxgl.render.renderer import Renderer

        renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
        log.info(
            "rendering %d frames of %dx%d (%s) with %s",
            total,
            spec.width,
            spec.height,
            spec.effect,
            renderer.description,
        )
        for index in range(len(jobs)):
            send(index, "started", {})
        step = max(1, total // FRAME_EVENTS_PER_JOB)
        for i, pose in enumerate(poses):
            frame = renderer.draw(pose, shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x)
            for encoder in encoders:
                encoder.write(frame)
            if (i + 1) % step == 0 or i + 1 == total:
                for index in range(len(jobs)):
                    send(index, "frames", {"done": i + 1, "total": total})
        for index in range(len(jobs)):
            send(index, "encoding", {})
        return [encoder.close() for encoder in encoders]
    except BaseException:
        for encoder in encoders:
            encoder.abort()
        raise
    finally:
        if renderer is not None:
            renderer.close()


def _poster_event(send: SendEvent, index: int, poster: Path) -> Callable[[], None]:
    """The encoder's ``on_poster`` for job ``index``: tell the parent where the poster is."""
    return lambda: send(index, "poster", {"path": str(poster)})


def video_child_main(model_path: str, jobs: list[tuple[JobSpec, str]], emit: Emit) -> list[RenderOutputs]:
    """Entry point of the spawned process (``dxgl.proc`` target): ``jobs`` are (spec, out_dir)
    pairs that differ only in post-draw fields; returns one RenderOutputs per job."""
    start_child_logging()
    return _draw_all(Path(model_path), [(s, Path(o)) for s, o in jobs], job_events(emit))
