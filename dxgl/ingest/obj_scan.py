"""The checks on an OBJ scan that run before any parser: counts, material files, texture sizes.

Nothing here imports trimesh or numpy, so an over-limit OBJ is refused before the heavy imports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .images import ImageHeader, TextureBudget, read_image_header
from .limits import IngestLimits
from .mtl import MtlMaterial, parse_mtl, texture_basename

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


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
                    raise DxglError(
                        ErrorCode.INVALID_MODEL, f"OBJ has more than {limits.max_obj_vertices:,} vertices (the limit)"
                    )
            elif head == b"f ":
                scan.triangles += max(len(line.split()) - 3, 1)
                if scan.triangles > limits.max_obj_faces:
                    raise DxglError(
                        ErrorCode.INVALID_MODEL, f"OBJ has more than {limits.max_obj_faces:,} triangles (the limit)"
                    )
            elif line.startswith(b"mtllib"):
                name = line[6:].strip().decode("utf-8", "replace")
                if name:
                    scan.mtllibs.append(name)
    if scan.triangles == 0:
        raise DxglError(ErrorCode.INVALID_MODEL, "OBJ has no faces")
    return scan


class ZipFiles:
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


def load_materials(scan: ObjScan, files: ZipFiles, warnings: list[str]) -> dict[str, MtlMaterial]:
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


def checked_texture(
    material: MtlMaterial,
    files: ZipFiles,
    limits: IngestLimits,
    warnings: list[str],
    seen: dict[Path, tuple[bytes, ImageHeader]] | None = None,
) -> bytes | None:
    """The texture file's bytes after its header passed the size check; None (with a warning) if unusable.

    ``seen`` (file -> bytes and header) makes materials that name the same file share one bytes
    object: the converter decodes each distinct file once, and the texture budget counts it once."""
    if material.texture_ref is None:
        return None
    path = files.find(material.texture_ref)
    name = texture_basename(material.texture_ref)
    if path is None or not name.lower().endswith(IMAGE_SUFFIXES):
        warnings.append(f'material "{material.name}" names texture "{name}" which is not in the ZIP; left untextured')
        return None
    if seen is not None and path in seen:
        return seen[path][0]
    data = path.read_bytes()
    try:
        header = read_image_header(data, f'texture "{name}"', limits)  # refuses over-limit sizes before decoding
    except DxglError as exc:
        if "megapixels" in exc.message:
            raise
        warnings.append(f'material "{material.name}": texture "{name}" is not a readable PNG or JPEG; left untextured')
        return None
    if seen is not None:
        seen[path] = (data, header)
    return data


@dataclass
class ScanPlan:
    """Everything checked about an OBJ scan before parsing: what the converter may trust."""

    obj_path: Path
    materials: dict[str, MtlMaterial]
    textures: dict[str, bytes | None]  # material name -> encoded texture whose header passed
    warnings: list[str]


def plan_scan(obj_path: Path, root: Path, extracted: list[PurePosixPath], limits: IngestLimits) -> ScanPlan:
    """Run every pre-parse check of an OBJ scan; raises DxglError on the first limit broken."""
    warnings: list[str] = []
    scan = scan_obj(obj_path, limits)
    files = ZipFiles(root, extracted)
    materials = load_materials(scan, files, warnings)
    seen: dict[Path, tuple[bytes, ImageHeader]] = {}
    textures = {name: checked_texture(m, files, limits, warnings, seen) for name, m in materials.items()}
    budget = TextureBudget(limits)
    for _, header in seen.values():
        budget.add(header)
    budget.check()
    return ScanPlan(obj_path=obj_path, materials=materials, textures=textures, warnings=warnings)
