"""The look: image-based lighting (a chrome sphere reflects its environment and follows its
rotation), the environment as background, exposure, and the camera height chosen for flat models.

Frames are drawn in a spawned child (gl_child.py) at small sizes; the expected reflections are
computed here from the same prefiltered environment the renderer uploads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.stats import spearmanr
from trimesh.visual.material import PBRMaterial

from dxgl.contract import auto_elevation
from dxgl.render.environment import LEVEL_HEIGHT, load_environment
from dxgl.render.look import Look
from tests.render.conftest import small_spec
from tests.render.gl_child import draw_frames

SIZE = (192, 108)


def _sphere(path: Path, *, metallic: float, roughness: float) -> Path:
    mesh = trimesh.creation.icosphere(subdivisions=5, radius=0.1)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(baseColorFactor=[255, 255, 255, 255], metallicFactor=metallic, roughnessFactor=roughness)
    )
    mesh.export(path)
    return path


def _reflections(pose, width: int, height: int, rotation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel: whether its ray hits the normalised sphere (radius 1, centre (0, 1, 0)), and
    the environment direction a mirror there reflects (in the environment's own frame)."""
    inv = np.linalg.inv(pose.proj.astype(np.float64) @ pose.view.astype(np.float64))
    xs = (np.arange(width) + 0.5) / width * 2 - 1
    ys = 1 - (np.arange(height) + 0.5) / height * 2
    ndc = np.stack(np.meshgrid(xs, ys), -1).reshape(-1, 2)
    far = np.concatenate([ndc, np.ones((len(ndc), 2))], 1) @ inv.T
    eye = pose.eye.astype(np.float64)
    d = far[:, :3] / far[:, 3:] - eye
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    oc = eye - np.array([0.0, 1.0, 0.0])
    b = d @ oc
    disc = b * b - (oc @ oc - 1.0)
    hit = disc > 0
    t = -b - np.sqrt(np.maximum(disc, 0))
    n = oc + t[:, None] * d
    r = d - 2 * np.sum(d * n, axis=1, keepdims=True) * n
    a = np.radians(-rotation_deg)  # world -> environment: the environment turned by +rotation
    rot = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    return hit.reshape(height, width), (r @ rot.T).reshape(height, width, 3)


def _env_luminance(directions: np.ndarray) -> np.ndarray:
    """Luminance of the studio environment's sharpest level along unit ``directions`` (..., 3)."""
    level0 = load_environment("studio").specular[:LEVEL_HEIGHT]
    h, w = level0.shape[:2]
    u = 0.5 + np.arctan2(directions[..., 0], -directions[..., 2]) / (2 * np.pi)
    v = np.arccos(np.clip(directions[..., 1], -1, 1)) / np.pi
    texel = level0[np.clip((v * h).astype(int), 0, h - 1), np.clip((u * w).astype(int), 0, w - 1) % w]
    return texel[..., :3] @ np.array([0.2126, 0.7152, 0.0722])


def _luminance(frame: np.ndarray) -> np.ndarray:
    return frame[..., :3].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


@pytest.fixture(scope="module")
def chrome(tmp_path_factory) -> Path:
    return _sphere(tmp_path_factory.mktemp("look") / "chrome.glb", metallic=1.0, roughness=0.05)


