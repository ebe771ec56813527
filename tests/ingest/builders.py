"""Small byte-level builders of (valid and broken) GLB, glTF, ZIP and PNG files for the ingest tests."""

from __future__ import annotations

import json
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

GLB_JSON = 0x4E4F534A
GLB_BIN = 0x004E4942


def triangle_document(extra_nodes: list[dict] | None = None) -> tuple[dict, bytes]:
    """A valid one-triangle glTF document and its 36-byte buffer (3 float32 VEC3 positions)."""
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32).tobytes()
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": extra_nodes if extra_nodes is not None else [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}}]}],
        "buffers": [{"byteLength": len(positions)}],
        "bufferViews": [{"buffer": 0, "byteOffset": 0, "byteLength": len(positions)}],
        "accessors": [
            {
                "bufferView": 0,
                "componentType": 5126,
                "count": 3,
                "type": "VEC3",
                "min": [0, 0, 0],
                "max": [1, 1, 0],
            }
        ],
    }
    return doc, positions


def pad4(data: bytes, filler: bytes) -> bytes:
    return data + filler * (-len(data) % 4)


def glb_bytes(
    json_bytes: bytes,
    bin_chunk: bytes | None,
    *,
    total_override: int | None = None,
    json_length_override: int | None = None,
    version: int = 2,
) -> bytes:
    """Assemble a GLB; the overrides let a test make the header or chunk lengths lie."""
    json_bytes = pad4(json_bytes, b" ")
    body = (
        struct.pack("<II", json_length_override if json_length_override is not None else len(json_bytes), GLB_JSON)
        + json_bytes
    )
    if bin_chunk is not None:
        padded = pad4(bin_chunk, b"\x00")
        body += struct.pack("<II", len(padded), GLB_BIN) + padded
    total = total_override if total_override is not None else 12 + len(body)
    return struct.pack("<4sII", b"glTF", version, total) + body


def write_glb(path: Path, doc: dict, bin_chunk: bytes | None) -> Path:
    path.write_bytes(glb_bytes(json.dumps(doc).encode(), bin_chunk))
    return path


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR declares width x height, with a tiny (undecodable-to-size) IDAT.

    Pillow reads the size from IHDR without decoding, which is what the megapixel check relies on.
    """

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )


def write_zip(path: Path, entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = compression
            zf.writestr(info, data)
    return path


def write_zip_symlink(path: Path, link_name: str, target: str, extra: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        info = zipfile.ZipInfo(link_name)
        info.create_system = 3
        info.external_attr = 0o120777 << 16
        zf.writestr(info, target)
        for name, data in extra.items():
            zf.writestr(name, data)
    return path


def patch_zip_sizes(path: Path, *, file_size: int) -> Path:
    """Rewrite the uncompressed size declared in every local and central header (sizes that lie)."""
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            struct.pack_into("<I", data, at + offset, file_size)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


def set_zip_encrypted_flag(path: Path) -> Path:
    data = bytearray(path.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (at := data.find(signature, start)) >= 0:
            flags = struct.unpack_from("<H", data, at + offset)[0]
            struct.pack_into("<H", data, at + offset, flags | 0x1)
            start = at + 4
    path.write_bytes(bytes(data))
    return path


SIMPLE_OBJ = b"mtllib model.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl body\nf 1/1 2/2 3/3\n"
SIMPLE_MTL = b"newmtl body\nKd 1 1 1\nmap_Kd texture.png\n"


def flat_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real, decodable RGB PNG of one flat colour, compressed row by row (a 6900x6900 one is about
    140 KB): what a texture-budget attack looks like."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" + bytes(rgb) * width  # filter type 0, then the pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def textured_glb(path: Path, images: list[bytes]) -> Path:
    """The one-triangle GLB with ``images`` embedded (each its own buffer view, image and texture),
    the first used as the base colour of its one material."""
    doc, blob = triangle_document()
    data = bytearray(blob)
    doc["images"], doc["textures"] = [], []
    for image in images:
        data.extend(b"\x00" * (-len(data) % 4))
        doc["bufferViews"].append({"buffer": 0, "byteOffset": len(data), "byteLength": len(image)})
        doc["images"].append({"bufferView": len(doc["bufferViews"]) - 1, "mimeType": "image/png"})
        doc["textures"].append({"source": len(doc["images"]) - 1})
        data.extend(image)
    doc["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
    doc["meshes"][0]["primitives"][0]["material"] = 0
    doc["buffers"][0]["byteLength"] = len(data)
    return write_glb(path, doc, bytes(data))
