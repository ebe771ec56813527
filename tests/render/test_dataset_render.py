"""Dataset export end to end: a real spawned EGL render, the ZIP read back, every file checked against an
independent trimesh model of the documented dataset space (docs/dataset.md)."""

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
from tests.render.test_dataset_schema import check_3dgs_blender, check_instant_ngp, check_nerfstudio

VIEWS, SIZE = 12, 96
CASES = {"Duck": "hemisphere", "CesiumMilkTruck": "sphere"}


class Dataset:
    def __init__(self, path: Path, events: list):
        self.zip = zipfile.ZipFile(path)
        self.names = set(self.zip.namelist())
        self.meta = json.loads(self.zip.read("transforms.json"))
        self.events = events

    def image(self, member: str) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.zip.read(member))))

    def member(self, frame: dict, folder: str) -> str:
        return frame["file_path"].replace("images/", f"{folder}/", 1)


def dataset_space_mesh(model: Path) -> trimesh.Trimesh:
    """The model as trimesh loads it, normalised the documented way: bounding-box centre at the origin,
    largest side 2 units. Built here from the file, not from dxgl's scene."""
    mesh = trimesh.load(str(model), force="scene").to_geometry()
    lo, hi = mesh.bounds
    mesh.apply_translation(-(lo + hi) / 2.0)
    mesh.apply_scale(2.0 / float((hi - lo).max()))
    return mesh


