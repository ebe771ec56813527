"""Synthetic GLBs with known values for each encoding normalise_glb decodes, read back with trimesh
(what dxgl/render/scene.py loads) or from the output's JSON and bytes."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ingest import prepare_model
from dxgl.ingest.glb import read_glb
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.normalise import normalise_glb

from . import builders as b

RED_PNG = b.flat_png(4, 4, (200, 10, 10))


def _normalise(builder: b.GltfBuilder, tmp: Path, name: str = "model.glb"):
    src = builder.glb(tmp / name)
    return normalise_glb(src, tmp / f"{name}.decoded.glb", DEFAULT_LIMITS, label=name)


def _doc(path: Path) -> dict:
    return read_glb(path, DEFAULT_LIMITS).document


def _meshes(path: Path) -> list:
    """The scene's meshes in world space (trimesh), in node order."""
    return list(trimesh.load(str(path), force="scene", process=False).dump())


def _gltf_uv(mesh) -> np.ndarray:
    """(N, 2) UVs in glTF's convention (trimesh flips V on load)."""
    uv = np.asarray(mesh.visual.uv, dtype=np.float64).copy()
    uv[:, 1] = 1.0 - uv[:, 1]
    return uv


def _textured_quad(builder: b.GltfBuilder, material: int, uv_sets: dict[str, np.ndarray] | None = None) -> dict:
    attributes = {"POSITION": builder.accessor(b.quad_positions(), "VEC3")}
    for name, values in (uv_sets or {"TEXCOORD_0": b.QUAD_UVS}).items():
        attributes[name] = builder.accessor(values, "VEC2")
    return {"attributes": attributes, "indices": builder.accessor(b.QUAD_INDICES, "SCALAR"), "material": material}


# --- KHR_texture_transform and texCoord -----------------------------------------------------------


def test_texture_transform_offset_rotation_scale_is_baked_into_the_uvs(tmp_path: Path):
    g = b.GltfBuilder()
    transform = {"offset": [0.5, 0.25], "rotation": math.pi / 2, "scale": [2.0, 3.0]}
    info = {"index": g.texture(RED_PNG), "extensions": {"KHR_texture_transform": transform}}
    material = g.material(name="label", pbrMetallicRoughness={"baseColorTexture": info})
    g.node(mesh=g.mesh(_textured_quad(g, material)))
    g.use("KHR_texture_transform")
    result = _normalise(g, tmp_path)
    assert result.path != tmp_path / "model.glb" and result.warnings == []
    # The extension's T * R * S (rotation counter-clockwise in UV space): u' = 3 v + 0.5, v' = -2 u + 0.25.
    expected = np.array([[0.5, 0.25], [0.5, -1.75], [3.5, -1.75], [3.5, 0.25]])
    (mesh,) = _meshes(result.path)
    assert np.allclose(_gltf_uv(mesh), expected, atol=1e-6)
    out = _doc(result.path)
    assert "KHR_texture_transform" not in json.dumps(out)
    assert "extensionsUsed" not in out


def test_texcoord_1_is_baked_into_texcoord_0(tmp_path: Path):
    g = b.GltfBuilder()
    second = np.array([[0.1, 0.2], [0.3, 0.2], [0.3, 0.4], [0.1, 0.4]], dtype=np.float32)
    material = g.material(pbrMetallicRoughness={"baseColorTexture": {"index": g.texture(RED_PNG), "texCoord": 1}})
    uv_sets = {"TEXCOORD_0": np.zeros((4, 2), np.float32), "TEXCOORD_1": second}
    g.node(mesh=g.mesh(_textured_quad(g, material, uv_sets)))
    result = _normalise(g, tmp_path)
    (mesh,) = _meshes(result.path)
    assert np.allclose(_gltf_uv(mesh), second)
    prim = _doc(result.path)["meshes"][0]["primitives"][0]
    assert set(prim["attributes"]) == {"POSITION", "TEXCOORD_0"}
    assert "texCoord" not in json.dumps(_doc(result.path)["materials"])


