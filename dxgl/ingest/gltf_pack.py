"""Pack a glTF (JSON + .bin + images, or data: URIs) into one self-contained GLB, losslessly.

The JSON is kept as written (materials, extensions, extras); only ``buffers``, ``bufferViews`` and
``images`` change: every buffer is merged into the single GLB BIN chunk and every image file becomes
a buffer view. URIs are resolved only to files inside the upload's own folder.
"""

from __future__ import annotations

import binascii
import re
from pathlib import Path, PurePosixPath
from urllib.parse import unquote

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .glb import parse_json_document, read_glb, write_glb
from .gltf_validate import is_fallback_buffer, meshopt_of, validate_document
from .images import TextureBudget, read_image_header
from .limits import IngestLimits

DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?:;[\w.+-]+=[\w.+-]+)*;base64,(?P<payload>.*)$", re.S)
URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
DRIVE_LETTER = re.compile(r"^[A-Za-z]:")
BUFFER_ALIGN = 16  # keeps every component alignment a source buffer had at its own offset 0


class UriResolver:
    """Turns glTF URIs into bytes: data: URIs, or files inside ``root`` (None: a bare upload)."""

    def __init__(self, root: Path | None, label: str):
        self.root = root
        self.label = label
        self._by_lower: dict[str, Path] = {}
        if root is not None:
            for path in root.rglob("*"):
                if path.is_file() and not path.is_symlink():
                    self._by_lower[path.relative_to(root).as_posix().lower()] = path

    def read(self, uri: object, what: str) -> bytes:
        if not isinstance(uri, str) or not uri:
            raise DxglError(ErrorCode.INVALID_MODEL, f"{self.label}: {what}.uri must be a non-empty string")
        if uri.startswith("data:"):
            return _decode_data_uri(uri, f"{self.label}: {what}")
        relative = _safe_relative_path(uri, f"{self.label}: {what}")
        path = self._find(relative)
        if path is None:
            raise DxglError(
                ErrorCode.INVALID_FORMAT,
                f"{self.label} references {relative.as_posix()!r} ({what}), which is not in the upload; "
                "upload a .glb, a .gltf with embedded data: URIs, or a ZIP holding every referenced file",
            )
        return path.read_bytes()

    def _find(self, relative: PurePosixPath) -> Path | None:
        if self.root is None:
            return None
        exact = self.root.joinpath(*relative.parts)
        if exact.is_file() and not exact.is_symlink():
            return exact
        # Windows-made archives often differ from the JSON in letter case only.
        return self._by_lower.get(relative.as_posix().lower())


def _decode_data_uri(uri: str, what: str) -> bytes:
    match = DATA_URI.match(uri)
    if match is None:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{what}: data: URI is malformed or not base64")
    try:
        return binascii.a2b_base64(match.group("payload"), strict_mode=True)
    except (binascii.Error, ValueError):
        raise DxglError(ErrorCode.INVALID_MODEL, f"{what}: data: URI holds invalid base64") from None


def _safe_relative_path(uri: str, what: str) -> PurePosixPath:
    """A relative path inside the upload, or DxglError for anything that could leave it."""
    if URI_SCHEME.match(uri) and not DRIVE_LETTER.match(uri):
        scheme = uri.split(":", 1)[0]
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"{what}: uri {uri[:80]!r} uses the {scheme}: scheme; only relative paths and data: URIs are allowed",
        )
    decoded = unquote(uri.split("#", 1)[0].split("?", 1)[0])
    unified = decoded.replace("\\", "/")
    if "\x00" in decoded or unified.startswith("/") or DRIVE_LETTER.match(unified):
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"{what}: uri {uri[:80]!r} is an absolute path; only paths inside the upload are allowed",
        )
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{what}: uri {uri[:80]!r} climbs out of the upload")
    return PurePosixPath(*parts)


def _align(blob: bytearray, alignment: int) -> None:
    blob.extend(b"\x00" * (-len(blob) % alignment))


