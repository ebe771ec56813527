"""STL and PLY uploads into one GLB, and the small GLB writer the STL, PLY and USD converters share.

The declared counts are checked before trimesh parses anything: a binary STL's triangle count (and
the exact size rule, 84 + 50 x count bytes), a PLY header's element counts (and, for binary PLY, the
smallest file those counts need; for ASCII PLY, one line per element). Orientation and units
(docs/ingest.md, "Formats"): STL is Z-up millimetres (3D printing and CAD), turned Y-up and scaled to
metres; PLY is metres and gets the OBJ scans' orientation rule (``obj_convert.up_axis_rotation``).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .glb import write_glb
from .limits import IngestLimits

STL_HEADER_BYTES = 80
STL_RECORD_BYTES = 50  # normal, three vertices (12 float32) and a uint16 attribute count
STL_MM_TO_M = 0.001
PLY_MAX_HEADER_BYTES = 64 * 1024  # a module constant: IngestLimits has no PLY field
PLY_TYPE_BYTES = {
    "char": 1,
    "int8": 1,
    "uchar": 1,
    "uint8": 1,
    "short": 2,
    "int16": 2,
    "ushort": 2,
    "uint16": 2,
    "int": 4,
    "int32": 4,
    "uint": 4,
    "uint32": 4,
    "float": 4,
    "float32": 4,
    "double": 8,
    "float64": 8,
}
PLY_FORMATS = ("ascii", "binary_little_endian", "binary_big_endian")
Z_UP_TO_Y_UP = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, -1, 0, 0], [0, 0, 0, 1]], dtype=np.float64)


def _bad(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, message)


# --- the GLB writer -------------------------------------------------------------------------------


@dataclass
class Texture:
    """An encoded PNG or JPEG whose header passed the size checks, embedded as-is."""

    data: bytes
    mime: str


@dataclass
class Material:
    """The glTF metallic-roughness material of a converted part."""

    name: str = "default"
    base_color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)
    metallic: float = 0.0
    roughness: float = 1.0
    double_sided: bool = True
    alpha_mode: str = "OPAQUE"
    alpha_cutoff: float | None = None
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    base_color_texture: Texture | None = None
    metallic_roughness_texture: Texture | None = None  # G roughness, B metallic
    normal_texture: Texture | None = None
    emissive_texture: Texture | None = None


@dataclass
class Part:
    """One glTF primitive in metres, Y-up: positions (N, 3) float32, triangles (M, 3) uint32,
    optional normals (N, 3), glTF texture coordinates (N, 2) (v down) and colours (N, 4) uint8."""

    positions: np.ndarray
    triangles: np.ndarray
    material: Material
    normals: np.ndarray | None = None
    uv: np.ndarray | None = None
    colors: np.ndarray | None = None
    name: str = ""


@dataclass
class _Builder:
    chunks: list[bytes] = field(default_factory=list)
    length: int = 0
    doc: dict = field(
        default_factory=lambda: {
            "asset": {"version": "2.0", "generator": "dxgl ingest"},
            "scene": 0,
            "scenes": [{"nodes": []}],
            "nodes": [],
            "meshes": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [],
        }
    )

    def view(self, data: bytes, target: int | None = None) -> int:
        pad = -self.length % 4
        if pad:
            self.chunks.append(b"\x00" * pad)
            self.length += pad
        view: dict = {"buffer": 0, "byteOffset": self.length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.chunks.append(data)
        self.length += len(data)
        self.doc["bufferViews"].append(view)
        return len(self.doc["bufferViews"]) - 1

    def accessor(self, array: np.ndarray, kind: str, component: int, *, target: int, **extra) -> int:
        view = self.view(np.ascontiguousarray(array).tobytes(), target)
        accessor = {"bufferView": view, "componentType": component, "count": len(array), "type": kind, **extra}
        self.doc["accessors"].append(accessor)
        return len(self.doc["accessors"]) - 1


def write_parts_glb(parts: list[Part], out_path: Path) -> None:
    """Write ``parts`` as one self-contained GLB 2.0: one mesh and node per part, images embedded
    once each (by identity), COLOR_0 as normalized unsigned bytes."""
    b = _Builder()
    images: dict[int, int] = {}
    materials: dict[int, int] = {}

    def texture(tex: Texture) -> dict:
        if id(tex.data) not in images:
            b.doc.setdefault("images", []).append({"bufferView": b.view(tex.data), "mimeType": tex.mime})
            b.doc.setdefault("textures", []).append({"source": len(b.doc["images"]) - 1, "sampler": 0})
            b.doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987, "wrapS": 10497, "wrapT": 10497}]
            images[id(tex.data)] = len(b.doc["textures"]) - 1
        return {"index": images[id(tex.data)]}

    def material(m: Material) -> int:
        if id(m) in materials:
            return materials[id(m)]
        pbr: dict = {"baseColorFactor": [float(c) for c in m.base_color]}
        pbr["metallicFactor"] = float(m.metallic)
        pbr["roughnessFactor"] = float(m.roughness)
        if m.base_color_texture is not None:
            pbr["baseColorTexture"] = texture(m.base_color_texture)
        if m.metallic_roughness_texture is not None:
            pbr["metallicRoughnessTexture"] = texture(m.metallic_roughness_texture)
        entry: dict = {"name": m.name, "pbrMetallicRoughness": pbr, "doubleSided": bool(m.double_sided)}
        entry["alphaMode"] = m.alpha_mode
        if m.alpha_mode == "MASK" and m.alpha_cutoff is not None:
            entry["alphaCutoff"] = float(m.alpha_cutoff)
        if m.normal_texture is not None:
            entry["normalTexture"] = texture(m.normal_texture)
        if any(m.emissive) or m.emissive_texture is not None:
            entry["emissiveFactor"] = [float(c) for c in m.emissive] if any(m.emissive) else [1.0, 1.0, 1.0]
            if m.emissive_texture is not None:
                entry["emissiveTexture"] = texture(m.emissive_texture)
        b.doc.setdefault("materials", []).append(entry)
        materials[id(m)] = len(b.doc["materials"]) - 1
        return materials[id(m)]

    for part in parts:
        if len(part.triangles) == 0:
            continue
        positions = np.asarray(part.positions, dtype=np.float32)
        attributes = {
            "POSITION": b.accessor(
                positions, "VEC3", 5126, target=34962, min=positions.min(0).tolist(), max=positions.max(0).tolist()
            )
        }
        if part.normals is not None:
            attributes["NORMAL"] = b.accessor(np.asarray(part.normals, dtype=np.float32), "VEC3", 5126, target=34962)
        if part.uv is not None:
            attributes["TEXCOORD_0"] = b.accessor(np.asarray(part.uv, dtype=np.float32), "VEC2", 5126, target=34962)
        if part.colors is not None:
            colors = np.asarray(part.colors, dtype=np.uint8)
            attributes["COLOR_0"] = b.accessor(colors, "VEC4", 5121, target=34962, normalized=True)
        indices = np.asarray(part.triangles, dtype=np.uint32).reshape(-1)
        primitive = {
            "attributes": attributes,
            "indices": b.accessor(indices, "SCALAR", 5125, target=34963),
            "material": material(part.material),
            "mode": 4,
        }
        b.doc["meshes"].append({"name": part.name or f"mesh{len(b.doc['meshes'])}", "primitives": [primitive]})
        b.doc["nodes"].append({"mesh": len(b.doc["meshes"]) - 1, "name": part.name or f"node{len(b.doc['nodes'])}"})
        b.doc["scenes"][0]["nodes"].append(len(b.doc["nodes"]) - 1)
    if not b.doc["meshes"]:
        raise _bad("the model has no triangles")
    b.doc["buffers"] = [{"byteLength": b.length}]
    write_glb(out_path, b.doc, b"".join(b.chunks))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """(N, 3) points through a 4x4 column-vector matrix."""
    return np.asarray(points, dtype=np.float64) @ matrix[:3, :3].T + matrix[:3, 3]


# --- STL ------------------------------------------------------------------------------------------


def check_stl(path: Path, limits: IngestLimits, label: str) -> str:
    """Refuse an STL whose declared size breaks a limit before any parser; returns "binary" or "ascii"."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(4096)
    from .sniff import is_ascii_stl

    if is_ascii_stl(head) and not _exact_binary_stl(head, size):
        _check_ascii_stl(path, limits, label)
        return "ascii"
    if size < STL_HEADER_BYTES + 4:
        raise _bad(f"{label}: a binary STL needs at least 84 bytes; the file has {size}")
    (count,) = struct.unpack_from("<I", head, STL_HEADER_BYTES)
    if count > limits.max_obj_faces:
        raise _bad(f"{label}: the STL declares {count:,} triangles; the limit is {limits.max_obj_faces:,}")
    if count == 0:
        raise _bad(f"{label}: the STL has no triangles")
    need = STL_HEADER_BYTES + 4 + STL_RECORD_BYTES * count
    if need != size:
        raise _bad(
            f"{label}: the binary STL declares {count:,} triangles ({need:,} bytes) but the file has {size:,} bytes"
        )
    return "binary"