def test_the_transform_texcoord_override_selects_the_uv_set(tmp_path: Path):
    g = b.GltfBuilder()
    second = np.array([[0.5, 0.5], [1, 0.5], [1, 1], [0.5, 1]], dtype=np.float32)
    info = {"index": g.texture(RED_PNG), "extensions": {"KHR_texture_transform": {"texCoord": 1, "offset": [1, 0]}}}
    material = g.material(pbrMetallicRoughness={"baseColorTexture": info})
    g.node(mesh=g.mesh(_textured_quad(g, material, {"TEXCOORD_0": b.QUAD_UVS, "TEXCOORD_1": second})))
    (mesh,) = _meshes(_normalise(g, tmp_path).path)
    assert np.allclose(_gltf_uv(mesh), second + [1, 0])


def test_a_uv_accessor_shared_by_two_materials_is_copied_per_transform(tmp_path: Path):
    g = b.GltfBuilder()
    texture = g.texture(RED_PNG)
    plain = g.material(name="plain", pbrMetallicRoughness={"baseColorTexture": {"index": texture}})
    moved = g.material(
        name="moved",
        pbrMetallicRoughness={
            "baseColorTexture": {"index": texture, "extensions": {"KHR_texture_transform": {"scale": [0.5, 0.5]}}}
        },
    )
    shared = _textured_quad(g, plain)
    g.node(mesh=g.mesh(shared, dict(shared, material=moved)))
    result = _normalise(g, tmp_path)
    first, second = _meshes(result.path)
    assert np.allclose(_gltf_uv(first), b.QUAD_UVS)
    assert np.allclose(_gltf_uv(second), b.QUAD_UVS * 0.5)


def test_slots_that_disagree_keep_the_base_colour_and_drop_the_other_texture_with_a_warning(tmp_path: Path):
    g = b.GltfBuilder()
    transformed = {"index": g.texture(RED_PNG), "extensions": {"KHR_texture_transform": {"offset": [0.5, 0]}}}
    material = g.material(
        name="Can",
        pbrMetallicRoughness={"baseColorTexture": transformed, "metallicRoughnessTexture": dict(transformed)},
        normalTexture={"index": g.texture(b.flat_png(4, 4, (128, 128, 255)))},
    )
    g.node(mesh=g.mesh(_textured_quad(g, material)))
    result = _normalise(g, tmp_path)
    assert len(result.warnings) == 1
    assert "'Can'" in result.warnings[0] and "normal texture" in result.warnings[0]
    out_material = _doc(result.path)["materials"][0]
    assert "normalTexture" not in out_material
    assert set(out_material["pbrMetallicRoughness"]) >= {"baseColorTexture", "metallicRoughnessTexture"}
    (mesh,) = _meshes(result.path)
    assert np.allclose(_gltf_uv(mesh), b.QUAD_UVS + [0.5, 0])
    assert mesh.visual.material.normalTexture is None


# --- Accessors: sparse, quantized ---------------------------------------------------------------


def test_a_sparse_accessor_is_densified(tmp_path: Path):
    g = b.GltfBuilder()
    base = g.accessor(b.quad_positions(), "VEC3")
    indices_view = g.view(np.array([1, 3], dtype=np.uint16).tobytes())
    values_view = g.view(np.array([[5, 0, 0], [0, 7, 0]], dtype=np.float32).tobytes())
    g.doc["accessors"][base]["sparse"] = {
        "count": 2,
        "indices": {"bufferView": indices_view, "componentType": 5123},
        "values": {"bufferView": values_view},
    }
    g.doc["accessors"][base]["max"] = [5, 7, 0]
    g.node(mesh=g.mesh({"attributes": {"POSITION": base}, "indices": g.accessor(b.QUAD_INDICES, "SCALAR")}))
    result = _normalise(g, tmp_path)
    (mesh,) = _meshes(result.path)
    assert np.allclose(mesh.vertices, [[0, 0, 0], [5, 0, 0], [1, 1, 0], [0, 7, 0]])
    assert all("sparse" not in acc for acc in _doc(result.path)["accessors"])


