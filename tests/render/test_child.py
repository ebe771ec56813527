"""The render library's side of a spawned child (dxgl.render.child over dxgl.proc): events, the user's
messages for every way a child can fail, and no child left running. No GL: the targets are plain."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

import pytest

from dxgl.render.child import PROCESS_NAME, run_render_child
from dxgl.render.types import RenderError
from tests.render import child_targets


@pytest.fixture
def model(tmp_path: Path) -> Path:
    path = tmp_path / "model.glb"
    path.write_bytes(b"glTF")
    return path


def _run(target, model: Path, work, *, on_event=None, timeout_s: float | None = 30, memory_limit_bytes=None):
    return run_render_child(
        target,
        model,
        work,
        on_event=on_event,
        timeout_s=timeout_s,
        what="render",
        smaller="a smaller quality tier",
        memory_limit_bytes=memory_limit_bytes,
    )


def _no_render_child_left() -> bool:
    return not [c for c in multiprocessing.active_children() if c.name == PROCESS_NAME]


def test_events_arrive_in_order_with_the_job_index_and_the_result_comes_back(model):
    events: list = []
    work = [(0, "started", {}), (1, "frames", {"done": 1, "total": 2}), (0, "encoding", {})]
    assert _run(child_targets.echo, model, work, on_event=lambda n, p: events.append((n, p))) == 3
    assert events == [
        ("started", {"job": 0}),
        ("frames", {"done": 1, "total": 2, "job": 1}),
        ("encoding", {"job": 0}),
    ]
    assert _no_render_child_left()


@pytest.mark.parametrize(
    "kind, message",
    [
        ("render", "^the model has no triangles$"),
        ("memory", "^The render ran out of memory: try a smaller quality tier or a lighter model$"),
        ("bug", r"^The render failed unexpectedly \(ValueError: a bug\)$"),
    ],
)
def test_a_failure_in_the_child_is_a_render_error_for_the_user(model, kind, message):
    with pytest.raises(RenderError, match=message):
        _run(child_targets.fail, model, kind)
    assert _no_render_child_left()


def test_a_child_that_dies_is_a_render_error(model):
    with pytest.raises(RenderError, match=r"stopped unexpectedly \(exit code 3\)"):
        _run(child_targets.die, model, None)


def test_a_missing_model_file_is_refused_before_any_child_starts(tmp_path):
    with pytest.raises(RenderError, match="model file nope.glb does not exist"):
        _run(child_targets.echo, tmp_path / "nope.glb", [])


@pytest.mark.slow  # waits out a deadline
def test_a_hanging_child_is_killed_at_the_deadline(model):
    with pytest.raises(RenderError, match="longer than 1.5 s"):
        _run(child_targets.emit_then_hang, model, None, timeout_s=1.5)
    assert _no_render_child_left()


def test_a_failing_event_callback_still_kills_the_child(model):
    def on_event(name: str, payload: dict) -> None:
        raise KeyError(name)

    with pytest.raises(KeyError, match="started"):
        _run(child_targets.emit_then_hang, model, None, on_event=on_event, timeout_s=None)
    assert _no_render_child_left()


MIB = 1024 * 1024


def test_a_child_over_its_memory_limit_is_killed_and_reported_as_such(model):
    # The child grows to 1 GiB at most; the watch must stop it at 200 MiB (a spawned Python with
    # dxgl.render.types loaded is about 30 MiB). Without the watch the deadline would say "longer than".
    with pytest.raises(RenderError) as caught:
        _run(child_targets.grow, model, 1024, timeout_s=120, memory_limit_bytes=200 * MIB)
    assert str(caught.value) == (
        "The render needed more memory than the limit of 200 MiB and was stopped: "
        "try a smaller quality tier or a lighter model (fewer or smaller textures)"
    )
    assert _no_render_child_left()


def test_the_memory_watch_counts_and_kills_the_childs_own_processes(model):
    # A grandchild (as the video child's ffmpeg) counts towards the limit and is killed with the child:
    # the child alone stays far below 200 MiB, its grandchild touches 400 MiB.
    pids: list[int] = []

    def on_event(name: str, payload: dict) -> None:
        pids.append(payload["pid"])

    with pytest.raises(RenderError, match="needed more memory than the limit of 200 MiB"):
        _run(
            child_targets.spawn_grandchild_and_hang,
            model,
            400,
            on_event=on_event,
            timeout_s=120,
            memory_limit_bytes=200 * MIB,
        )
    assert _no_render_child_left()
    assert len(pids) == 1
    assert _stops(pids[0]), f"the grandchild {pids[0]} outlived its parent"


def _stops(pid: int) -> bool:
    """Whether ``pid`` is gone (or a zombie) within 10 s: a SIGKILL lands when the process is next scheduled."""
    for _ in range(200):
        if not _running(pid):
            return True
        time.sleep(0.05)
    return False


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_child_under_its_memory_limit_is_not_disturbed(model):
    assert _run(child_targets.echo, model, [(0, "started", {})], memory_limit_bytes=1024 * MIB) == 1
