"""Dataset export end to end: a real spawned EGL render, the ZIP read back, its members, events, posters,
images, point cloud, cameras and loader files checked against the documented layout (docs/dataset.md).
The per-pixel geometry checks (depth back-projection, masks and normals against a ray cast) are in
test_dataset_geometry.py (slow)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from dxgl.render import DatasetSpec, RenderError, render_dataset
from tests.render.conftest import MODELS
from tests.render.dataset_case import CASES, SIZE, VIEWS, Dataset, dataset_space_mesh, render_case
from tests.render.test_dataset_schema import check_3dgs_blender, check_instant_ngp, check_nerfstudio

pytestmark = pytest.mark.render


@pytest.fixture(scope="module", params=sorted(CASES))
def dataset(request, tmp_path_factory) -> tuple[str, Dataset]:
    return render_case(request.param, tmp_path_factory)


def test_members_one_file_per_view_in_every_folder(dataset):
    _, ds = dataset
    for folder in ("images", "depth", "depth_16bit", "depth_mm", "normals", "masks"):
        assert {n for n in ds.names if n.startswith(folder + "/")} == {f"{folder}/{i:04d}.png" for i in range(VIEWS)}
    assert {
        "transforms.json",
        "transforms_train.json",
        "transforms_test.json",
        "points3d.ply",
        "overview.webp",
    } <= ds.names
    for info in ds.zip.infolist():
        if info.filename.endswith(".png"):
            assert info.compress_type == zipfile.ZIP_STORED
    modes = {"images": "RGB", "depth": "L", "depth_16bit": "I;16", "depth_mm": "I;16", "normals": "RGB", "masks": "L"}
    for folder, mode in modes.items():
        img = Image.open(io.BytesIO(ds.zip.read(f"{folder}/0003.png")))
        assert (img.mode, img.size) == (mode, (SIZE, SIZE)), folder


def test_events_and_posters(dataset):
    _, ds = dataset
    names = [n for n, _ in ds.events]
    assert names[0] == "started" and names[-1] == "encoding"
    assert names.index("poster") < names.index("encoding")
    poster = Path(dict(ds.events)["poster"]["path"])
    assert poster.name == "poster.png"
    full, small = Image.open(poster), Image.open(poster.with_name("poster_small.png"))
    assert full.size == (SIZE, SIZE) and small.size == (SIZE, SIZE)  # under 480 px: the image size
    assert np.array_equal(np.asarray(full.convert("RGB")), ds.image("images/0000.png"))
    frames = [p for n, p in ds.events if n == "frames"]
    assert frames[-1] == {"done": VIEWS, "total": VIEWS}


def test_images_are_white_outside_the_mask_and_show_the_model(dataset):
    _, ds = dataset
    for frame in ds.meta["frames"]:
        rgb = ds.image(frame["file_path"])
        mask = ds.image(frame["mask_path"]) == 255
        assert (rgb[~mask] == 255).all()
        assert (rgb[mask] < 250).any(axis=1).mean() > 0.5  # the model is drawn, not blank


def test_points3d_lies_on_the_surface(dataset):
    name, ds = dataset
    mesh = dataset_space_mesh(MODELS[name])
    raw = ds.zip.read("points3d.ply")
    header, body = raw.split(b"end_header\n", 1)
    assert b"format binary_little_endian 1.0" in header
    props = [line.split()[-1].decode() for line in header.splitlines() if line.startswith(b"property")]
    assert props == ["x", "y", "z", "nx", "ny", "nz", "red", "green", "blue"]
    dtype = np.dtype([(p, "<f4") for p in props[:6]] + [(p, "u1") for p in props[6:]])
    points = np.frombuffer(body, dtype=dtype)
    xyz = np.stack([points["x"], points["y"], points["z"]], 1).astype(np.float64)
    assert len(points) >= 10_000
    _, dist, _ = trimesh.proximity.closest_point(mesh, xyz[:: max(1, len(xyz) // 2000)])
    assert np.median(dist) < 1e-4 and dist.max() < 1e-2


def test_cameras_spread_over_the_coverage_and_frame_the_model(dataset):
    name, ds = dataset
    eyes = np.array([f["transform_matrix"] for f in ds.meta["frames"]])[:, :3, 3]
    radii = np.linalg.norm(eyes, axis=1)
    assert np.allclose(radii, radii[0])  # one distance
    elevation = eyes[:, 1] / radii
    if CASES[name] == "hemisphere":
        assert (elevation > 0).all()
    else:
        assert (elevation > 0.5).any() and (elevation < -0.5).any()
    # Every view frames the whole model: no mask touches the image border.
    for frame in ds.meta["frames"]:
        mask = ds.image(frame["mask_path"])
        assert mask[0].max() == mask[-1].max() == mask[:, 0].max() == mask[:, -1].max() == 0


def test_json_fits_nerfstudio_instant_ngp_and_3dgs_loaders(dataset, tmp_path):
    _, ds = dataset
    ds.zip.extractall(tmp_path)
    check_nerfstudio(tmp_path / "transforms.json")
    check_instant_ngp(tmp_path / "transforms.json")
    check_3dgs_blender(tmp_path)
    train = json.loads((tmp_path / "transforms_train.json").read_text())
    test = json.loads((tmp_path / "transforms_test.json").read_text())
    assert len(train["frames"]) + len(test["frames"]) == VIEWS and test["frames"]
    assert not {f["file_path"] for f in train["frames"]} & {f["file_path"] for f in test["frames"]}


def test_overview_is_a_four_quadrant_sheet(dataset):
    _, ds = dataset
    sheet = Image.open(io.BytesIO(ds.zip.read("overview.webp")))
    assert sheet.format == "WEBP"
    w, h = sheet.size
    assert w > 2 * 4 * 80 and h > 2 * 3 * 80  # 12 views: 4 x 3 tiles per quadrant
    arr = np.asarray(sheet.convert("RGB")).astype(int)
    bottom_left = arr[h // 2 + 8 :, : w // 2 - 8]
    assert (bottom_left.sum(axis=2) < 30).mean() > 0.3  # normals quadrant: black background


@pytest.mark.slow  # waits out a deadline
def test_bad_model_and_timeout_raise_render_error(tmp_path):
    broken = tmp_path / "broken.glb"
    broken.write_bytes(b"glTF" + b"\x00" * 40)
    with pytest.raises(RenderError):
        render_dataset(broken, DatasetSpec(views=2, size=32, coverage="sphere"), tmp_path / "a", timeout_s=60)
    assert not (tmp_path / "a" / "dataset.zip").exists()
    with pytest.raises(RenderError, match="longer than"):
        render_dataset(
            MODELS["DamagedHelmet"], DatasetSpec(views=400, size=512, coverage="sphere"), tmp_path / "b", timeout_s=1.0
        )
