"""Turning an uploaded file into the one GLB we store: recognised by content, validated and
converted by ``dxgl.ingest`` (limits, containment, a child process for the parse)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dxgl.errors import DxglError
from dxgl.runtime import Runtime
from dxgl.services.uploads import UploadedFile


@dataclass
class PreparedFile:
    glb_path: Path
    source_kind: str
    warnings: list[str] = field(default_factory=list)


def sniff(path: Path) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(64)
    if head.startswith(b"glTF"):
        return "glb"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{"):
        return "gltf"
    return None


def prepare(rt: Runtime, upload: UploadedFile) -> PreparedFile:
    """Blocking (run it in a thread). Raises invalid_format for files that are not GLB/glTF/ZIP."""
    kind = sniff(upload.path)
    if kind is None:
        raise DxglError("invalid_format", "File is not a GLB, glTF or ZIP (recognised by its content, not its name)")
    if kind == "zip":
        raise DxglError("invalid_format", "ZIP uploads (OBJ scans, multi-file glTF) are not supported yet")
    staged = rt.storage.temp_path(".glb")
    shutil.copyfile(upload.path, staged)
    return PreparedFile(staged, kind)
