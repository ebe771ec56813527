"""USDZ / USDA / USDC, STL and PLY uploads: recognised by content, converted to one GLB upright and in
metres (directly and inside a ZIP), rendered upright; hostile ones refused quickly, writing nothing."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import trimesh

from dxgl.errors import DxglError
from dxgl.ingest import prepare_model
from dxgl.ingest.glb import read_glb
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.sniff import sniff_file, sniff_format

from . import hostile_format_cases as f
from .hostile_cases import lay_out, snapshot

TRIANGLES = 12  # the box: 6 quads (USD) or 12 triangles (STL, PLY)


def _build(kind: str, tmp: Path) -> Path:
    if kind == "usdz":
        return f.write_usdz_box(tmp)
    if kind == "usda":  # Y-up metres, per-vertex displayColor
        return f.write_usd_box(tmp / "box.usda", up="Y", meters_per_unit=1.0, display_color=True)
    if kind == "usdc":  # Z-up millimetres
        return f.write_usd_box(tmp / "box.usdc", up="Z", meters_per_unit=0.001, display_color=True)
    if kind == "stl":
        return f.stl_box(tmp / "part.stl")
    if kind == "stl-ascii":
        return f.stl_box(tmp / "part.stl", ascii=True)
    if kind == "ply":
        return f.ply_box(tmp / "scan.ply")
    if kind == "ply-ascii":
        return f.ply_box(tmp / "scan.ply", ascii=True)
    if kind == "ply-z-up":
        return f.ply_box(tmp / "scan.ply", z_up=True)
    raise AssertionError(kind)


KINDS = ["usdz", "usda", "usdc", "stl", "stl-ascii", "ply", "ply-ascii", "ply-z-up"]
SNIFFED = {"stl-ascii": "stl", "ply-ascii": "ply", "ply-z-up": "ply"}


def _check_upright_box(glb: Path) -> trimesh.Scene:
    scene = trimesh.load(glb, force="scene")
    assert sum(len(g.faces) for g in scene.geometry.values()) == TRIANGLES
    low, high = scene.bounds
    extents = high - low
    assert extents == pytest.approx(f.BOX_M, abs=1e-4), f"not upright or not in metres: {extents}"
    assert low[1] == pytest.approx(0.0, abs=1e-4), "the box stands on its base, not upside down"
    return scene


def _check_looks(kind: str, scene: trimesh.Scene, glb: Path) -> None:
    (mesh,) = scene.geometry.values()
    if kind == "usdz":
        material = mesh.visual.material
        assert material.baseColorTexture is not None
        assert material.baseColorTexture.convert("RGB").getpixel((2, 2)) == f.TEXTURE_RGB
        assert mesh.visual.uv is not None and len(mesh.visual.uv) == len(mesh.vertices)
        assert material.roughnessFactor == pytest.approx(0.4)
        doc = read_glb(glb, DEFAULT_LIMITS).document
        assert len(doc["images"]) == 1 and doc["images"][0]["mimeType"] == "image/png"
        assert doc["materials"][0]["doubleSided"] is False  # USD's default, honoured
        return
    if kind.startswith("stl"):
        return
    # PLY and the USD displayColor: red on top, blue at the bottom, as COLOR_0.
    visual = mesh.visual  # trimesh keeps COLOR_0 beside a material as a vertex attribute
    colors = np.asarray(visual.vertex_colors if visual.kind == "vertex" else visual.vertex_attributes["color"])
    assert len(colors) == len(mesh.vertices)
    top = mesh.vertices[:, 1] > f.BOX_M[1] / 2
    assert (colors[top][:, :3] == [255, 0, 0]).all() and (colors[~top][:, :3] == [0, 0, 255]).all()


@pytest.mark.parametrize("kind", KINDS)
def test_upload_converts_upright_in_metres(tmp_path: Path, kind: str):
    upload = _build(kind, tmp_path)
    assert sniff_file(upload) == SNIFFED.get(kind, kind)
    result = prepare_model(upload, tmp_path / "work", original_name=upload.name)
    assert result.source_kind == SNIFFED.get(kind, kind)
    assert result.glb_path == tmp_path / "work" / "model.glb"
    scene = _check_upright_box(result.glb_path)
    _check_looks(kind, scene, result.glb_path)


@pytest.mark.parametrize("kind", ["usda", "usdc", "stl", "ply"])
def test_inside_a_zip_converts_the_same(tmp_path: Path, kind: str):
    upload = _build(kind, tmp_path)
    archive = f.zipped(tmp_path, "model.zip", {"readme.txt": b"hi", f"export/{upload.name}": upload.read_bytes()})
    result = prepare_model(archive, tmp_path / "work", original_name="model.zip")
    assert result.source_kind == {"usda": "usd-zip", "usdc": "usd-zip"}.get(kind, f"{kind}-zip")
    _check_looks(kind, _check_upright_box(result.glb_path), result.glb_path)


def test_usd_in_a_zip_keeps_its_textures_and_layers(tmp_path: Path):
    """A USD root with a texture and a referenced layer in subfolders: the root is the top-most layer."""
    src = tmp_path / "src"
    (src / "parts").mkdir(parents=True)
    f.write_usd_box(src / "parts" / "box.usdc", up="Z", meters_per_unit=0.01, texture="../tex/albedo.png")
    root = src / "scene.usda"
    root.write_text(
        '#usda 1.0\n(\n    defaultPrim = "World"\n    metersPerUnit = 0.01\n    upAxis = "Z"\n)\n'
        'def Xform "World" (\n    prepend references = @./parts/box.usdc@\n)\n{\n}\n'
    )
    archive = f.zipped(
        tmp_path,
        "scene.zip",
        {
            "scene.usda": root.read_bytes(),
            "parts/box.usdc": (src / "parts" / "box.usdc").read_bytes(),
            "tex/albedo.png": f.png_bytes(),
        },
    )
    result = prepare_model(archive, tmp_path / "work", original_name="scene.zip")
    # scene.usda is the first member: this ZIP is read as a USDZ, whatever its compression.
    assert result.source_kind == "usdz"
    _check_looks("usdz", _check_upright_box(result.glb_path), result.glb_path)


def test_two_models_in_one_zip_are_refused(tmp_path: Path):
    stl = f.stl_box(tmp_path / "a.stl").read_bytes()
    ply = f.ply_box(tmp_path / "b.ply").read_bytes()
    archive = f.zipped(tmp_path, "two.zip", {"a.stl": stl, "b.ply": ply})
    with pytest.raises(DxglError) as caught:
        prepare_model(archive, tmp_path / "work")
    assert caught.value.code == "invalid_format" and "one model per ZIP" in caught.value.message


def test_sniff_by_content_not_name():
    assert sniff_format(b"ply\nformat ascii 1.0\n") == "ply"
    assert sniff_format(b"ply\r\nformat ascii 1.0\r\n") == "ply"
    assert sniff_format(b"#usda 1.0\n(\n)") == "usda"
    assert sniff_format(b"PXR-USDC\x00\x07") == "usdc"
    assert sniff_format(b"solid cube\n  facet normal 0 0 1\n") == "stl"
    assert sniff_format(b"solid ascii stl") is None  # no facet, no endsolid
    # A binary STL whose header starts with "solid": the size rule decides.
    head = b"solid by some CAD tool".ljust(80, b" ") + (2).to_bytes(4, "little") + b"\x00" * 100
    assert sniff_format(head, size=84 + 100) == "stl"
    assert sniff_format(b"\x00" * 80 + (2).to_bytes(4, "little"), size=84 + 100) == "stl"
    assert sniff_format(b"\x00" * 80 + (2).to_bytes(4, "little")) is None  # without the size: unknown
    assert sniff_format(b"\x7fELF" + b"\x00" * 60, size=64) is None


def test_invalid_format_message_lists_every_format(tmp_path: Path):
    upload = tmp_path / "notes.txt"
    upload.write_bytes(b"just some text, not a model")
    with pytest.raises(DxglError) as caught:
        prepare_model(upload, tmp_path / "work", original_name="notes.txt")
    assert caught.value.code == "invalid_format"
    for fmt in ("GLB", "glTF", "USDZ", "USDA", "USDC", "STL", "PLY", "ZIP", "notes.txt"):
        assert fmt in caught.value.message


def test_usd_without_meters_per_unit_is_centimetres_with_a_warning(tmp_path: Path):
    upload = f.write_usd_box(tmp_path / "box.usda", up="Y", meters_per_unit=1.0, display_color=True)
    upload.write_text(upload.read_text().replace("metersPerUnit = 1\n", ""))
    result = prepare_model(upload, tmp_path / "work", original_name="box.usda")
    assert any("metersPerUnit" in w for w in result.warnings), result.warnings
    extents = trimesh.load(result.glb_path, force="scene").extents
    assert extents == pytest.approx([b * 0.01 for b in f.BOX_M], abs=1e-6)


# --- hostile ----------------------------------------------------------------------------------------


def test_every_format_case_has_a_hint():
    assert {name for name, _, _ in f.FORMAT_HOSTILE_CASES} == set(f.FORMAT_MESSAGE_HINTS)


@pytest.mark.parametrize("name,build,code", f.FORMAT_HOSTILE_CASES, ids=[c[0] for c in f.FORMAT_HOSTILE_CASES])
def test_hostile_format_upload_is_refused(tmp_path: Path, name: str, build, code: str):
    _, upload = lay_out(tmp_path, build)
    staged = tmp_path / "files" / ".tmp" / f"{uuid.uuid4().hex}.upload"  # as the service stages it
    staged.parent.mkdir(parents=True)
    shutil.copyfile(upload, staged)
    work = tmp_path / "work"
    before = snapshot(tmp_path, {work})
    started = time.monotonic()
    with pytest.raises(DxglError) as caught:
        prepare_model(staged, work, original_name=upload.name)
    assert time.monotonic() - started < 20, "refused, but not quickly"
    message = caught.value.message
    assert caught.value.code == code, message
    assert 400 <= caught.value.status < 500
    assert f.FORMAT_MESSAGE_HINTS[name] in message, message
    for internal in (".tmp", ".upload", staged.stem, str(tmp_path), str(tmp_path.resolve())):
        assert internal not in message, f"{name}: {message!r} names {internal!r}"
    assert snapshot(tmp_path, {work}) == before
    if work.exists():
        for path in work.rglob("*"):
            assert not path.is_symlink() and path.resolve().is_relative_to(work.resolve())


# --- renders upright --------------------------------------------------------------------------------


@pytest.mark.render
@pytest.mark.parametrize("kind", ["usdz", "stl", "ply"])
def test_converted_model_renders_upright(tmp_path: Path, kind: str):
    from tests.render.conftest import small_spec
    from tests.render.gl_child import draw_frames

    result = prepare_model(_build(kind, tmp_path), tmp_path / "work")
    spec = small_spec({"effect": "turntable", "shadows": False, "reflector": False}, size=(160, 90), fps=1, length=1)
    (frame,), _ = draw_frames(result.glb_path, spec, indices=[0])
    rows, cols = np.nonzero(frame[..., 3] > 0)
    assert len(rows) > 100, "the model is in the picture"
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    assert height > 1.5 * width, f"{kind}: silhouette {width}x{height} px is not standing up"