def test_quantized_attributes_are_dequantized_and_node_transforms_stay(tmp_path: Path):
    g = b.GltfBuilder()
    positions = np.array([[0, 0, 0], [1000, 0, 0], [1000, 2000, 0], [0, 2000, 0]], dtype=np.uint16)  # unnormalized
    normals = np.array([[0, 0, 127]] * 4, dtype=np.int8)  # normalized BYTE
    uvs = np.array([[0, 0], [65535, 0], [65535, 65535], [0, 32768]], dtype=np.uint16)  # normalized USHORT
    colors = np.array([[255, 0, 0, 255]] * 4, dtype=np.uint8)
    material = g.material(pbrMetallicRoughness={"baseColorTexture": {"index": g.texture(RED_PNG)}})
    prim = {
        "attributes": {
            "POSITION": g.accessor(positions, "VEC3", min=[0, 0, 0], max=[1000, 2000, 0]),
            "NORMAL": g.accessor(normals, "VEC3", normalized=True),
            "TEXCOORD_0": g.accessor(uvs, "VEC2", normalized=True),
            "COLOR_0": g.accessor(colors, "VEC4", normalized=True),
        },
        "indices": g.accessor(np.array([[0], [1], [2], [0], [2], [3]], dtype=np.uint8), "SCALAR"),
        "material": material,
    }
    g.node(mesh=g.mesh(prim), scale=[0.001, 0.001, 0.001], translation=[1, 0, 0])
    g.use("KHR_mesh_quantization", required=True)
    result = _normalise(g, tmp_path)
    (mesh,) = _meshes(result.path)
    assert np.allclose(mesh.vertices, [[1, 0, 0], [2, 0, 0], [2, 2, 0], [1, 2, 0]], atol=1e-6)
    assert np.allclose(mesh.vertex_normals, [[0, 0, 1]] * 4, atol=1e-6)
    assert np.allclose(_gltf_uv(mesh), [[0, 0], [1, 0], [1, 1], [0, 32768 / 65535]], atol=1e-6)
    out = _doc(result.path)
    assert out["nodes"][0]["scale"] == [0.001, 0.001, 0.001]
    attrs = out["meshes"][0]["primitives"][0]["attributes"]
    for name in ("POSITION", "NORMAL", "TEXCOORD_0"):
        assert out["accessors"][attrs[name]]["componentType"] == 5126
    color = out["accessors"][attrs["COLOR_0"]]
    assert (color["componentType"], color.get("normalized")) == (5121, True)
    assert "extensionsRequired" not in out


def test_signed_normalized_values_clamp_at_minus_one(tmp_path: Path):
    g = b.GltfBuilder()
    positions = np.array([[-32768, 0, 0], [32767, 0, 0], [0, 32767, 0]], dtype=np.int16)
    g.node(
        mesh=g.mesh(
            {
                "attributes": {
                    "POSITION": g.accessor(
                        positions, "VEC3", normalized=True, min=[-32768, 0, 0], max=[32767, 32767, 0]
                    )
                }
            }
        )
    )
    g.use("KHR_mesh_quantization", required=True)
    (mesh,) = _meshes(_normalise(g, tmp_path).path)
    assert np.allclose(mesh.vertices, [[-1, 0, 0], [1, 0, 0], [0, 1, 0]])


# --- Instancing, variants, webp -----------------------------------------------------------------


def test_gpu_instancing_becomes_one_placed_node_per_instance(tmp_path: Path):
    g = b.GltfBuilder()
    mesh = g.mesh(
        {
            "attributes": {"POSITION": g.accessor(b.quad_positions(), "VEC3")},
            "indices": g.accessor(b.QUAD_INDICES, "SCALAR"),
        }
    )
    translations = np.array([[0, 0, 0], [10, 0, 0], [0, 10, 0]], dtype=np.float32)
    half_turn_z = np.array([[0, 0, 1, 0]] * 3, dtype=np.float32)
    scales = np.array([[1, 1, 1], [2, 2, 2], [1, 1, 1]], dtype=np.float32)
    attributes = {
        "TRANSLATION": g.accessor(translations, "VEC3"),
        "ROTATION": g.accessor(half_turn_z, "VEC4"),
        "SCALE": g.accessor(scales, "VEC3"),
    }
    g.node(mesh=mesh, translation=[0, 0, 5], extensions={"EXT_mesh_gpu_instancing": {"attributes": attributes}})
    g.use("EXT_mesh_gpu_instancing", required=True)
    result = _normalise(g, tmp_path)
    meshes = _meshes(result.path)
    assert len(meshes) == 3
    assert sum(len(m.faces) for m in meshes) == 6
    boxes = sorted(m.bounds.round(6).tolist() for m in meshes)
    # Each copy: the unit quad turned half a turn about Z, scaled, moved; then the node's own +5 in Z.
    assert boxes == sorted(
        [
            [[-1, -1, 5], [0, 0, 5]],
            [[8, -2, 5], [10, 0, 5]],
            [[-1, 9, 5], [0, 10, 5]],
        ]
    )
    assert "EXT_mesh_gpu_instancing" not in json.dumps(_doc(result.path))


