"""Conversions that must work: fuze scan ZIP, DamagedHelmet glTF ZIP, data-URI glTF, scan exporter quirks."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from dxgl.errors import DxglError
from dxgl.ingest import prepare_model, sniff_format
from dxgl.ingest.glb import read_glb
from dxgl.ingest.limits import DEFAULT_LIMITS
from tests.assets import MODELS_DIR as SHARED_MODELS

from . import builders as b

MODELS = SHARED_MODELS
HELMET = MODELS / "DamagedHelmet-gltf"


def glb_document(path: Path) -> dict:
    return read_glb(path, DEFAULT_LIMITS).document


def png_bytes(color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), color).save(out, format="PNG")
    return out.getvalue()


def test_fuze_scan_converts_textured_matte_and_upright(tmp_path: Path):
    result = prepare_model(MODELS / "fuze.zip", tmp_path / "work", original_name="fuze.zip")
    assert result.source_kind == "obj-zip"
    assert result.glb_path.parent == tmp_path / "work"
    assert result.warnings == []
    scene = trimesh.load(result.glb_path, force="scene")
    (mesh,) = scene.geometry.values()
    material = mesh.visual.material
    assert material.baseColorTexture is not None and material.baseColorTexture.size == (1024, 1024)
    assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)
    assert material.roughnessFactor == 1.0 and material.metallicFactor == 0.0
    low, high = scene.bounds
    extents = high - low
    assert np.argmax(extents) == 1, f"tall axis must be Y, extents {extents}"
    assert extents[1] > 2.5 * max(extents[0], extents[2])
    assert low[1] > -0.05 * extents[1], "the bottle stands on its base (+Y up), not upside down"
    doc = glb_document(result.glb_path)
    assert doc["materials"][0]["alphaMode"] == "OPAQUE"  # `Tr 1.000000` in its MTL means opaque


def _helmet_zip(tmp_path: Path) -> Path:
    path = tmp_path / "helmet.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for file in HELMET.iterdir():
            zf.write(file, f"DamagedHelmet/{file.name}")
    return path


def test_damaged_helmet_zip_packs_into_one_glb_with_images_and_materials(tmp_path: Path):
    result = prepare_model(_helmet_zip(tmp_path), tmp_path / "work")
    assert result.source_kind == "gltf-zip"
    original = json.loads((HELMET / "DamagedHelmet.gltf").read_text())
    packed = glb_document(result.glb_path)
    assert packed["materials"] == original["materials"]
    assert packed["textures"] == original["textures"] and packed["accessors"] == original["accessors"]
    assert len(packed["buffers"]) == 1 and "uri" not in packed["buffers"][0]
    assert len(packed["images"]) == 5
    contents = read_glb(result.glb_path, DEFAULT_LIMITS)
    for image, source in zip(packed["images"], original["images"]):
        assert "uri" not in image and image["mimeType"] == "image/jpeg"
        view = packed["bufferViews"][image["bufferView"]]
        data = contents.bin_chunk[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]
        assert data == (HELMET / source["uri"]).read_bytes()
    scene = trimesh.load(result.glb_path, force="scene")
    assert sum(len(g.faces) for g in scene.geometry.values()) == 46356 // 3


def test_bare_gltf_missing_its_bin_names_it(tmp_path: Path):
    upload = tmp_path / "upload.gltf"
    upload.write_bytes((HELMET / "DamagedHelmet.gltf").read_bytes())
    with pytest.raises(DxglError) as caught:
        prepare_model(upload, tmp_path / "work")
    assert caught.value.code == "invalid_format"
    assert "DamagedHelmet.bin" in caught.value.message


def test_bare_gltf_with_data_uris_is_packed(tmp_path: Path):
    doc, blob = b.triangle_document()
    doc["buffers"][0]["uri"] = "data:application/octet-stream;base64," + base64.b64encode(blob).decode()
    doc["images"] = [{"uri": "data:image/png;base64," + base64.b64encode(png_bytes()).decode()}]
    doc["textures"] = [{"source": 0}]
    doc["materials"] = [
        {"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}, "extensions": {"KHR_materials_unlit": {}}}
    ]
    doc["extensionsUsed"] = ["KHR_materials_unlit"]
    doc["meshes"][0]["primitives"][0]["material"] = 0
    upload = tmp_path / "inline.gltf"
    upload.write_bytes(b"\xef\xbb\xbf\n  " + json.dumps(doc).encode())
    result = prepare_model(upload, tmp_path / "work")
    assert result.source_kind == "gltf"
    packed = glb_document(result.glb_path)
    assert packed["materials"][0]["extensions"] == {"KHR_materials_unlit": {}}
    assert packed["extensionsUsed"] == ["KHR_materials_unlit"]
    assert packed["images"][0]["mimeType"] == "image/png"
    assert trimesh.load(result.glb_path, force="scene").geometry


def test_valid_glb_upload_is_returned_as_is(tmp_path: Path):
    upload = MODELS / "CesiumMilkTruck.glb"
    result = prepare_model(upload, tmp_path / "work")
    assert result.source_kind == "glb"
    assert result.glb_path == upload


def test_scan_exporter_quirks(tmp_path: Path):
    """Backslash and absolute Windows paths, subfolders, spaces in mtllib, missing texture, `d 0`."""
    obj = (
        b"# Exported by RealityCapture\nmtllib My Scan.mtl\n"
        b"v -1 0 -1\nv 1 0 -1\nv 1 0 1\nv -1 0 1\nv 0 0.5 0\n"
        b"vt 0 0\nvt 1 0\nvt 1 1\nvt 0 1\nvt 0.5 0.5\n"
        b"usemtl skin\nf 1/1 2/2 5/5\nf 2/2 3/3 5/5\n"
        b"usemtl cloth\nf 3/3 4/4 5/5\nf 4/4 1/1 5/5\n"
    )
    mtl = (
        b"newmtl skin\nKd 0 0 0\nd 0\nmap_Kd -s 1 1 1 C:\\Users\\scan\\textures\\Skin_Diffuse.PNG\n"
        b"newmtl cloth\nKd 0.5 0.5 0.5\nTr 1\nmap_Kd missing.jpg\n"
    )
    upload = b.write_zip(
        tmp_path / "scan.zip",
        {
            "export/mesh/scan.obj": obj,
            "export/mesh/My Scan.mtl": mtl,
            "export/tex/skin_diffuse.png": png_bytes(),
        },
    )
    result = prepare_model(upload, tmp_path / "work")
    assert result.warnings == ['material "cloth" names texture "missing.jpg" which is not in the ZIP; left untextured']
    doc = glb_document(result.glb_path)
    materials = {m["name"]: m for m in doc["materials"]}
    assert set(materials) == {"skin", "cloth"}
    assert all(m["alphaMode"] == "OPAQUE" for m in materials.values())  # `d 0` and `Tr 1` mean opaque
    skin = materials["skin"]["pbrMetallicRoughness"]
    assert "baseColorTexture" in skin and skin["baseColorFactor"] == [
        1.0,
        1.0,
        1.0,
        1.0,
    ]  # Kd 0 ignored beside a texture
    cloth = materials["cloth"]["pbrMetallicRoughness"]
    assert "baseColorTexture" not in cloth and cloth["baseColorFactor"][:3] == pytest.approx([0.5, 0.5, 0.5], abs=0.01)
    assert all(m["pbrMetallicRoughness"]["roughnessFactor"] == 1.0 for m in materials.values())
    assert len(doc["images"]) == 1


def test_sniff_format_by_content():
    assert sniff_format(b"glTF\x02\x00\x00\x00") == "glb"
    assert sniff_format(b"PK\x03\x04rest") == "zip"
    assert sniff_format(b"PK\x05\x06" + b"\x00" * 18) == "zip"
    assert sniff_format(b'{"asset":{}}') == "gltf"
    assert sniff_format(b'\xef\xbb\xbf \r\n\t{"asset":{}}') == "gltf"
    assert sniff_format(b"[1,2]") is None
    assert sniff_format(b"") is None
    assert sniff_format(b"solid ascii stl") is None
