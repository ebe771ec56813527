"""normalise_glb: a self-contained GLB in, plain glTF 2.0 out (what dxgl/render/scene.py reads right).

Runs in the ingest child (prepare.py), under its memory and time limits. The passes, in order:

1. read and validate the GLB (gltf_doc.load_document; meshopt fallback buffers allowed);
2. the declared extensions: a required one dxgl can neither decode nor render is refused, an unknown
   optional one is a warning, and so is a material extension's texture or bad factor (extensions.py);
   the scene's triangles are bounded (instancing.py);
3. nothing to decode -> the file itself is returned;
4. EXT_meshopt_compression views (meshopt_decode.py), KHR_draco_mesh_compression primitives
   (draco_decode.py), EXT_mesh_gpu_instancing nodes (instancing.py), KHR_materials_variants (the
   default material stays), texture sources: EXT_texture_webp, KHR_texture_basisu / KTX2
   (texture_sources.py), KHR_texture_transform and texCoord > 0 (texture_transform.py);
5. the plain GLB: quantized and sparse accessors dequantized / densified (plain_glb.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .extensions import DECODED, VARIANTS, check_extensions, declared, material_warnings, present
from .gltf_validate import MATERIAL_TEXTURE_SLOTS
from .limits import IngestLimits

# Attribute accessors trimesh reads right as stored: float32 geometry and UVs, uint8 colours.
_FLOAT = 5126
_UNSIGNED_BYTE = 5121
_FAN = 6


@dataclass(frozen=True)
class Normalised:
    path: Path  # the GLB renders load: the input itself when nothing needed decoding
    warnings: list[str] = field(default_factory=list)
    extensions_used: list[str] = field(default_factory=list)  # as the source declared them
    extensions_required: list[str] = field(default_factory=list)
    decoded: list[str] = field(default_factory=list)  # the decoded extensions / encodings, for reports


def normalise_glb(src: Path, out: Path, limits: IngestLimits, *, label: str) -> Normalised:
    """Decode ``src`` into plain glTF 2.0 at ``out`` (or return ``src`` when it already is).

    Raises DxglError unsupported_extension (a required extension dxgl cannot decode) or invalid_model
    (damaged, inconsistent or over a limit); messages name glTF paths, never a file of the work folder."""
    from .gltf_doc import DecodeBudget, load_document
    from .instancing import check_scene_triangles

    doc = load_document(src, limits, label)
    used, required = declared(doc.json, "extensionsUsed"), declared(doc.json, "extensionsRequired")
    warnings = check_extensions(used, required, label) + material_warnings(doc.json)
    check_scene_triangles(doc.json, limits)
    reasons = decoding_needed(doc.json)
    if not reasons:
        return Normalised(path=src, warnings=warnings, extensions_used=used, extensions_required=required)

    from .draco_decode import decode_draco_primitives
    from .instancing import expand_instancing
    from .meshopt_decode import decode_meshopt_views
    from .plain_glb import write_plain_glb
    from .texture_sources import resolve_texture_sources
    from .texture_transform import plan_uv_bakes

    budget = DecodeBudget(limits)
    decode_meshopt_views(doc, budget)
    decode_draco_primitives(doc, budget)
    expand_instancing(doc, limits)
    _drop_variants(doc.json)
    warnings += resolve_texture_sources(doc, out.parent, limits, required=required)
    bakes, bake_warnings = plan_uv_bakes(doc)
    warnings += bake_warnings
    write_plain_glb(doc, out, bakes, budget)
    return Normalised(path=out, warnings=warnings, extensions_used=used, extensions_required=required, decoded=reasons)


def _drop_variants(doc: dict) -> None:
    """KHR_materials_variants: every primitive keeps its default ``material``; the mappings go."""
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            extensions = prim.get("extensions")
            if isinstance(extensions, dict) and VARIANTS in extensions:
                del extensions[VARIANTS]
                if not extensions:
                    del prim["extensions"]


def decoding_needed(doc: dict) -> list[str]:
    """Why ``doc`` (validated JSON) is not plain glTF the renderer reads right; [] when it is."""
    reasons = sorted(
        DECODED & (present(doc) | set(doc.get("extensionsUsed") or []) | set(doc.get("extensionsRequired") or []))
    )
    accessors = doc.get("accessors") or []
    if len(doc.get("buffers") or []) > 1:
        reasons.append("more than one buffer")
    if any("sparse" in acc for acc in accessors):
        reasons.append("sparse accessors")
    for mesh in doc.get("meshes") or []:
        for prim in mesh.get("primitives") or []:
            if prim.get("mode") == _FAN:  # trimesh skips fans: they are rewritten as triangle lists
                reasons.append("triangle fans")
            for name, index in prim["attributes"].items():
                acc = accessors[index]
                if name.startswith("COLOR_"):
                    plain = acc["componentType"] == _UNSIGNED_BYTE and acc.get("normalized", False)
                elif name.startswith("JOINTS_"):
                    plain = True
                else:
                    plain = acc["componentType"] == _FLOAT
                if not plain:
                    reasons.append(f"{name} stored as componentType {acc['componentType']}")
    images = doc.get("images") or []
    for texture in doc.get("textures") or []:
        if isinstance(texture.get("source"), int) and images[texture["source"]].get("mimeType") == "image/ktx2":
            reasons.append("KTX2 images")
    for material in doc.get("materials") or []:
        for parent, slot in MATERIAL_TEXTURE_SLOTS:
            holder = material.get(parent) if parent else material
            info = holder.get(slot) if isinstance(holder, dict) else None
            if isinstance(info, dict) and info.get("texCoord", 0) != 0:
                reasons.append("a texture reads a second UV set")
    return list(dict.fromkeys(reasons))
