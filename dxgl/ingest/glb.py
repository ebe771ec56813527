"""The GLB container: read one whose header and chunk lengths may lie, and write a packed one."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import IngestLimits

GLB_HEADER = struct.Struct("<4sII")  # magic, version, total length
CHUNK_HEADER = struct.Struct("<II")  # chunk length, chunk type
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942


@dataclass
class GlbContents:
    document: dict
    bin_chunk: bytes | None


def _bad(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, f"GLB: {message}")


def parse_json_document(raw: bytes, label: str, limits: IngestLimits) -> dict:
    """Decode glTF JSON strictly: UTF-8 (BOM allowed), an object, no NaN/Infinity, bounded size."""
    if len(raw) > limits.max_json_bytes:
        raise DxglError(
            ErrorCode.INVALID_MODEL, f"{label}: JSON is {len(raw)} bytes; the limit is {limits.max_json_bytes}"
        )
    try:
        text = raw.decode("utf-8-sig")
        doc = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{label}: JSON is nested too deeply") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{label}: not valid JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise DxglError(ErrorCode.INVALID_MODEL, f"{label}: the JSON is not an object")
    return doc


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed in glTF JSON")


def read_glb(path: Path, limits: IngestLimits) -> GlbContents:
    """Parse a GLB file, checking every declared length against the real file size."""
    data = path.read_bytes()
    if len(data) < GLB_HEADER.size:
        raise _bad("file is shorter than the 12-byte header")
    magic, version, total = GLB_HEADER.unpack_from(data, 0)
    if magic != b"glTF":
        raise _bad("wrong magic")
    if version != 2:
        raise _bad(f"version {version} is not supported (only glTF 2.0)")
    if total != len(data):
        raise _bad(f"header says {total} bytes but the file has {len(data)}")
    offset = GLB_HEADER.size
    chunks: list[tuple[int, bytes]] = []
    while offset < total:
        if offset + CHUNK_HEADER.size > total:
            raise _bad("truncated chunk header")
        length, ctype = CHUNK_HEADER.unpack_from(data, offset)
        offset += CHUNK_HEADER.size
        if length > total - offset:
            raise _bad(f"chunk declares {length} bytes but only {total - offset} remain")
        chunks.append((ctype, data[offset : offset + length]))
        offset += length
    if not chunks or chunks[0][0] != CHUNK_JSON:
        raise _bad("the first chunk is not JSON")
    document = parse_json_document(chunks[0][1], "GLB", limits)
    bin_chunk = chunks[1][1] if len(chunks) > 1 and chunks[1][0] == CHUNK_BIN else None
    return GlbContents(document=document, bin_chunk=bin_chunk)


def _pad(data: bytes, filler: bytes) -> bytes:
    return data + filler * (-len(data) % 4)


def write_glb(path: Path, document: dict, bin_chunk: bytes | None) -> None:
    """Write a GLB 2.0 file: JSON chunk padded with spaces, BIN chunk padded with zeros."""
    json_bytes = _pad(json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8"), b" ")
    parts = [CHUNK_HEADER.pack(len(json_bytes), CHUNK_JSON), json_bytes]
    if bin_chunk is not None:
        padded = _pad(bin_chunk, b"\x00")
        parts += [CHUNK_HEADER.pack(len(padded), CHUNK_BIN), padded]
    body = b"".join(parts)
    with open(path, "wb") as f:
        f.write(GLB_HEADER.pack(b"glTF", 2, GLB_HEADER.size + len(body)))
        f.write(body)
