"""Which glTF extensions dxgl reads, in one place: decoded at upload, rendered natively, or neither.

- ``DECODED``: normalise.py turns them into plain glTF 2.0 at upload (none is left in the GLB renders load).
- ``NATIVE``: the renderer reads them as they are: trimesh's loader (specular-glossiness), and
  dxgl/render/gltf_materials.py (the ``KHR_materials_*`` factors, ``MATERIALS``). Their textures are
  not rendered, and out-of-range factors are clamped: :func:`material_warnings` says so at upload.
- anything else: required -> refused (``unsupported_extension``); only used -> a warning, and the
  model is rendered without it.
"""

from __future__ import annotations

import math

from dxgl.contract import (
    KHR_CLEARCOAT,
    KHR_IOR,
    KHR_SHEEN,
    KHR_SPECULAR,
    KHR_TRANSMISSION,
    KHR_UNLIT,
    KHR_VOLUME,
    MATERIAL_FACTORS,
    RENDERED_MATERIAL_EXTENSIONS,
    ErrorCode,
    MaterialFactor,
)
from dxgl.errors import DxglError

DRACO = "KHR_draco_mesh_compression"
MESHOPT = "EXT_meshopt_compression"
QUANTIZATION = "KHR_mesh_quantization"
TEXTURE_TRANSFORM = "KHR_texture_transform"
BASISU = "KHR_texture_basisu"
WEBP = "EXT_texture_webp"
INSTANCING = "EXT_mesh_gpu_instancing"
VARIANTS = "KHR_materials_variants"

DECODED: frozenset[str] = frozenset(
    {DRACO, MESHOPT, QUANTIZATION, TEXTURE_TRANSFORM, BASISU, WEBP, INSTANCING, VARIANTS}
)
# The material extensions the renderer shades (the vocabulary: dxgl.contract).
MATERIALS: frozenset[str] = RENDERED_MATERIAL_EXTENSIONS
UNLIT = KHR_UNLIT
# trimesh converts specular-glossiness materials to metallic-roughness while loading, which is what
# scene.py reads; scene.py adds the MATERIALS factors. Anything else (e.g. KHR_materials_iridescence,
# anisotropy, dispersion, KHR_lights_punctual) never reaches the renderer, so it is warned about.
NATIVE: frozenset[str] = frozenset({"KHR_materials_pbrSpecularGlossiness"}) | MATERIALS
SUPPORTED: frozenset[str] = DECODED | NATIVE


def declared(doc: dict, key: str) -> list[str]:
    """``extensionsUsed`` or ``extensionsRequired``: a list of strings (invalid_model otherwise)."""
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise DxglError(ErrorCode.INVALID_MODEL, f"GLB: '{key}' must be an array of strings")
    return list(value)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_extensions(used: list[str], required: list[str], label: str) -> list[str]:
    """Refuse a required extension dxgl can neither decode nor render, naming every one
    (DxglError unsupported_extension); returns one warning per other unknown extension used."""
    refused = sorted({name for name in required if name not in SUPPORTED})
    if refused:
        plural = len(refused) > 1
        raise DxglError(
            ErrorCode.UNSUPPORTED_EXTENSION,
            f"{label} requires the glTF extension{'s' if plural else ''} {_names(refused)}, which dxgl cannot "
            f"decode; export the model without {'them' if plural else 'it'}",
        )
    unknown = [name for name in dict.fromkeys(used) if name not in SUPPORTED]
    return [f"The model uses {name}, which dxgl does not render yet; it is rendered without it." for name in unknown]


def _holders(node: object) -> list[dict]:
    """Every JSON object anywhere in ``node`` that has an ``extensions`` object."""
    found: list[dict] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("extensions"), dict):
                found.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def present(node: object, found: set[str] | None = None) -> set[str]:
    """Every extension name that has an object somewhere in the JSON ``node`` (declared or not)."""
    found = set() if found is None else found
    for holder in _holders(node):
        found.update(holder["extensions"])
    return found


def strip_unsupported(node: object, keep: frozenset[str] = NATIVE) -> None:
    """Remove, in place, every extension object whose name is not in ``keep`` (and emptied
    ``extensions`` members), so that no index an extension held can point into rebuilt arrays."""
    for holder in _holders(node):
        extensions = holder["extensions"]
        for name in [n for n in extensions if n not in keep]:
            del extensions[name]
        if not extensions:
            del holder["extensions"]


