"""Which glTF extensions dxgl reads, in one place: decoded at upload, rendered natively, or neither.

- ``DECODED``: normalise.py turns them into plain glTF 2.0 at upload (none is left in the GLB renders load).
- ``NATIVE``: the renderer's loader (trimesh, through dxgl/render/scene.py) reads them as they are.
- anything else: required -> refused (``unsupported_extension``); only used -> a warning, and the
  model is rendered without it.
"""

from __future__ import annotations

from dxgl.contract import ErrorCode
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
# trimesh converts specular-glossiness materials to metallic-roughness while loading, which is what
# scene.py reads. Nothing else: e.g. KHR_materials_emissive_strength, unlit, clearcoat, transmission
# and KHR_lights_punctual never reach scene.py's Material, so they are warned about.
NATIVE: frozenset[str] = frozenset({"KHR_materials_pbrSpecularGlossiness"})
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
