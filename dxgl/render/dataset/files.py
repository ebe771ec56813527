"""Dataset file contents: per-view image encodings, the transforms JSON files and the contact sheet.

Every encoding rule of docs/dataset.md lives here and only here. Pure numpy + Pillow: no GL.
"""

from __future__ import annotations

import io
import math
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from dxgl.render.dataset.views import DatasetCameras

PNG_COMPRESS_LEVEL = 3  # zlib's fast strategy: PNGs are stored (not re-compressed) in the ZIP
METRIC_DEPTH_PER_UNIT = 1000.0  # uint16 value per dataset unit: millimetres if one unit is read as a metre
TEST_EVERY = 8  # every 8th view (0, 8, 16, ...) goes to transforms_test.json, the others to _train
OVERVIEW_QUADRANT = 1000  # px: each quadrant of overview.webp is at most this wide
OVERVIEW_GAP = 8  # px of white between quadrants

FOLDERS = ("images", "depth", "depth_16bit", "depth_mm", "normals", "masks")


def view_name(index: int) -> str:
    """Base file name of view ``index`` (same in every folder): 0000, 0001, ..."""
    return f"{index:04d}"


def png_bytes(array: NDArray[np.uint8] | NDArray[np.uint16]) -> bytes:
    """(H, W) uint8 / uint16 grey or (H, W, 3) uint8 RGB -> PNG file bytes (16-bit PNG for uint16)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buf.getvalue()


def rgb_on_white(rgba: NDArray[np.uint8], mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """Composite a straight-alpha render on white. ``rgba`` (H, W, 4) uint8, ``mask`` (H, W) bool.
    The render's anti-aliased alpha is kept inside the mask and zeroed outside it, so every pixel
    outside the mask is exactly white. Returns (H, W, 3) uint8."""
    alpha = (rgba[..., 3].astype(np.float32) * (1.0 / 255.0)) * mask
    rgb = rgba[..., :3].astype(np.float32)
    out = rgb * alpha[..., None] + 255.0 * (1.0 - alpha[..., None])
    rgb8: NDArray[np.uint8] = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return rgb8


@overload
def depth_levels(
    depth: NDArray[np.float32], mask: NDArray[np.bool_], near: float, far: float, levels: Literal[255]
) -> NDArray[np.uint8]: ...
@overload
def depth_levels(
    depth: NDArray[np.float32], mask: NDArray[np.bool_], near: float, far: float, levels: Literal[65535]
) -> NDArray[np.uint16]: ...
def depth_levels(
    depth: NDArray[np.float32], mask: NDArray[np.bool_], near: float, far: float, levels: int
) -> NDArray[np.uint8] | NDArray[np.uint16]:
    """Near/far encoding: v = round((z - near) / (far - near) * levels), background = ``levels``
    (the lightest value). ``depth`` (H, W) float32 z-depth, ``mask`` (H, W) bool; ``levels`` 255 or 65535.
    Returns (H, W) uint8 (255) or uint16 (65535)."""
    scaled = (depth.astype(np.float64) - near) * (levels / (far - near))
    values = np.where(mask, np.clip(np.rint(scaled), 0, levels), levels)
    if levels == 255:
        return values.astype(np.uint8)
    return values.astype(np.uint16)


def metric_depth(depth: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.uint16]:
    """z-depth in dataset units * 1000 (millimetres for nerfstudio's default depth_unit_scale_factor
    0.001), 0 = no surface. ``depth`` (H, W) float32. Returns (H, W) uint16."""
    values = np.where(mask, np.clip(np.rint(depth.astype(np.float64) * METRIC_DEPTH_PER_UNIT), 1, 65535), 0)
    millimetres: NDArray[np.uint16] = values.astype(np.uint16)
    return millimetres


def normal_rgb(normals: NDArray[np.float32], mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """World (dataset-space) unit normals (H, W, 3) float32 -> rgb = round((n + 1) / 2 * 255),
    background (0, 0, 0). Returns (H, W, 3) uint8."""
    values: NDArray[np.uint8] = np.clip(np.rint((normals.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    values[~mask] = 0
    return values


def mask_grey(mask: NDArray[np.bool_]) -> NDArray[np.uint8]:
    """(H, W) bool -> (H, W) uint8: 255 = model, 0 = background."""
    return np.where(mask, 255, 0).astype(np.uint8)


def _frame(cams: DatasetCameras, index: int, with_extension: bool) -> dict[str, Any]:
    name = view_name(index)
    ext = ".png" if with_extension else ""
    return {
        "file_path": f"images/{name}{ext}",
        "transform_matrix": [[float(v) for v in row] for row in cams.c2w[index]],
        "depth_file_path": f"depth_mm/{name}{ext}",
        "mask_path": f"masks/{name}{ext}",
    }


def transforms(
    cams: DatasetCameras, indices: list[int] | None = None, *, with_extension: bool = True
) -> dict[str, Any]:
    """The transforms JSON (instant-ngp / nerfstudio / Blender style) for ``indices`` (all by default).
    ``with_extension`` False gives the Blender-style extensionless paths that 3DGS's loader expects."""
    indices = list(range(len(cams.c2w))) if indices is None else indices
    size = cams.size
    return {
        "camera_model": "PINHOLE",
        "camera_angle_x": cams.fov_rad,
        "camera_angle_y": cams.fov_rad,
        "fl_x": cams.focal,
        "fl_y": cams.focal,
        "cx": size / 2.0,
        "cy": size / 2.0,
        "w": size,
        "h": size,
        "k1": 0.0,
        "k2": 0.0,
        "p1": 0.0,
        "p2": 0.0,
        # instant-ngp: its default scale 0.33 and offset 0.5 put the model (within [-1, 1]) inside its unit cube.
        "aabb_scale": 1,
        "depth_near": cams.depth_near,
        "depth_far": cams.depth_far,
        "ply_file_path": "points3d.ply",
        "frames": [_frame(cams, i, with_extension) for i in indices],
    }


