"""Each texture's image, as the renderer can read it: ``textures[i].source`` set to a PNG, JPEG or WebP.

- EXT_texture_webp: its source becomes the texture's ``source`` (Pillow reads WebP).
- KHR_texture_basisu (or a plain ``source`` that holds a KTX2): the KTX2 header is checked (2D, the
  megapixel limit, the texture budget), then the image is transcoded to PNG (ktx2.py) in place.
  Without a usable basisu binary: a required extension is refused (unsupported_extension); an optional
  one falls back to the texture's own ``source`` with a warning (or, without one, the texture is left
  out with a warning). A KTX2 basisu fails on is damaged: the fallback is used with a warning when
  there is one, else the model is refused (invalid_model).
Every texture left without a source is dropped from the materials by the plain writer.
"""

from __future__ import annotations

from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .extensions import BASISU, WEBP
from .gltf_doc import GltfDocument, bad
from .images import TextureBudget, read_image_header
from .ktx2 import (
    KTX2_MAGIC,
    BasisuUnavailable,
    Ktx2Header,
    TranscodeFailed,
    check_2d,
    read_ktx2_header,
    transcode_to_png,
)
from .limits import IngestLimits


def _source_of(ext: object, what: str, images: list[dict]) -> int:
    source = ext.get("source") if isinstance(ext, dict) else None
    if not isinstance(source, int) or isinstance(source, bool) or not 0 <= source < len(images):
        raise bad(f"{what}.source = {source!r} is not an image")
    return source


def resolve_texture_sources(
    doc: GltfDocument, work_dir: Path, limits: IngestLimits, *, required: list[str]
) -> list[str]:
    """Set every texture's ``source`` to a readable image (transcoding KTX2 into ``doc.images``) and
    drop the texture-source extensions. Returns warnings."""
    images = doc.array("images")
    warnings: list[str] = []
    ktx2_wanted: dict[int, list[int]] = {}  # image -> textures that want it transcoded
    fallbacks: dict[int, int | None] = {}  # texture -> its source before a KTX2 one was chosen
    for t, texture in enumerate(doc.array("textures")):
        raw = texture.get("extensions")
        extensions: dict[str, object] = raw if isinstance(raw, dict) else {}
        what = f"textures[{t}].extensions"
        fallback = texture.get("source")
        if BASISU in extensions:
            texture["source"] = _source_of(extensions.pop(BASISU), f"{what}.{BASISU}", images)
            fallbacks[t] = fallback
        if WEBP in extensions:
            webp = _source_of(extensions.pop(WEBP), f"{what}.{WEBP}", images)
            if t in fallbacks:
                fallbacks[t] = webp  # a KTX2 that cannot be read falls back to the WebP first
            else:
                texture["source"] = webp
        if "extensions" in texture and not texture["extensions"]:
            del texture["extensions"]
        source = texture.get("source")
        if source is not None and doc.image_bytes(source).startswith(KTX2_MAGIC):
            ktx2_wanted.setdefault(source, []).append(t)
            fallbacks.setdefault(t, None)

    headers = _check_budget(doc, ktx2_wanted, limits)
    for image, textures in ktx2_wanted.items():
        label = f"images[{image}] (KTX2)"
        try:
            png = transcode_to_png(doc.image_bytes(image), headers[image], work_dir, limits)
        except BasisuUnavailable:
            if BASISU in required:
                raise DxglError(
                    ErrorCode.UNSUPPORTED_EXTENSION,
                    f"{doc.label} requires the glTF extension {BASISU} (KTX2 textures), which dxgl cannot decode "
                    "on this server (the basisu transcoder is not installed); export the textures as PNG or JPEG",
                ) from None
            warnings += _fall_back(
                doc, textures, fallbacks, f"{label} could not be transcoded (no basisu on this server)"
            )
            continue
        except TranscodeFailed as exc:
            if all(fallbacks.get(t) is not None for t in textures):
                warnings += _fall_back(doc, textures, fallbacks, f"{label} could not be transcoded ({exc})")
                continue
            raise bad(f"{label} could not be transcoded: {exc}; it is damaged") from None
        doc.images[image] = png
        images[image]["mimeType"] = "image/png"
    return warnings


def _check_budget(doc: GltfDocument, ktx2_wanted: dict[int, list[int]], limits: IngestLimits) -> dict[int, Ktx2Header]:
    """Every image a texture uses, counted from its header in the model's texture budget (KTX2 ones
    as declared, before transcoding); returns the checked 2D KTX2 headers by image index."""
    budget = TextureBudget(limits)
    headers: dict[int, Ktx2Header] = {}
    used = sorted({t["source"] for t in doc.array("textures") if t.get("source") is not None})
    for image in used:
        data = doc.image_bytes(image)
        label = f"GLB: images[{image}]"
        budget.add(read_image_header(data, label, limits))
        if image in ktx2_wanted:
            headers[image] = read_ktx2_header(data, label, limits)
            check_2d(headers[image], label)
    budget.check()
    return headers


def _fall_back(doc: GltfDocument, textures: list[int], fallbacks: dict[int, int | None], why: str) -> list[str]:
    warnings = []
    for t in textures:
        texture = doc.array("textures")[t]
        fallback = fallbacks.get(t)
        if fallback is not None and not doc.image_bytes(fallback).startswith(KTX2_MAGIC):
            texture["source"] = fallback
            warnings.append(f"The KTX2 texture {why}; textures[{t}] uses its fallback image images[{fallback}].")
        else:
            texture.pop("source", None)
            warnings.append(f"The KTX2 texture {why}; textures[{t}] has no fallback image and is left out.")
    return warnings