def test_instanced_triangles_count_against_the_scene_limit(tmp_path: Path):
    g = b.GltfBuilder()
    mesh = g.mesh(
        {
            "attributes": {"POSITION": g.accessor(b.quad_positions(), "VEC3")},
            "indices": g.accessor(b.QUAD_INDICES, "SCALAR"),
        }
    )
    translations = g.accessor(np.zeros((600, 3), np.float32), "VEC3")
    g.node(mesh=mesh, extensions={"EXT_mesh_gpu_instancing": {"attributes": {"TRANSLATION": translations}}})
    src = g.glb(tmp_path / "many.glb")
    from dataclasses import replace

    limits = replace(DEFAULT_LIMITS, max_scene_triangles=1000)
    with pytest.raises(DxglError, match="1200 triangles") as caught:
        normalise_glb(src, tmp_path / "out.glb", limits, label="many.glb")
    assert caught.value.code == ErrorCode.INVALID_MODEL


def test_variants_keep_the_default_material_without_a_warning(tmp_path: Path):
    g = b.GltfBuilder()
    red = g.material(name="red", pbrMetallicRoughness={"baseColorFactor": [1, 0, 0, 1]})
    blue = g.material(name="blue", pbrMetallicRoughness={"baseColorFactor": [0, 0, 1, 1]})
    prim = {
        "attributes": {"POSITION": g.accessor(b.quad_positions(), "VEC3")},
        "indices": g.accessor(b.QUAD_INDICES, "SCALAR"),
        "material": red,
        "extensions": {"KHR_materials_variants": {"mappings": [{"material": blue, "variants": [0]}]}},
    }
    g.node(mesh=g.mesh(prim))
    g.doc["extensions"] = {"KHR_materials_variants": {"variants": [{"name": "Blue"}]}}
    g.use("KHR_materials_variants")
    result = _normalise(g, tmp_path)
    assert result.warnings == []
    out = _doc(result.path)
    assert out["meshes"][0]["primitives"][0]["material"] == red
    assert "KHR_materials_variants" not in json.dumps(out)
    (mesh,) = _meshes(result.path)
    assert np.allclose(np.asarray(mesh.visual.material.baseColorFactor)[:3], [255, 0, 0])


def test_a_texture_with_only_a_webp_source_keeps_its_image(tmp_path: Path):
    g = b.GltfBuilder()
    buffer = io.BytesIO()
    Image.new("RGB", (8, 4), (10, 200, 30)).save(buffer, "WEBP", lossless=True)
    image = g.image(buffer.getvalue(), "image/webp")
    texture = g.raw_texture(extensions={"EXT_texture_webp": {"source": image}})
    material = g.material(pbrMetallicRoughness={"baseColorTexture": {"index": texture}})
    g.node(mesh=g.mesh(_textured_quad(g, material)))
    g.use("EXT_texture_webp", required=True)
    result = _normalise(g, tmp_path)
    out = _doc(result.path)
    assert out["textures"][0]["source"] == 0 and out["images"][0]["mimeType"] == "image/webp"
    assert "EXT_texture_webp" not in json.dumps(out)
    (mesh,) = _meshes(result.path)
    pixels = np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))
    assert pixels.shape == (4, 8, 3) and tuple(pixels[0, 0]) == (10, 200, 30)


# --- Extensions dxgl cannot decode --------------------------------------------------------------


def _triangle_with(tmp_path: Path, used: list[str], required: list[str]) -> Path:
    doc, blob = b.triangle_document()
    doc["extensionsUsed"], doc["extensionsRequired"] = used, required
    return b.write_glb(tmp_path / "ext.glb", doc, blob)


def test_unknown_required_extensions_are_refused_naming_each(tmp_path: Path):
    upload = _triangle_with(tmp_path, ["KHR_foo", "EXT_bar", "KHR_mesh_quantization"], ["KHR_foo", "EXT_bar"])
    with pytest.raises(DxglError) as caught:
        prepare_model(upload, tmp_path / "work", original_name="ext.glb")
    assert caught.value.code == ErrorCode.UNSUPPORTED_EXTENSION
    assert caught.value.status == 400
    assert "requires the glTF extensions EXT_bar and KHR_foo, which dxgl cannot decode" in caught.value.message
    assert str(tmp_path) not in caught.value.message


