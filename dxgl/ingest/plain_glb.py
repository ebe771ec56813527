"""Write a decoded document as plain glTF 2.0: one buffer, every accessor rewritten dense and tight.

What the renderer's loader (trimesh, which ignores ``normalized`` and reads raw values) reads right:
POSITION, NORMAL, TANGENT, TEXCOORD_0, WEIGHTS_n and custom attributes as float32; COLOR_n as
normalized UNSIGNED_BYTE VEC4; JOINTS_n as unsigned integers; indices as UNSIGNED_SHORT or
UNSIGNED_INT, triangle strips and fans turned into triangle lists. No sparse accessors, no byteStride.
TEXCOORD_0 is the material's baked UV set (texture_transform.py); other UV sets are left out.
Animations, skins and morph targets keep their data, rewritten the same way. Only images some texture
uses are written; material slots whose texture has no image are removed. Extension objects the
renderer does not read natively are removed, so none of their indices can point into the new arrays.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .extensions import NATIVE, strip_unsupported
from .glb import write_glb
from .gltf_doc import (
    GLTF_TYPES,
    TARGET_ARRAY_BUFFER,
    TARGET_ELEMENT_ARRAY_BUFFER,
    BinBuilder,
    DecodeBudget,
    GltfDocument,
    bad,
)
from .gltf_validate import MATERIAL_TEXTURE_SLOTS, TYPE_COMPONENTS
from .texture_transform import UvBake

_POINTS, _TRIANGLES, _STRIP, _FAN = 0, 4, 5, 6
_FLOAT_ATTRIBUTES = ("POSITION", "NORMAL", "TANGENT", "TEXCOORD_0")


class _Writer:
    def __init__(self, doc: GltfDocument, budget: DecodeBudget):
        self.doc = doc
        self.out = BinBuilder(budget)
        self.budget = budget
        self._cache: dict[tuple, int] = {}

    def _declared_bytes(self, index: int) -> int:
        acc = self.doc.array("accessors")[index]
        return acc["count"] * TYPE_COMPONENTS[acc["type"]] * 4

    def floats(self, index: int, *, target: int | None = None, bounds: bool = False) -> int:
        """accessors[index] rewritten as float32 of the same type."""
        key = ("f", index, target, bounds)
        if key not in self._cache:
            self.budget.spend(self._declared_bytes(index), f"accessors[{index}]")
            acc = self.doc.array("accessors")[index]
            values = self.doc.floats(index)
            if acc["type"].startswith("MAT"):
                values = _unpad_matrix(self.doc, index, values)
            self._cache[key] = self.out.add_accessor(values, acc["type"], target=target, bounds=bounds)
        return self._cache[key]

    def baked_uv(self, index: int, bake: UvBake | None) -> int:
        """TEXCOORD_0 from accessors[index] (a VEC2 UV set) with ``bake`` applied."""
        if bake is None:
            return self.floats(index, target=TARGET_ARRAY_BUFFER)
        key = ("uv", index, bake)
        if key not in self._cache:
            self.budget.spend(self._declared_bytes(index), f"accessors[{index}]")
            uv = self.doc.floats(index)
            if uv.shape[1] != 2:
                raise bad(f"accessors[{index}] is a UV set but not VEC2")
            self._cache[key] = self.out.add_accessor(bake.apply(uv), "VEC2", target=TARGET_ARRAY_BUFFER)
        return self._cache[key]

    def colors(self, index: int) -> int:
        """COLOR_n as normalized uint8 VEC4 (what trimesh and scene.py read right, textured or not)."""
        key = ("c", index)
        if key not in self._cache:
            self.budget.spend(self._declared_bytes(index), f"accessors[{index}]")
            values = self.doc.floats(index)
            if values.shape[1] == 3:
                values = np.concatenate([values, np.ones((len(values), 1), np.float32)], axis=1)
            if values.shape[1] != 4:
                raise bad(f"accessors[{index}] is a COLOR attribute but neither VEC3 nor VEC4")
            rgba = np.round(np.clip(np.nan_to_num(values), 0.0, 1.0) * 255.0).astype(np.uint8)
            self._cache[key] = self.out.add_accessor(rgba, "VEC4", normalized=True, target=TARGET_ARRAY_BUFFER)
        return self._cache[key]

    def joints(self, index: int) -> int:
        key = ("j", index)
        if key not in self._cache:
            self.budget.spend(self._declared_bytes(index), f"accessors[{index}]")
            values = self.doc.values(index)
            dtype = np.uint8 if values.dtype == np.uint8 else np.uint16
            if values.dtype.kind == "f" or (values.size and int(values.max()) > 65535) or values.min(initial=0) < 0:
                raise bad(f"accessors[{index}] holds JOINTS that are not small unsigned integers")
            acc_type = GLTF_TYPES.get(values.shape[1], "VEC4")
            self._cache[key] = self.out.add_accessor(values.astype(dtype), acc_type, target=TARGET_ARRAY_BUFFER)
        return self._cache[key]

    def indices(self, flat: NDArray, vertex_count: int, what: str) -> int:
        if flat.size and int(flat.max()) >= vertex_count:
            raise bad(f"{what}.indices reach vertex {int(flat.max())} but POSITION has {vertex_count}")
        dtype = np.uint16 if vertex_count <= 65535 else np.uint32
        return self.out.add_accessor(flat.astype(dtype).reshape(-1, 1), "SCALAR", target=TARGET_ELEMENT_ARRAY_BUFFER)


def _unpad_matrix(doc: GltfDocument, index: int, values: NDArray[np.float32]) -> NDArray[np.float32]:
    """MAT accessors of 1- and 2-byte components pad each column to 4 bytes; float ones do not."""
    acc = doc.array("accessors")[index]
    if acc["componentType"] != 5126 and acc["type"] in ("MAT2", "MAT3"):
        raise bad(f"accessors[{index}] is a {acc['type']} of integers, which dxgl does not read")
    return values


def _triangle_list(flat: NDArray, mode: int) -> NDArray:
    """(K,) indices drawn in ``mode`` -> (3 T,) indices of a triangle list, winding kept."""
    flat = flat.astype(np.int64).reshape(-1)
    if mode == _TRIANGLES:
        return flat[: len(flat) - len(flat) % 3]
    n = max(len(flat) - 2, 0)
    i = np.arange(n)
    if mode == _FAN:
        return np.stack([np.full(n, flat[0] if n else 0), flat[i + 1], flat[i + 2]], axis=1).reshape(-1)
    even = (i % 2) == 0  # strips: odd triangles swap their first two corners
    a = np.where(even, flat[i], flat[i + 1])
    b = np.where(even, flat[i + 1], flat[i])
    return np.stack([a, b, flat[i + 2]], axis=1).reshape(-1)


def _rewrite_primitive(w: _Writer, prim: dict, bake: UvBake | None, what: str) -> None:
    doc = w.doc
    attributes = prim["attributes"]
    new: dict[str, int] = {}
    uv_set = bake.tex_coord if bake is not None else 0
    for name, index in attributes.items():
        if name.startswith("TEXCOORD_"):
            continue
        if name.startswith("COLOR_"):
            new[name] = w.colors(index)
        elif name.startswith("JOINTS_"):
            new[name] = w.joints(index)
        else:
            new[name] = w.floats(index, target=TARGET_ARRAY_BUFFER, bounds=name == "POSITION")
    uv_name = f"TEXCOORD_{uv_set}"
    if uv_name in attributes:
        new["TEXCOORD_0"] = w.baked_uv(attributes[uv_name], bake)
    elif "TEXCOORD_0" in attributes:  # the material asks for a UV set the primitive lacks
        new["TEXCOORD_0"] = w.baked_uv(attributes["TEXCOORD_0"], None)
    vertex_count = doc.array("accessors")[attributes["POSITION"]]["count"] if "POSITION" in attributes else 0
    mode = prim.get("mode", _TRIANGLES)
    if mode in (_TRIANGLES, _STRIP, _FAN):
        if "indices" in prim:
            flat = doc.values(prim["indices"]).reshape(-1)
        else:
            flat = np.arange(vertex_count, dtype=np.uint32)
        triangles = _triangle_list(flat, mode)
        if len(triangles):
            prim["indices"] = w.indices(triangles, vertex_count, what)
            prim["mode"] = _TRIANGLES
        else:  # nothing to shade: drawn as points, which the renderer skips
            prim.pop("indices", None)
            prim["mode"] = _POINTS
    elif "indices" in prim:
        flat = doc.values(prim["indices"]).reshape(-1)
        prim["indices"] = w.indices(flat, vertex_count, what)
    prim["attributes"] = new
    targets = prim.get("targets")
    if isinstance(targets, list):
        prim["targets"] = [
            {name: w.floats(index, target=TARGET_ARRAY_BUFFER) for name, index in target.items()}
            for target in targets
            if isinstance(target, dict)
        ]


def _drop_sourceless_slots(j: dict) -> None:
    textures = j.get("textures") or []
    for material in j.get("materials") or []:
        for parent, slot in MATERIAL_TEXTURE_SLOTS:
            holder = material.get(parent) if parent else material
            info = holder.get(slot) if isinstance(holder, dict) else None
            if isinstance(info, dict) and textures[info["index"]].get("source") is None:
                del holder[slot]


def _write_images(w: _Writer, j: dict) -> None:
    """Only the images some texture uses, in first-use order; textures' sources renumbered."""
    old_images = w.doc.array("images")
    new_images: list[dict] = []
    renumber: dict[int, int] = {}
    for texture in j.get("textures") or []:
        source = texture.get("source")
        if source is None:
            continue
        if source not in renumber:
            image = {k: v for k, v in old_images[source].items() if k in ("name", "mimeType", "extras")}
            image["bufferView"] = w.out.add_view(w.doc.image_bytes(source))
            renumber[source] = len(new_images)
            new_images.append(image)
        texture["source"] = renumber[source]
    if new_images:
        j["images"] = new_images
    else:
        j.pop("images", None)


