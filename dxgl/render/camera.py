"""Camera moves: per-frame model transform, model scale and camera, for every effect.

World: +Y up, ground at y = 0, the camera looks at the model from +Z, slightly from above. The
model spins about the world Y axis; ``tiltX`` then tilts it forward/back about the horizontal axis
through its centre. One camera distance is chosen for the whole move so that the model's convex hull
stays inside the frame with a margin on every frame and for every aspect (zoom-orbit only comes
closer when asked: zoom < 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dxgl.contract import Effect, auto_elevation
from dxgl.render.spec import JobSpec

Mat4 = NDArray[np.float64]  # (4, 4), column-vector convention (p' = M @ p)

VERTICAL_FOV_DEG = 30.0
FRAME_MARGIN = 0.08  # fraction of each half-extent of the picture kept free around the model
REVEAL_GROW_FRACTION = 0.4  # reveal: share of the move during which the model grows to full size


@dataclass(frozen=True)
class FramePose:
    """One frame's transforms. All matrices (4, 4) float32, column-vector convention (p' = M @ p)."""

    model: NDArray[np.float32]  # model space -> world
    view: NDArray[np.float32]  # world -> camera
    proj: NDArray[np.float32]  # camera -> clip
    eye: NDArray[np.float32]  # (3,) float32 camera position in world
    spin_deg: float  # rotation about Y (shadow bake can reuse one bake when tilt = 0)
    scale: float  # model scale (reveal)


def ease_in_out(t: float) -> float:
    """Cosine ease from 0 to 1 over ``t`` in [0, 1] (clamped): zero speed at both ends."""
    return 0.5 - 0.5 * math.cos(math.pi * min(max(t, 0.0), 1.0))


def ease_out_cubic(t: float) -> float:
    """Cubic ease-out from 0 to 1 over ``t`` in [0, 1] (clamped): full speed at 0, at rest at 1."""
    t = min(max(t, 0.0), 1.0)
    return 1.0 - (1.0 - t) ** 3


def hero_progress(t: float, ease_out_ratio: float) -> float:
    """Constant speed, then a linear deceleration to rest over the last ``ease_out_ratio`` of the time.
    Returns the fraction of the sweep done at time ``t`` in [0, 1]; continuous speed at the seam."""
    r = min(max(ease_out_ratio, 0.0), 1.0)
    speed = 1.0 / (1.0 - r / 2.0)
    if t <= 1.0 - r or r == 0.0:
        return min(speed * t, 1.0)
    u = t - (1.0 - r)
    return speed * (1.0 - r) + speed * u - speed * u * u / (2.0 * r)


def _rot_y(deg: float) -> Mat4:
    """(4, 4) float64 rotation by ``deg`` about +Y."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0, s, 0], [0, 1, 0, 0], [-s, 0, c, 0], [0, 0, 0, 1]], dtype=np.float64)


def _rot_x(deg: float) -> Mat4:
    """(4, 4) float64 rotation by ``deg`` about +X."""
    a = math.radians(deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[1, 0, 0, 0], [0, c, -s, 0], [0, s, c, 0], [0, 0, 0, 1]], dtype=np.float64)


def _translate(v: ArrayLike) -> Mat4:
    """(4, 4) float64 translation by ``v`` (3,)."""
    m = np.eye(4)
    m[:3, 3] = v
    return m


def perspective(vfov_deg: float, aspect: float, near: float, far: float) -> Mat4:
    """(4, 4) float64 OpenGL projection: camera space (looking down -Z) -> clip space."""
    f = 1.0 / math.tan(math.radians(vfov_deg) / 2.0)
    return np.array(
        [
            [f / aspect, 0, 0, 0],
            [0, f, 0, 0],
            [0, 0, (far + near) / (near - far), 2 * far * near / (near - far)],
            [0, 0, -1, 0],
        ],
        dtype=np.float64,
    )


def look_at(
    eye: NDArray[np.float64], target: NDArray[np.float64], up: tuple[float, float, float] = (0.0, 1.0, 0.0)
) -> Mat4:
    """(4, 4) float64 world -> camera matrix for a camera at ``eye`` (3,) looking at ``target`` (3,):
    rows of the rotation part are right, up and back (the camera looks down its -Z)."""
    back = eye - target
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    right /= np.linalg.norm(right)
    true_up = np.cross(back, right)
    m = np.eye(4)
    m[0, :3], m[1, :3], m[2, :3] = right, true_up, back
    m[:3, 3] = -m[:3, :3] @ eye
    return m


