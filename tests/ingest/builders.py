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


COMPONENT_TYPE_OF = {"int8": 5120, "uint8": 5121, "int16": 5122, "uint16": 5123, "uint32": 5125, "float32": 5126}


class GltfBuilder:
    """A glTF document built piece by piece, with its BIN chunk (the decode tests' files).

    Views are 4-byte aligned in buffer 0; ``accessor`` takes (count, components) arrays of a glTF
    component dtype. Nodes added with ``node`` are roots of scene 0 unless ``root=False``."""

    def __init__(self) -> None:
        self.doc: dict = {
            "asset": {"version": "2.0"},
            "scene": 0,
            "scenes": [{"nodes": []}],
            "nodes": [],
            "meshes": [],
            "accessors": [],
            "bufferViews": [],
            "buffers": [{"byteLength": 0}],
        }
        self.blob = bytearray()

    def _add(self, key: str, item: dict) -> int:
        self.doc.setdefault(key, []).append(item)
        return len(self.doc[key]) - 1

    def view(self, data: bytes, **extra) -> int:
        self.blob.extend(b"\x00" * (-len(self.blob) % 4))
        index = self._add("bufferViews", {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data), **extra})
        self.blob.extend(data)
        return index

    def accessor(self, values, gltf_type: str, *, normalized: bool = False, view: int | None = None, **extra) -> int:
        values = np.ascontiguousarray(values)
        acc = {
            "componentType": COMPONENT_TYPE_OF[values.dtype.name],
            "count": len(values),
            "type": gltf_type,
            "bufferView": self.view(values.tobytes()) if view is None else view,
            **extra,
        }
        if normalized:
            acc["normalized"] = True
        if gltf_type == "VEC3" and values.dtype == np.float32 and "min" not in extra:
            acc["min"], acc["max"] = values.min(axis=0).tolist(), values.max(axis=0).tolist()
        return self._add("accessors", acc)

    def mesh(self, *primitives: dict) -> int:
        return self._add("meshes", {"primitives": list(primitives)})

    def node(self, root: bool = True, **fields) -> int:
        index = self._add("nodes", fields)
        if root:
            self.doc["scenes"][0]["nodes"].append(index)
        return index

    def image(self, data: bytes, mime: str = "image/png") -> int:
        return self._add("images", {"bufferView": self.view(data), "mimeType": mime})

    def texture(self, image: bytes, mime: str = "image/png") -> int:
        """A texture whose ``source`` is a new image of ``image``."""
        return self._add("textures", {"source": self.image(image, mime)})

    def raw_texture(self, **fields) -> int:
        return self._add("textures", fields)

    def material(self, **fields) -> int:
        return self._add("materials", fields)

    def use(self, *names: str, required: bool = False) -> None:
        for name in names:
            for key in ("extensionsUsed", "extensionsRequired") if required else ("extensionsUsed",):
                if name not in self.doc.setdefault(key, []):
                    self.doc[key].append(name)

    def glb(self, path: Path) -> Path:
        self.doc["buffers"][0]["byteLength"] = len(self.blob)
        return write_glb(path, self.doc, bytes(self.blob))


def quad_positions() -> np.ndarray:
    """(4, 3) float32: the unit square in the XY plane (two triangles with QUAD_INDICES)."""
    return np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=np.float32)


QUAD_INDICES = np.array([[0], [1], [2], [0], [2], [3]], dtype=np.uint16)
QUAD_UVS = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float32)


def meshopt_filter_encode(kind: str, values: np.ndarray, stride: int, bits: int) -> bytes:
    """``values`` (count, 4) float32 (3 for EXPONENTIAL) through meshoptimizer's own filter encoder:
    the bytes an EXT_meshopt_compression OCTAHEDRAL / QUATERNION / EXPONENTIAL stream decodes to."""
    import ctypes

    from meshoptimizer._loader import lib

    values = np.ascontiguousarray(values, dtype=np.float32)
    count = len(values)
    out = np.zeros(count * stride, dtype=np.uint8)
    function = {"OCTAHEDRAL": lib.meshopt_encodeFilterOct, "QUATERNION": lib.meshopt_encodeFilterQuat}.get(kind)
    args = [out.ctypes.data_as(ctypes.c_void_p), ctypes.c_size_t(count), ctypes.c_size_t(stride), ctypes.c_int(bits)]
    args.append(values.ctypes.data_as(ctypes.c_void_p))
    if function is None:  # EXPONENTIAL takes a mode (0: separate exponents per component)
        function = lib.meshopt_encodeFilterExp
        args.append(ctypes.c_int(0))
    function.restype = None
    function(*args)
    return out.tobytes()
