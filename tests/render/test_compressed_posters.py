"""Every compressed or optimised variant of a shared model renders like its original.

The files in ``shared/assets/models/compressed/`` (Draco, meshopt, gltfpack's quantized output with
texture transforms, gltf-transform optimize, KTX2 textures) go through the upload path
(``prepare_model``: decoded once, in the ingest child) and are drawn from the same camera as the
uncompressed original. Acceptance: silhouette IoU >= 0.98 and mean colour difference over the
model <= 3 (CIE76 ΔE in CIELAB, computed with Pillow's LittleCMS transform, D50 white) on the
pixels both renders cover fully.
"""

from __future__ import annotations

import multiprocessing
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from dxgl.ingest import prepare_model
from tests.assets import MODELS_DIR
from tests.render.conftest import small_spec

pytestmark = pytest.mark.render

COMPRESSED = MODELS_DIR / "compressed"
SIZE = (320, 180)
ORIGINALS = {
    "Duck": MODELS_DIR / "Duck.glb",
    "CesiumMilkTruck": MODELS_DIR / "CesiumMilkTruck.glb",
    "DamagedHelmet": MODELS_DIR / "DamagedHelmet-gltf" / "DamagedHelmet.gltf",
    "BoxTextured": MODELS_DIR / "BoxTextured.glb",
}
MIN_IOU = 0.98
MAX_DELTA_E = 3.0


def _variants() -> list[Path]:
    return sorted(COMPRESSED.glob("*.glb"))


def _original_of(variant: Path) -> Path:
    return ORIGINALS[variant.stem.split("-")[0]]


def _as_upload(path: Path, tmp: Path) -> Path:
    """What a user uploads for ``path``: the GLB itself, or a ZIP of a glTF's folder."""
    if path.suffix == ".glb":
        return path
    archive = tmp / f"{path.stem}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for member in path.parent.iterdir():
            zf.write(member, member.name)
    return archive


def _draw_all(models: list[str], spec) -> list[list[np.ndarray]]:
    """Frames 0 and 3 of each model, (H, W, 4) uint8 straight RGBA; one GL context per model."""
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene

    drawn = []
    for model in models:
        scene = load_scene(Path(model))
        poses = camera_path(spec, scene.frame_points, scene.bounds)
        renderer = Renderer(scene, spec.width, spec.height)
        drawn.append([renderer.draw(poses[i], shadows=False, reflector=spec.reflector).copy() for i in (0, 3)])
        renderer.close()
    return drawn


def _lab(rgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 sRGB -> (N, 3) float CIELAB (L* 0..100)."""
    transform = ImageCms.buildTransform(ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB")
    image = Image.fromarray(rgb.reshape(1, -1, 3).astype(np.uint8), "RGB")
    raw = np.asarray(ImageCms.applyTransform(image, transform)).reshape(-1, 3)
    # Pillow's LAB mode: L* scaled to 0..255; a* and b* as signed bytes (two's complement)
    a_b = raw[:, 1:].view(np.int8).astype(np.float64)
    return np.column_stack([raw[:, 0] * 100.0 / 255.0, a_b])


def compare(original: np.ndarray, variant: np.ndarray) -> tuple[float, float]:
    """(silhouette IoU, mean CIE76 ΔE over the pixels both cover fully) of two RGBA frames."""
    a, b = original[..., 3] > 0, variant[..., 3] > 0
    iou = float((a & b).sum() / max((a | b).sum(), 1))
    both = (original[..., 3] == 255) & (variant[..., 3] == 255)
    if not both.any():
        return iou, float("inf")
    delta = np.linalg.norm(_lab(original[both][:, :3]) - _lab(variant[both][:, :3]), axis=1)
    return iou, float(delta.mean())


def test_every_compressed_variant_renders_like_its_original(tmp_path: Path):
    variants = _variants()
    assert len(variants) >= 9, "the shared compressed models are missing"
    loadable: list[str] = []
    decode_s: dict[str, float] = {}
    for path in [*ORIGINALS.values(), *variants]:
        upload = _as_upload(path, tmp_path)
        started = time.perf_counter()
        prepared = prepare_model(upload, tmp_path / path.stem, original_name=upload.name)
        decode_s[path.name] = round(time.perf_counter() - started, 3)
        loadable.append(str(prepared.decoded_path or prepared.glb_path))
    print("prepare_model seconds:", decode_s)  # reported in the note

    spec = small_spec({"effect": "turntable", "shadows": False}, size=SIZE, fps=2, length=3)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        frames = pool.apply(_draw_all, (loadable, spec))
    by_path = dict(zip([*ORIGINALS.values(), *variants], frames))

    failures = []
    for variant in variants:
        for index, (ref, got) in enumerate(zip(by_path[_original_of(variant)], by_path[variant])):
            assert (ref[..., 3] > 0).sum() > 2000, f"{variant.name}: the original is not in the picture"
            iou, delta_e = compare(ref, got)
            print(f"{variant.name} frame {index}: IoU {iou:.4f}, mean ΔE {delta_e:.2f}")
            if iou < MIN_IOU or delta_e > MAX_DELTA_E:
                failures.append(f"{variant.name} frame {index}: IoU {iou:.4f}, ΔE {delta_e:.2f}")
    assert not failures, failures


def test_the_comparison_catches_a_wrong_texture_and_a_moved_silhouette():
    """The measure can fail: a flat-coloured copy (the gltfpack bug: a can printed one flat green)
    and a shifted copy of the same frame are both outside the thresholds."""
    rng = np.random.default_rng(3)
    frame = np.zeros((90, 160, 4), np.uint8)
    frame[20:70, 40:120, :3] = rng.integers(0, 255, size=(50, 80, 3))
    frame[20:70, 40:120, 3] = 255
    flat = frame.copy()
    flat[20:70, 40:120, :3] = frame[20:70, 40:120, :3].reshape(-1, 3).mean(axis=0).astype(np.uint8)
    assert compare(frame, frame) == (1.0, 0.0)
    assert compare(frame, flat)[1] > MAX_DELTA_E
    assert compare(frame, np.roll(frame, 4, axis=1))[0] < MIN_IOU