def _exact_binary_stl(head: bytes, size: int) -> bool:
    if len(head) < STL_HEADER_BYTES + 4:
        return False
    (count,) = struct.unpack_from("<I", head, STL_HEADER_BYTES)
    return count > 0 and size == STL_HEADER_BYTES + 4 + STL_RECORD_BYTES * count


def _check_ascii_stl(path: Path, limits: IngestLimits, label: str) -> None:
    facets = 0
    with open(path, "rb") as f:
        for line in f:
            if line.lstrip().startswith(b"facet"):
                facets += 1
                if facets > limits.max_obj_faces:
                    raise _bad(f"{label}: the STL has more than {limits.max_obj_faces:,} triangles (the limit)")
    if facets == 0:
        raise _bad(f"{label}: the STL has no facets")


def convert_stl(path: Path, out_path: Path, limits: IngestLimits, label: str) -> list[str]:
    """Write the GLB of one STL (binary or ASCII). Z-up millimetres -> Y-up metres."""
    import trimesh

    check_stl(path, limits, label)
    with open(path, "rb") as f:
        mesh = trimesh.load(f, file_type="stl", process=False, force="mesh")
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64)
    if len(faces) == 0:
        raise _bad(f"{label}: the STL has no readable triangles")
    if len(faces) > limits.max_obj_faces:
        raise _bad(f"{label}: the STL has more than {limits.max_obj_faces:,} triangles (the limit)")
    vertices = np.asarray(mesh.vertices, dtype=np.float64)
    if not np.isfinite(vertices).all():
        raise _bad(f"{label}: the STL has NaN or infinite coordinates")
    fix = Z_UP_TO_Y_UP.copy()
    fix[:3, :3] *= STL_MM_TO_M
    # No normals written: each triangle keeps its own three corners, so it shades flat, as CAD parts should.
    # Double-sided: hand-made STLs often have faces wound the wrong way round.
    material = Material(name="stl", base_color=(0.8, 0.8, 0.8, 1.0), roughness=0.6, double_sided=True)
    part = Part(transform_points(vertices, fix).astype(np.float32), faces.astype(np.uint32), material, name="stl")
    write_parts_glb([part], out_path)
    return []