def pack_document(doc: dict, glb_bin: bytes | None, resolver: UriResolver, limits: IngestLimits) -> bytes | None:
    """Resolve and validate ``doc``, rewriting it in place to use one buffer; returns that buffer.

    ``glb_bin`` is a GLB's own BIN chunk, if any. The result is None when the model has no binary data.
    """
    buffers = doc.get("buffers", [])
    if not isinstance(buffers, list) or not all(isinstance(b, dict) for b in buffers):
        raise DxglError(ErrorCode.INVALID_MODEL, f"{resolver.label}: 'buffers' must be an array of objects")
    sources: list[bytes | None] = []  # None: an EXT_meshopt_compression fallback buffer, which holds no bytes
    for i, buffer in enumerate(buffers):
        if "uri" in buffer:
            sources.append(resolver.read(buffer["uri"], f"buffers[{i}]"))
        elif i == 0 and glb_bin is not None:
            sources.append(glb_bin)
        elif is_fallback_buffer(buffer):
            sources.append(None)
        else:
            raise DxglError(ErrorCode.INVALID_MODEL, f"{resolver.label}: buffers[{i}] has no uri and no GLB BIN chunk")
    validate_document(doc, [None if s is None else len(s) for s in sources], limits)

    # Every buffer with bytes is merged into buffer 0; fallback buffers stay, as buffers 1.. without a uri.
    blob = bytearray()
    new_index: list[int] = []
    starts: list[int] = []
    fallbacks: list[dict] = []
    for buffer, source in zip(buffers, sources):
        if source is None:
            fallbacks.append(buffer)
            new_index.append(len(fallbacks))
            starts.append(0)
            continue
        _align(blob, BUFFER_ALIGN)
        new_index.append(0)
        starts.append(len(blob))
        blob.extend(source[: buffer["byteLength"]])
    views = doc.setdefault("bufferViews", [])
    for view in views:
        view["byteOffset"] = starts[view["buffer"]] + view.get("byteOffset", 0)
        view["buffer"] = new_index[view["buffer"]]
        compressed = meshopt_of(view)
        if isinstance(compressed, dict):  # validated: its buffer has bytes
            compressed["byteOffset"] = starts[compressed["buffer"]] + compressed.get("byteOffset", 0)
            compressed["buffer"] = new_index[compressed["buffer"]]
    # Every entry of ``images`` counts once in the budget: a loader decodes each entry on its own
    # (however many textures use it), even two entries that share the same bytes.
    budget = TextureBudget(limits)
    for i, image in enumerate(doc.get("images", [])):
        label = f"{resolver.label}: images[{i}]"
        if "uri" in image:
            data = resolver.read(image["uri"], f"images[{i}]")
            header = read_image_header(data, f"{label} ({str(image['uri'])[:60]})", limits)
            image["mimeType"] = header.mime
            del image["uri"]
            _align(blob, 4)
            views.append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(data)})
            image["bufferView"] = len(views) - 1
            blob.extend(data)
        else:
            view = views[image["bufferView"]]
            start = view["byteOffset"]
            header = read_image_header(bytes(blob[start : start + view["byteLength"]]), label, limits)
        budget.add(header)
    budget.check()
    if not views:
        del doc["bufferViews"]
    if blob or fallbacks:
        doc["buffers"] = [{"byteLength": len(blob)}, *fallbacks]
    else:
        doc.pop("buffers", None)
    # The packed result is checked again: packing must never produce what the checks refuse.
    validate_document(doc, [len(blob)] + [None] * len(fallbacks) if blob or fallbacks else [], limits)
    return bytes(blob) if blob else None


def pack_gltf_file(gltf_path: Path, root: Path | None, out_path: Path, limits: IngestLimits, *, label: str) -> None:
    """Pack a .gltf (its files looked up under ``root``; None for a bare upload) into out_path.

    ``label`` names the file in messages as the user knows it (the uploaded file's name, or its path
    inside the ZIP), never ``gltf_path``, which is an internal temporary file."""
    doc = parse_json_document(gltf_path.read_bytes(), label, limits)
    blob = pack_document(doc, None, UriResolver(root, label), limits)
    write_glb(out_path, doc, blob)


def check_glb_upload(path: Path, out_path: Path, limits: IngestLimits) -> Path:
    """Validate an uploaded GLB. Returns it as-is when self-contained, else a packed copy at out_path."""
    contents = read_glb(path, limits)
    doc = contents.document
    referenced = [item for key in ("buffers", "images") for item in (doc.get(key) or []) if isinstance(item, dict)]
    needs_packing = any("uri" in item for item in referenced)
    blob = pack_document(doc, contents.bin_chunk, UriResolver(None, "GLB"), limits)
    if not needs_packing:
        return path
    write_glb(out_path, doc, blob)
    return out_path
