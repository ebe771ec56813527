"""Every test model with every effect, end to end: spawned GL process, real ffmpeg, the video read back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dxgl.render import render_job
from tests.render.conftest import EFFECTS, MODELS, small_spec
from tests.render.ffprobe import decode_frames, probe

pytestmark = [pytest.mark.render, pytest.mark.slow]

BG = (51, 102, 204)  # "#3366cc"


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("effect", EFFECTS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_with_every_effect(name, effect, tmp_path: Path):
    spec = small_spec({"effect": effect, "bgColor": "#3366cc", "shadows": False}, fps=3, length=3)
    events = []
    outputs = render_job(MODELS[name], spec, tmp_path, on_event=lambda n, p: events.append((n, p)), timeout_s=120)

    info = probe(outputs.video)
    assert (info.codec, info.width, info.height) == ("h264", 160, 90)
    assert info.fps == pytest.approx(3.0) and info.frame_count == spec.frame_count == 9
    assert info.duration == pytest.approx(3.0, abs=0.2)
    frames = decode_frames(outputs.video)
    for index, frame in enumerate(frames):
        if effect == "zoom-orbit" and index > 0:
            # zoomEnd 0.7 < 1 asks to come closer: cropping is then allowed; the model stays visible.
            assert (np.abs(frame.astype(int) - BG).max(axis=2) > 24).sum() > 150
            continue
        for corner in (frame[0, 0], frame[0, -1], frame[-1, 0], frame[-1, -1]):
            assert np.abs(corner.astype(int) - BG).max() <= 4  # background is bgColor
        off_bg = np.abs(frame.astype(int) - BG).max(axis=2) > 24
        if effect != "reveal":
            assert off_bg.sum() > 150, "model not visible"
        # Inside the frame: the border rows and columns show only background.
        border = np.concatenate(
            [off_bg[:2].ravel(), off_bg[-2:].ravel(), off_bg[:, :2].ravel(), off_bg[:, -2:].ravel()]
        )
        assert border.sum() == 0
    assert _diff(frames[0], frames[len(frames) // 2]) > 0.5, "moving effect does not move"
    names = [n for n, _ in events]
    assert names[0] == "started" and names[-1] == "encoding" and "poster" in names
    assert [p for n, p in events if n == "frames"][-1] == {"done": 9, "total": 9}
    assert outputs.poster_full.is_file() and outputs.poster_small.is_file()
