"""Whole jobs end to end: spawned GL process, real ffmpeg, files read back with ffmpeg. Every model with
every effect is in test_effects.py (slow)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from dxgl.render import RenderError, render_job, render_variants
from tests.render.conftest import MODELS, small_spec
from tests.render.ffprobe import decode_frames, probe
from tests.render.gl_child import draw_frames

pytestmark = pytest.mark.render


def _diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_turntable_last_frame_is_close_to_first():
    spec = small_spec({"effect": "turntable", "easing": False}, fps=8, length=3)
    f0, f1, f6, f22, f23 = draw_frames(MODELS["CesiumMilkTruck"], spec, indices=[0, 1, 6, 22, 23])[0]
    loop_gap = _diff(f23, f0)  # the seam when the video loops
    step = (_diff(f0, f1) + _diff(f22, f23)) / 2  # an ordinary frame-to-frame change
    assert loop_gap < 1.5 * step and loop_gap < 0.5 * _diff(f0, f6)


def test_raw_frames_are_straight_alpha_on_transparent_background():
    spec = small_spec({"effect": "turntable", "shadows": True, "reflector": True}, fps=1)
    (frame,), _ = draw_frames(MODELS["Duck"], spec, indices=[0])
    assert frame.shape == (90, 160, 4) and frame.dtype == np.uint8
    assert (frame[:3, :, 3] == 0).all() and (frame[:, :3, 3] == 0).all()  # transparent background
    opaque = frame[..., 3] == 255
    partial = (frame[..., 3] > 0) & (frame[..., 3] < 255)
    assert opaque.sum() > 500  # the duck
    assert partial.sum() > 100  # shadow and reflection: semi-transparent pixels
    # Straight alpha: semi-transparent model reflections keep their colour (not darkened by alpha).
    reflection = partial & (frame[..., :3].max(axis=2) > 120)
    assert reflection.sum() > 20


def test_shadow_is_dark_semi_transparent_ground_only_when_asked():
    base = small_spec({"shadows": False}, fps=1)
    (plain,), _ = draw_frames(MODELS["monkey"], base, indices=[0])
    (shadowed,), _ = draw_frames(MODELS["monkey"], replace(base, shadows=True), indices=[0])
    added = (shadowed[..., 3] > 0) & (plain[..., 3] == 0)
    assert added.sum() > 50
    assert shadowed[added][:, :3].max() <= 5  # black with partial alpha
    assert shadowed[added][:, 3].max() < 255


def test_pro_output_has_real_alpha(tmp_path: Path):
    spec = small_spec({"quality": "pro", "effect": "hero-spin"}, fps=2, length=3)
    outputs = render_job(MODELS["BoxTextured"], spec, tmp_path, timeout_s=120)
    assert outputs.video.suffix == ".mov"
    info = probe(outputs.video)
    assert info.codec == "prores" and "a" in info.pix_fmt.replace("yuv", "")
    rgba = decode_frames(outputs.video, "rgba")
    assert rgba.shape[1:] == (90, 160, 4)
    alpha = rgba[..., 3]
    assert (alpha[:, 0, :] == 0).all() and (alpha[:, :, 0] == 0).all()  # transparent background
    assert (alpha >= 250).sum(axis=(1, 2)).min() > 300  # opaque model on every frame
    assert probe(outputs.web).codec == "h264"


def test_variants_share_frames_and_watermark_only_when_asked(tmp_path: Path):
    spec = small_spec({"effect": "showcase", "shadows": False}, fps=2, length=3)
    jobs = [
        (spec, tmp_path / "plain"),
        (replace(spec, watermark=True), tmp_path / "marked"),
        (replace(spec, bg_color=(0, 0, 0)), tmp_path / "black"),
    ]
    events = []
    outs = render_variants(MODELS["Duck"], jobs, on_event=lambda n, p: events.append((n, p)), timeout_s=120)
    plain, marked, black = (decode_frames(o.video) for o in outs)
    assert plain.shape == marked.shape == black.shape
    assert _diff(plain, marked) > 0.3  # the watermark is there when asked ...
    assert np.abs(plain[0, 0, 0].astype(int) - 255).max() <= 3 and black[0, 0, 0].max() <= 3
    model = np.abs(plain.astype(int) - 255).max(axis=3) > 40
    assert np.abs(black[model].astype(int) - plain[model].astype(int)).mean() < 12  # same drawn frames
    assert {p["job"] for _, p in events} == {0, 1, 2}
    with pytest.raises(RenderError, match="differs"):
        render_variants(MODELS["Duck"], [(spec, tmp_path / "a"), (replace(spec, effect="turntable"), tmp_path / "b")])


def test_reveal_poster_is_the_first_full_scale_frame(tmp_path: Path):
    from PIL import Image

    spec = small_spec({"effect": "reveal", "scaleFrom": 0.0, "shadows": False}, fps=4, length=3)
    outputs = render_job(MODELS["monkey"], spec, tmp_path, timeout_s=120)
    frames = decode_frames(outputs.video)
    poster = np.asarray(Image.open(outputs.poster_full).convert("RGB"))

    def white(f: np.ndarray) -> int:
        return int((np.abs(f.astype(int) - 255).max(axis=2) > 24).sum())

    assert white(frames[0]) < 0.2 * white(poster)  # frame 0 is (almost) empty: the model grows
    matches = [i for i, f in enumerate(frames) if _diff(f, poster) < 3]
    assert matches and matches[0] > 0


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "text"])
def test_bad_files_fail_cleanly_through_the_render_process(tmp_path: Path, kind: str):
    data = {
        "empty": b"",
        "random": np.random.default_rng(1).integers(0, 256, 3000, dtype=np.uint8).tobytes(),
        "truncated": MODELS["Duck"].read_bytes()[:4000],
        "text": b"hello, not a model\n",
    }[kind]
    path = tmp_path / f"{kind}.glb"
    path.write_bytes(data)
    with pytest.raises(RenderError, match=f"{kind}.glb"):
        render_job(path, small_spec(fps=1), tmp_path / "out", timeout_s=60)


@pytest.mark.slow  # waits out a deadline
def test_timeout_kills_the_render_process(tmp_path: Path):
    spec = small_spec(size=(640, 360), fps=30, length=15)
    with pytest.raises(RenderError, match="longer than"):
        render_job(MODELS["DamagedHelmet"], spec, tmp_path, timeout_s=1.0)
    import multiprocessing

    assert not [c for c in multiprocessing.active_children() if c.name == "dxgl-render"]