def test_a_chrome_sphere_reflects_the_environment(chrome: Path, tmp_path: Path) -> None:
    spec = small_spec({"shadows": False}, size=SIZE)
    frames, poses = draw_frames(chrome, spec, [0])
    frame = frames[0]
    hit, directions = _reflections(poses[0], *SIZE, rotation_deg=0.0)
    inside = hit & (frame[..., 3] == 255)
    # Well inside the silhouette only: the edge pixels mix sphere and background.
    assert inside.sum() > 1500, inside.sum()
    rendered = _luminance(frame)[inside]
    expected = _env_luminance(directions)[inside]
    # Not a flat grey: the studio's light boxes and its darker walls and floor are both in it ...
    assert rendered.max() - rendered.min() > 120, (rendered.min(), rendered.max())
    assert (rendered > 200).mean() > 0.02 and (rendered < 120).mean() > 0.05
    # ... where a mirror puts them: the rendered brightness follows the environment's.
    rho = spearmanr(rendered, expected).statistic
    assert rho > 0.75, rho

    # A rough metal sphere in the same light is far smoother: the reflection is the environment's.
    rough = _sphere(tmp_path / "rough.glb", metallic=1.0, roughness=1.0)
    rough_frame = draw_frames(rough, spec, [0])[0][0]
    assert _luminance(rough_frame)[inside].std() < 0.5 * rendered.std()


def test_the_reflection_follows_environment_rotation(chrome: Path) -> None:
    spec = small_spec({"shadows": False}, size=SIZE)
    turned = replace(spec, look=Look(environment_rotation=90.0))
    (frame,), (pose,) = draw_frames(chrome, turned, [0])
    hit, directions = _reflections(pose, *SIZE, rotation_deg=90.0)
    _, unturned = _reflections(pose, *SIZE, rotation_deg=0.0)
    inside = hit & (frame[..., 3] == 255)
    rendered = _luminance(frame)[inside]
    rho_turned = spearmanr(rendered, _env_luminance(directions)[inside]).statistic
    rho_unturned = spearmanr(rendered, _env_luminance(unturned)[inside]).statistic
    assert rho_turned > 0.75 and rho_turned > rho_unturned + 0.1, (rho_turned, rho_unturned)


def test_show_environment_makes_the_environment_the_background(chrome: Path) -> None:
    spec = small_spec({"shadows": False}, size=SIZE)
    plain = draw_frames(chrome, spec, [0])[0][0]
    shown = draw_frames(chrome, replace(spec, look=Look(show_environment=True)), [0])[0][0]
    assert (plain[..., 3] == 0).mean() > 0.3  # transparent around the sphere without it
    assert (shown[..., 3] == 255).all()  # opaque everywhere with it
    background = plain[..., 3] == 0
    assert _luminance(shown)[background].std() > 5  # the room, not one flat colour


def test_the_background_follows_environment_rotation(chrome: Path) -> None:
    spec = small_spec({"shadows": False}, size=SIZE)
    a = draw_frames(chrome, replace(spec, look=Look(show_environment=True)), [0])[0][0]
    b = draw_frames(chrome, replace(spec, look=Look(show_environment=True, environment_rotation=90.0)), [0])[0][0]
    corner = np.s_[:20, :40]  # background only
    assert np.abs(a[corner][..., :3].astype(int) - b[corner][..., :3].astype(int)).mean() > 8


def test_diffuse_light_comes_from_the_environment(tmp_path: Path) -> None:
    """A white matte sphere in the studio, whose ceiling is its brightest part: lit from above
    more than from below (the SH irradiance reaches the shader, the right way up)."""
    white = tmp_path / "white.glb"
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(baseColorFactor=[230, 230, 230, 255], metallicFactor=0.0, roughnessFactor=1.0)
    )
    mesh.export(white)
    frame = draw_frames(white, small_spec({"shadows": False}, size=SIZE), [0])[0][0]
    lum = _luminance(frame)
    rows, cols = np.nonzero(frame[..., 3] == 255)
    top, bottom = rows < np.percentile(rows, 25), rows > np.percentile(rows, 75)
    assert lum[rows[top], cols[top]].mean() > lum[rows[bottom], cols[bottom]].mean() + 15
    # The environment's SH, evaluated here, predicts the same order for the up and down normals.
    sh = load_environment("studio").irradiance_sh
    up = sh[0] * 0.282095 + sh[1] * 0.488603 + sh[6] * 0.315392 * -1.0
    down = sh[0] * 0.282095 - sh[1] * 0.488603 + sh[6] * 0.315392 * -1.0
    assert up.mean() > down.mean()


