"""The decoded-texture budget per model (256 megapixels, mip levels included), read from image headers
in the ingest child: real files, real child processes."""

from __future__ import annotations

import struct
from dataclasses import replace
from pathlib import Path

import pytest

from dxgl.errors import DxglError
from dxgl.ingest import DEFAULT_LIMITS, prepare_model
from dxgl.ingest.images import mip_chain_texels

from . import builders as b

SIDE = 6900  # 47.6 megapixels: under the 50-megapixel cap per image; 63.5 with its mip chain


@pytest.fixture(scope="module")
def flat_pngs() -> list[bytes]:
    """Seven distinct (each its own colour) real 6900x6900 PNGs of about 150 KB each."""
    return [b.flat_png(SIDE, SIDE, (30 * i, 200 - 20 * i, 90)) for i in range(7)]


def test_a_full_mip_chain_is_about_four_thirds_of_the_base_level():
    assert mip_chain_texels(1, 1) == 1
    assert mip_chain_texels(2, 2) == 4 + 1
    assert mip_chain_texels(4, 2) == 8 + 2 + 1
    assert mip_chain_texels(1024, 1024) == sum(4**k for k in range(11))
    assert mip_chain_texels(SIDE, SIDE) / SIDE**2 == pytest.approx(4 / 3, rel=1e-3)


@pytest.mark.slow  # builds seven 6900x6900 PNGs
def test_seven_distinct_6900_pngs_in_under_2_mb_are_refused_naming_the_budget(tmp_path: Path, flat_pngs):
    upload = b.textured_glb(tmp_path / "seven.glb", flat_pngs)
    assert upload.stat().st_size < 2_000_000

    with pytest.raises(DxglError) as caught:
        prepare_model(upload, tmp_path / "work", original_name="seven.glb")

    assert caught.value.code == "invalid_model"
    assert caught.value.status == 400
    need = -(-7 * mip_chain_texels(SIDE, SIDE) // 1_000_000)  # 445
    assert caught.value.message == (
        f"the model's textures need {need} megapixels decoded (7 images, mip levels included); "
        "the texture budget is 256 megapixels per model: use fewer or smaller textures"
    )


def test_a_model_just_under_the_budget_passes(tmp_path: Path, flat_pngs):
    assert 4 * mip_chain_texels(SIDE, SIDE) > 250_000_000  # 253.9 of 256 megapixels
    upload = b.textured_glb(tmp_path / "four.glb", flat_pngs[:4])

    result = prepare_model(upload, tmp_path / "work", original_name="four.glb")

    assert result.source_kind == "glb"
    assert result.glb_path == upload  # a valid self-contained GLB is kept as it is


def test_the_per_image_cap_still_applies_under_the_budget(tmp_path: Path):
    upload = b.textured_glb(tmp_path / "one.glb", [b.png_header_only(8000, 7000)])  # 56 MP, 75 with mips
    with pytest.raises(DxglError, match="8000x7000 \\(56 megapixels\\); the limit is 50 megapixels"):
        prepare_model(upload, tmp_path / "work", original_name="one.glb")


def test_the_budget_comes_from_the_limits_the_caller_passes(tmp_path: Path):
    # Two 1000x1000 images need 2.67 megapixels with their mip chains.
    upload = b.textured_glb(tmp_path / "two.glb", [b.png_header_only(1000, 1000), b.png_header_only(1000, 999)])
    with pytest.raises(DxglError, match="need 3 megapixels .*the texture budget is 2.5 megapixels"):
        prepare_model(upload, tmp_path / "w1", limits=replace(DEFAULT_LIMITS, texture_budget_mpx=2.5))
    assert prepare_model(upload, tmp_path / "w2", limits=replace(DEFAULT_LIMITS, texture_budget_mpx=2.7)).source_kind


def test_every_images_entry_counts_even_when_two_share_bytes(tmp_path: Path):
    # A loader decodes each entry of `images` on its own: the same bytes twice are two images.
    png = b.png_header_only(1000, 1000)
    upload = b.textured_glb(tmp_path / "twice.glb", [png, png])
    with pytest.raises(DxglError, match="2 images"):
        prepare_model(upload, tmp_path / "work", limits=replace(DEFAULT_LIMITS, texture_budget_mpx=2.0))


def test_ktx2_images_count_from_their_header(tmp_path: Path):
    # KTX2 passes through without a Pillow check, but its header still declares its size.
    ktx2 = b"\xabKTX 20\xbb\r\n\x1a\n" + struct.pack("<8I", 0, 1, 16384, 16384, 0, 0, 1, 1) + b"\x00" * 64
    doc, blob = b.triangle_document()
    doc["bufferViews"].append({"buffer": 0, "byteOffset": len(blob), "byteLength": len(ktx2)})
    doc["images"] = [{"bufferView": 1, "mimeType": "image/ktx2"}]
    doc["buffers"][0]["byteLength"] = len(blob) + len(ktx2)
    upload = b.write_glb(tmp_path / "ktx2.glb", doc, blob + ktx2)
    with pytest.raises(DxglError, match="need 358 megapixels decoded \\(1 image"):
        prepare_model(upload, tmp_path / "work")


def _scan_zip(path: Path, textures: dict[str, bytes], material_textures: list[str]) -> Path:
    obj = b"mtllib model.mtl\nv 0 0 0\nv 1 0 0\nv 0 1 0\nvt 0 0\nvt 1 0\nvt 0 1\nusemtl m0\nf 1/1 2/2 3/3\n"
    mtl = "".join(f"newmtl m{i}\nKd 1 1 1\nmap_Kd {name}\n" for i, name in enumerate(material_textures))
    return b.write_zip(path, {"model.obj": obj, "model.mtl": mtl.encode(), **textures})


def test_an_obj_scan_counts_each_texture_file_once(tmp_path: Path):
    # 2000x2000 is 5.3 megapixels with its mip chain: one file named by two materials fits 6, two files do not.
    limits = replace(DEFAULT_LIMITS, texture_budget_mpx=6.0)
    shared = _scan_zip(tmp_path / "shared.zip", {"t.png": b.flat_png(2000, 2000, (200, 0, 0))}, ["t.png", "t.png"])
    assert prepare_model(shared, tmp_path / "w1", limits=limits).source_kind == "obj-zip"

    two = _scan_zip(
        tmp_path / "two.zip",
        {"a.png": b.flat_png(2000, 2000, (200, 0, 0)), "b.png": b.flat_png(2000, 2000, (0, 200, 0))},
        ["a.png", "b.png"],
    )
    with pytest.raises(DxglError, match="need 11 megapixels decoded \\(2 images"):
        prepare_model(two, tmp_path / "w2", limits=limits)
