"""The body of the render child process: load, draw every frame once, feed every job's encoder.

Runs only inside the process ``engine`` spawns. Messages to the parent go through ``send``:
("event", job_index, name, payload), then exactly one of ("done", [RenderOutputs, ...]) or
("error", user_message).
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dxgl.render.types import RenderError

log = logging.getLogger("dxgl.render")

FRAME_EVENTS_PER_JOB = 20  # how many ("frames", ...) progress events one job sends at most


def _draw_all(model_path: Path, jobs: list[tuple[Any, Path]], send: Callable[[tuple], None]) -> list:
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
            poster_path = str(Path(out_dir) / "poster.png")
            encoders.append(
                JobEncoder(plan, on_poster=lambda i=index, p=poster_path: send(("event", i, "poster", {"path": p})))
            )
        from dxgl.render.renderer import Renderer

        renderer = Renderer(scene, spec.width, spec.height)
        log.info(
            "rendering %d frames of %dx%d (%s) with %s",
            total,
            spec.width,
            spec.height,
            spec.effect,
            renderer.description,
        )
        for index in range(len(jobs)):
            send(("event", index, "started", {}))
        step = max(1, total // FRAME_EVENTS_PER_JOB)
        for i, pose in enumerate(poses):
            frame = renderer.draw(pose, shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x)
            for encoder in encoders:
                encoder.write(frame)
            if (i + 1) % step == 0 or i + 1 == total:
                for index in range(len(jobs)):
                    send(("event", index, "frames", {"done": i + 1, "total": total}))
        for index in range(len(jobs)):
            send(("event", index, "encoding", {}))
        return [encoder.close() for encoder in encoders]
    except BaseException:
        for encoder in encoders:
            encoder.abort()
        raise
    finally:
        if renderer is not None:
            renderer.close()


def report_child_outcome(send: Callable[[tuple], None], work: Callable[[], Any], what: str, smaller: str) -> None:
    """Run a child process's ``work`` and send its result or a user-facing error to the parent.
    ``what`` names the job in messages ("render"), ``smaller`` the advice when memory runs out."""
    try:
        send(("done", work()))
    except RenderError as exc:
        send(("error", str(exc)))
    except MemoryError:
        send(("error", f"The {what} ran out of memory: try {smaller} or a lighter model"))
    except Exception as exc:  # anything else is our bug: tell the user plainly, log the details
        log.error("%s failed:\n%s", what, traceback.format_exc())
        send(("error", f"The {what} failed unexpectedly ({type(exc).__name__}: {exc})"))


def child_main(model_path: str, jobs: list[tuple[Any, str]], messages) -> None:
    """Entry point of the spawned process. ``messages``: a multiprocessing queue to the parent."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dxgl.render[%(process)d] %(message)s")
    send = messages.put
    report_child_outcome(
        send,
        lambda: _draw_all(Path(model_path), [(s, Path(o)) for s, o in jobs], send),
        "render",
        "a smaller quality tier",
    )