def split_indices(count: int) -> tuple[list[int], list[int]]:
    """(train, test) view indices: every ``TEST_EVERY``-th view is a test view."""
    test = [i for i in range(count) if i % TEST_EVERY == 0]
    train = [i for i in range(count) if i % TEST_EVERY != 0]
    return train, test


class ContactSheet:
    """overview.webp: four quadrants (RGB top-left, depth top-right, normals bottom-left, masks
    bottom-right), each a grid of every view, filled one view at a time (nothing else is kept)."""

    def __init__(self, count: int, size: int) -> None:
        self.cols = max(1, math.ceil(math.sqrt(count)))
        self.rows = max(1, math.ceil(count / self.cols))
        self.thumb = max(8, min(size, OVERVIEW_QUADRANT // self.cols))
        qw, qh = self.cols * self.thumb, self.rows * self.thumb
        self.quadrant = (qw, qh)
        self.image = Image.new("RGB", (2 * qw + OVERVIEW_GAP, 2 * qh + OVERVIEW_GAP), (255, 255, 255))

    def add(
        self,
        index: int,
        rgb: NDArray[np.uint8],
        depth8: NDArray[np.uint8],
        normals: NDArray[np.uint8],
        mask: NDArray[np.uint8],
    ) -> None:
        """Place view ``index``: (H, W, 3) uint8 RGB, (H, W) uint8 depth, (H, W, 3) uint8 normals, (H, W) uint8 mask."""
        qw, qh = self.quadrant
        x, y = (index % self.cols) * self.thumb, (index // self.cols) * self.thumb
        origins = ((0, 0), (qw + OVERVIEW_GAP, 0), (0, qh + OVERVIEW_GAP), (qw + OVERVIEW_GAP, qh + OVERVIEW_GAP))
        for (ox, oy), array in zip(origins, (rgb, depth8, normals, mask)):
            tile = Image.fromarray(array).convert("RGB")
            if tile.size != (self.thumb, self.thumb):
                tile = tile.resize((self.thumb, self.thumb), Image.Resampling.BOX)
            self.image.paste(tile, (ox + x, oy + y))

    def webp_bytes(self) -> bytes:
        """The sheet as WEBP file bytes."""
        buf = io.BytesIO()
        self.image.save(buf, format="WEBP", quality=85, method=4)
        return buf.getvalue()
