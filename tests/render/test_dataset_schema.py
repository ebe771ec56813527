"""What the NeRF / 3DGS loaders read from transforms files, as checks (used by test_dataset_render.py),
plus tests that these checks reject broken files.

Field lists come from the loaders' own code and documentation:
- nerfstudio: nerfstudio/data/dataparsers/nerfstudio_dataparser.py (``Nerfstudio._generate_dataparser_outputs``)
  and https://docs.nerf.studio/quickstart/data_conventions.html. Intrinsics fl_x, fl_y, cx, cy (float),
  w, h (int) at the top or in every frame; optional k1 k2 k3 p1 p2; camera_model a key of
  CAMERA_MODEL_TO_TYPE; frames[].file_path, frames[].transform_matrix (4x4, camera-to-world, OpenGL);
  mask_path / depth_file_path on every frame or on none; ply_file_path relative to the data folder.
- instant-ngp: src/nerf_loader.cu (``load_nerf``, ``read_focal_length``, ``read_lens``) and
  docs/nerf_dataset_tips.md. Focal from fl_x/fl_y or camera_angle_x/camera_angle_y; cx, cy, w, h;
  aabb_scale a power of two (1..128); frames[].file_path (resolved against the folder) and
  frames[].transform_matrix (first 3 rows x 4 columns read).
- 3D Gaussian Splatting (graphdeco-inria/gaussian-splatting, scene/dataset_readers.py,
  ``readNerfSyntheticInfo`` / ``readCamerasFromTransforms``): transforms_train.json and
  transforms_test.json with camera_angle_x; frames[].file_path + ".png" exists; transform_matrix 4x4
  invertible; points3d.ply with x y z nx ny nz red green blue (``fetchPly``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# nerfstudio/cameras/cameras.py CAMERA_MODEL_TO_TYPE keys (perspective and distortion models).
NERFSTUDIO_CAMERA_MODELS = {
    "SIMPLE_PINHOLE",
    "PINHOLE",
    "SIMPLE_RADIAL",
    "RADIAL",
    "OPENCV",
    "OPENCV_FISHEYE",
    "EQUIRECTANGULAR",
    "FISHEYE624",
}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_matrix(matrix) -> np.ndarray:
    assert isinstance(matrix, list) and len(matrix) == 4 and all(len(row) == 4 for row in matrix), (
        "transform_matrix 4x4"
    )
    assert all(_is_number(v) for row in matrix for v in row), "transform_matrix numbers"
    m = np.array(matrix, dtype=np.float64)
    assert np.allclose(m[3], [0, 0, 0, 1]), "transform_matrix last row"
    assert np.allclose(m[:3, :3] @ m[:3, :3].T, np.eye(3), atol=1e-6), "rotation part orthonormal"
    assert np.linalg.det(m[:3, :3]) > 0, "right-handed camera frame"
    return m


def check_nerfstudio(path: Path) -> None:
    meta = json.loads(path.read_text())
    folder = path.parent
    frames = meta["frames"]
    assert isinstance(frames, list) and frames
    for key in ("fl_x", "fl_y", "cx", "cy"):
        assert _is_number(meta.get(key)) or all(_is_number(f.get(key)) for f in frames), key
    for key in ("w", "h"):
        assert isinstance(meta.get(key), int) or all(isinstance(f.get(key), int) for f in frames), key
    for key in ("k1", "k2", "k3", "p1", "p2"):
        assert key not in meta or _is_number(meta[key]), key
    if "camera_model" in meta:
        assert meta["camera_model"] in NERFSTUDIO_CAMERA_MODELS
    for optional in ("mask_path", "depth_file_path"):
        present = [optional in f for f in frames]
        assert all(present) or not any(present), f"{optional} on every frame or none"
    for frame in frames:
        assert isinstance(frame["file_path"], str)
        image = Image.open(folder / frame["file_path"])
        assert image.size == (meta["w"], meta["h"])
        _check_matrix(frame["transform_matrix"])
        for optional in ("mask_path", "depth_file_path"):
            if optional in frame:
                assert Image.open(folder / frame[optional]).size == image.size, optional
    if "ply_file_path" in meta:
        assert (folder / meta["ply_file_path"]).is_file()


def check_instant_ngp(path: Path) -> None:
    meta = json.loads(path.read_text())
    folder = path.parent
    has_focal = _is_number(meta.get("fl_x")) or _is_number(meta.get("camera_angle_x"))
    assert has_focal, "fl_x or camera_angle_x"
    if "camera_angle_x" in meta and "fl_x" in meta:  # both given: they must agree
        assert math.isclose(meta["fl_x"], 0.5 * meta["w"] / math.tan(0.5 * meta["camera_angle_x"]), rel_tol=1e-6)
    for key in ("cx", "cy"):
        assert key not in meta or _is_number(meta[key]), key
    for key in ("w", "h"):
        assert isinstance(meta.get(key), int), key
    if "aabb_scale" in meta:
        scale = meta["aabb_scale"]
        assert isinstance(scale, int) and 1 <= scale <= 128 and scale & (scale - 1) == 0, "aabb_scale power of 2"
    for frame in meta["frames"]:
        assert (folder / frame["file_path"]).is_file()
        _check_matrix(frame["transform_matrix"])


def check_3dgs_blender(folder: Path) -> None:
    for split in ("train", "test"):
        meta = json.loads((folder / f"transforms_{split}.json").read_text())
        assert _is_number(meta["camera_angle_x"])
        for frame in meta["frames"]:
            assert not Path(frame["file_path"]).suffix, "Blender-style paths have no extension"
            assert (folder / (frame["file_path"] + ".png")).is_file()
            _check_matrix(frame["transform_matrix"])
    header = (folder / "points3d.ply").read_bytes().split(b"end_header\n", 1)[0].decode("ascii")
    for prop in ("x", "y", "z", "nx", "ny", "nz", "red", "green", "blue"):
        assert f" {prop}\n" in header, prop


# -- the checks can fail ------------------------------------------------------------------------------
def _valid(tmp_path: Path) -> Path:
    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (8, 8)).save(tmp_path / "m.png")
    (tmp_path / "p.ply").write_bytes(b"ply\n")
    meta = {
        "camera_model": "PINHOLE",
        "camera_angle_x": 0.7,
        "fl_x": 4 / math.tan(0.35),
        "fl_y": 4 / math.tan(0.35),
        "cx": 4.0,
        "cy": 4.0,
        "w": 8,
        "h": 8,
        "aabb_scale": 1,
        "ply_file_path": "p.ply",
        "frames": [{"file_path": "a.png", "mask_path": "m.png", "transform_matrix": np.eye(4).tolist()}],
    }
    path = tmp_path / "transforms.json"
    path.write_text(json.dumps(meta))
    return path


def test_the_checks_accept_a_minimal_valid_file(tmp_path):
    path = _valid(tmp_path)
    check_nerfstudio(path)
    check_instant_ngp(path)


# Each breakage and the loaders whose checks must reject it (a field only one loader reads breaks only that one).
BREAKAGES = {
    "no_focal": ("nerfstudio", "instant_ngp"),
    "float_w": ("nerfstudio", "instant_ngp"),
    "bad_model": ("nerfstudio",),
    "mask_on_some": ("nerfstudio",),
    "matrix_3x4": ("nerfstudio", "instant_ngp"),
    "missing_image": ("nerfstudio", "instant_ngp"),
    "aabb_3": ("instant_ngp",),
    "scaled_rotation": ("nerfstudio", "instant_ngp"),
}


def _broken(tmp_path: Path, breakage: str) -> Path:
    path = _valid(tmp_path)
    meta = json.loads(path.read_text())
    frame = meta["frames"][0]
    if breakage == "no_focal":
        for key in ("fl_x", "camera_angle_x"):
            del meta[key]
    elif breakage == "float_w":
        meta["w"] = 8.0
    elif breakage == "bad_model":
        meta["camera_model"] = "BLENDER"
    elif breakage == "mask_on_some":
        meta["frames"].append({**frame, "mask_path": None})
        del meta["frames"][1]["mask_path"]
    elif breakage == "matrix_3x4":
        frame["transform_matrix"] = frame["transform_matrix"][:3]
    elif breakage == "missing_image":
        frame["file_path"] = "nope.png"
    elif breakage == "aabb_3":
        meta["aabb_scale"] = 3
    elif breakage == "scaled_rotation":
        frame["transform_matrix"] = (np.eye(4) * [2, 2, 2, 1]).tolist()
    path.write_text(json.dumps(meta))
    return path


@pytest.mark.parametrize("breakage", [b for b, loaders in BREAKAGES.items() if "nerfstudio" in loaders])
def test_the_nerfstudio_check_rejects_broken_files(tmp_path, breakage):
    path = _broken(tmp_path, breakage)
    with pytest.raises((AssertionError, KeyError, FileNotFoundError)):
        check_nerfstudio(path)


@pytest.mark.parametrize("breakage", [b for b, loaders in BREAKAGES.items() if "instant_ngp" in loaders])
def test_the_instant_ngp_check_rejects_broken_files(tmp_path, breakage):
    path = _broken(tmp_path, breakage)
    with pytest.raises((AssertionError, KeyError, FileNotFoundError)):
        check_instant_ngp(path)