def _timeline(spec: JobSpec) -> list[tuple[float, float, float]]:
    """(spin degrees, model scale, zoom multiplier) per frame."""
    n, p = spec.frame_count, spec.params
    out: list[tuple[float, float, float]] = []
    for i in range(n):
        t_loop = i / n  # looping moves: frame n would equal frame 0
        t_once = i / (n - 1) if n > 1 else 1.0
        spin, scale, zoom = spec.rotate_y, 1.0, 1.0
        if spec.effect == Effect.TURNTABLE:
            spin += 360.0 * (ease_in_out(t_loop) if spec.easing else t_loop)
        elif spec.effect == Effect.HERO_SPIN:
            sweep = p["sweepAngle"]
            spin += sweep * (hero_progress(t_once, p["easeOutRatio"]) - 1.0)  # ends facing front
        elif spec.effect == Effect.SHOWCASE:
            spin += 0.5 * p["amplitude"] * math.sin(2.0 * math.pi * t_loop)
        elif spec.effect == Effect.ZOOM_ORBIT:
            spin += 360.0 * (ease_in_out(t_loop) if spec.easing else t_loop)
            z0, z1 = p["zoomStart"], p["zoomEnd"]
            zoom = z0 + (z1 - z0) * (ease_in_out(t_once) if spec.easing else t_once)
        elif spec.effect == Effect.REVEAL:
            sweep = p["sweepAngle"]
            spin += sweep * (ease_out_cubic(t_once) - 1.0)
            s0 = p["scaleFrom"]
            scale = s0 + (1.0 - s0) * ease_out_cubic(t_once / REVEAL_GROW_FRACTION)
        else:
            raise ValueError(f"unknown effect {spec.effect!r}")
        out.append((spin, scale, zoom))
    return out


def poster_frame_index(spec: JobSpec) -> int:
    """Frame 0, except for reveal: the first frame where the model is fully scaled."""
    if spec.effect != Effect.REVEAL:
        return 0
    for i, (_, scale, _) in enumerate(_timeline(spec)):
        if scale >= 1.0:
            return i
    return spec.frame_count - 1


def model_matrix(spin_deg: float, scale: float, tilt_deg: float, center_y: float) -> Mat4:
    """Scale about the ground point (the model grows from the floor), spin about Y, tilt about the
    horizontal axis through the model's centre. (4, 4) float64."""
    s = np.diag([scale, scale, scale, 1.0])
    tilt = _translate((0, center_y, 0)) @ _rot_x(tilt_deg) @ _translate((0, -center_y, 0))
    matrix: Mat4 = tilt @ _rot_y(spin_deg) @ s
    return matrix


def elevation_of(spec: JobSpec, bounds: NDArray[np.float32]) -> float:
    """The camera's height angle in degrees: ``spec.elevation``, else the contract's flat-model rule
    on the model's bounding box ``bounds`` (2, 3) float32 (min and max corners)."""
    if spec.elevation is not None:
        return float(spec.elevation)
    size = bounds[1].astype(np.float64) - bounds[0].astype(np.float64)
    return auto_elevation(float(size[0]), float(size[1]), float(size[2]))


def camera_path(spec: JobSpec, frame_points: NDArray[np.float32], bounds: NDArray[np.float32]) -> list[FramePose]:
    """Poses for every frame of ``spec``. ``frame_points`` (K, 3) float32: the model's hull vertices;
    ``bounds`` (2, 3) float32: its min and max corners."""
    aspect = spec.width / spec.height
    center_y = float(bounds[0, 1] + bounds[1, 1]) / 2.0
    target = np.array([0.0, center_y, 0.0])
    el = math.radians(elevation_of(spec, bounds))
    back = np.array([0.0, math.sin(el), math.cos(el)])
    rot = look_at(target + back, target)[:3, :3]  # rows: right, up, back
    ty = math.tan(math.radians(VERTICAL_FOV_DEG) / 2.0)
    tx = ty * aspect
    usable = 1.0 - FRAME_MARGIN

    timeline = _timeline(spec)
    pts = np.concatenate([frame_points.astype(np.float64), np.ones((len(frame_points), 1))], axis=1)
    models = [model_matrix(spin, max(scale, 1e-3), spec.tilt_x, center_y) for spin, scale, _ in timeline]
    # A tilted model could dip below the floor: lift the whole move once (no bobbing) to stand on it.
    lowest = min(float((pts @ m.T)[:, 1].min()) for m in models)
    if lowest < 0.0:
        models = [_translate((0, -lowest, 0)) @ m for m in models]
    distance = 0.0
    for m in models:
        cam = (pts @ m.T)[:, :3] - target
        local = cam @ rot.T  # x right, y up, z toward the camera
        need = local[:, 2] + np.maximum(np.abs(local[:, 0]) / (tx * usable), np.abs(local[:, 1]) / (ty * usable))
        distance = max(distance, float(need.max()))
    radius = float(np.linalg.norm(frame_points - target.astype(np.float32), axis=1).max())

    poses: list[FramePose] = []
    for (spin, scale, zoom), m in zip(timeline, models):
        d = distance * zoom
        eye = target + back * d
        near = max(0.02, d - 2.0 * radius - 1.0) if d > 2.0 * radius + 1.02 else 0.02
        proj = perspective(VERTICAL_FOV_DEG, aspect, near, d + 4.0 * radius + 4.0)
        poses.append(
            FramePose(
                model=m.astype(np.float32),
                view=look_at(eye, target).astype(np.float32),
                proj=proj.astype(np.float32),
                eye=eye.astype(np.float32),
                spin_deg=spin,
                scale=scale,
            )
        )
    return poses
