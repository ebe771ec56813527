"""KHR_texture_basisu in both Basis encodings: ETC1S (BasisLZ) and UASTC (raw and Zstandard).

The shared KTX2 models are UASTC without supercompression; these files are made by the tests with
Basis Universal's own encoder (the ``basisu`` binary scripts/setup installs), from a PNG with four
known colour quadrants, and put into a one-triangle GLB that requires the extension. After upload
decoding, the texture the renderer gets is that PNG again, within the codec's loss.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dxgl.ingest import prepare_model
from dxgl.ingest.glb import read_glb
from dxgl.ingest.limits import DEFAULT_LIMITS

from . import builders as b

BASISU = Path(sys.executable).with_name("basisu")


def _quadrants() -> np.ndarray:
    """(64, 64, 3) uint8: red, green, blue and white quadrants."""
    image = np.zeros((64, 64, 3), np.uint8)
    image[:32, :32] = (220, 30, 30)
    image[:32, 32:] = (30, 200, 40)
    image[32:, :32] = (40, 40, 210)
    image[32:, 32:] = (240, 240, 240)
    return image


def _encode(tmp: Path, *flags: str) -> bytes:
    png = tmp / "source.png"
    Image.fromarray(_quadrants()).save(png)
    out = tmp / "encoded.ktx2"
    subprocess.run(
        [str(BASISU), "-ktx2", *flags, str(png), "-output_file", str(out)],
        cwd=tmp,
        check=True,
        capture_output=True,
        timeout=60,
    )
    return out.read_bytes()


def _glb_with_ktx2(path: Path, ktx2: bytes) -> Path:
    doc, blob = b.triangle_document()
    uvs = np.array([[0, 0], [1, 0], [0, 1]], dtype=np.float32).tobytes()
    image_offset = len(blob) + len(uvs)
    doc["bufferViews"] += [
        {"buffer": 0, "byteOffset": len(blob), "byteLength": len(uvs)},
        {"buffer": 0, "byteOffset": image_offset, "byteLength": len(ktx2)},
    ]
    doc["accessors"].append({"bufferView": 1, "componentType": 5126, "count": 3, "type": "VEC2"})
    doc["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"] = 1
    doc["meshes"][0]["primitives"][0]["material"] = 0
    doc["materials"] = [{"pbrMetallicRoughness": {"baseColorTexture": {"index": 0}}}]
    doc["textures"] = [{"extensions": {"KHR_texture_basisu": {"source": 0}}}]
    doc["images"] = [{"bufferView": 2, "mimeType": "image/ktx2"}]
    doc["extensionsUsed"] = doc["extensionsRequired"] = ["KHR_texture_basisu"]
    data = blob + uvs + ktx2
    doc["buffers"] = [{"byteLength": len(data)}]
    return b.write_glb(path, doc, data)


def _decoded_texture(glb: Path) -> np.ndarray:
    contents = read_glb(glb, DEFAULT_LIMITS)
    doc = contents.document
    assert "KHR_texture_basisu" not in (doc.get("extensionsUsed") or [])
    texture = doc["textures"][doc["materials"][0]["pbrMetallicRoughness"]["baseColorTexture"]["index"]]
    image = doc["images"][texture["source"]]
    assert image["mimeType"] in ("image/png", "image/jpeg")
    view = doc["bufferViews"][image["bufferView"]]
    start = view.get("byteOffset", 0)
    raw = (contents.bin_chunk or b"")[start : start + view["byteLength"]]
    return np.asarray(Image.open(io.BytesIO(raw)).convert("RGB"))


@pytest.mark.parametrize(
    ("name", "flags", "scheme"),
    [
        ("ETC1S (BasisLZ)", (), 1),
        ("UASTC + Zstandard", ("-uastc",), 2),
        ("UASTC raw", ("-uastc", "-ktx2_no_zstandard"), 0),
    ],
)
def test_ktx2_texture_is_transcoded_to_the_image_it_was_made_from(tmp_path: Path, name: str, flags, scheme: int):
    ktx2 = _encode(tmp_path, *flags)
    assert int.from_bytes(ktx2[44:48], "little") == scheme  # supercompressionScheme: the encoding under test
    upload = _glb_with_ktx2(tmp_path / "model.glb", ktx2)
    prepared = prepare_model(upload, tmp_path / "work", original_name="model.glb")
    assert prepared.decoded_path is not None, name
    assert prepared.glb_path.read_bytes() == upload.read_bytes()  # the model file stays as uploaded
    texture = _decoded_texture(prepared.decoded_path)
    assert texture.shape == (64, 64, 3)
    error = np.abs(texture.astype(int) - _quadrants().astype(int)).mean()
    assert error < 12, f"{name}: mean error {error:.1f} per channel"
    assert prepared.inspection["textures"] == [{"width": 64, "height": 64, "format": "png"}]
    assert prepared.inspection["extensionsRequired"] == ["KHR_texture_basisu"]