# --- PLY ------------------------------------------------------------------------------------------


@dataclass
class PlyElement:
    name: str
    count: int
    min_record_bytes: int = 0  # list properties count their length field only
    properties: list[str] = field(default_factory=list)


@dataclass
class PlyHeader:
    format: str
    header_bytes: int
    elements: list[PlyElement]
    comments: list[str]

    def count(self, name: str) -> int:
        return sum(e.count for e in self.elements if e.name == name)


def read_ply_header(path: Path, label: str) -> PlyHeader:
    """Parse a PLY header (ASCII, at most PLY_MAX_HEADER_BYTES) without reading the body."""
    with open(path, "rb") as f:
        head = f.read(PLY_MAX_HEADER_BYTES)
    end = -1
    for marker in (b"end_header\n", b"end_header\r\n"):
        found = head.find(marker)
        if found >= 0 and (end < 0 or found < end):
            end, end_len = found, len(marker)
    if end < 0:
        raise _bad(f"{label}: the PLY header has no end_header within {PLY_MAX_HEADER_BYTES // 1024} KB")
    text = head[:end].decode("ascii", "replace")
    lines = text.replace("\r\n", "\n").split("\n")
    if lines[0].strip() != "ply":
        raise _bad(f"{label}: not a PLY file")
    fmt = ""
    elements: list[PlyElement] = []
    comments: list[str] = []
    for line in lines[1:]:
        words = line.split()
        if not words:
            continue
        if words[0] == "format":
            fmt = words[1] if len(words) > 1 else ""
        elif words[0] in ("comment", "obj_info"):
            comments.append(line.partition(" ")[2])
        elif words[0] == "element":
            if len(words) != 3 or not words[2].isdigit():
                raise _bad(f"{label}: bad PLY element line {line.strip()[:80]!r}")
            elements.append(PlyElement(words[1], int(words[2])))
        elif words[0] == "property":
            if not elements:
                raise _bad(f"{label}: a PLY property comes before any element")
            element = elements[-1]
            if len(words) == 5 and words[1] == "list":
                if words[2] not in PLY_TYPE_BYTES or words[3] not in PLY_TYPE_BYTES:
                    raise _bad(f"{label}: unknown PLY property type in {line.strip()[:80]!r}")
                element.min_record_bytes += PLY_TYPE_BYTES[words[2]]
            elif len(words) == 3 and words[1] in PLY_TYPE_BYTES:
                element.min_record_bytes += PLY_TYPE_BYTES[words[1]]
            else:
                raise _bad(f"{label}: bad PLY property line {line.strip()[:80]!r}")
            element.properties.append(words[-1])
    if fmt not in PLY_FORMATS:
        raise _bad(f"{label}: unknown PLY format {fmt!r} (ascii, binary_little_endian or binary_big_endian)")
    return PlyHeader(fmt, end + end_len, elements, comments)


