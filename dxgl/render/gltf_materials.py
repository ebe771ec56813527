"""The glTF ``KHR_materials_*`` extension blocks, read from the model's own JSON (docs/rendering.md,
"Materials").

trimesh's glTF loader (what dxgl/render/scene.py loads through) turns each glTF material into a
``PBRMaterial`` that keeps the core metallic-roughness values and the material's ``name``, and drops
every ``KHR_materials_*`` block. So this module reads the JSON (a GLB's JSON chunk or a .gltf file)
with the standard library, maps each material's extension blocks to :class:`~dxgl.render.scene.Material`
field values, and makes every material findable by name in trimesh's result:

- when every material has a name of its own (a string no other material has), the names are kept and
  the file is loaded as it is;
- otherwise (a name missing or shared, e.g. two "Material.001" with different extensions) the JSON is
  rewritten with one tag per material index (``dxgl-material-<i>``) and trimesh loads that rewritten copy
  from memory (the GLB's binary chunk is passed on unchanged). Only files with an extension to read pay
  for this.

Only factors are read; the extensions' textures are not (dxgl/ingest/extensions.py warns about each at
upload). Values outside the extension's range are clamped into it (ingest warns about those too), a
value of the wrong JSON type leaves the extension's default. Thickness and attenuation distance stay in
the file's units (``Scene.source_scale`` converts them).
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dxgl.contract import KHR_IOR, KHR_UNLIT, KHR_VOLUME, MATERIAL_FACTORS, RENDERED_MATERIAL_EXTENSIONS
from dxgl.render.types import RenderError

TAG_PREFIX = "dxgl-material-"
_GLB_MAGIC = b"glTF"
_CHUNK_JSON = 0x4E4F534A

# glTF property -> Material field, for every factor read as it is (ranges: contract.MATERIAL_FACTORS;
# ior and attenuationDistance have rules of their own below).
_FIELDS = {
    "emissiveStrength": "emissive_strength",
    "clearcoatFactor": "clearcoat",
    "clearcoatRoughnessFactor": "clearcoat_roughness",
    "sheenRoughnessFactor": "sheen_roughness",
    "specularFactor": "specular",
    "transmissionFactor": "transmission",
    "thicknessFactor": "thickness",
    "sheenColorFactor": "sheen_color",
    "specularColorFactor": "specular_color",
    "attenuationColor": "attenuation_color",
}
# (extension, glTF property, Material field, (low, high)): the scalar and the linear RGB factors.
_SCALARS = tuple(
    (f.extension, f.name, _FIELDS[f.name], (f.low, f.high))
    for f in MATERIAL_FACTORS
    if f.components == 1 and f.name in _FIELDS
)
_COLORS = tuple(
    (f.extension, f.name, _FIELDS[f.name], (f.low, f.high))
    for f in MATERIAL_FACTORS
    if f.components == 3 and f.name in _FIELDS
)


def _number(value: object) -> float | None:
    """``value`` as a finite float, None when it is not a JSON number (bools are not numbers)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def material_fields(material: object) -> dict[str, Any]:
    """The :class:`~dxgl.render.scene.Material` field values one glTF material's extension blocks
    give, only those present (``{}``: plain metallic-roughness)."""
    if not isinstance(material, dict) or not isinstance(material.get("extensions"), dict):
        return {}
    blocks = {
        name: block
        for name, block in material["extensions"].items()
        if name in RENDERED_MATERIAL_EXTENSIONS and isinstance(block, dict)
    }
    out: dict[str, Any] = {}
    if KHR_UNLIT in blocks:
        out["unlit"] = True
    for ext, prop, name, bounds in _SCALARS:
        number = _number(blocks.get(ext, {}).get(prop))
        if number is not None:
            out[name] = _clamp(number, bounds)
    for ext, prop, name, bounds in _COLORS:
        value = blocks.get(ext, {}).get(prop)
        if isinstance(value, list) and len(value) == 3:
            numbers = [_number(v) for v in value]
            if all(n is not None for n in numbers):
                out[name] = tuple(_clamp(n, bounds) for n in numbers if n is not None)
    ior = _number(blocks.get(KHR_IOR, {}).get("ior"))
    if ior is not None:
        # The schema allows 0 (F0 = 1: ((0 - 1) / (0 + 1))^2) or >= 1; anything between reads as 1.
        out["ior"] = 0.0 if ior == 0.0 else max(ior, 1.0)
    distance = _number(blocks.get(KHR_VOLUME, {}).get("attenuationDistance"))
    if distance is not None and distance > 0.0:  # exclusive minimum 0: 0 or less leaves "no attenuation"
        out["attenuation_distance"] = distance
    return out