def test_exposure_brightens_by_stops(chrome: Path, tmp_path: Path) -> None:
    grey = tmp_path / "grey.glb"
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(baseColorFactor=[128, 128, 128, 255], metallicFactor=0.0, roughnessFactor=0.8)
    )
    mesh.export(grey)
    spec = small_spec({"shadows": False}, size=SIZE)
    means = []
    for ev in (-1.0, 0.0, 1.0):
        frame = draw_frames(grey, replace(spec, look=Look(exposure=ev)), [0])[0][0]
        means.append(_luminance(frame)[frame[..., 3] == 255].mean())
    assert means[0] < means[1] - 10 < means[2] - 20, means


def _slab(path: Path) -> Path:
    """A 20 x 1 x 12 cm slab: grey body, a red 'printed' top face."""
    body = trimesh.creation.box(extents=(0.20, 0.01, 0.12))
    body.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(baseColorFactor=[150, 150, 150, 255], metallicFactor=0.0, roughnessFactor=0.7)
    )
    top = trimesh.Trimesh(
        vertices=[[-0.1, 0.0051, -0.06], [0.1, 0.0051, -0.06], [0.1, 0.0051, 0.06], [-0.1, 0.0051, 0.06]],
        faces=[[0, 2, 1], [0, 3, 2]],
        process=False,
    )
    top.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(baseColorFactor=[220, 20, 20, 255], metallicFactor=0.0, roughnessFactor=0.7)
    )
    trimesh.Scene({"body": body, "top": top}).export(path)
    return path


def _top_share(frame: np.ndarray) -> float:
    rgb = frame[..., :3].astype(int)
    model = frame[..., 3] > 128
    red = model & (rgb[..., 0] - np.maximum(rgb[..., 1], rgb[..., 2]) > 50)
    return float(red.sum() / max(model.sum(), 1))


def test_a_flat_model_is_filmed_from_above_without_elevation(tmp_path: Path) -> None:
    slab = _slab(tmp_path / "slab.glb")
    assert auto_elevation(20, 1, 12) == 45.0 and auto_elevation(20, 30, 12) == 12.0
    spec = small_spec({"shadows": False}, size=SIZE)
    assert spec.elevation is None
    auto = draw_frames(slab, spec, [0])[0][0]
    chosen = draw_frames(slab, replace(spec, elevation=45.0), [0])[0][0]
    low = draw_frames(slab, replace(spec, elevation=12.0), [0])[0][0]
    np.testing.assert_array_equal(auto, chosen)  # the rule picked 45 degrees
    assert _top_share(auto) > 0.85, _top_share(auto)  # the printed face fills the poster
    assert _top_share(low) < _top_share(auto) - 0.1, (_top_share(low), _top_share(auto))


def test_a_shown_environment_survives_compositing_into_the_poster(chrome: Path, tmp_path: Path) -> None:
    """With showEnvironment the frames are opaque: bgColor (red here) never shows in the poster."""
    from PIL import Image

    from dxgl.render import render_job

    spec = replace(small_spec({"shadows": False, "bgColor": "#ff0000"}, size=SIZE), look=Look(show_environment=True))
    outputs = render_job(chrome, spec, tmp_path / "out", timeout_s=120)
    poster = np.asarray(Image.open(outputs.poster_full).convert("RGB")).astype(int)
    red = (poster[..., 0] > 200) & (poster[..., 1] < 60) & (poster[..., 2] < 60)
    assert not red.any()
    plain = render_job(chrome, replace(spec, look=Look()), tmp_path / "plain", timeout_s=120)
    plain_poster = np.asarray(Image.open(plain.poster_full).convert("RGB")).astype(int)
    assert ((plain_poster[..., 0] > 200) & (plain_poster[..., 1] < 60)).mean() > 0.3  # bgColor without it
