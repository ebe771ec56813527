"""Recognise a model file by its first bytes (and, for a binary STL, its size), never by its name."""

from __future__ import annotations

import math
import struct
from typing import Literal

ModelKind = Literal["glb", "gltf", "zip", "usdz", "usda", "usdc", "stl", "ply"]

GLB_MAGIC = b"glTF"
ZIP_LOCAL_HEADER = b"PK\x03\x04"
ZIP_EMPTY_ARCHIVE = b"PK\x05\x06"  # an archive with no entries starts with its end record
UTF8_BOM = b"\xef\xbb\xbf"
JSON_WHITESPACE = b" \t\r\n"
USDC_MAGIC = b"PXR-USDC"
USDA_MAGIC = b"#usda 1.0"
PLY_MAGICS = (b"ply\n", b"ply\r\n")
USD_SUFFIXES = (".usd", ".usda", ".usdc")
STL_HEADER_BYTES = 80
STL_RECORD_BYTES = 50
_ZIP_LOCAL = struct.Struct("<4sHHHHHIIIHH")  # ... name length, extra length; the name follows

# How many leading bytes callers should pass: enough to skip a BOM and some whitespace.
SNIFF_BYTES = 4096

# Every message that lists what may be uploaded says it this way.
ACCEPTED_FORMATS = "a GLB, a glTF (JSON), a USDZ, USDA or USDC, an STL, a PLY, or a ZIP of one model"


def sniff_format(head: bytes, size: int | None = None) -> ModelKind | None:
    """Return the model kind the leading bytes of a file show, or None if they show none.

    ``size`` (the whole file's length) lets a binary STL, which has no magic, be recognised: an
    80-byte header, a uint32 triangle count and then 50-byte triangles, the size exactly
    84 + 50 x count. Without it a binary STL is not recognised."""
    if head.startswith(GLB_MAGIC):
        return "glb"
    if head.startswith(ZIP_LOCAL_HEADER):
        return "usdz" if _first_member_is_usd(head) else "zip"
    if head.startswith(ZIP_EMPTY_ARCHIVE):
        return "zip"
    if head.startswith(USDC_MAGIC):
        return "usdc"
    if head.startswith(USDA_MAGIC):
        return "usda"
    if head.startswith(PLY_MAGICS):
        return "ply"
    body = head[len(UTF8_BOM) :] if head.startswith(UTF8_BOM) else head
    body = body.lstrip(JSON_WHITESPACE)
    if body.startswith(b"{"):
        return "gltf"
    # A binary STL's free-form header may start with "solid" too: its size rule decides first.
    if size is not None and looks_like_binary_stl(head, size):
        return "stl"
    if is_ascii_stl(head):
        return "stl"
    return None


def _first_member_is_usd(head: bytes) -> bool:
    """A USDZ is a ZIP whose first member is a USD layer (the spec also wants it stored, unaligned
    members are accepted: the archive is extracted, not memory-mapped)."""
    if len(head) < _ZIP_LOCAL.size:
        return False
    name_len = _ZIP_LOCAL.unpack_from(head, 0)[9]
    name = head[_ZIP_LOCAL.size : _ZIP_LOCAL.size + name_len].decode("utf-8", "replace").lower()
    return name.endswith(USD_SUFFIXES)


def is_ascii_stl(head: bytes) -> bool:
    """Starts with ``solid`` (leading whitespace allowed) and shows a ``facet`` or ``endsolid``."""
    return head.lstrip().startswith(b"solid") and (b"facet" in head or b"endsolid" in head)


def looks_like_binary_stl(head: bytes, size: int) -> bool:
    """The exact size rule (84 + 50 x count, count >= 1), or a damaged binary STL: whole 50-byte
    records after the header and a first record that reads as a triangle (finite coordinates, a unit
    or zero normal). A damaged one is then refused by the converter, naming its count."""
    if len(head) < STL_HEADER_BYTES + 4 or size < STL_HEADER_BYTES + 4 + STL_RECORD_BYTES:
        return False
    (count,) = struct.unpack_from("<I", head, STL_HEADER_BYTES)
    if count >= 1 and size == STL_HEADER_BYTES + 4 + STL_RECORD_BYTES * count:
        return True
    if (size - STL_HEADER_BYTES - 4) % STL_RECORD_BYTES or len(head) < STL_HEADER_BYTES + 4 + STL_RECORD_BYTES:
        return False
    values = struct.unpack_from("<12f", head, STL_HEADER_BYTES + 4)
    if not all(math.isfinite(v) and abs(v) < 1e12 for v in values):
        return False
    length = math.sqrt(sum(v * v for v in values[:3]))
    return length < 1e-6 or abs(length - 1.0) < 0.01


def sniff_file(path) -> ModelKind | None:
    """sniff_format on the first SNIFF_BYTES of a file, with its size."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
        f.seek(0, 2)
        return sniff_format(head, f.tell())
