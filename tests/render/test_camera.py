"""Camera moves: loops, ends, poster frame and framing for every aspect (no GL needed)."""

from __future__ import annotations

import numpy as np
import pytest

from dxgl.render.camera import FRAME_MARGIN, camera_path, hero_progress, poster_frame_index
from dxgl.render.scene import load_scene
from tests.render.conftest import EFFECTS, MODELS, small_spec

ASPECT_SIZES = {"16:9": (160, 90), "1:1": (90, 90), "9:16": (90, 160)}


def _ndc(pose, points):
    hom = np.concatenate([points, np.ones((len(points), 1), np.float32)], axis=1)
    clip = hom @ (pose.proj @ pose.view @ pose.model).T
    return clip[:, :2] / clip[:, 3:4]


@pytest.mark.parametrize("aspect", sorted(ASPECT_SIZES))
@pytest.mark.parametrize("effect", EFFECTS)
@pytest.mark.parametrize("tilt", [0, 60])
def test_model_stays_in_frame_with_margin(aspect, effect, tilt):
    scene = load_scene(MODELS["CesiumMilkTruck"])
    settings = {"effect": effect, "aspect": aspect, "tiltX": tilt, "rotateY": 30}
    if effect == "zoom-orbit":
        settings.update(zoomStart=1.0, zoomEnd=1.0)
    spec = small_spec(settings, size=ASPECT_SIZES[aspect], fps=10)
    for pose in camera_path(spec, scene.frame_points, scene.bounds):
        ndc = _ndc(pose, scene.frame_points)
        assert np.abs(ndc).max() <= 1.0 - FRAME_MARGIN + 1e-4


def test_zoom_orbit_comes_closer_only_as_asked():
    scene = load_scene(MODELS["Duck"])
    poses = camera_path(
        small_spec({"effect": "zoom-orbit", "zoomStart": 1.0, "zoomEnd": 0.5}, fps=5), scene.frame_points, scene.bounds
    )
    dist = [float(np.linalg.norm(p.eye - np.array([0, scene.bounds[:, 1].mean(), 0]))) for p in poses]
    assert dist[-1] == pytest.approx(0.5 * dist[0], rel=1e-3)


def test_turntable_loops_and_hero_spin_ends_facing_front():
    scene = load_scene(MODELS["Duck"])
    turn = camera_path(small_spec({"rotateY": 45}, fps=10), scene.frame_points, scene.bounds)
    assert turn[0].spin_deg == pytest.approx(45.0)
    step = 360.0 / len(turn)
    assert abs(turn[-1].spin_deg - 360.0 - 45.0) <= step  # one step short of closing the loop
    hero = camera_path(small_spec({"effect": "hero-spin", "rotateY": -30}, fps=10), scene.frame_points, scene.bounds)
    assert hero[-1].spin_deg == pytest.approx(-30.0)
    assert hero[0].spin_deg == pytest.approx(-30.0 - 540.0)


def test_hero_progress_is_monotonic_and_decelerates():
    t = np.linspace(0, 1, 101)
    p = np.array([hero_progress(x, 0.6) for x in t])
    assert p[0] == 0 and p[-1] == pytest.approx(1.0) and (np.diff(p) >= -1e-12).all()
    assert np.diff(p)[-1] < 0.2 * np.diff(p)[0]


def test_reveal_grows_and_poster_is_first_full_scale_frame():
    scene = load_scene(MODELS["Duck"])
    spec = small_spec({"effect": "reveal", "scaleFrom": 0.2}, fps=10)
    poses = camera_path(spec, scene.frame_points, scene.bounds)
    scales = [p.scale for p in poses]
    assert scales[0] == pytest.approx(0.2) and scales[-1] == 1.0
    first_full = poster_frame_index(spec)
    assert scales[first_full] == 1.0 and all(s < 1.0 for s in scales[:first_full])
    assert first_full > 0
    assert poster_frame_index(small_spec({"effect": "turntable"})) == 0


def test_tilt_keeps_the_model_above_the_ground():
    scene = load_scene(MODELS["BoxTextured"])
    for pose in camera_path(small_spec({"tiltX": -90}, fps=4), scene.frame_points, scene.bounds):
        hom = np.concatenate([scene.frame_points, np.ones((len(scene.frame_points), 1), np.float32)], axis=1)
        assert (hom @ pose.model.T)[:, 1].min() >= -1e-4
