"""Structural checks of a glTF 2.0 document before any renderer trusts it.

Covers what a hostile file uses to crash or exhaust a loader: indices out of range, buffer views and
accessors that reach past their buffers, absurd element counts, node cycles and shared children.
"""

from __future__ import annotations

from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import IngestLimits

COMPONENT_SIZES = {5120: 1, 5121: 1, 5122: 2, 5123: 2, 5125: 4, 5126: 4}
TYPE_COMPONENTS = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4, "MAT2": 4, "MAT3": 9, "MAT4": 16}
TOP_LEVEL_ARRAYS = (
    "accessors",
    "animations",
    "buffers",
    "bufferViews",
    "cameras",
    "images",
    "materials",
    "meshes",
    "nodes",
    "samplers",
    "scenes",
    "skins",
    "textures",
)
MATERIAL_TEXTURE_SLOTS = (
    ("pbrMetallicRoughness", "baseColorTexture"),
    ("pbrMetallicRoughness", "metallicRoughnessTexture"),
    (None, "normalTexture"),
    (None, "occlusionTexture"),
    (None, "emissiveTexture"),
)


def _bad(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, f"glTF: {message}")


def _int(value: Any, what: str, minimum: int = 0) -> int:
    # bool is an int subclass in Python; JSON true is never a valid index or length.
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _bad(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def _index(value: Any, what: str, array: list) -> int:
    index = _int(value, what)
    if index >= len(array):
        raise _bad(f"{what} = {index} points past the {len(array)} available")
    return index


def _array(doc: dict, key: str, limits: IngestLimits) -> list:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise _bad(f"'{key}' must be an array of objects")
    if len(value) > limits.max_gltf_items:
        raise _bad(f"'{key}' has {len(value)} entries; the limit is {limits.max_gltf_items}")
    return value


def validate_document(doc: dict, buffer_sizes: list[int], limits: IngestLimits) -> None:
    """Raise DxglError invalid_model unless ``doc`` is a structurally safe glTF 2.0 document.

    ``buffer_sizes[i]`` is the number of bytes really available for buffer i.
    """
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise _bad("asset.version must be 2.x")
    arrays = {key: _array(doc, key, limits) for key in TOP_LEVEL_ARRAYS}
    _check_buffers(arrays, buffer_sizes)
    _check_accessors(arrays, limits)
    _check_meshes(arrays)
    _check_textures(arrays)
    _check_nodes(doc, arrays, limits)


def _check_buffers(arrays: dict[str, list], buffer_sizes: list[int]) -> None:
    buffers = arrays["buffers"]
    for i, buffer in enumerate(buffers):
        length = _int(buffer.get("byteLength"), f"buffers[{i}].byteLength")
        available = buffer_sizes[i] if i < len(buffer_sizes) else 0
        if length > available:
            raise _bad(f"buffers[{i}] declares {length} bytes but only {available} are present")
    for i, view in enumerate(arrays["bufferViews"]):
        b = _index(view.get("buffer"), f"bufferViews[{i}].buffer", buffers)
        offset = _int(view.get("byteOffset", 0), f"bufferViews[{i}].byteOffset")
        length = _int(view.get("byteLength"), f"bufferViews[{i}].byteLength", 1)
        if offset + length > buffers[b]["byteLength"]:
            raise _bad(
                f"bufferViews[{i}] reaches byte {offset + length} of buffers[{b}], which has {buffers[b]['byteLength']}"
            )
        if "byteStride" in view:
            stride = _int(view["byteStride"], f"bufferViews[{i}].byteStride", 4)
            if stride > 252:
                raise _bad(f"bufferViews[{i}].byteStride {stride} exceeds 252")


def _check_accessors(arrays: dict[str, list], limits: IngestLimits) -> None:
    views = arrays["bufferViews"]
    for i, acc in enumerate(arrays["accessors"]):
        what = f"accessors[{i}]"
        count = _int(acc.get("count"), f"{what}.count", 1)
        if count > limits.max_accessor_count:
            raise _bad(f"{what}.count = {count} exceeds the limit of {limits.max_accessor_count}")
        ctype = acc.get("componentType")
        if ctype not in COMPONENT_SIZES:
            raise _bad(f"{what}.componentType {ctype!r} is not a glTF component type")
        atype = acc.get("type")
        if atype not in TYPE_COMPONENTS:
            raise _bad(f"{what}.type {atype!r} is not a glTF accessor type")
        element = COMPONENT_SIZES[ctype] * TYPE_COMPONENTS[atype]
        if "bufferView" in acc:
            v = _index(acc["bufferView"], f"{what}.bufferView", views)
            offset = _int(acc.get("byteOffset", 0), f"{what}.byteOffset")
            stride = views[v].get("byteStride", element)
            end = offset + stride * (count - 1) + element
            if end > views[v]["byteLength"]:
                raise _bad(f"{what} needs {end} bytes but bufferViews[{v}] has {views[v]['byteLength']}")
        sparse = acc.get("sparse")
        if sparse is not None:
            if not isinstance(sparse, dict):
                raise _bad(f"{what}.sparse must be an object")
            scount = _int(sparse.get("count"), f"{what}.sparse.count", 1)
            if scount > count:
                raise _bad(f"{what}.sparse.count {scount} exceeds the accessor count {count}")
            for part, size in (
                ("indices", COMPONENT_SIZES.get((sparse.get("indices") or {}).get("componentType"), 4)),
                ("values", element),
            ):
                block = sparse.get(part)
                if not isinstance(block, dict):
                    raise _bad(f"{what}.sparse.{part} must be an object")
                v = _index(block.get("bufferView"), f"{what}.sparse.{part}.bufferView", views)
                end = _int(block.get("byteOffset", 0), f"{what}.sparse.{part}.byteOffset") + size * scount
                if end > views[v]["byteLength"]:
                    raise _bad(
                        f"{what}.sparse.{part} needs {end} bytes but bufferViews[{v}] has {views[v]['byteLength']}"
                    )


def _check_meshes(arrays: dict[str, list]) -> None:
    accessors, materials = arrays["accessors"], arrays["materials"]
    for m, mesh in enumerate(arrays["meshes"]):
        primitives = mesh.get("primitives")
        if not isinstance(primitives, list) or not primitives:
            raise _bad(f"meshes[{m}].primitives must be a non-empty array")
        for p, prim in enumerate(primitives):
            what = f"meshes[{m}].primitives[{p}]"
            if not isinstance(prim, dict) or not isinstance(prim.get("attributes"), dict):
                raise _bad(f"{what}.attributes must be an object")
            for name, acc in prim["attributes"].items():
                _index(acc, f"{what}.attributes.{name}", accessors)
            if "indices" in prim:
                _index(prim["indices"], f"{what}.indices", accessors)
            if "material" in prim:
                _index(prim["material"], f"{what}.material", materials)


def _check_textures(arrays: dict[str, list]) -> None:
    images, views = arrays["images"], arrays["bufferViews"]
    for i, image in enumerate(images):
        if "bufferView" in image:
            _index(image["bufferView"], f"images[{i}].bufferView", views)
    for t, texture in enumerate(arrays["textures"]):
        if "source" in texture:
            _index(texture["source"], f"textures[{t}].source", images)
        if "sampler" in texture:
            _index(texture["sampler"], f"textures[{t}].sampler", arrays["samplers"])
    for m, material in enumerate(arrays["materials"]):
        for parent, slot in MATERIAL_TEXTURE_SLOTS:
            holder = material.get(parent, {}) if parent else material
            info = holder.get(slot) if isinstance(holder, dict) else None
            if info is not None:
                if not isinstance(info, dict):
                    raise _bad(f"materials[{m}].{slot} must be an object")
                _index(info.get("index"), f"materials[{m}].{slot}.index", arrays["textures"])


def _check_nodes(doc: dict, arrays: dict[str, list], limits: IngestLimits) -> None:
    nodes = arrays["nodes"]
    if len(nodes) > limits.max_nodes:
        raise _bad(f"{len(nodes)} nodes exceed the limit of {limits.max_nodes}")
    parent_of: dict[int, int] = {}
    for n, node in enumerate(nodes):
        if "mesh" in node:
            _index(node["mesh"], f"nodes[{n}].mesh", arrays["meshes"])
        children = node.get("children", [])
        if not isinstance(children, list):
            raise _bad(f"nodes[{n}].children must be an array")
        for child in children:
            c = _index(child, f"nodes[{n}].children", nodes)
            if c == n:
                raise _bad(f"nodes[{n}] is its own child (node cycle)")
            if c in parent_of:
                raise _bad(f"nodes[{c}] has two parents (nodes[{parent_of[c]}] and nodes[{n}])")
            parent_of[c] = n
    # With at most one parent each, a cycle shows as a walk upwards that returns to a node of the
    # same walk. Nodes already proven to reach a root are not walked again, so this is O(nodes).
    reaches_root: set[int] = set()
    for start in range(len(nodes)):
        walk: set[int] = set()
        current: int | None = start
        while current is not None and current not in reaches_root:
            if current in walk:
                raise _bad(f"node cycle through nodes[{current}]")
            walk.add(current)
            current = parent_of.get(current)
        reaches_root |= walk
    for s, scene in enumerate(arrays["scenes"]):
        roots = scene.get("nodes", [])
        if not isinstance(roots, list):
            raise _bad(f"scenes[{s}].nodes must be an array")
        for root in roots:
            r = _index(root, f"scenes[{s}].nodes", nodes)
            if r in parent_of:
                raise _bad(f"scenes[{s}] lists nodes[{r}] as a root but it is a child of nodes[{parent_of[r]}]")
    if "scene" in doc:
        _index(doc["scene"], "scene", arrays["scenes"])
