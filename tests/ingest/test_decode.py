"""Every compressed catalogue file in shared/assets/models/compressed/ decodes, at upload, into plain
glTF 2.0 that trimesh (what dxgl/render/scene.py loads) reads like the uncompressed original.

Compared with the original, in world space: the bounding box, the triangle count, the base colour
textures' sizes and, face by face (each decoded face matched to the original face nearest to its
centroid), the base colour texture sampled at the face's UV centroid: a texture transform or second
UV set that is not baked shows up here as the wrong colours ("the printed can comes out flat green").
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import trimesh
from scipy.spatial import cKDTree

from dxgl.ingest import prepare_model
from dxgl.ingest.glb import read_glb
from dxgl.ingest.gltf_pack import pack_gltf_file
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.normalise import normalise_glb
from tests.assets import MODELS_DIR

COMPRESSED = MODELS_DIR / "compressed"
VARIANTS = sorted(COMPRESSED.glob("*.glb"))
ORIGINALS = {
    "Duck": MODELS_DIR / "Duck.glb",
    "CesiumMilkTruck": MODELS_DIR / "CesiumMilkTruck.glb",
    "DamagedHelmet": MODELS_DIR / "DamagedHelmet-gltf" / "DamagedHelmet.gltf",
    "BoxTextured": MODELS_DIR / "BoxTextured.glb",
}
# gltf-transform optimize welds vertices and drops the degenerate triangles of the helmet.
TRIANGLES_DROPPED = {"DamagedHelmet-optimize.glb": 264}
HANDLED = {
    "KHR_draco_mesh_compression",
    "EXT_meshopt_compression",
    "KHR_mesh_quantization",
    "KHR_texture_transform",
    "KHR_texture_basisu",
}

pytestmark = pytest.mark.skipif(not VARIANTS, reason="the shared compressed models are not present")


@cache
def _original_glb(stem: str, tmp_root: Path) -> Path:
    source = ORIGINALS[stem]
    if source.suffix == ".glb":
        return source
    out = tmp_root / f"{stem}-packed.glb"
    pack_gltf_file(source, source.parent, out, DEFAULT_LIMITS, label=source.name)
    return out


class Faces:
    """A loaded model in world space: face centroids (F, 3), the base colour sampled at each face's
    UV centroid (F, 3) float (NaN for untextured faces), the scene bounds (2, 3), texture sizes."""

    def __init__(self, path: Path):
        scene = trimesh.load(str(path), force="scene", process=False)
        self.bounds = np.asarray(scene.bounds)
        centroids, colours, sizes = [], [], []
        for mesh in scene.dump():
            faces = np.asarray(mesh.faces)
            centroids.append(np.asarray(mesh.vertices)[faces].mean(axis=1))
            colour = np.full((len(faces), 3), np.nan)
            material = getattr(mesh.visual, "material", None)
            image = getattr(material, "baseColorTexture", None)
            uv = getattr(mesh.visual, "uv", None)
            if image is not None and uv is not None and len(uv) == len(mesh.vertices):
                pixels = np.asarray(image.convert("RGB"), dtype=np.float64)
                sizes.append(image.size)
                centre = np.asarray(uv, dtype=np.float64)[faces].mean(axis=1)
                h, w = pixels.shape[:2]
                # trimesh flipped V (origin bottom-left); textures repeat.
                x = (np.floor(np.mod(centre[:, 0], 1.0) * w).astype(int)) % w
                y = (np.floor((1.0 - np.mod(centre[:, 1], 1.0)) * h).astype(int)) % h
                colour = pixels[y, x]
            colours.append(colour)
        self.centroids = np.concatenate(centroids)
        self.colours = np.concatenate(colours)
        self.texture_sizes = sorted(set(sizes))

    @property
    def triangles(self) -> int:
        return len(self.centroids)


@cache
def _faces(path: Path) -> Faces:
    return Faces(path)


@cache
def _decoded(variant: Path, tmp_root: Path) -> tuple[Path, list[str], float]:
    out = tmp_root / f"{variant.stem}.decoded.glb"
    started = time.perf_counter()
    result = normalise_glb(variant, out, DEFAULT_LIMITS, label=variant.name)
    return result.path, result.warnings, time.perf_counter() - started


@pytest.fixture(scope="module")
def tmp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("decoded")


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_compressed_file_decodes_into_plain_gltf(variant: Path, tmp_root: Path):
    path, warnings, _ = _decoded(variant, tmp_root)
    assert path != variant, "a compressed file must be decoded"
    assert warnings == []
    doc = read_glb(path, DEFAULT_LIMITS).document
    assert not HANDLED & set(doc.get("extensionsUsed", []) + doc.get("extensionsRequired", []))
    assert len(doc["buffers"]) == 1
    for acc in doc["accessors"]:
        assert "sparse" not in acc
    for mesh in doc["meshes"]:
        for prim in mesh["primitives"]:
            assert "extensions" not in prim
            for name in ("POSITION", "NORMAL", "TEXCOORD_0"):
                if name in prim["attributes"]:
                    assert doc["accessors"][prim["attributes"][name]]["componentType"] == 5126, name
            assert doc["accessors"][prim["indices"]]["componentType"] in (5123, 5125)
    for image in doc.get("images", []):
        assert image["mimeType"] in ("image/png", "image/jpeg")


@pytest.mark.parametrize("variant", VARIANTS, ids=[v.name for v in VARIANTS])
def test_decoded_geometry_and_colours_match_the_original(variant: Path, tmp_root: Path):
    path, _, _ = _decoded(variant, tmp_root)
    decoded = _faces(path)
    original = _faces(_original_glb(variant.stem.split("-")[0], tmp_root))
    extent = float((original.bounds[1] - original.bounds[0]).max())
    # Quantization moves a vertex by at most half a step of 14 bits (gltfpack) or 16 bits (optimize).
    assert np.abs(decoded.bounds - original.bounds).max() <= 2e-3 * extent
    assert decoded.triangles == original.triangles - TRIANGLES_DROPPED.get(variant.name, 0)
    assert decoded.texture_sizes == original.texture_sizes

    textured = ~np.isnan(decoded.colours[:, 0])
    assert textured.sum() > 0.5 * decoded.triangles
    _, nearest = cKDTree(original.centroids).query(decoded.centroids[textured])
    reference = original.colours[nearest]
    both = ~np.isnan(reference[:, 0])
    difference = np.abs(decoded.colours[textured][both] - reference[both]).mean(axis=1)
    # Faces match by position only, so a few land on the other side of a UV seam: medians, not maxima.
    assert np.median(difference) < 3, f"{variant.name}: median colour difference {np.median(difference):.1f}"
    assert difference.mean() < 6, f"{variant.name}: mean colour difference {difference.mean():.1f}"
    assert (difference < 24).mean() > 0.97


def test_a_wrongly_placed_texture_is_caught_by_the_colour_check(tmp_root: Path):
    """The check above fails on the bug it guards against: gltfpack's quantized UVs without their
    texture transform sample one corner of the texture."""
    variant = COMPRESSED / "CesiumMilkTruck-gltfpack.glb"
    contents = read_glb(variant, DEFAULT_LIMITS)
    doc = contents.document
    for material in doc["materials"]:
        info = material.get("pbrMetallicRoughness", {}).get("baseColorTexture")
        if info:
            info.pop("extensions", None)  # the transform is "forgotten"
    broken_src = tmp_root / "truck-untransformed.glb"
    from dxgl.ingest.glb import write_glb

    write_glb(broken_src, doc, contents.bin_chunk)
    out = normalise_glb(broken_src, tmp_root / "truck-untransformed.decoded.glb", DEFAULT_LIMITS, label="x").path
    decoded, original = Faces(out), _faces(_original_glb("CesiumMilkTruck", tmp_root))
    textured = ~np.isnan(decoded.colours[:, 0])
    _, nearest = cKDTree(original.centroids).query(decoded.centroids[textured])
    difference = np.abs(decoded.colours[textured] - original.colours[nearest]).mean(axis=1)
    print(f"untransformed: median {np.median(difference):.1f}, mean {difference.mean():.1f}")
    assert np.median(difference) > 3 and difference.mean() > 6


def test_the_upload_path_accepts_meshopt_fallback_buffers(tmp_path: Path):
    """Through prepare_model (the child, packing and validation): the meshopt file's fallback buffer
    (no uri, no bytes) is legal, and the decoded GLB is what renders load."""
    variant = COMPRESSED / "DamagedHelmet-meshopt.glb"
    prepared = prepare_model(variant, tmp_path / "work", original_name=variant.name)
    assert prepared.glb_path == variant  # the model file stays as uploaded
    assert prepared.decoded_path is not None and prepared.decoded_path.is_file()
    assert prepared.decoded_path.resolve().is_relative_to((tmp_path / "work").resolve())
    assert _faces(prepared.decoded_path).triangles == 15452


def test_plain_files_are_not_rewritten(tmp_path: Path):
    for name in ("Duck.glb", "BoxTextured.glb", "CesiumMilkTruck.glb"):
        result = normalise_glb(MODELS_DIR / name, tmp_path / "out.glb", DEFAULT_LIMITS, label=name)
        assert result.path == MODELS_DIR / name
        assert not (tmp_path / "out.glb").exists()


def test_decode_times(tmp_root: Path, capsys: pytest.CaptureFixture[str]):
    """Each compressed file decodes in well under a second (printed as JSON; bench/decode.py too)."""
    times = {v.name: round(_decoded(v, tmp_root)[2], 4) for v in VARIANTS}
    with capsys.disabled():
        print("\ndecode seconds:", json.dumps(times))
    assert max(times.values()) < 5
