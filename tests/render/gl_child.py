"""Test helper: draw raw frames (straight RGBA, before any encoding) in a spawned process, so the
pytest process itself never holds a GL context."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import numpy as np

from dxgl.render.spec import JobSpec


def _draw(model: str, spec: JobSpec, indices: list[int] | None) -> tuple[list[np.ndarray], list]:
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene

    scene = load_scene(Path(model))
    poses = camera_path(spec, scene.frame_points, scene.bounds)
    renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
    chosen = range(len(poses)) if indices is None else indices
    frames = [
        renderer.draw(poses[i], shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x).copy()
        for i in chosen
    ]
    renderer.close()
    return frames, [poses[i] for i in chosen]


def draw_frames(model: Path, spec: JobSpec, indices: list[int] | None = None):
    """(frames, poses): frames are (H, W, 4) uint8 straight RGBA; poses the matching FramePose."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_draw, (str(model), spec, indices))


def _geometry(model: str, spec: JobSpec, shading_normals: bool) -> np.ndarray:
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene

    scene = load_scene(Path(model))
    pose = camera_path(spec, scene.frame_points, scene.bounds)[0]
    renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
    geometry = renderer.draw_geometry(pose, shading_normals=shading_normals).copy()
    renderer.close()
    return geometry


def draw_geometry_frame(model: Path, spec: JobSpec, *, shading_normals: bool) -> np.ndarray:
    """The dataset geometry pass of frame 0: (H, W, 4) float32, normal xyz and z-depth."""
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        return pool.apply(_geometry, (str(model), spec, shading_normals))