def pixel_rays(meta: dict, c2w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Camera-space directions with z = -1 (N, 3) for every pixel centre (row-major) and their
    world-space unit directions (N, 3), from the file's intrinsics (OpenGL camera: -Z forward, +Y up)."""
    u, v = np.meshgrid(np.arange(meta["w"]) + 0.5, np.arange(meta["h"]) + 0.5)
    cam = np.stack([(u - meta["cx"]) / meta["fl_x"], -(v - meta["cy"]) / meta["fl_y"], -np.ones_like(u)], -1)
    cam = cam.reshape(-1, 3)
    world = cam @ c2w[:3, :3].T
    return cam, world / np.linalg.norm(world, axis=1, keepdims=True)


def ray_cast(mesh: trimesh.Trimesh, meta: dict, c2w: np.ndarray):
    """(hit mask (H*W,) bool, hit points, ray indices, triangle indices) of the first hits."""
    _, dirs = pixel_rays(meta, c2w)
    origins = np.repeat(c2w[None, :3, 3], len(dirs), axis=0)
    loc, ray, tri = mesh.ray.intersects_location(origins, dirs, multiple_hits=False)
    hit = np.zeros(len(dirs), dtype=bool)
    hit[ray] = True
    return hit, loc, ray, tri


def back_project(meta: dict, c2w: np.ndarray, depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """World points (M, 3) of the masked pixels from z-depth (H, W) float64."""
    cam, _ = pixel_rays(meta, c2w)
    m = mask.ravel()
    pts = cam[m] * depth.ravel()[m][:, None]
    return pts @ c2w[:3, :3].T + c2w[:3, 3]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.fixture(scope="module", params=sorted(CASES))
def dataset(request, tmp_path_factory) -> tuple[str, Dataset]:
    name = request.param
    events: list = []
    out = render_dataset(
        MODELS[name],
        DatasetSpec(views=VIEWS, size=SIZE, coverage=CASES[name]),
        tmp_path_factory.mktemp(name),
        on_event=lambda n, p: events.append((n, p)),
        timeout_s=180,
    )
    assert out.archive == out.archive.parent / "dataset.zip" and out.archive.is_file()
    assert not (out.archive.parent / "dataset.zip.part").exists()
    return name, Dataset(out.archive, events)


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


def test_depth_back_projects_onto_the_surface(dataset):
    name, ds = dataset
    meta, mesh = ds.meta, dataset_space_mesh(MODELS[name])
    diag = float(np.linalg.norm(mesh.bounds[1] - mesh.bounds[0]))
    near, far = meta["depth_near"], meta["depth_far"]
    decoders = {  # the documented formulas
        "depth": lambda v: v / 255.0 * (far - near) + near,
        "depth_16bit": lambda v: v / 65535.0 * (far - near) + near,
        "depth_mm": lambda v: v / 1000.0,
    }
    rng = np.random.default_rng(0)
    for frame in meta["frames"][::3]:
        c2w = np.array(frame["transform_matrix"], dtype=np.float64)
        mask = ds.image(frame["mask_path"]) == 255
        assert frame["depth_file_path"] == ds.member(frame, "depth_mm")
        for folder, decode in decoders.items():
            raw = ds.image(ds.member(frame, folder)).astype(np.float64)
            points = back_project(meta, c2w, decode(raw), mask)
            points = points[rng.choice(len(points), size=min(1500, len(points)), replace=False)]
            _, dist, _ = trimesh.proximity.closest_point(mesh, points)
            assert np.median(dist) <= 0.005 * diag, (folder, np.median(dist) / diag)
            if folder == "depth_16bit":
                # The check can fail: the 8-bit formula applied to 16-bit values misses the surface.
                wrong = back_project(meta, c2w, raw / 255.0 * (far - near) + near, mask)[:300]
                assert np.median(trimesh.proximity.closest_point(mesh, wrong)[1]) > 0.005 * diag
        # Background: the lightest value in the near/far encodings, 0 in metric depth.
        assert (ds.image(ds.member(frame, "depth"))[~mask] == 255).all()
        assert (ds.image(ds.member(frame, "depth_mm"))[~mask] == 0).all()


def test_masks_and_normals_match_a_ray_cast(dataset):
    name, ds = dataset
    meta, mesh = ds.meta, dataset_space_mesh(MODELS[name])
    for frame in meta["frames"]:
        c2w = np.array(frame["transform_matrix"], dtype=np.float64)
        hit, loc, ray, tri = ray_cast(mesh, meta, c2w)
        mask = (ds.image(frame["mask_path"]) == 255).ravel()
        assert set(np.unique(ds.image(frame["mask_path"]))) <= {0, 255}
        assert hit.sum() > 500
        assert iou(mask, hit) >= 0.97
        assert iou(np.roll(mask.reshape(SIZE, SIZE), 5, axis=1).ravel(), hit) < 0.97  # the check can fail

        normals = ds.image(ds.member(frame, "normals")).reshape(-1, 3).astype(np.float64) / 255.0 * 2.0 - 1.0
        keep = mask[ray]
        decoded = normals[ray][keep]
        assert np.abs(np.linalg.norm(decoded, axis=1) - 1.0).max() < 0.02  # unit length after decoding
        # The mesh's normal at each hit: its vertex normals interpolated at the hit point, on the camera's side.
        _, dirs = pixel_rays(meta, c2w)
        face = mesh.face_normals[tri] * np.sign(-(mesh.face_normals[tri] * dirs[ray]).sum(1))[:, None]
        bary = trimesh.triangles.points_to_barycentric(mesh.triangles[tri], loc)
        smooth = (mesh.vertex_normals[mesh.faces[tri]] * bary[:, :, None]).sum(1)
        smooth /= np.linalg.norm(smooth, axis=1, keepdims=True)
        smooth *= np.sign((smooth * face).sum(1))[:, None]
        unit = decoded / np.linalg.norm(decoded, axis=1, keepdims=True)
        angles = np.degrees(np.arccos(np.clip((unit * smooth[keep]).sum(1), -1.0, 1.0)))
        assert np.median(angles) <= 5.0, np.median(angles)
        # The check can fail: camera-space normals (the world rotation left out) are far off.
        cam_space = unit @ c2w[:3, :3]
        assert np.median(np.degrees(np.arccos(np.clip((cam_space * smooth[keep]).sum(1), -1, 1)))) > 5.0
        assert (normals.reshape(SIZE, SIZE, 3)[~mask.reshape(SIZE, SIZE)] == -1.0).all()  # background (0, 0, 0)


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
