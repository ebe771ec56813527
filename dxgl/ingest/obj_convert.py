"""Convert the one OBJ of a scan ZIP (with its MTL and textures) into a GLB.

Limits come first: faces and vertices are counted by a line scan and textures' header sizes are read
before trimesh parses anything. Materials become glTF PBR with roughness 1.0 and metallic 0.0 (the
API document's matte finish). The orientation rule turns Z-up scans Y-up (see ``up_axis_rotation``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .mtl import MtlMaterial
from .obj_scan import ScanPlan

# Orientation rule thresholds (docs/ingest.md, "Orientation").
FLOOR_TOLERANCE = 0.05  # a base within 5% of the height from 0 counts as resting on the plane
STRADDLE_FRACTION = 0.1  # an axis "straddles" 0 when both sides reach 10% of its extent
TALL_RATIO = 1.5  # Z counts as the height when it is 1.5x the Y extent and the longest axis
Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


class _MtlResolver(trimesh.resolvers.Resolver):
    """Gives trimesh a cleaned MTL (names and colours only) whatever mtllib name it asks for."""

    def __init__(self, mtl_text: str):
        self.mtl_text = mtl_text

    def get(self, key: str) -> bytes:
        return self.mtl_text.encode("utf-8")

    def write(self, name: str, data) -> None:  # never used: conversion writes only the GLB
        raise OSError("read-only")

    def namespaced(self, namespace: str) -> _MtlResolver:
        return self

    def keys(self):
        return []


def _decode(data: bytes | None) -> Image.Image | None:
    if data is None:
        return None
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _pbr(material: MtlMaterial | None, image: Image.Image | None) -> trimesh.visual.material.PBRMaterial:
    # A texture is the colour: exporters that write `Kd 0 0 0` beside map_Kd must not come out black.
    rgb = (1.0, 1.0, 1.0) if image is not None or material is None else material.diffuse
    opacity = material.opacity if material is not None else 1.0
    return trimesh.visual.material.PBRMaterial(
        name=material.name if material is not None else "default",
        baseColorFactor=[*rgb, opacity],
        baseColorTexture=image,
        roughnessFactor=1.0,
        metallicFactor=0.0,
        alphaMode="BLEND" if opacity < 1.0 else "OPAQUE",
        doubleSided=True,  # scans are often open shells; their inside must not vanish
    )


def up_axis_rotation(bounds: np.ndarray) -> np.ndarray | None:
    """The 4x4 float64 rotation turning a Z-up scan Y-up, or None when the scan is taken as Y-up.

    ``bounds`` is (2, 3) float: min and max corners. Rule (first that applies):
    1. Floor: the scan rests on the z=0 plane (min z ~ 0) while Y straddles 0 -> Z-up; the mirror
       case (rests on y=0 while Z straddles 0) -> Y-up. Turntable scanners put the table at 0.
    2. Shape: Z is the longest axis and at least 1.5x the Y extent -> Z-up (upright objects are taller
       than deep; a tall thing lying along Z is the less likely reading).
    3. Otherwise Y-up, glTF's own convention.
    """
    low, high = bounds
    extent = np.maximum(high - low, 1e-12)

    def rests_on_zero(axis: int) -> bool:
        return abs(low[axis]) <= FLOOR_TOLERANCE * extent[axis] and high[axis] > 0

    def straddles_zero(axis: int) -> bool:
        return low[axis] < -STRADDLE_FRACTION * extent[axis] and high[axis] > STRADDLE_FRACTION * extent[axis]

    if rests_on_zero(2) and straddles_zero(1):
        return Z_UP_TO_Y_UP
    if rests_on_zero(1) and straddles_zero(2):
        return None
    if extent[2] >= TALL_RATIO * extent[1] and extent[2] >= extent[0]:
        return Z_UP_TO_Y_UP
    return None


def convert_obj(plan: ScanPlan, out_path: Path) -> list[str]:
    """Write the GLB of one checked OBJ scan (see obj_scan.plan_scan); returns user-visible warnings."""
    warnings = list(plan.warnings)
    materials = plan.materials
    decoded: dict[int, Image.Image | None] = {}  # id(bytes) -> image: a file shared by materials decodes once
    for data in plan.textures.values():
        if data is not None and id(data) not in decoded:
            decoded[id(data)] = _decode(data)
    images = {name: decoded[id(data)] if data is not None else None for name, data in plan.textures.items()}
    cleaned_mtl = "".join(f"newmtl {name}\nKd 1 1 1\n" for name in materials)
    with open(plan.obj_path, "rb") as f:
        scene = trimesh.load(f, file_type="obj", resolver=_MtlResolver(cleaned_mtl), force="scene")
    if not scene.geometry:
        raise DxglError(ErrorCode.INVALID_MODEL, "OBJ holds no readable faces")
    for geometry in scene.geometry.values():
        if not isinstance(geometry, trimesh.Trimesh) or len(geometry.faces) == 0:
            continue
        name = getattr(getattr(geometry.visual, "material", None), "name", None)
        material = materials.get(name) if name is not None else None
        image = images.get(name) if name is not None else None
        uv = getattr(geometry.visual, "uv", None)
        if image is not None and uv is None:
            warnings.append(f'material "{name}" has a texture but the OBJ has no texture coordinates; left untextured')
            image = None
        geometry.visual = trimesh.visual.TextureVisuals(uv=uv, material=_pbr(material, image))
    rotation = up_axis_rotation(scene.bounds)
    if rotation is not None:
        for geometry in scene.geometry.values():
            geometry.apply_transform(rotation)
    out_path.write_bytes(scene.export(file_type="glb"))
    return warnings
