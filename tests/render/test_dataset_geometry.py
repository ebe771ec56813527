"""Dataset geometry per pixel: depth decoded with the documented formulas back-projects onto the model's
surface, and masks and normals match an independent trimesh ray cast of the documented dataset space."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from tests.render.conftest import MODELS
from tests.render.dataset_case import CASES, SIZE, Dataset, dataset_space_mesh, render_case

pytestmark = [pytest.mark.render, pytest.mark.slow]


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
    return render_case(request.param, tmp_path_factory)


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