def test_unknown_optional_extensions_are_warnings_and_the_file_passes_through(tmp_path: Path):
    upload = _triangle_with(tmp_path, ["KHR_materials_anisotropy", "KHR_materials_iridescence"], [])
    result = normalise_glb(upload, tmp_path / "out.glb", DEFAULT_LIMITS, label="ext.glb")
    assert result.path == upload
    assert result.warnings == [
        "The model uses KHR_materials_anisotropy, which dxgl does not render yet; it is rendered without it.",
        "The model uses KHR_materials_iridescence, which dxgl does not render yet; it is rendered without it.",
    ]
    assert result.extensions_used == ["KHR_materials_anisotropy", "KHR_materials_iridescence"]


def test_a_required_ktx2_without_basisu_is_an_unsupported_extension(tmp_path: Path, monkeypatch):
    """The transcoder missing (a server without scripts/setup's binary) is the server's limit, not a
    damaged model: a required KHR_texture_basisu is refused as unsupported."""
    from dxgl.ingest import ktx2

    monkeypatch.setattr(ktx2, "basisu_path", lambda: None)
    from tests.assets import MODELS_DIR

    variant = MODELS_DIR / "compressed" / "Duck-ktx2.glb"
    if not variant.is_file():
        pytest.skip("the shared KTX2 model is not present")
    with pytest.raises(DxglError) as caught:
        normalise_glb(variant, tmp_path / "out.glb", DEFAULT_LIMITS, label="Duck-ktx2.glb")
    assert caught.value.code == ErrorCode.UNSUPPORTED_EXTENSION
    assert "KHR_texture_basisu" in caught.value.message


# --- EXT_meshopt_compression --------------------------------------------------------------------


def _meshopt_quad(g: b.GltfBuilder, *, fallback_first: bool = False) -> None:
    """A quad whose positions and indices are meshopt-compressed into views of a fallback buffer."""
    import meshoptimizer

    positions = b.quad_positions()
    indices = b.QUAD_INDICES.reshape(-1).astype(np.uint32)
    vertex_stream = meshoptimizer.encode_vertex_buffer(positions, len(positions), 12)
    index_stream = meshoptimizer.encode_index_buffer(indices, len(indices), len(positions))
    fallback = 0 if fallback_first else 1
    g.doc["buffers"].insert(
        fallback, {"byteLength": 48 + 12, "extensions": {"EXT_meshopt_compression": {"fallback": True}}}
    )
    real = 1 - fallback
    vs = g.view(vertex_stream)
    ix = g.view(index_stream)
    for view in (vs, ix):
        g.doc["bufferViews"][view]["buffer"] = real
    g.doc["bufferViews"] += [
        {
            "buffer": fallback,
            "byteOffset": 0,
            "byteLength": 48,
            "byteStride": 12,
            "extensions": {
                "EXT_meshopt_compression": {
                    "buffer": real,
                    "byteOffset": g.doc["bufferViews"][vs]["byteOffset"],
                    "byteLength": len(vertex_stream),
                    "byteStride": 12,
                    "count": 4,
                    "mode": "ATTRIBUTES",
                }
            },
        },
        {
            "buffer": fallback,
            "byteOffset": 48,
            "byteLength": 12,
            "extensions": {
                "EXT_meshopt_compression": {
                    "buffer": real,
                    "byteOffset": g.doc["bufferViews"][ix]["byteOffset"],
                    "byteLength": len(index_stream),
                    "byteStride": 2,
                    "count": 6,
                    "mode": "TRIANGLES",
                }
            },
        },
    ]
    position_view, index_view = len(g.doc["bufferViews"]) - 2, len(g.doc["bufferViews"]) - 1
    pos = g.accessor(positions, "VEC3", view=position_view)
    idx = g._add("accessors", {"bufferView": index_view, "componentType": 5123, "count": 6, "type": "SCALAR"})
    g.node(mesh=g.mesh({"attributes": {"POSITION": pos}, "indices": idx}))
    g.use("EXT_meshopt_compression", required=True)


def test_meshopt_with_a_fallback_buffer_is_accepted_and_decoded(tmp_path: Path):
    g = b.GltfBuilder()
    _meshopt_quad(g)
    g.doc["buffers"][0]["byteLength"] = len(g.blob)
    upload = b.write_glb(tmp_path / "meshopt.glb", g.doc, bytes(g.blob))
    prepared = prepare_model(upload, tmp_path / "work", original_name="meshopt.glb")
    assert prepared.decoded_path is not None
    (mesh,) = _meshes(prepared.decoded_path)
    assert np.allclose(mesh.vertices, b.quad_positions())
    assert mesh.faces.tolist() == [[0, 1, 2], [0, 2, 3]]


