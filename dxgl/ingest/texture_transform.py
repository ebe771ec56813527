"""KHR_texture_transform and texCoord > 0: one UV set per material, baked into TEXCOORD_0.

The renderer reads one UV set (TEXCOORD_0) for every texture slot. For each material, the textured
slots' (transform, UV set) pairs are compared: when they agree, that pair is baked into the UVs of
every primitive drawn with the material; when they disagree, the base colour's pair is baked (or,
without a base colour texture, the first slot's in the order below) and every slot that disagrees
loses its texture, with a warning naming the material and the slot: never a silently wrong texture.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .extensions import TEXTURE_TRANSFORM
from .gltf_doc import GltfDocument, bad
from .gltf_validate import MATERIAL_TEXTURE_SLOTS

SLOT_NAMES = {
    "baseColorTexture": "base colour",
    "metallicRoughnessTexture": "metallic-roughness",
    "normalTexture": "normal",
    "occlusionTexture": "occlusion",
    "emissiveTexture": "emissive",
}
IDENTITY = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class UvBake:
    """What a material's primitives get as TEXCOORD_0: ``matrix`` (a, b, c, d, e, f) applied to
    TEXCOORD_<tex_coord> as u' = a u + b v + c, v' = d u + e v + f (glTF UV space, origin top-left)."""

    matrix: tuple[float, float, float, float, float, float]
    tex_coord: int

    @property
    def is_identity(self) -> bool:
        return self.tex_coord == 0 and self.matrix == IDENTITY

    def apply(self, uv: NDArray[np.float32]) -> NDArray[np.float32]:
        """(N, 2) float32 UVs -> (N, 2) float32 transformed UVs."""
        a, b, c, d, e, f = self.matrix
        u, v = uv[:, 0].astype(np.float64), uv[:, 1].astype(np.float64)
        return np.stack([a * u + b * v + c, d * u + e * v + f], axis=1).astype(np.float32)


def _pair(values: object, default: tuple[float, float], what: str) -> tuple[float, float]:
    if values is None:
        return default
    if (
        not isinstance(values, list)
        or len(values) != 2
        or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in values)
    ):
        raise bad(f"{what} must be two finite numbers")
    return float(values[0]), float(values[1])


def slot_bake(info: dict, what: str) -> UvBake:
    """The UvBake one textureInfo asks for: KHR_texture_transform's T * R * S and its UV set."""
    tex_coord = info.get("texCoord", 0)
    extensions = info.get("extensions")
    ext = extensions.get(TEXTURE_TRANSFORM) if isinstance(extensions, dict) else None
    if ext is None:
        matrix = IDENTITY
    else:
        where = f"{what}.extensions.{TEXTURE_TRANSFORM}"
        if not isinstance(ext, dict):
            raise bad(f"{where} must be an object")
        ox, oy = _pair(ext.get("offset"), (0.0, 0.0), f"{where}.offset")
        sx, sy = _pair(ext.get("scale"), (1.0, 1.0), f"{where}.scale")
        rotation = ext.get("rotation", 0.0)
        if not isinstance(rotation, (int, float)) or isinstance(rotation, bool) or not math.isfinite(rotation):
            raise bad(f"{where}.rotation must be a finite number")
        cos, sin = math.cos(rotation), math.sin(rotation)
        # glTF: T * R * S with R = [[cos, sin], [-sin, cos]].
        matrix = (cos * sx, sin * sy, ox, -sin * sx, cos * sy, oy)
        tex_coord = ext.get("texCoord", tex_coord)
    if not isinstance(tex_coord, int) or isinstance(tex_coord, bool) or tex_coord < 0:
        raise bad(f"{what}.texCoord must be an integer >= 0, got {tex_coord!r}")
    return UvBake(matrix, tex_coord)


def _material_name(material: dict, m: int) -> str:
    name = material.get("name")
    return f"'{name}' (materials[{m}])" if isinstance(name, str) and name else f"materials[{m}]"


def plan_uv_bakes(doc: GltfDocument) -> tuple[dict[int, UvBake], list[str]]:
    """Per material index, the UvBake its primitives need (identity ones left out). Rewrites each
    material in place: transforms and texCoord removed, disagreeing slots' textures dropped.
    Returns (bakes, warnings)."""
    bakes: dict[int, UvBake] = {}
    warnings: list[str] = []
    for m, material in enumerate(doc.array("materials")):
        slots: list[tuple[dict, str, UvBake]] = []  # (holder, slot key, bake)
        for parent, slot in MATERIAL_TEXTURE_SLOTS:
            holder = material.get(parent) if parent else material
            if isinstance(holder, dict) and isinstance(holder.get(slot), dict):
                what = f"materials[{m}].{parent + '.' if parent else ''}{slot}"
                slots.append((holder, slot, slot_bake(holder[slot], what)))
        if not slots:
            continue
        chosen = slots[0][2]  # the base colour's when it has one: MATERIAL_TEXTURE_SLOTS starts with it
        for holder, slot, bake in slots:
            info = holder[slot]
            if bake != chosen:
                del holder[slot]
                warnings.append(
                    f"Material {_material_name(material, m)}: its {SLOT_NAMES[slot]} texture uses a different "
                    f"UV set or texture transform than its {SLOT_NAMES[slots[0][1]]} texture; dxgl renders "
                    f"one UV set per material, so it is rendered without the {SLOT_NAMES[slot]} texture."
                )
                continue
            info.pop("texCoord", None)
            extensions = info.get("extensions")
            if isinstance(extensions, dict):
                extensions.pop(TEXTURE_TRANSFORM, None)
                if not extensions:
                    del info["extensions"]
        if not chosen.is_identity:
            bakes[m] = chosen
    return bakes, warnings
