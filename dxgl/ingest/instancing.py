"""EXT_mesh_gpu_instancing, and the scene's triangle count.

Each instanced node loses its ``mesh`` and gains one child per instance, placed by that instance's
TRANSLATION / ROTATION / SCALE (in the node's local space, as the extension defines). The triangles
the scene draws, every node showing a mesh and every instance counted, are checked against
``limits.max_scene_triangles`` from the JSON alone, before any copy is made.
"""

from __future__ import annotations

import numpy as np

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .extensions import INSTANCING
from .gltf_doc import GltfDocument, bad
from .limits import IngestLimits

_TRIANGLES, _STRIP, _FAN = 4, 5, 6


def _instancing(node: dict) -> dict | None:
    extensions = node.get("extensions")
    ext = extensions.get(INSTANCING) if isinstance(extensions, dict) else None
    return ext if isinstance(ext, dict) else None


def _instance_count(doc: dict, node: dict, what: str) -> int:
    """How many copies of its mesh ``node`` shows: 1, or the count of its instancing accessors."""
    ext = _instancing(node)
    if ext is None:
        return 1
    attributes = ext.get("attributes")
    accessors = doc.get("accessors") or []
    if not isinstance(attributes, dict) or not attributes:
        raise bad(f"{what}.extensions.{INSTANCING}.attributes must be a non-empty object")
    counts = set()
    for name, index in attributes.items():
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(accessors):
            raise bad(f"{what}.extensions.{INSTANCING}.attributes.{name} = {index!r} is not an accessor")
        counts.add(accessors[index]["count"])
    if len(counts) != 1:
        raise bad(f"{what}.extensions.{INSTANCING}: its attributes have different counts ({sorted(counts)})")
    return counts.pop()


def primitive_triangles(doc: dict, prim: dict) -> int:
    """Triangles one primitive draws, from its declared counts (0 for points and lines)."""
    mode = prim.get("mode", _TRIANGLES)
    accessors = doc.get("accessors") or []
    if "indices" in prim:
        count = accessors[prim["indices"]]["count"]
    elif "POSITION" in prim.get("attributes", {}):
        count = accessors[prim["attributes"]["POSITION"]]["count"]
    else:
        return 0
    if mode == _TRIANGLES:
        return count // 3
    if mode in (_STRIP, _FAN):
        return max(count - 2, 0)
    return 0


def check_scene_triangles(doc: dict, limits: IngestLimits) -> int:
    """The triangles the scene draws (each node's mesh times its instances); raises invalid_model
    above ``limits.max_scene_triangles``."""
    meshes = doc.get("meshes") or []
    per_mesh = [sum(primitive_triangles(doc, prim) for prim in mesh.get("primitives", [])) for mesh in meshes]
    total = 0
    for n, node in enumerate(doc.get("nodes") or []):
        if "mesh" in node:
            total += per_mesh[node["mesh"]] * _instance_count(doc, node, f"nodes[{n}]")
    if total > limits.max_scene_triangles:
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"GLB: the scene draws {total} triangles (meshes times the nodes and instances showing them); "
            f"the limit is {limits.max_scene_triangles}",
        )
    return total


def expand_instancing(doc: GltfDocument, limits: IngestLimits) -> None:
    """Replace every EXT_mesh_gpu_instancing node's mesh by one child node per instance."""
    nodes = doc.array("nodes")
    plans = [
        (n, node, _instance_count(doc.json, node, f"nodes[{n}]")) for n, node in enumerate(nodes) if _instancing(node)
    ]
    if not plans:
        return
    added = sum(count for n, node, count in plans if "mesh" in node)
    if len(nodes) + added > limits.max_nodes:
        raise bad(f"EXT_mesh_gpu_instancing makes {len(nodes) + added} nodes; the limit is {limits.max_nodes}")
    for n, node, count in plans:
        attributes = _instancing(node)["attributes"]  # type: ignore[index]
        del node["extensions"][INSTANCING]
        if not node["extensions"]:
            del node["extensions"]
        if "mesh" not in node:
            continue
        translation = _read(doc, attributes, "TRANSLATION", 3, count, f"nodes[{n}]")
        rotation = _read(doc, attributes, "ROTATION", 4, count, f"nodes[{n}]")
        scale = _read(doc, attributes, "SCALE", 3, count, f"nodes[{n}]")
        if rotation is not None:
            norms = np.linalg.norm(rotation, axis=1, keepdims=True)
            rotation = np.where(norms > 0, rotation / np.maximum(norms, 1e-30), np.array([0, 0, 0, 1], np.float64))
        template = {key: node.pop(key) for key in ("mesh", "skin", "weights") if key in node}
        children = node.setdefault("children", [])
        for i in range(count):
            child = dict(template)
            if translation is not None:
                child["translation"] = translation[i].tolist()
            if rotation is not None:
                child["rotation"] = rotation[i].tolist()
            if scale is not None:
                child["scale"] = scale[i].tolist()
            children.append(len(nodes))
            nodes.append(child)


def _read(doc: GltfDocument, attributes: dict, name: str, width: int, count: int, what: str) -> np.ndarray | None:
    """(count, width) float64 values of one instancing attribute, or None when it is absent."""
    if name not in attributes:
        return None
    values = doc.floats(attributes[name]).astype(np.float64)
    if values.shape != (count, width):
        raise bad(f"{what}.extensions.{INSTANCING}.attributes.{name} must be {width}-component")
    if not np.isfinite(values).all():
        raise bad(f"{what}.extensions.{INSTANCING}.attributes.{name} holds NaN or infinite values")
    return values
