"""points3d.ply: points sampled uniformly (by area) on the model's surface, in dataset space.

Each point carries the interpolated vertex normal and the material's unlit base colour at that spot
(factor x texture x vertex colour), sRGB 8-bit. The layout (x y z nx ny nz red green blue, binary
little endian) is what 3D Gaussian Splatting's ``fetchPly`` and nerfstudio's ``ply_file_path`` read.
Pure numpy: no GL.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from dxgl.render.scene import Material, Scene

POINT_COUNT = 100_000
_SEED = 20240607  # fixed: the same model always gives the same point cloud

_PLY_DTYPE = np.dtype(
    [
        ("x", "<f4"),
        ("y", "<f4"),
        ("z", "<f4"),
        ("nx", "<f4"),
        ("ny", "<f4"),
        ("nz", "<f4"),
        ("red", "u1"),
        ("green", "u1"),
        ("blue", "u1"),
    ]
)


def _srgb_to_linear(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """sRGB-encoded values in [0, 1] -> linear, any shape."""
    linear: NDArray[np.float64] = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return linear


def _linear_to_srgb(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """Linear values (clipped to [0, 1]) -> sRGB-encoded, any shape."""
    c = np.clip(c, 0.0, 1.0)
    encoded: NDArray[np.float64] = np.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1.0 / 2.4) - 0.055)
    return encoded


def _texel(texture: NDArray[np.uint8], uv: NDArray[np.float64]) -> NDArray[np.float64]:
    """Nearest texel with repeat wrapping. ``texture`` (H, W, 4) uint8 bottom row first, ``uv`` (N, 2).
    Returns (N, 4) float64 in [0, 1]."""
    h, w = texture.shape[:2]
    col = np.floor(uv[:, 0] * w).astype(np.int64) % w
    row = np.floor(uv[:, 1] * h).astype(np.int64) % h  # t = 0 is the bottom row, stored first
    texels: NDArray[np.float64] = texture[row, col].astype(np.float64) / 255.0
    return texels


def _colors(
    material: Material, uv: NDArray[np.float64] | None, vertex_color: NDArray[np.float64] | None, n: int
) -> NDArray[np.float64]:
    """(n, 3) float64 linear base colour at the sampled points; ``uv`` (n, 2), ``vertex_color`` (n, 4)."""
    color = np.tile(np.asarray(material.base_color[:3], dtype=np.float64), (n, 1))
    if material.base_color_texture is not None and uv is not None:
        color *= _srgb_to_linear(_texel(material.base_color_texture, uv)[:, :3])
    if vertex_color is not None:
        color *= vertex_color[:, :3]
    return color


def sample_surface(scene: Scene, offset: NDArray[np.float64], count: int = POINT_COUNT) -> NDArray[np.void]:
    """``count`` points on the surface of ``scene``, translated by ``offset`` (3,) into dataset space.
    Returns a structured array of ``_PLY_DTYPE`` (count,)."""
    rng = np.random.default_rng(_SEED)
    areas = []
    for prim in scene.primitives:
        tri = prim.positions[prim.indices].astype(np.float64)
        areas.append(0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1))
    sizes = np.array([a.sum() for a in areas])
    if sizes.sum() <= 0:
        return np.zeros(0, dtype=_PLY_DTYPE)
    per_prim = rng.multinomial(count, sizes / sizes.sum())
    out = np.zeros(count, dtype=_PLY_DTYPE)
    start = 0
    for prim, area, n in zip(scene.primitives, areas, per_prim):
        if n == 0:
            continue
        faces = prim.indices[rng.choice(len(area), size=n, p=area / area.sum())]
        r1, r2 = np.sqrt(rng.random(n)), rng.random(n)
        bary = np.stack([1.0 - r1, r1 * (1.0 - r2), r1 * r2], axis=1)  # uniform over each triangle

        def interp(
            attr: NDArray[np.float32], bary: NDArray[np.float64] = bary, faces: NDArray[np.uint32] = faces
        ) -> NDArray[np.float64]:
            """Per-vertex ``attr`` (V, C) -> (n, C) float64 at the sampled points."""
            values: NDArray[np.float64] = np.einsum("nk,nkc->nc", bary, attr[faces].astype(np.float64))
            return values

        points = interp(prim.positions) + offset
        normals = interp(prim.normals)
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        uv = interp(prim.uvs) if prim.uvs is not None else None
        vcol = interp(prim.colors) if prim.colors is not None else None
        rgb = np.rint(_linear_to_srgb(_colors(prim.material, uv, vcol, n)) * 255.0).astype(np.uint8)
        chunk = out[start : start + n]
        chunk["x"], chunk["y"], chunk["z"] = points.T
        chunk["nx"], chunk["ny"], chunk["nz"] = normals.T
        chunk["red"], chunk["green"], chunk["blue"] = rgb.T
        start += n
    return out


def ply_bytes(points: NDArray[np.void]) -> bytes:
    """Binary little-endian PLY of a (N,) ``_PLY_DTYPE`` structured array."""
    names = points.dtype.names or ()
    header = (
        "ply\nformat binary_little_endian 1.0\ncomment dxgl dataset: surface samples in dataset space\n"
        f"element vertex {len(points)}\n"
        + "".join(f"property {'float' if points.dtype[name].kind == 'f' else 'uchar'} {name}\n" for name in names)
        + "end_header\n"
    )
    return header.encode("ascii") + points.astype(_PLY_DTYPE).tobytes()
