"""Dataset cameras: view directions over the (hemi)sphere, one framing distance, intrinsics, depth range.

Dataset space (docs/dataset.md): the render's canonical space (+Y up, largest bounding-box side 2
units) shifted so the model's bounding-box centre is the origin. Every camera looks at the origin
from the same distance, chosen so the model's convex hull fits every view with ``FRAME_MARGIN``.
Camera-to-world matrices follow OpenGL / Blender / NeRF: the camera looks down its -Z, +Y is up.
Pure numpy: no GL here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dxgl.contract import Coverage
from dxgl.render.camera import look_at, perspective

FOV_DEG = 40.0  # both axes (square images); close to the NeRF synthetic scenes' 39.6 degrees
FRAME_MARGIN = 0.05  # fraction of each half-extent of the picture kept free around the model
POSTER_ELEVATION_DEG = 20.0  # view 0 (the poster) is the lattice point nearest this elevation, turned to face the front
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


@dataclass(frozen=True)
class DatasetCameras:
    """All views of one dataset. Matrices are float64, column-vector convention (p' = M @ p)."""

    c2w: NDArray[np.float64]  # (N, 4, 4) camera -> dataset space (OpenGL: camera looks down -Z, +Y up)
    view: NDArray[np.float64]  # (N, 4, 4) dataset space -> camera (inverse of c2w)
    proj: NDArray[np.float64]  # (4, 4) camera -> clip, shared by every view
    size: int  # image side in pixels (square)
    focal: float  # pixels, fl_x = fl_y
    distance: float  # camera distance to the origin, dataset units
    depth_near: float  # smallest z-depth of any model point over all views (tight)
    depth_far: float  # largest z-depth of any model point over all views (tight)

    @property
    def fov_rad(self) -> float:
        """The field of view of both axes, radians."""
        return math.radians(FOV_DEG)

    @property
    def eyes(self) -> NDArray[np.float64]:
        """(N, 3) float64 camera positions."""
        return self.c2w[:, :3, 3]


def fibonacci_directions(count: int, coverage: str) -> NDArray[np.float64]:
    """(count, 3) float64 unit vectors from the origin toward each camera, evenly spread by area.

    ``hemisphere``: elevations strictly above the horizontal plane through the model's centre (so
    every camera is above the ground); ``sphere``: the whole sphere. View 0 is the lattice point
    nearest ``POSTER_ELEVATION_DEG``, and the lattice is turned about Y so view 0 faces the model's front
    (+Z); the order is otherwise the lattice's own (cyclically shifted)."""
    if count < 1:
        raise ValueError("a dataset needs at least one view")
    if coverage not in tuple(Coverage):
        raise ValueError(f"unknown coverage {coverage!r}")
    i = np.arange(count, dtype=np.float64)
    # Equal-area rings: y uniform in (0, 1) or (-1, 1), never exactly at the poles.
    y = (i + 0.5) / count if coverage == Coverage.HEMISPHERE else 1.0 - (2.0 * i + 1.0) / count
    ring = np.sqrt(np.maximum(0.0, 1.0 - y * y))
    phi = i * _GOLDEN_ANGLE
    first = int(np.argmin(np.abs(y - math.sin(math.radians(POSTER_ELEVATION_DEG)))))
    phi = phi - phi[first]
    dirs = np.stack([ring * np.sin(phi), y, ring * np.cos(phi)], axis=1)
    rolled: NDArray[np.float64] = np.roll(dirs, -first, axis=0)
    return rolled


def _rotation_towards(direction: NDArray[np.float64]) -> NDArray[np.float64]:
    """(3, 3) rows right, up, back for a camera placed along ``direction`` looking at the origin."""
    up = (0.0, 1.0, 0.0) if abs(direction[1]) < 0.9999 else (0.0, 0.0, -1.0)
    return look_at(direction.copy(), np.zeros(3), up)[:3, :3]


def make_cameras(hull_points: ArrayLike, count: int, coverage: str, size: int) -> DatasetCameras:
    """Cameras for ``count`` views at ``size`` x ``size`` pixels. ``hull_points`` (K, 3): the model's
    convex-hull vertices in dataset space (every projection fits iff these fit; depth extremes are
    attained at them, so near/far are exact bounds of the model)."""
    pts = np.asarray(hull_points, dtype=np.float64)
    dirs = fibonacci_directions(count, coverage)
    rots = np.stack([_rotation_towards(d) for d in dirs])  # (N, 3, 3)
    local = np.einsum("nij,kj->nki", rots, pts)  # (N, K, 3): x right, y up, z toward the camera
    t = math.tan(math.radians(FOV_DEG) / 2.0) * (1.0 - FRAME_MARGIN)
    need = local[..., 2] + np.maximum(np.abs(local[..., 0]), np.abs(local[..., 1])) / t
    distance = float(need.max())
    depth = distance - local[..., 2]  # z-depth of every hull point in every view
    near, far = float(depth.min()), float(depth.max())

    views, c2ws = [], []
    for d, rot in zip(dirs, rots):
        eye = d * distance
        view = np.eye(4)
        view[:3, :3] = rot
        view[:3, 3] = -rot @ eye
        c2w = np.eye(4)
        c2w[:3, :3] = rot.T
        c2w[:3, 3] = eye
        views.append(view)
        c2ws.append(c2w)
    # GL clip planes a little outside the model's depth range: nothing of the model is ever clipped.
    proj = perspective(FOV_DEG, 1.0, max(near * 0.9, 1e-3), far * 1.1)
    focal = (size / 2.0) / math.tan(math.radians(FOV_DEG) / 2.0)
    return DatasetCameras(
        c2w=np.stack(c2ws),
        view=np.stack(views),
        proj=proj,
        size=size,
        focal=focal,
        distance=distance,
        depth_near=near,
        depth_far=far,
    )


def dataset_offset(bounds: ArrayLike) -> NDArray[np.float64]:
    """(3,) float64 translation from the render's canonical space to dataset space: the bounding-box
    centre goes to the origin. ``bounds`` (2, 3): min and max corners in canonical space."""
    offset: NDArray[np.float64] = -(np.asarray(bounds, dtype=np.float64).sum(axis=0) / 2.0)
    return offset