def check_ply(path: Path, limits: IngestLimits, label: str) -> PlyHeader:
    """Refuse a PLY whose header breaks a limit or declares more than the file holds, before any parser."""
    header = read_ply_header(path, label)
    vertices, faces = header.count("vertex"), header.count("face")
    if vertices > limits.max_obj_vertices:
        raise _bad(f"{label}: the PLY declares {vertices:,} vertices; the limit is {limits.max_obj_vertices:,}")
    if faces > limits.max_obj_faces:
        raise _bad(f"{label}: the PLY declares {faces:,} faces; the limit is {limits.max_obj_faces:,} triangles")
    if faces == 0 or vertices == 0:
        raise _bad(f"{label}: the PLY has no faces (a point cloud?); only meshes can be rendered")
    size = path.stat().st_size
    body = size - header.header_bytes
    if header.format == "ascii":
        records = sum(e.count for e in header.elements)
        lines = _count_lines(path, header.header_bytes, records)
        if lines < records:
            raise _bad(
                f"{label}: the PLY header declares {vertices:,} vertices and {faces:,} faces "
                f"but the file holds only {lines:,} lines of data"
            )
    else:
        need = sum(e.count * e.min_record_bytes for e in header.elements)
        if need > body:
            raise _bad(
                f"{label}: the PLY header declares {vertices:,} vertices and {faces:,} faces "
                f"(at least {need:,} bytes) but the file holds only {body:,} bytes of data"
            )
    return header


def _count_lines(path: Path, offset: int, enough: int) -> int:
    """Non-empty lines after ``offset``, counted up to ``enough`` (a final line without newline counts)."""
    lines = 0
    last = b"\n"
    with open(path, "rb") as f:
        f.seek(offset)
        while lines < enough and (chunk := f.read(1024 * 1024)):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return lines


class _NoFiles:
    """A trimesh resolver that reads nothing: a PLY's TextureFile comment must not open a file."""

    def get(self, name: str) -> bytes:
        raise OSError("PLY textures are not read")

    def namespaced(self, namespace: str) -> _NoFiles:
        return self

    def keys(self):
        return []

    def write(self, name: str, data) -> None:
        raise OSError("read-only")


def convert_ply(path: Path, out_path: Path, limits: IngestLimits, label: str) -> list[str]:
    """Write the GLB of one PLY mesh (ASCII or binary), vertex colours as COLOR_0. Metres; the OBJ
    scans' orientation rule decides Z-up or Y-up."""
    import trimesh

    from .obj_convert import up_axis_rotation

    header = check_ply(path, limits, label)
    warnings: list[str] = []
    if any(c.lower().startswith("texturefile") for c in header.comments):
        warnings.append(f"{label}: the PLY names a texture file; PLY textures are not read (vertex colours are)")
    with open(path, "rb") as f:
        mesh = trimesh.load(f, file_type="ply", process=False, force="mesh", resolver=_NoFiles(), skip_materials=True)
    faces = np.asarray(getattr(mesh, "faces", np.zeros((0, 3))), dtype=np.int64).reshape(-1, 3)
    vertices = np.asarray(getattr(mesh, "vertices", np.zeros((0, 3))), dtype=np.float64)
    if len(faces) == 0:
        raise _bad(f"{label}: the PLY has no readable faces")
    if len(faces) > limits.max_obj_faces:
        raise _bad(f"{label}: the PLY has more than {limits.max_obj_faces:,} triangles (the limit)")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise _bad(f"{label}: a PLY face names a vertex that does not exist")
    if not np.isfinite(vertices).all():
        raise _bad(f"{label}: the PLY has NaN or infinite coordinates")
    colors = None
    visual = mesh.visual
    kind = getattr(visual, "kind", None)
    if kind == "vertex":
        colors = np.asarray(visual.vertex_colors, dtype=np.uint8)
    elif kind == "face":  # one colour per face: each face gets its own corners
        colors = np.repeat(np.asarray(visual.face_colors, dtype=np.uint8), 3, axis=0)
        vertices = vertices[faces.reshape(-1)]
        faces = np.arange(len(vertices), dtype=np.int64).reshape(-1, 3)
    rotation = up_axis_rotation(np.stack([vertices.min(0), vertices.max(0)]))
    normals = trimesh.Trimesh(vertices, faces, process=False).vertex_normals
    if rotation is not None:
        vertices = transform_points(vertices, rotation)
        normals = normals @ rotation[:3, :3].T
    translucent = colors is not None and bool((colors[:, 3] < 255).any())
    material = Material(name="ply", roughness=1.0, alpha_mode="BLEND" if translucent else "OPAQUE")
    if colors is None:
        material.base_color = (0.8, 0.8, 0.8, 1.0)
    part = Part(
        vertices.astype(np.float32),
        faces.astype(np.uint32),
        material,
        normals=np.asarray(normals, dtype=np.float32),
        colors=colors,
        name="ply",
    )
    write_parts_glb([part], out_path)
    return warnings
