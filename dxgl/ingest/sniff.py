"""Recognise a model file by its first bytes, never by its name."""

from __future__ import annotations

from typing import Literal

ModelKind = Literal["glb", "gltf", "zip"]

GLB_MAGIC = b"glTF"
ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_EMPTY_ARCHIVE = b"PK\x05\x06"  # an archive with no entries starts with its end record
UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"

# How many leading bytes callers should pass: enough to skip a BOM and some whitespace.
SNIFF_BYTES = 4096


def sniff_format(head: bytes) -> ModelKind | None:
    """Return the model kind the leading bytes of a file show, or None if they show none."""
    if head.startswith(GLB_MAGIC):
        return "glb"
    if head.startswith(ZIP_LOCAL_HEADER) or head.startswith(ZIP_EMPTY_ARCHIVE):
        return "zip"
    body = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    body = body.lstrip(JSON_WHITESPACE)
    if body.startswith(b"{"):
        return "gltf"
    return None


def sniff_file(path) -> ModelKind | None:
    """sniff_format on the first SNIFF_BYTES of a file."""
    with open(path, "rb") as f:
        return sniff_format(f.read(SNIFF_BYTES))
