"""Hostile uploads, each a (name, builder(tmp_dir) -> Path, expected_code).

Reusable at the API level: build the file into a temp folder and upload it; the expected code is what
the response must carry. ``MESSAGE_HINTS[name]`` is a fragment the error message must contain.
Traversal names climb two levels (``../../sentinel/...``) because prepare_model extracts into
``work_dir/extracted``: a naive extractor with work_dir = tmp/work would write into tmp/sentinel.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import builders as b

Builder = Callable[[Path], Path]


def _zip(name: str, entries: dict[str, bytes], **kw) -> Builder:
    return lambda tmp: b.write_zip(tmp / name, entries, **kw)


def _glb_doc(mutate: Callable[[dict], None]) -> Builder:
    def build(tmp: Path) -> Path:
        doc, blob = b.triangle_document()
        mutate(doc)
        return b.write_glb(tmp / "model.glb", doc, blob)

    return build


def _gltf_uri(uri: str) -> Builder:
    def build(tmp: Path) -> Path:
        doc, _ = b.triangle_document()
        doc["buffers"][0]["uri"] = uri
        path = tmp / "model.gltf"
        path.write_text(json.dumps(doc))
        return path

    return build


def _raw(name: str, data: bytes) -> Builder:
    def build(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name

    return build


def _bomb_ratio(tmp: Path) -> Path:
    return b.write_zip(tmp / "bomb.zip", {"model.obj": b"\x00" * (20 * 1024 * 1024)})


def _bomb_declared(tmp: Path) -> Path:
    path = b.write_zip(
        tmp / "declared.zip", {"model.obj": b.SIMPLE_OBJ, "big.bin": b"x" * 4096}, compression=zipfile.ZIP_STORED
    )
    return b.patch_zip_sizes(path, file_size=600 * 1000 * 1000)


def _lying_small_size(tmp: Path) -> Path:
    # Declares 10 bytes per entry; the data is longer: extraction must not trust the header.
    path = b.write_zip(tmp / "lying.zip", {"model.obj": b.SIMPLE_OBJ * 50}, compression=zipfile.ZIP_STORED)
    return b.patch_zip_sizes(path, file_size=10)


def _encrypted(tmp: Path) -> Path:
    return b.set_zip_encrypted_flag(b.write_zip(tmp / "enc.zip", {"model.obj": b.SIMPLE_OBJ}))


def _nested_renamed(tmp: Path) -> Path:
    inner = b.write_zip(tmp / "inner.zip", {"model.obj": b.SIMPLE_OBJ})
    data = inner.read_bytes()
    inner.unlink()
    return b.write_zip(tmp / "outer.zip", {"model.obj": data})


def _too_many_entries(tmp: Path) -> Path:
    return b.write_zip(tmp / "many.zip", {f"f{i}.txt": b"x" for i in range(1001)})


def _face_bomb(tmp: Path) -> Path:
    # One face with 5,000,003 corners fans into 5,000,001 triangles: over the 5,000,000 limit.
    # Stored (not deflated) so the ZIP-bomb ratio check does not fire first.
    obj = b"v 0 0 0\nv 1 0 0\nv 0 1 0\nf" + b" 1" * 5_000_003 + b"\n"
    return b.write_zip(tmp / "faces.zip", {"model.obj": obj}, compression=zipfile.ZIP_STORED)


def _glb_texture_over_limit(tmp: Path) -> Path:
    doc, blob = b.triangle_document()
    png = b.png_header_only(10_000, 6_000)
    offset = len(blob)
    doc["bufferViews"].append({"buffer": 0, "byteOffset": offset, "byteLength": len(png)})
    doc["images"] = [{"bufferView": 1, "mimeType": "image/png"}]
    doc["textures"] = [{"source": 0}]
    doc["buffers"][0]["byteLength"] = offset + len(png)
    return b.write_glb(tmp / "bigtex.glb", doc, blob + png)


def _obj_texture_over_limit(tmp: Path) -> Path:
    return b.write_zip(
        tmp / "scan.zip",
        {
            "model.obj": b.SIMPLE_OBJ,
            "model.mtl": b.SIMPLE_MTL,
            "texture.png": b.png_header_only(8_000, 8_000),
        },
    )


def _glb_textures_over_budget(tmp: Path) -> Path:
    # Six distinct 7000x7000 images, each under the 50-megapixel cap: 392 megapixels with their mip
    # chains, over the 256-megapixel budget per model (the headers alone say so: nothing is decoded).
    return b.textured_glb(tmp / "sixtex.glb", [b.png_header_only(7000, 7000 - i) for i in range(6)])


def _obj_textures_over_budget(tmp: Path) -> Path:
    names = [f"m{i}" for i in range(4)]
    obj = b"mtllib model.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl m0\nf 1/1 2/2 3/3\n"
    mtl = "".join(f"newmtl {n}\nKd 1 1 1\nmap_Kd {n}.png\n" for n in names).encode()
    textures = {f"{n}.png": b.png_header_only(7000, 7000) for n in names}  # 4 x 49 MP, 349 MP with mips
    return b.write_zip(tmp / "scan.zip", {"model.obj": obj, "model.mtl": mtl, **textures})


def _deep_json(tmp: Path) -> Path:
    text = '{"asset": {"version": "2.0"}, "extras": ' + "[" * 100_000 + "]" * 100_000 + "}"
    return _raw("deep.gltf", text.encode())(tmp)


def _zip_gltf_escaping(tmp: Path) -> Path:
    doc, blob = b.triangle_document()
    doc["buffers"][0]["uri"] = "../../sentinel/secret.bin"
    return b.write_zip(tmp / "gltf.zip", {"model/scene.gltf": json.dumps(doc).encode(), "model/scene.bin": blob})


def _cycle(doc: dict) -> None:
    doc["nodes"] = [{"mesh": 0, "children": [1]}, {"children": [2]}, {"children": [1]}]


def _set(path: list, value) -> Callable[[dict], None]:
    def mutate(doc: dict) -> None:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _glb_raw(name: str, *, json_bytes: bytes | None = None, **kw) -> Builder:
    # The builder must give the same bytes on every call (each case is built once per database).
    def build(tmp: Path) -> Path:
        doc, blob = b.triangle_document()
        return _raw(name, b.glb_bytes(json_bytes or json.dumps(doc).encode(), blob, **kw))(tmp)

    return build


# --- Compressed encodings (normalise.py): declared sizes that lie, refused before any allocation ---


def _draco_count_1e9(tmp: Path) -> Path:
    # A Draco primitive's accessors have no bufferView: only their count says what decoding allocates.
    doc, blob = b.triangle_document()
    doc["accessors"] = [{"componentType": 5126, "count": 1_000_000_000, "type": "VEC3"}]
    doc["bufferViews"][0]["byteLength"] = 32
    draco = {"KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
    doc["meshes"][0]["primitives"][0]["extensions"] = draco
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    return b.write_glb(tmp / "draco.glb", doc, b"DRACO" + b"\x00" * 31)


def _draco_garbage(tmp: Path) -> Path:
    doc, blob = b.triangle_document()
    doc["accessors"][0].pop("bufferView")
    draco = {"KHR_draco_mesh_compression": {"bufferView": 0, "attributes": {"POSITION": 0}}}
    doc["meshes"][0]["primitives"][0]["extensions"] = draco
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_draco_mesh_compression"]
    return b.write_glb(tmp / "draco.glb", doc, b"DRACO\x02\x02\x01\x01\x00\x00" + b"\xff" * 25)


def _meshopt_glb(tmp: Path, mutate: Callable[[dict, dict], None]) -> Path:
    """The one-triangle GLB with its positions meshopt-compressed into a fallback buffer; ``mutate``
    (doc, the view's extension object) makes a declared size lie."""
    import meshoptimizer
    import numpy as np

    doc, blob = b.triangle_document()
    stream = meshoptimizer.encode_vertex_buffer(np.frombuffer(blob, np.float32).reshape(3, 3), 3, 12)
    doc["buffers"] = [
        {"byteLength": len(stream)},
        {"byteLength": 36, "extensions": {"EXT_meshopt_compression": {"fallback": True}}},
    ]
    ext = {"buffer": 0, "byteOffset": 0, "byteLength": len(stream), "byteStride": 12, "count": 3, "mode": "ATTRIBUTES"}
    doc["bufferViews"] = [
        {
            "buffer": 1,
            "byteOffset": 0,
            "byteLength": 36,
            "byteStride": 12,
            "extensions": {"EXT_meshopt_compression": ext},
        }
    ]
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_meshopt_compression"]
    mutate(doc, ext)
    return b.write_glb(tmp / "meshopt.glb", doc, stream)


def _meshopt_count_1e9(doc: dict, ext: dict) -> None:
    ext["count"] = 1_000_000_000


def _meshopt_length_beyond_buffer(doc: dict, ext: dict) -> None:
    ext["byteLength"] = 10_000_000


def _meshopt_length_too_short(doc: dict, ext: dict) -> None:
    ext["byteLength"] = ext["byteLength"] - 8  # inside the buffer, but the stream needs every byte


def _meshopt_view_length_lies(doc: dict, ext: dict) -> None:
    doc["buffers"][1]["byteLength"] = doc["bufferViews"][0]["byteLength"] = 48  # 3 x 12 decoded, 48 declared


def _ktx2_glb(tmp: Path, width: int, height: int, faces: int = 1) -> Path:
    # A KTX2 header alone (no levels): every check reads only the header, before basisu runs.
    ktx2 = b"\xabKTX 20\xbb\r\n\x1a\n" + struct.pack("<9I", 0, 1, width, height, 0, 0, faces, 1, 0) + b"\x00" * 32
    doc, blob = b.triangle_document()
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(ktx2)})
    doc["images"] = [{"bufferView": 1, "mimeType": "image/ktx2"}]
    doc["textures"] = [{"extensions": {"KHR_texture_basisu": {"source": 0}}}]
    doc["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
    doc["meshes"][0]["primitives"][0]["material"] = 0
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_texture_basisu"]
    doc["buffers"][0]["byteLength"] = len(blob) + len(ktx2)
    return b.write_glb(tmp / "ktx2.glb", doc, blob + ktx2)


def _instancing_triangle_bomb(tmp: Path) -> Path:
    # 10 million (zero) triangles, shown 10 times by GPU instancing: 100 million, in a file of 1 KB.
    doc, blob = b.triangle_document()
    doc["accessors"] += [
        {"componentType": 5125, "count": 30_000_000, "type": "SCALAR"},
        {"componentType": 5126, "count": 10, "type": "VEC3"},
    ]
    doc["meshes"][0]["primitives"][0]["indices"] = 1
    doc["nodes"][0]["extensions"] = {"EXT_mesh_gpu_instancing": {"attributes": {"TRANSLATION": 2}}}
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["EXT_mesh_gpu_instancing"]
    return b.write_glb(tmp / "instances.glb", doc, blob)


HOSTILE_CASES: list[tuple[str, Builder, str]] = [
    # ZIP structure
    ("zip_dotdot", _zip("a.zip", {"../../sentinel/pwned.obj": b.SIMPLE_OBJ}), "invalid_model"),
    ("zip_dotdot_inside", _zip("a.zip", {"scan/../../../sentinel/pwned.obj": b.SIMPLE_OBJ}), "invalid_model"),
    ("zip_backslash_dotdot", _zip("a.zip", {"..\\..\\sentinel\\pwned.obj": b.SIMPLE_OBJ}), "invalid_model"),
    ("zip_absolute", _zip("a.zip", {"/tmp/pwned.obj": b.SIMPLE_OBJ}), "invalid_model"),
    ("zip_drive_letter", _zip("a.zip", {"C:/Windows/pwned.obj": b.SIMPLE_OBJ}), "invalid_model"),
    (
        "zip_symlink",
        lambda tmp: b.write_zip_symlink(tmp / "l.zip", "link", "../../sentinel", {"link/pwned.obj": b.SIMPLE_OBJ}),
        "invalid_model",
    ),
    ("zip_bomb_ratio", _bomb_ratio, "invalid_model"),
    ("zip_bomb_declared_size", _bomb_declared, "invalid_model"),
    ("zip_size_lies_small", _lying_small_size, "invalid_model"),
    ("zip_nested_by_name", _zip("a.zip", {"inner.zip": b"PK\x05\x06" + b"\x00" * 18}), "invalid_model"),
    ("zip_nested_by_content", _nested_renamed, "invalid_model"),
    ("zip_encrypted", _encrypted, "invalid_model"),
    ("zip_too_many_entries", _too_many_entries, "invalid_model"),
    ("zip_damaged", _raw("d.zip", b"PK\x03\x04" + b"\xff" * 200), "invalid_model"),
    ("zip_two_objs", _zip("a.zip", {"a.obj": b.SIMPLE_OBJ, "b/b.obj": b.SIMPLE_OBJ}), "invalid_format"),
    ("zip_no_model", _zip("a.zip", {"readme.txt": b"hello"}), "invalid_format"),
    ("zip_empty", _raw("e.zip", b"PK\x05\x06" + b"\x00" * 18), "invalid_format"),
    # OBJ content
    ("obj_face_bomb", _face_bomb, "invalid_model"),
    ("obj_no_faces", _zip("a.zip", {"model.obj": b"v 0 0 0\nv 1 0 0\n"}), "invalid_model"),
    ("obj_texture_over_50mp", _obj_texture_over_limit, "invalid_model"),
    ("obj_textures_over_budget", _obj_textures_over_budget, "invalid_model"),
    # GLB container
    ("glb_total_length_lies", _glb_raw("a.glb", total_override=10_000_000), "invalid_model"),
    ("glb_chunk_length_lies", _glb_raw("a.glb", json_length_override=0x7FFFFFF0), "invalid_model"),
    ("glb_version_1", _glb_raw("a.glb", version=1), "invalid_model"),
    ("glb_truncated", _raw("a.glb", b"glTF\x02\x00\x00\x00"), "invalid_model"),
    ("glb_json_not_json", _glb_raw("a.glb", json_bytes=b"{this is not json"), "invalid_model"),
    ("glb_json_not_object", _glb_raw("a.glb", json_bytes=b"[1, 2, 3]"), "invalid_model"),
    ("glb_json_nan", _glb_raw("a.glb", json_bytes=b'{"asset": {"version": "2.0"}, "x": NaN}'), "invalid_model"),
    # glTF structure
    ("gltf_accessor_beyond_view", _glb_doc(_set(["accessors", 0, "count"], 4)), "invalid_model"),
    ("gltf_view_beyond_buffer", _glb_doc(_set(["bufferViews", 0, "byteLength"], 4096)), "invalid_model"),
    ("gltf_buffer_longer_than_data", _glb_doc(_set(["buffers", 0, "byteLength"], 1_000_000)), "invalid_model"),
    ("gltf_count_1e9", _glb_doc(_set(["accessors", 0, "count"], 1_000_000_000)), "invalid_model"),
    ("gltf_node_two_parents", _glb_doc(_cycle), "invalid_model"),
    ("gltf_node_cycle", _glb_doc(_set(["nodes"], [{"mesh": 0, "children": [1]}, {"children": [0]}])), "invalid_model"),
    ("gltf_node_own_child", _glb_doc(_set(["nodes"], [{"mesh": 0, "children": [0]}])), "invalid_model"),
    (
        "gltf_index_out_of_range",
        _glb_doc(_set(["meshes", 0, "primitives", 0, "attributes", "POSITION"], 99)),
        "invalid_model",
    ),
    ("gltf_deep_json", _deep_json, "invalid_model"),
    ("gltf_texture_over_50mp", _glb_texture_over_limit, "invalid_model"),
    ("gltf_textures_over_budget", _glb_textures_over_budget, "invalid_model"),
    # glTF URIs
    ("gltf_uri_dotdot", _gltf_uri("../../sentinel/secret.bin"), "invalid_model"),
    ("gltf_uri_percent_dotdot", _gltf_uri("%2e%2e/%2e%2e/etc/passwd"), "invalid_model"),
    ("gltf_uri_absolute", _gltf_uri("/etc/passwd"), "invalid_model"),
    ("gltf_uri_windows_drive", _gltf_uri("C:\\Windows\\win.ini"), "invalid_model"),
    ("gltf_uri_file_scheme", _gltf_uri("file:///etc/passwd"), "invalid_model"),
    ("gltf_uri_http", _gltf_uri("http://169.254.169.254/latest/meta-data"), "invalid_model"),
    ("gltf_data_uri_bad_base64", _gltf_uri("data:application/octet-stream;base64,@@not*base64@@"), "invalid_model"),
    ("gltf_data_uri_not_base64", _gltf_uri("data:application/octet-stream,plain"), "invalid_model"),
    ("gltf_zip_uri_escaping", _zip_gltf_escaping, "invalid_model"),
    ("gltf_missing_bin", _gltf_uri("scene.bin"), "invalid_format"),
    # Compressed encodings
    ("gltf_draco_count_1e9", _draco_count_1e9, "invalid_model"),
    ("gltf_draco_garbage", _draco_garbage, "invalid_model"),
    ("gltf_meshopt_count_1e9", lambda tmp: _meshopt_glb(tmp, _meshopt_count_1e9), "invalid_model"),
    (
        "gltf_meshopt_length_beyond_buffer",
        lambda tmp: _meshopt_glb(tmp, _meshopt_length_beyond_buffer),
        "invalid_model",
    ),
    ("gltf_meshopt_length_too_short", lambda tmp: _meshopt_glb(tmp, _meshopt_length_too_short), "invalid_model"),
    ("gltf_meshopt_view_length_lies", lambda tmp: _meshopt_glb(tmp, _meshopt_view_length_lies), "invalid_model"),
    ("gltf_ktx2_65536_square", lambda tmp: _ktx2_glb(tmp, 65_536, 65_536), "invalid_model"),
    ("gltf_ktx2_over_50mp", lambda tmp: _ktx2_glb(tmp, 8_000, 8_000), "invalid_model"),
    ("gltf_ktx2_cube_map", lambda tmp: _ktx2_glb(tmp, 64, 64, faces=6), "invalid_model"),
    ("gltf_ktx2_damaged", lambda tmp: _ktx2_glb(tmp, 64, 64), "invalid_model"),
    ("gltf_instancing_triangle_bomb", _instancing_triangle_bomb, "invalid_model"),
    # Not a model at all
    ("not_a_model", _raw("model.glb", b"\x7fELF" + b"\x00" * 60), "invalid_format"),
]

MESSAGE_HINTS: dict[str, str] = {
    "zip_dotdot": "'..'",
    "zip_dotdot_inside": "'..'",
    "zip_backslash_dotdot": "'..'",
    "zip_absolute": "absolute path",
    "zip_drive_letter": "drive letter",
    "zip_symlink": "symbolic link",
    "zip_bomb_ratio": "ZIP bomb",
    "zip_bomb_declared_size": "expands",
    "zip_size_lies_small": "model.obj",
    "zip_nested_by_name": "nested archives",
    "zip_nested_by_content": "nested archives",
    "zip_encrypted": "encrypted",
    "zip_too_many_entries": "entries",
    "zip_damaged": "damaged",
    "zip_two_objs": "one model per ZIP",
    "zip_no_model": "no .obj or .gltf",
    "zip_empty": "no .obj or .gltf",
    "obj_face_bomb": "triangles",
    "obj_no_faces": "no faces",
    "obj_texture_over_50mp": "megapixels",
    "obj_textures_over_budget": "the texture budget is 256 megapixels",
    "glb_total_length_lies": "header says",
    "glb_chunk_length_lies": "chunk declares",
    "glb_version_1": "version 1",
    "glb_truncated": "shorter than",
    "glb_json_not_json": "not valid JSON",
    "glb_json_not_object": "not an object",
    "glb_json_nan": "NaN",
    "gltf_accessor_beyond_view": "accessors[0] needs",
    "gltf_view_beyond_buffer": "bufferViews[0] reaches",
    "gltf_buffer_longer_than_data": "buffers[0] declares",
    "gltf_count_1e9": "count = 1000000000",
    "gltf_node_two_parents": "two parents",
    "gltf_node_cycle": "node cycle",
    "gltf_node_own_child": "own child",
    "gltf_index_out_of_range": "POSITION = 99",
    "gltf_deep_json": "nested too deeply",
    "gltf_texture_over_50mp": "megapixels",
    "gltf_textures_over_budget": "the texture budget is 256 megapixels",
    "gltf_uri_dotdot": "climbs out",
    "gltf_uri_percent_dotdot": "climbs out",
    "gltf_uri_absolute": "absolute path",
    "gltf_uri_windows_drive": "absolute path",
    "gltf_uri_file_scheme": "file: scheme",
    "gltf_uri_http": "http: scheme",
    "gltf_data_uri_bad_base64": "base64",
    "gltf_data_uri_not_base64": "base64",
    "gltf_zip_uri_escaping": "climbs out",
    "gltf_missing_bin": "scene.bin",
    "not_a_model": "not a GLB",
    "gltf_draco_count_1e9": "accessors[0].count = 1000000000 exceeds",
    "gltf_draco_garbage": "KHR_draco_mesh_compression data could not be decoded",
    "gltf_meshopt_count_1e9": "EXT_meshopt_compression.count = 1000000000 exceeds",
    "gltf_meshopt_length_beyond_buffer": "EXT_meshopt_compression reaches byte 10000000 of buffers[0]",
    "gltf_meshopt_length_too_short": "EXT_meshopt_compression data could not be decoded",
    "gltf_meshopt_view_length_lies": "decodes to 3 x 12 = 36 bytes but bufferViews[0].byteLength is 48",
    "gltf_ktx2_65536_square": "megapixels",
    "gltf_ktx2_over_50mp": "KTX2 image of 8000x8000 (64 megapixels); the limit is 50 megapixels",
    "gltf_ktx2_cube_map": "cube map",
    "gltf_ktx2_damaged": "images[0] (KTX2) could not be transcoded",
    "gltf_instancing_triangle_bomb": "draws 100000000 triangles",
}


def lay_out(tmp_path: Path, build: Builder) -> tuple[Path, Path]:
    """A hostile case's scene: ``sentinel/secret.bin`` (what a traversal would aim at) and the case
    built in ``cases/``. Returns (the cases folder, the upload)."""
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    (sentinel / "secret.bin").write_bytes(b"do not read or overwrite")
    cases = tmp_path / "cases"
    cases.mkdir()
    return cases, build(cases)


def snapshot(root: Path, skip: set[Path]) -> dict[str, str]:
    """Every path under root (but the skipped folders) with a content hash; links show as links.
    Two equal snapshots around an operation prove it wrote nothing there."""
    state: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if any(path == s or s in path.parents for s in skip):
            continue
        if path.is_symlink():
            state[str(path)] = "link->" + str(path.readlink())
        elif path.is_file():
            state[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            state[str(path)] = "dir"
    return state
