"""Every spawned child (render, encode, ingest) runs at a lower CPU priority than its parent (the API
process on the embedded default, the worker otherwise), and so do the processes it starts (ffmpeg)."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import pytest

from dxgl.ingest.sandbox import run_limited
from dxgl.proc import CHILD_NICE, descendants, run_in_child
from dxgl.render import render_job
from dxgl.render.child import PROCESS_NAME
from tests.render import priority_targets
from tests.render.conftest import MODELS, small_spec


def _expected() -> int:
    return min(19, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICE)


def test_a_child_and_what_it_starts_run_niced_below_the_parent():
    assert _expected() > os.getpriority(os.PRIO_PROCESS, 0) or _expected() == 19
    own, grandchild = run_in_child(priority_targets.priorities, timeout_s=60)
    assert own == _expected()
    assert grandchild == _expected()


def test_the_ingest_sandbox_child_runs_niced():
    nice = run_limited(os.getpriority, (os.PRIO_PROCESS, 0), memory_bytes=2 * 1024**3, time_s=60)
    assert nice == _expected()


@pytest.mark.render
def test_the_render_child_and_its_encoders_run_niced(tmp_path: Path):
    seen: list[tuple[str, int]] = []

    def on_event(name: str, payload: dict) -> None:
        if name != "frames" or seen:
            return
        [child] = [c for c in multiprocessing.active_children() if c.name == PROCESS_NAME]
        assert child.pid is not None
        seen.append(("render", os.getpriority(os.PRIO_PROCESS, child.pid)))
        for pid in descendants(child.pid):  # the ffmpeg encoders, alive while frames are drawn
            try:
                seen.append(("encoder", os.getpriority(os.PRIO_PROCESS, pid)))
            except OSError:
                pass

    render_job(MODELS["BoxTextured"], small_spec(), tmp_path / "out", on_event=on_event, timeout_s=120)
    kinds = {kind for kind, _ in seen}
    assert kinds == {"render", "encoder"}, seen
    assert all(nice == _expected() for _, nice in seen), seen
