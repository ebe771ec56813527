"""Rendering video jobs: the public entry points ``render_job`` and ``render_variants``.

A spawned child process (``video_child``) does the GL work and the encoding; events come back to the
caller's thread. The caller's process never imports vispy and never holds a GL context. A child
that crashes, hangs past ``timeout_s`` or fails becomes a RenderError here; the child is killed,
never left running (``dxgl.render.child``, ``dxgl.proc``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dxgl.render.child import EventCallback, run_render_child
from dxgl.render.spec import JobSpec
from dxgl.render.types import RenderError, RenderOutputs


def render_job(
    model_path: Path,
    spec: JobSpec,
    out_dir: Path,
    *,
    on_event: EventCallback | None = None,
    timeout_s: float | None = None,
    memory_limit_bytes: int | None = None,
) -> RenderOutputs:
    """Render one video job into ``out_dir`` (files named as in RenderOutputs).

    ``memory_limit_bytes``: the child's resident-memory limit (None or 0: derived from the machine,
    ``dxgl.render.child.default_memory_limit_bytes``); past it the render is a RenderError.

    Events to ``on_event`` on the caller's thread: ("started", {}), ("poster", {"path": ...}),
    ("frames", {"done": i, "total": n}) now and then, ("encoding", {})."""
    forward: EventCallback | None = None
    if on_event is not None:
        callback = on_event

        def forward(name: str, payload: dict[str, Any]) -> None:
            callback(name, {k: v for k, v in payload.items() if k != "job"})

    return _run(model_path, [(spec, Path(out_dir))], forward, timeout_s, memory_limit_bytes)[0]


def render_variants(
    model_path: Path,
    jobs: list[tuple[JobSpec, Path]],
    *,
    on_event: EventCallback | None = None,
    timeout_s: float | None = None,
    memory_limit_bytes: int | None = None,
) -> list[RenderOutputs]:
    """Render jobs that differ only in post-draw fields (bg_color, bg_image, bg_align, fg_image,
    fg_align, watermark): frames are drawn once and feed every job's encoder. Each event payload
    carries the job's index under "job". ``memory_limit_bytes`` as for ``render_job``."""
    if not jobs:
        return []
    key = jobs[0][0].draw_key()
    for index, (spec, _) in enumerate(jobs[1:], start=1):
        if spec.draw_key() != key:
            raise RenderError(
                f"render_variants: job {index} differs from job 0 in more than background, "
                "overlays and watermark; render it separately"
            )
    return _run(model_path, [(s, Path(o)) for s, o in jobs], on_event, timeout_s, memory_limit_bytes)


def _run(
    model_path: Path,
    jobs: list[tuple[JobSpec, Path]],
    on_event: EventCallback | None,
    timeout_s: float | None,
    memory_limit_bytes: int | None,
) -> list[RenderOutputs]:
    from dxgl.render.video_child import video_child_main  # plain module: no vispy at import

    outputs = run_render_child(
        video_child_main,
        Path(model_path),
        [(s, str(o)) for s, o in jobs],
        on_event=on_event,
        timeout_s=timeout_s,
        what="render",
        smaller="a smaller quality tier",
        memory_limit_bytes=memory_limit_bytes,
    )
    return list(outputs)
