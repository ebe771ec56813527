"""Running render jobs: a spawned child process does the GL work; events come back to the caller.

The caller's process never imports vispy and never holds a GL context. A child that crashes, hangs
past ``timeout_s`` or fails becomes a RenderError here; the child is killed, never left running.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dxgl.render.spec import JobSpec
from dxgl.render.types import RenderError, RenderOutputs

EventCallback = Callable[[str, dict], None]
_POLL_S = 0.25
_EXIT_GRACE_S = 5.0  # after "done", how long the child may take to exit before it is killed


def render_job(
    model_path: Path,
    spec: JobSpec,
    out_dir: Path,
    *,
    on_event: EventCallback | None = None,
    timeout_s: float | None = None,
) -> RenderOutputs:
    """Render one video job into ``out_dir`` (files named as in RenderOutputs).

    Events to ``on_event`` on the caller's thread: ("started", {}), ("poster", {"path": ...}),
    ("frames", {"done": i, "total": n}) now and then, ("encoding", {})."""
    forward = None
    if on_event is not None:

        def forward(name: str, payload: dict) -> None:
            payload = {k: v for k, v in payload.items() if k != "job"}
            on_event(name, payload)

    return _run(model_path, [(spec, Path(out_dir))], forward, timeout_s)[0]


def render_variants(
    model_path: Path,
    jobs: list[tuple[JobSpec, Path]],
    *,
    on_event: EventCallback | None = None,
    timeout_s: float | None = None,
) -> list[RenderOutputs]:
    """Render jobs that differ only in post-draw fields (bg_color, bg_image, bg_align, fg_image,
    fg_align, watermark): frames are drawn once and feed every job's encoder. Each event payload
    carries the job's index under "job"."""
    if not jobs:
        return []
    key = jobs[0][0].draw_key()
    for index, (spec, _) in enumerate(jobs[1:], start=1):
        if spec.draw_key() != key:
            raise RenderError(
                f"render_variants: job {index} differs from job 0 in more than background, "
                "overlays and watermark; render it separately"
            )
    return _run(model_path, [(s, Path(o)) for s, o in jobs], on_event, timeout_s)


def _run(
    model_path: Path, jobs: list[tuple[JobSpec, Path]], on_event: EventCallback | None, timeout_s: float | None
) -> list[RenderOutputs]:
    from dxgl.render.worker import child_main  # plain module: no vispy at import

    return list(run_in_child(child_main, model_path, [(s, str(o)) for s, o in jobs], on_event, timeout_s))


def run_in_child(
    target: Callable, model_path: Path, work: Any, on_event: EventCallback | None, timeout_s: float | None
) -> Any:
    """Run ``target(str(model_path), work, messages)`` in a spawned child and return the payload of its
    ("done", payload) message. The child sends ("event", job_index, name, payload) messages, which
    reach ``on_event(name, {**payload, "job": job_index})`` here, and ends with ("done", ...) or
    ("error", user_message) (-> RenderError). Past ``timeout_s`` the child is killed (RenderError)."""
    model_path = Path(model_path)
    if not model_path.is_file():
        raise RenderError(f"The model file {model_path.name} does not exist")
    ctx = multiprocessing.get_context("spawn")  # never fork: a forked GL context hangs
    messages = ctx.Queue()
    child = ctx.Process(target=target, name="dxgl-render", args=(str(model_path), work, messages), daemon=True)
    child.start()
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    try:
        while True:
            if deadline is not None and time.monotonic() > deadline:
                raise RenderError(f"The render took longer than {timeout_s:g} s and was stopped")
            try:
                message = messages.get(timeout=_POLL_S)
            except queue.Empty:
                if not child.is_alive():
                    # It may have put its last message just before exiting: drain once more.
                    try:
                        message = messages.get(timeout=1.0)
                    except queue.Empty:
                        raise RenderError(
                            f"The render process stopped unexpectedly (exit code {child.exitcode}); "
                            "the model may be too large or damaged"
                        ) from None
                else:
                    continue
            kind = message[0]
            if kind == "event":
                _, index, name, payload = message
                if on_event is not None:
                    on_event(name, {**payload, "job": index})
            elif kind == "error":
                raise RenderError(message[1])
            elif kind == "done":
                child.join(_EXIT_GRACE_S)
                return message[1]
    finally:
        if child.is_alive():
            child.kill()
        child.join(5.0)
        messages.close()