def write_plain_glb(doc: GltfDocument, out: Path, bakes: dict[int, UvBake], budget: DecodeBudget) -> None:
    """Write ``doc`` (decoders and passes already run) to ``out`` as plain glTF 2.0 with one buffer."""
    w = _Writer(doc, budget)
    j = copy.deepcopy(doc.json)
    for m, mesh in enumerate(j.get("meshes") or []):
        for p, prim in enumerate(mesh.get("primitives") or []):
            _rewrite_primitive(w, prim, bakes.get(prim.get("material", -1)), f"meshes[{m}].primitives[{p}]")
    for skin in j.get("skins") or []:
        if "inverseBindMatrices" in skin:
            skin["inverseBindMatrices"] = w.floats(skin["inverseBindMatrices"])
    for animation in j.get("animations") or []:
        for sampler in animation.get("samplers") or []:
            for key in ("input", "output"):
                if isinstance(sampler.get(key), int):
                    sampler[key] = w.floats(sampler[key], bounds=key == "input")  # glTF: inputs carry min/max
    _drop_sourceless_slots(j)
    _write_images(w, j)
    j["accessors"] = w.out.accessors
    j["bufferViews"] = w.out.views
    j["buffers"] = [{"byteLength": len(w.out.blob)}]
    for key in ("accessors", "bufferViews"):
        if not j[key]:
            del j[key]
    strip_unsupported(j)
    for key in ("extensionsUsed", "extensionsRequired"):
        kept = [name for name in j.get(key) or [] if name in NATIVE]
        if kept:
            j[key] = kept
        else:
            j.pop(key, None)
    write_glb(out, j, bytes(w.out.blob))
