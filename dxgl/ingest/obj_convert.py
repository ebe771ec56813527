"""Convert the one OBJ of a scan ZIP (with its MTL and textures) into a GLB.

Limits come first: faces and vertices are counted by a line scan and textures' header sizes are read
before trimesh parses anything. Materials become glTF PBR with roughness 1.0 and metallic 0.0 (the
API document's matte finish). The orientation rule turns Z-up scans Y-up (see ``up_axis_rotation``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
import trimesh
from PIL import Image

from dxgl.errors import DxglError

from .images import image_mime
from .limits import IngestLimits
from .mtl import MtlMaterial, parse_mtl, texture_basename

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")
# Orientation rule thresholds (docs/ingest.md, "Orientation").
FLOOR_TOLERANCE = 0.05  # a base within 5% of the height from 0 counts as resting on the plane
STRADDLE_FRACTION = 0.1  # an axis "straddles" 0 when both sides reach 10% of its extent
TALL_RATIO = 1.5  # Z counts as the height when it is 1.5x the Y extent and the longest axis
Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


@dataclass
class ObjScan:
    """What the line scan of an OBJ found."""

    vertices: int = 0
    triangles: int = 0
    mtllibs: list[str] = field(default_factory=list)


def scan_obj(path: Path, limits: IngestLimits) -> ObjScan:
    """Count vertices and triangles (faces fanned) without parsing; refuse over-limit files early."""
    scan = ObjScan()
    with open(path, "rb") as f:
        for line in f:
            head = line[:2]
            if head == b"v ":
                scan.vertices += 1
                if scan.vertices > limits.max_obj_vertices:
                    raise DxglError("invalid_model", f"OBJ has more than {limits.max_obj_vertices:,} vertices (the limit)")
            elif head == b"f ":
                scan.triangles += max(len(line.split()) - 3, 1)
                if scan.triangles > limits.max_obj_faces:
                    raise DxglError("invalid_model", f"OBJ has more than {limits.max_obj_faces:,} triangles (the limit)")
            elif line.startswith(b"mtllib"):
                name = line[6:].strip().decode("utf-8", "replace")
                if name:
                    scan.mtllibs.append(name)
    if scan.triangles == 0:
        raise DxglError("invalid_model", "OBJ has no faces")
    return scan


class _ZipFiles:
    """Files of the extracted ZIP, looked up by basename (case-insensitive) as scan exporters need."""

    def __init__(self, root: Path, files: list[PurePosixPath]):
        self.root = root
        self.by_basename: dict[str, Path] = {}
        for rel in files:
            self.by_basename.setdefault(rel.name.lower(), root.joinpath(*rel.parts))

    def find(self, reference: str) -> Path | None:
        return self.by_basename.get(texture_basename(reference).lower())

    def with_suffix(self, suffix: str) -> list[Path]:
        return [p for name, p in self.by_basename.items() if name.endswith(suffix)]


class _MtlResolver(trimesh.resolvers.Resolver):
    """Gives trimesh a cleaned MTL (names and colours only) whatever mtllib name it asks for."""

    def __init__(self, mtl_text: str):
        self.mtl_text = mtl_text

    def get(self, key: str) -> bytes:
        return self.mtl_text.encode("utf-8")

    def write(self, name: str, data) -> None:  # never used: conversion writes only the GLB
        raise OSError("read-only")

    def namespaced(self, namespace: str) -> "_MtlResolver":
        return self

    def keys(self):
        return []


def _load_materials(scan: ObjScan, files: _ZipFiles, warnings: list[str]) -> dict[str, MtlMaterial]:
    mtl_paths = [p for name in scan.mtllibs if (p := files.find(name)) is not None]
    missing = [name for name in scan.mtllibs if files.find(name) is None]
    for name in missing:
        warnings.append(f'OBJ names material library "{name}" which is not in the ZIP')
    if not scan.mtllibs and len(files.with_suffix(".mtl")) == 1:
        warnings.append("OBJ has no mtllib line; its materials are not applied")
    materials: dict[str, MtlMaterial] = {}
    for path in dict.fromkeys(mtl_paths):
        materials.update(parse_mtl(path.read_bytes().decode("utf-8", "replace")))
    return materials


def _texture_for(material: MtlMaterial, files: _ZipFiles, limits: IngestLimits, warnings: list[str]) -> Image.Image | None:
    if material.texture_ref is None:
        return None
    path = files.find(material.texture_ref)
    name = texture_basename(material.texture_ref)
    if path is None or not name.lower().endswith(IMAGE_SUFFIXES):
        warnings.append(f'material "{material.name}" names texture "{name}" which is not in the ZIP; left untextured')
        return None
    data = path.read_bytes()
    try:
        image_mime(data, f'texture "{name}"', limits)  # refuses over-limit sizes before decoding
    except DxglError as exc:
        if "megapixels" in exc.message:
            raise
        warnings.append(f'material "{material.name}": texture "{name}" is not a readable PNG or JPEG; left untextured')
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


def convert_obj(obj_path: Path, root: Path, extracted: list[PurePosixPath], out_path: Path, limits: IngestLimits) -> list[str]:
    """Write the GLB of one OBJ scan; returns user-visible warnings."""
    warnings: list[str] = []
    scan = scan_obj(obj_path, limits)
    files = _ZipFiles(root, extracted)
    materials = _load_materials(scan, files, warnings)
    images = {name: _texture_for(m, files, limits, warnings) for name, m in materials.items()}
    cleaned_mtl = "".join(f"newmtl {name}\nKd 1 1 1\n" for name in materials)
    with open(obj_path, "rb") as f:
        scene = trimesh.load(f, file_type="obj", resolver=_MtlResolver(cleaned_mtl), force="scene")
    if not scene.geometry:
        raise DxglError("invalid_model", "OBJ holds no readable faces")
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
