"""The renderer's silhouette matches an independent ray cast of the same mesh from the same camera."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from dxgl.render.scene import load_scene
from tests.render.conftest import MODELS, small_spec
from tests.render.gl_child import draw_frames

pytestmark = pytest.mark.render

WIDTH, HEIGHT = 160, 90


def _ray_cast_mask(scene, pose, width: int, height: int) -> np.ndarray:
    """(H, W) bool: does the ray through each pixel centre hit the model? Pure trimesh + rtree."""
    parts = [trimesh.Trimesh(p.positions, p.indices, process=False) for p in scene.primitives]
    mesh = trimesh.util.concatenate(parts)
    mesh.apply_transform(pose.model.astype(np.float64))
    xs = (np.arange(width) + 0.5) / width * 2 - 1
    ys = 1 - (np.arange(height) + 0.5) / height * 2
    gx, gy = np.meshgrid(xs, ys)
    ndc_far = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size), np.ones(gx.size)], axis=1)
    inv = np.linalg.inv(pose.proj.astype(np.float64) @ pose.view.astype(np.float64))
    far = ndc_far @ inv.T
    far = far[:, :3] / far[:, 3:4]
    origins = np.repeat(pose.eye[None].astype(np.float64), len(far), axis=0)
    directions = far - origins
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return mesh.ray.intersects_any(origins, directions).reshape(height, width)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


# The truck's ray cast alone takes 5-10 s on these machines: it runs with the slow tests.
@pytest.mark.parametrize(
    "name", ["Duck", pytest.param("CesiumMilkTruck", marks=pytest.mark.slow), "monkey", "BoxTextured"]
)
def test_silhouette_matches_ray_cast(name):
    spec = small_spec({"effect": "turntable", "shadows": False, "rotateY": 20}, size=(WIDTH, HEIGHT), fps=2)
    frames, poses = draw_frames(MODELS[name], spec, indices=[0, 2])
    scene = load_scene(MODELS[name])
    for frame, pose in zip(frames, poses):
        rendered = frame[..., 3] > 0
        cast = _ray_cast_mask(scene, pose, WIDTH, HEIGHT)
        assert cast.sum() > 300  # the model is really in the picture
        iou = _iou(rendered, cast)
        assert iou >= 0.95, f"{name}: IoU {iou:.3f}"
        # And the check can fail: a shifted silhouette does not match.
        assert _iou(np.roll(rendered, 6, axis=1), cast) < 0.95