@dataclass(frozen=True)
class MaterialSource:
    """What scene.py needs to give trimesh's materials their extension values.

    ``payload``: the file's bytes with tagged material names to load instead of the file (None: load the
    file itself); ``by_name``: material name as trimesh will report it -> :func:`material_fields`."""

    payload: bytes | None = None
    by_name: dict[str, dict[str, Any]] = field(default_factory=dict)

    def fields(self, name: object) -> dict[str, Any]:
        """The extension values for the trimesh material called ``name`` ({} for none)."""
        return self.by_name.get(name, {}) if isinstance(name, str) else {}


def _damaged(path: Path, why: str) -> RenderError:
    return RenderError(
        f"The model file {path.name} could not be read: it is damaged or not a valid "
        f"{path.suffix.lstrip('.').upper()} file ({why})."
    )


def _glb_json(path: Path) -> tuple[dict[str, Any], int]:
    """A GLB's JSON chunk parsed, and the byte offset where the chunks after it start."""
    with path.open("rb") as f:
        head = f.read(20)
        if len(head) < 20 or head[:4] != _GLB_MAGIC:
            raise _damaged(path, "no GLB header")
        version, total, length, kind = struct.unpack("<IIII", head[4:20])
        if version != 2 or kind != _CHUNK_JSON or 20 + length > min(total, path.stat().st_size):
            raise _damaged(path, "bad GLB header")
        raw = f.read(length)
    return _parse(path, raw), 20 + length


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(raw.rstrip(b"\x00"))  # some exporters pad the JSON chunk with zeros
    except (ValueError, UnicodeDecodeError) as exc:
        raise _damaged(path, f"{type(exc).__name__} in its JSON") from exc
    if not isinstance(doc, dict):
        raise _damaged(path, "its JSON is not an object")
    return doc


def material_source(path: Path) -> MaterialSource:
    """Read ``path``'s glTF materials (.glb or .gltf; an OBJ has none) into a :class:`MaterialSource`.
    RenderError when the GLB header or the JSON is damaged."""
    suffix = path.suffix.lower()
    if suffix not in (".glb", ".gltf"):
        return MaterialSource()
    if suffix == ".glb":
        doc, rest = _glb_json(path)
    else:
        doc, rest = _parse(path, path.read_bytes()), 0
    materials = doc.get("materials")
    if not isinstance(materials, list):
        return MaterialSource()
    values = [material_fields(m) for m in materials]
    if not any(values):
        return MaterialSource()
    names = [m.get("name") if isinstance(m, dict) else None for m in materials]
    if all(isinstance(n, str) for n in names) and len(set(names)) == len(names):
        return MaterialSource(by_name={n: v for n, v in zip(names, values, strict=True) if v and isinstance(n, str)})
    for i, material in enumerate(materials):
        if isinstance(material, dict):
            material["name"] = f"{TAG_PREFIX}{i}"
    text = json.dumps(doc, separators=(",", ":")).encode()
    by_name = {f"{TAG_PREFIX}{i}": v for i, v in enumerate(values) if v}
    if suffix == ".gltf":
        return MaterialSource(payload=text, by_name=by_name)
    text += b" " * (-len(text) % 4)  # GLB chunks are 4-byte aligned, JSON padded with spaces
    with path.open("rb") as f:
        f.seek(rest)
        chunks = f.read()
    total = 20 + len(text) + len(chunks)
    head = _GLB_MAGIC + struct.pack("<IIII", 2, total, len(text), _CHUNK_JSON)
    return MaterialSource(payload=head + text + chunks, by_name=by_name)