def test_a_gltf_with_the_fallback_buffer_first_is_packed_and_decoded(tmp_path: Path):
    """Packing merges the real buffers into buffer 0 and keeps the fallback buffer: the extension's
    own buffer index and offset follow the merge."""
    g = b.GltfBuilder()
    _meshopt_quad(g, fallback_first=True)
    import base64

    g.doc["buffers"][1] = {
        "byteLength": len(g.blob),
        "uri": "data:application/octet-stream;base64," + base64.b64encode(bytes(g.blob)).decode(),
    }
    upload = tmp_path / "meshopt.gltf"
    upload.write_text(json.dumps(g.doc))
    prepared = prepare_model(upload, tmp_path / "work", original_name="meshopt.gltf")
    packed = _doc(prepared.glb_path)
    assert packed["buffers"][1]["extensions"]["EXT_meshopt_compression"]["fallback"] is True
    (mesh,) = _meshes(prepared.decoded_path)
    assert np.allclose(mesh.vertices, b.quad_positions())


@pytest.mark.parametrize("kind", ["OCTAHEDRAL", "QUATERNION", "EXPONENTIAL"])
def test_meshopt_filters_are_undone(tmp_path: Path, kind: str):
    """Each filter, encoded by meshoptimizer's own encoder, decodes back to the values (within its bits)."""
    import meshoptimizer

    rng = np.random.default_rng(7)
    if kind == "EXPONENTIAL":
        values, stride, width = rng.uniform(-100, 100, (4, 3)).astype(np.float32), 12, 3
    else:
        raw = rng.normal(size=(4, 4))
        if kind == "OCTAHEDRAL":
            raw[:, :3] /= np.linalg.norm(raw[:, :3], axis=1, keepdims=True)
            raw[:, 3] = 1.0
        else:
            raw /= np.linalg.norm(raw, axis=1, keepdims=True)
        values, stride, width = raw.astype(np.float32), 8, 4
    filtered = b.meshopt_filter_encode(kind, values, stride, 16 if kind != "QUATERNION" else 12)
    stream = meshoptimizer.encode_vertex_buffer(np.frombuffer(filtered, np.uint8).reshape(4, stride), 4, stride)
    g = b.GltfBuilder()
    source = g.view(stream)
    view = g.doc["bufferViews"][source]
    target = g.view(b"\x00" * (4 * stride), byteStride=stride)
    g.doc["bufferViews"][target]["extensions"] = {
        "EXT_meshopt_compression": {
            "buffer": 0,
            "byteOffset": view["byteOffset"],
            "byteLength": len(stream),
            "byteStride": stride,
            "count": 4,
            "mode": "ATTRIBUTES",
            "filter": kind,
        }
    }
    component = {"EXPONENTIAL": (5126, False), "OCTAHEDRAL": (5122, True), "QUATERNION": (5122, True)}[kind]
    acc = g._add(
        "accessors",
        {
            "bufferView": target,
            "componentType": component[0],
            "normalized": component[1],
            "count": 4,
            "type": "VEC3" if width == 3 else "VEC4",
        },
    )
    g.node(mesh=g.mesh({"attributes": {"POSITION": g.accessor(b.quad_positions(), "VEC3"), "_VALUES": acc}}))
    g.use("EXT_meshopt_compression", required=True)
    g.use("KHR_mesh_quantization", required=True)
    result = _normalise(g, tmp_path)
    out = read_glb(result.path, DEFAULT_LIMITS)
    attrs = out.document["meshes"][0]["primitives"][0]["attributes"]
    decoded_acc = out.document["accessors"][attrs["_VALUES"]]
    decoded_view = out.document["bufferViews"][decoded_acc["bufferView"]]
    start = decoded_view["byteOffset"]
    decoded = np.frombuffer(out.bin_chunk[start : start + decoded_view["byteLength"]], np.float32).reshape(4, width)
    if kind == "OCTAHEDRAL":
        assert np.allclose(decoded[:, :3], values[:, :3], atol=2e-3)
    elif kind == "QUATERNION":  # q and -q are the same rotation
        assert np.allclose(np.abs((decoded * values).sum(axis=1)), 1.0, atol=2e-3)
    else:
        assert np.allclose(decoded, values, rtol=1e-4)


