"""Structural checks of a glTF 2.0 document before any renderer trusts it.

Covers what a hostile file uses to crash or exhaust a loader: indices out of range, buffer views and
accessors that reach past their buffers, absurd element counts, node cycles and shared children.
"""

from __future__ import annotations

from typing import Any

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .extensions import MESHOPT
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


MESHOPT_MODES = ("ATTRIBUTES", "TRIANGLES", "INDICES")
# Filter -> the byte strides it is defined for (None: any multiple of 4).
MESHOPT_FILTER_STRIDES: dict[str, tuple[int, ...] | None] = {
    "NONE": None,
    "OCTAHEDRAL": (4, 8),
    "QUATERNION": (8,),
    "EXPONENTIAL": None,
}


def is_fallback_buffer(buffer: object) -> bool:
    """True for an EXT_meshopt_compression fallback buffer without a uri: a legal buffer that holds no
    bytes at all (every view into it is decoded from the compressed data its extension points at)."""
    if not isinstance(buffer, dict) or "uri" in buffer:
        return False
    extensions = buffer.get("extensions")
    ext = extensions.get(MESHOPT) if isinstance(extensions, dict) else None
    return isinstance(ext, dict) and ext.get("fallback") is True


def validate_document(doc: dict, buffer_sizes: list[int | None], limits: IngestLimits) -> None:
    """Raise DxglError invalid_model unless ``doc`` is a structurally safe glTF 2.0 document.

    ``buffer_sizes[i]`` is the number of bytes really available for buffer i, or None for an
    EXT_meshopt_compression fallback buffer (no bytes: each of its views must be meshopt-compressed).
    """
    asset = doc.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise _bad("asset.version must be 2.x")
    arrays = {key: _array(doc, key, limits) for key in TOP_LEVEL_ARRAYS}
    _check_buffers(arrays, buffer_sizes)
    _check_meshopt_views(arrays, buffer_sizes, limits)
    _check_accessors(arrays, limits)
    _check_meshes(arrays)
    _check_textures(arrays, buffer_sizes)
    _check_nodes(doc, arrays, limits)


def _check_buffers(arrays: dict[str, list], buffer_sizes: list[int | None]) -> None:
    buffers = arrays["buffers"]
    for i, buffer in enumerate(buffers):
        length = _int(buffer.get("byteLength"), f"buffers[{i}].byteLength")
        available = buffer_sizes[i] if i < len(buffer_sizes) else 0
        if available is None:
            if not is_fallback_buffer(buffer):
                raise _bad(f"buffers[{i}] has no data and is not an {MESHOPT} fallback buffer")
            continue
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
        if b < len(buffer_sizes) and buffer_sizes[b] is None and not isinstance(meshopt_of(view), dict):
            raise _bad(f"bufferViews[{i}] lies in the fallback buffers[{b}] but is not {MESHOPT}-compressed")


def meshopt_of(view: dict) -> object:
    """A buffer view's EXT_meshopt_compression object (None when it has none)."""
    extensions = view.get("extensions")
    return extensions.get(MESHOPT) if isinstance(extensions, dict) else None


def _check_meshopt_views(arrays: dict[str, list], buffer_sizes: list[int | None], limits: IngestLimits) -> None:
    """The EXT_meshopt_compression object of each view: its compressed bytes lie inside a buffer that
    has data, and what it declares to decode (count x byteStride) is bounded and fills the view exactly."""
    buffers = arrays["buffers"]
    for i, view in enumerate(arrays["bufferViews"]):
        ext = meshopt_of(view)
        if ext is None:
            continue
        what = f"bufferViews[{i}].extensions.{MESHOPT}"
        if not isinstance(ext, dict):
            raise _bad(f"{what} must be an object")
        b = _index(ext.get("buffer"), f"{what}.buffer", buffers)
        if b >= len(buffer_sizes) or buffer_sizes[b] is None:
            raise _bad(f"{what}.buffer = {b} is a buffer without data")
        offset = _int(ext.get("byteOffset", 0), f"{what}.byteOffset")
        length = _int(ext.get("byteLength"), f"{what}.byteLength", 1)
        if offset + length > buffers[b]["byteLength"]:
            raise _bad(f"{what} reaches byte {offset + length} of buffers[{b}], which has {buffers[b]['byteLength']}")
        count = _int(ext.get("count"), f"{what}.count", 1)
        if count > limits.max_accessor_count:
            raise _bad(f"{what}.count = {count} exceeds the limit of {limits.max_accessor_count}")
        stride = _int(ext.get("byteStride"), f"{what}.byteStride", 1)
        mode = ext.get("mode")
        if mode not in MESHOPT_MODES:
            raise _bad(f"{what}.mode {mode!r} is not one of {', '.join(MESHOPT_MODES)}")
        filt = ext.get("filter", "NONE")
        if filt not in MESHOPT_FILTER_STRIDES:
            raise _bad(f"{what}.filter {filt!r} is not one of {', '.join(MESHOPT_FILTER_STRIDES)}")
        if mode == "ATTRIBUTES":
            if stride % 4 or stride > 256:
                raise _bad(f"{what}.byteStride {stride} must be a multiple of 4 up to 256 for ATTRIBUTES")
            allowed = MESHOPT_FILTER_STRIDES[filt]
            if allowed is not None and stride not in allowed:
                raise _bad(f"{what}: the {filt} filter needs a byteStride of {' or '.join(map(str, allowed))}")
        else:
            if stride not in (2, 4):
                raise _bad(f"{what}.byteStride {stride} must be 2 or 4 for {mode}")
            if filt != "NONE":
                raise _bad(f"{what}: filters apply to ATTRIBUTES only, not {mode}")
            if mode == "TRIANGLES" and count % 3:
                raise _bad(f"{what}.count {count} is not a multiple of 3 (TRIANGLES)")
        if count * stride != view["byteLength"]:
            raise _bad(
                f"{what} decodes to {count} x {stride} = {count * stride} bytes but bufferViews[{i}].byteLength "
                f"is {view['byteLength']}"
            )


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


def _check_textures(arrays: dict[str, list], buffer_sizes: list[int | None]) -> None:
    images, views = arrays["images"], arrays["bufferViews"]
    for i, image in enumerate(images):
        if "bufferView" in image:
            v = _index(image["bufferView"], f"images[{i}].bufferView", views)
            b = views[v]["buffer"]
            if meshopt_of(views[v]) is not None or (b < len(buffer_sizes) and buffer_sizes[b] is None):
                raise _bad(f"images[{i}].bufferView = {v} is {MESHOPT}-compressed; images must be stored as they are")
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
