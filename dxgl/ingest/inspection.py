"""inspect_glb: the inspection report of a decoded, normalised GLB (docs/ingest.md, "Inspection report").

Computed once at upload, in the ingest child, from the GLB that renders load, so the counts are
what dxgl draws: every mesh instance the default scene reaches is counted (a mesh used by three
nodes counts three times), after Draco / meshopt decoding and instancing are expanded. The size is
the world-space bounding box of the scene in metres (glTF's unit), from the POSITION accessors'
``min`` / ``max`` (required by glTF 2.0) carried through the node transforms; the data is read only
where an accessor lacks them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .glb import read_glb
from .images import read_image_header
from .limits import DEFAULT_LIMITS, IngestLimits

TRIANGLES, TRIANGLE_STRIP, TRIANGLE_FAN = 4, 5, 6
FORMAT_BY_MIME = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp", "image/ktx2": "ktx2"}


def inspect_glb(
    path: Path,
    *,
    extensions_used: list[str],
    extensions_required: list[str],
    warnings: list[str],
    limits: IngestLimits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """The report for the GLB at ``path``; ``extensions_*`` are the uploaded file's own declarations
    (the decoded GLB has none left), ``warnings`` every note of the conversion and the decoding."""
    contents = read_glb(path, limits)
    doc, blob = contents.document, contents.bin_chunk or b""
    counts = _Counts()
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for mesh_index, world in _mesh_instances(doc):
        for prim in doc["meshes"][mesh_index].get("primitives", []):
            counts.add(doc, prim)
            corners = _position_box(doc, blob, prim)
            if corners is not None:
                moved = corners @ world[:3, :3].T + world[:3, 3]
                lo, hi = np.minimum(lo, moved.min(axis=0)), np.maximum(hi, moved.max(axis=0))
    size = [round(float(v), 6) for v in (hi - lo)] if np.all(np.isfinite(lo)) else [0.0, 0.0, 0.0]
    return {
        "triangles": counts.triangles,
        "vertices": counts.vertices,
        "meshes": len(doc.get("meshes") or []),
        "materials": len(doc.get("materials") or []),
        "textures": [_texture_info(doc, blob, i, limits) for i in range(len(doc.get("images") or []))],
        "extensionsUsed": sorted(set(extensions_used)),
        "extensionsRequired": sorted(set(extensions_required)),
        "sizeMeters": size,
        "hasUVs": counts.has_uvs,
        "hasNormals": counts.has_normals,
        "hasVertexColors": counts.has_colors,
        "animationsIgnored": len(doc.get("animations") or []),
        "warnings": list(warnings),
    }


class _Counts:
    def __init__(self) -> None:
        self.triangles = 0
        self.vertices = 0
        self.has_uvs = self.has_normals = self.has_colors = False

    def add(self, doc: dict[str, Any], prim: dict[str, Any]) -> None:
        attributes = prim.get("attributes") or {}
        accessors = doc.get("accessors") or []
        n_vertices = int(accessors[attributes["POSITION"]]["count"]) if "POSITION" in attributes else 0
        n_indices = int(accessors[prim["indices"]]["count"]) if "indices" in prim else n_vertices
        mode = prim.get("mode", TRIANGLES)
        if mode == TRIANGLES:
            self.triangles += n_indices // 3
        elif mode in (TRIANGLE_STRIP, TRIANGLE_FAN):
            self.triangles += max(n_indices - 2, 0)
        self.vertices += n_vertices
        self.has_uvs |= "TEXCOORD_0" in attributes
        self.has_normals |= "NORMAL" in attributes
        self.has_colors |= "COLOR_0" in attributes


def _mesh_instances(doc: dict[str, Any]) -> list[tuple[int, NDArray[np.float64]]]:
    """(mesh index, 4×4 world matrix) for every node with a mesh that the default scene reaches
    (every root node when the file names no scene)."""
    nodes = doc.get("nodes") or []
    scenes = doc.get("scenes") or []
    if scenes:
        roots = list(scenes[int(doc.get("scene", 0))].get("nodes") or [])
    else:
        children = {c for n in nodes for c in n.get("children") or []}
        roots = [i for i in range(len(nodes)) if i not in children]
    found: list[tuple[int, NDArray[np.float64]]] = []
    stack: list[tuple[int, NDArray[np.float64]]] = [(r, np.eye(4)) for r in roots]
    seen: set[int] = set()
    while stack:
        index, parent = stack.pop()
        if index in seen:  # validated files have no cycles; never loop on one anyway
            continue
        seen.add(index)
        node = nodes[index]
        world = parent @ _local_matrix(node)
        if "mesh" in node:
            found.append((int(node["mesh"]), world))
        stack.extend((int(c), world) for c in node.get("children") or [])
    return found


def _local_matrix(node: dict[str, Any]) -> NDArray[np.float64]:
    """A node's 4×4 local transform: its ``matrix`` (column-major) or T·R·S."""
    if "matrix" in node:
        return np.asarray(node["matrix"], dtype=np.float64).reshape(4, 4).T
    x, y, z, w = (float(v) for v in node.get("rotation", (0, 0, 0, 1)))
    rotation = np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )
    matrix = np.eye(4)
    matrix[:3, :3] = rotation * np.asarray(node.get("scale", (1, 1, 1)), dtype=np.float64)
    matrix[:3, 3] = np.asarray(node.get("translation", (0, 0, 0)), dtype=np.float64)
    return matrix


def _position_box(doc: dict[str, Any], blob: bytes, prim: dict[str, Any]) -> NDArray[np.float64] | None:
    """The 8 corners (8×3) of a primitive's local bounding box, or None without positions."""
    index = (prim.get("attributes") or {}).get("POSITION")
    if index is None:
        return None
    accessor = doc["accessors"][index]
    if "min" in accessor and "max" in accessor:
        lo, hi = np.asarray(accessor["min"][:3], dtype=np.float64), np.asarray(accessor["max"][:3], dtype=np.float64)
    else:
        points = _read_float_vec3(doc, blob, accessor)
        if points is None or not len(points):
            return None
        lo, hi = points.min(axis=0), points.max(axis=0)
    return np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]] for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def _read_float_vec3(doc: dict[str, Any], blob: bytes, accessor: dict[str, Any]) -> NDArray[np.float64] | None:
    """An N×3 float32 accessor's data (the only POSITION type a decoded GLB holds), or None."""
    if "bufferView" not in accessor or accessor.get("componentType") != 5126:
        return None
    view = doc["bufferViews"][accessor["bufferView"]]
    stride = int(view.get("byteStride") or 12)
    start = int(view.get("byteOffset", 0)) + int(accessor.get("byteOffset", 0))
    count = int(accessor["count"])
    raw = np.frombuffer(blob, dtype=np.uint8, count=max(stride * (count - 1) + 12, 0), offset=start)
    rows = np.lib.stride_tricks.as_strided(raw, shape=(count, 12), strides=(stride, 1))
    return np.ascontiguousarray(rows).view(np.float32).reshape(count, 3).astype(np.float64)


def _texture_info(doc: dict[str, Any], blob: bytes, index: int, limits: IngestLimits) -> dict[str, Any]:
    image = doc["images"][index]
    view = doc["bufferViews"][image["bufferView"]]
    start = int(view.get("byteOffset", 0))
    header = read_image_header(blob[start : start + int(view["byteLength"])], f"images[{index}]", limits)
    return {"width": header.width, "height": header.height, "format": FORMAT_BY_MIME.get(header.mime, header.mime)}