# Each MATERIALS extension's textures: (extension, property, the factor used alone instead). dxgl reads
# the factors only (docs/rendering.md, "Materials").
MATERIAL_TEXTURES: tuple[tuple[str, str, str], ...] = (
    (KHR_CLEARCOAT, "clearcoatTexture", "the clearcoat factor is used alone"),
    (KHR_CLEARCOAT, "clearcoatRoughnessTexture", "the clearcoat roughness factor is used alone"),
    (KHR_CLEARCOAT, "clearcoatNormalTexture", "the clear coat follows the surface's geometric normal"),
    (KHR_SHEEN, "sheenColorTexture", "the sheen colour factor is used alone"),
    (KHR_SHEEN, "sheenRoughnessTexture", "the sheen roughness factor is used alone"),
    (KHR_SPECULAR, "specularTexture", "the specular factor is used alone"),
    (KHR_SPECULAR, "specularColorTexture", "the specular colour factor is used alone"),
    (KHR_TRANSMISSION, "transmissionTexture", "the transmission factor is used alone"),
    (KHR_VOLUME, "thicknessTexture", "the thickness factor is used alone"),
)
_INF = math.inf


def _material_label(material: dict[str, object], index: int) -> str:
    name = material.get("name")
    return f"'{name}' (materials[{index}])" if isinstance(name, str) and name else f"materials[{index}]"


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _range_text(low: float, high: float, exclusive: bool) -> str:
    if high == _INF:
        return f"{'above' if exclusive else 'at least'} {low:g}"
    return f"between {low:g} and {high:g}"


def _factor_warning(label: str, ext: str, prop: str, value: object, spec: MaterialFactor) -> str | None:
    components, low, high, default, exclusive = spec.components, spec.low, spec.high, spec.default, spec.low_exclusive
    values = value if components > 1 and isinstance(value, list) else [value]
    if components > 1 and (not isinstance(value, list) or len(value) != components):
        return f"Material {label}: {ext}.{prop} is not {components} numbers; the default {default} is used."
    if not all(_finite(v) for v in values):
        return f"Material {label}: {ext}.{prop} is not a finite number; the default {default} is used."
    numbers = [float(v) for v in values if isinstance(v, (int, float))]
    if any(n < low or n > high or (exclusive and n == low) for n in numbers):
        if exclusive:
            return (
                f"Material {label}: {ext}.{prop} = {value!r} is not {_range_text(low, high, exclusive)}; "
                f"the default {default} is used."
            )
        return (
            f"Material {label}: {ext}.{prop} = {value!r} is outside its range ({_range_text(low, high, False)}); "
            "it is clamped into it."
        )
    return None


def material_warnings(doc: dict[str, object]) -> list[str]:
    """One warning per thing of a ``MATERIALS`` extension the renderer does not draw as written: each
    extension texture (only the factors are rendered) and each factor of the wrong type (the default
    is used) or outside the extension's range (clamped)."""
    warnings: list[str] = []
    materials = doc.get("materials")
    for index, material in enumerate(materials if isinstance(materials, list) else []):
        extensions = material.get("extensions") if isinstance(material, dict) else None
        if not isinstance(extensions, dict):
            continue
        label = _material_label(material, index)
        for ext, prop, instead in MATERIAL_TEXTURES:
            block = extensions.get(ext)
            if isinstance(block, dict) and prop in block:
                warnings.append(f"Material {label} uses {ext}'s {prop}, which dxgl does not render; {instead}.")
        for spec in MATERIAL_FACTORS:
            ext, prop = spec.extension, spec.name
            block = extensions.get(ext)
            if isinstance(block, dict) and prop in block:
                warning = _factor_warning(label, ext, prop, block[prop], spec)
                if warning:
                    warnings.append(warning)
        block = extensions.get(KHR_IOR)
        ior = block.get("ior") if isinstance(block, dict) else None
        if isinstance(block, dict) and "ior" in block:
            if not _finite(ior):
                warnings.append(f"Material {label}: {KHR_IOR}.ior is not a finite number; the default 1.5 is used.")
            elif not (ior == 0 or ior >= 1):  # type: ignore[operator]  # _finite: a number
                warnings.append(f"Material {label}: {KHR_IOR}.ior = {ior!r} is neither 0 nor at least 1; 1 is used.")
        if UNLIT in extensions and len(set(extensions) & MATERIALS) > 1:
            others = sorted((set(extensions) & MATERIALS) - {UNLIT})
            warnings.append(
                f"Material {label} is unlit ({UNLIT}), so its {_names(others)} "
                f"{'is' if len(others) == 1 else 'are'} not rendered."
            )
    return warnings
