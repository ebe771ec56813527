"""Textures above the renderer's useful size are scaled down before they reach GL, and each loader image
becomes one array (one GL texture). Checked in process on what load_scene hands the renderer (no GL)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dxgl.render.scene import MAX_TEXTURE_SIDE, fitted_size, load_scene, texture_array
from tests.ingest import builders as b


def _two_material_glb(path: Path, image: bytes, mime: str) -> Path:
    """Two textured triangles; material 0 uses the one image as base colour and emissive, material 1
    as base colour."""
    positions = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32).tobytes()
    uvs = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32).tobytes()
    blob = positions + uvs + image
    tex = {"index": 0}
    doc = {
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0, 1]}],
        "nodes": [{"mesh": 0}, {"mesh": 1, "translation": [2, 0, 0]}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0, "TEXCOORD_0": 1}, "material": m}]} for m in (0, 1)],
        "materials": [
            {"pbrMetallicRoughness": {"baseColorTexture": tex}, "emissiveTexture": tex},
            {"pbrMetallicRoughness": {"baseColorTexture": tex, "baseColorFactor": [1, 0.5, 0.5, 1]}},
        ],
        "textures": [{"source": 0}],
        "images": [{"bufferView": 2, "mimeType": mime}],
        "buffers": [{"byteLength": len(blob)}],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": len(positions)},
            {"buffer": 0, "byteOffset": len(positions), "byteLength": len(uvs)},
            {"buffer": 0, "byteOffset": len(positions) + len(uvs), "byteLength": len(image)},
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": 3, "type": "VEC3", "min": [0, 0, 0], "max": [1, 1, 0]},
            {"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"},
        ],
    }
    path.write_bytes(b.glb_bytes(json.dumps(doc).encode(), blob))
    return path


def test_a_large_png_reaches_gl_scaled_down_once_for_every_material(tmp_path: Path):
    model = _two_material_glb(tmp_path / "big.glb", b.flat_png(6000, 3000, (250, 10, 10)), "image/png")

    scene = load_scene(model)

    first, second = sorted((p.material for p in scene.primitives), key=lambda m: m.emissive_texture is None)
    texture = first.base_color_texture
    assert texture is not None
    assert texture.shape == (2048, MAX_TEXTURE_SIDE, 4)  # long side 4096, aspect 2:1 kept
    assert texture.dtype == np.uint8 and texture.flags.c_contiguous
    assert tuple(texture[1000, 2000]) == (250, 10, 10, 255)
    # One array for every use: the renderer makes one GL texture per array.
    assert first.emissive_texture is texture
    assert second.base_color_texture is texture


def test_a_large_jpeg_is_decoded_at_a_reduced_scale_and_scaled_down(tmp_path: Path):
    out = io.BytesIO()
    Image.new("RGB", (8192, 4096), (20, 120, 220)).save(out, format="JPEG", quality=90)
    image = Image.open(io.BytesIO(out.getvalue()))

    texture = texture_array(image)

    assert texture.shape == (2048, 4096, 4)
    assert np.abs(texture[1000, 2000, :3].astype(int) - (20, 120, 220)).max() <= 3
    with pytest.raises(ValueError):  # the full-size decoded pixels were released
        image.load()
        image.getpixel((0, 0))


def test_textures_at_or_below_the_useful_size_keep_their_size(tmp_path: Path):
    assert fitted_size(4096, 1024) == (4096, 1024)
    assert fitted_size(8192, 8192) == (4096, 4096)
    assert fitted_size(5000, 3) == (4096, 2)
    assert fitted_size(3, 9000) == (1, 4096)
    image = Image.new("P", (300, 200))
    texture = texture_array(image)
    assert texture.shape == (200, 300, 4)