def _ktx2_with_fallback(tmp_path: Path, ktx2: bytes, *, fallback: bool) -> Path:
    g = b.GltfBuilder()
    ktx2_image = g.image(ktx2, "image/ktx2")
    texture: dict = {"extensions": {"KHR_texture_basisu": {"source": ktx2_image}}}
    if fallback:
        texture["source"] = g.image(RED_PNG)
    material = g.material(name="box", pbrMetallicRoughness={"baseColorTexture": {"index": g.raw_texture(**texture)}})
    g.node(mesh=g.mesh(_textured_quad(g, material)))
    g.use("KHR_texture_basisu")  # optional: the PNG is the fallback
    return g.glb(tmp_path / "fallback.glb")


def _damaged_ktx2() -> bytes:
    import struct

    return b"\xabKTX 20\xbb\r\n\x1a\n" + struct.pack("<9I", 0, 1, 64, 64, 0, 0, 1, 1, 0) + b"\x00" * 64


def test_an_optional_ktx2_basisu_cannot_read_falls_back_to_the_source_image(tmp_path: Path):
    src = _ktx2_with_fallback(tmp_path, _damaged_ktx2(), fallback=True)
    result = normalise_glb(src, tmp_path / "out.glb", DEFAULT_LIMITS, label="fallback.glb")
    assert len(result.warnings) == 1 and "fallback image" in result.warnings[0]
    out = _doc(result.path)
    assert [image["mimeType"] for image in out["images"]] == ["image/png"]
    (mesh,) = _meshes(result.path)
    assert tuple(np.asarray(mesh.visual.material.baseColorTexture.convert("RGB"))[0, 0]) == (200, 10, 10)


def test_a_damaged_ktx2_without_fallback_is_an_invalid_model(tmp_path: Path):
    src = _ktx2_with_fallback(tmp_path, _damaged_ktx2(), fallback=False)
    with pytest.raises(DxglError, match=r"images\[0\] \(KTX2\) could not be transcoded") as caught:
        normalise_glb(src, tmp_path / "out.glb", DEFAULT_LIMITS, label="fallback.glb")
    assert caught.value.code == ErrorCode.INVALID_MODEL


def test_an_optional_ktx2_without_basisu_uses_the_fallback(tmp_path: Path, monkeypatch):
    from dxgl.ingest import ktx2

    monkeypatch.setattr(ktx2, "basisu_path", lambda: None)  # a server without scripts/setup's binary
    from tests.assets import MODELS_DIR

    source = MODELS_DIR / "compressed" / "BoxTextured-ktx2.glb"
    if not source.is_file():
        pytest.skip("the shared KTX2 model is not present")
    contents = read_glb(source, DEFAULT_LIMITS)
    doc = contents.document
    ktx2_view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    data = contents.bin_chunk[ktx2_view["byteOffset"] : ktx2_view["byteOffset"] + ktx2_view["byteLength"]]
    src = _ktx2_with_fallback(tmp_path, data, fallback=True)
    result = normalise_glb(src, tmp_path / "out.glb", DEFAULT_LIMITS, label="fallback.glb")
    assert "no basisu on this server" in result.warnings[0] and "fallback image" in result.warnings[0]
    assert [image["mimeType"] for image in _doc(result.path)["images"]] == ["image/png"]


def test_specular_glossiness_is_read_natively_without_a_warning(tmp_path: Path):
    doc, blob = b.triangle_document()
    doc["materials"] = [
        {
            "extensions": {
                "KHR_materials_pbrSpecularGlossiness": {"diffuseFactor": [1, 0, 0, 1], "specularFactor": [0, 0, 0]}
            }
        }
    ]
    doc["meshes"][0]["primitives"][0]["material"] = 0
    doc["extensionsUsed"] = ["KHR_materials_pbrSpecularGlossiness"]
    src = b.write_glb(tmp_path / "sg.glb", doc, blob)
    result = normalise_glb(src, tmp_path / "out.glb", DEFAULT_LIMITS, label="sg.glb")
    assert result.path == src and result.warnings == []
    (mesh,) = _meshes(src)
    assert np.allclose(np.asarray(mesh.visual.material.baseColorFactor)[:3], [255, 0, 0], atol=1)
