"""Dataset export without GL: settings, view placement, the file encodings and their documented decoding."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest

from dxgl.contract import DATASET_TIERS, DatasetQuality
from dxgl.render import DatasetSpec
from dxgl.render.dataset.files import ContactSheet, depth_levels, metric_depth, normal_rgb, rgb_on_white, split_indices
from dxgl.render.dataset.views import fibonacci_directions, make_cameras
from dxgl.services.render_settings import validate_render_settings


def test_spec_from_validated_settings_follows_the_tier_and_caps():
    settings = validate_render_settings({"effect": "dataset", "datasetQuality": "196x1024", "coverage": "sphere"})
    assert DatasetSpec.from_settings(settings) == DatasetSpec(views=196, size=1024, coverage="sphere")
    default = DatasetSpec.from_settings(validate_render_settings({"output": "dataset"}))
    assert default == DatasetSpec(views=100, size=800, coverage="hemisphere")
    assert DatasetSpec.from_settings(settings, max_size=96, max_views=12) == DatasetSpec(12, 96, "sphere")
    tier = DATASET_TIERS[DatasetQuality("400x2048")]
    assert (tier.views, tier.size) == (400, 2048)
    with pytest.raises(ValueError):
        DatasetSpec(views=4, size=64, coverage="cylinder")


def test_importing_the_dataset_entry_point_loads_no_gl():
    code = "import sys, dxgl.render, dxgl.render.dataset; assert 'vispy' not in sys.modules, 'vispy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("coverage", ["hemisphere", "sphere"])
def test_views_are_unit_evenly_spread_and_view_0_faces_the_front(coverage):
    dirs = fibonacci_directions(100, coverage)
    assert np.allclose(np.linalg.norm(dirs, axis=1), 1.0)
    if coverage == "hemisphere":
        assert (dirs[:, 1] > 0).all()
    # Evenly spread: the mean direction is near the pole (hemisphere) or the centre (sphere), and no
    # two views nearly coincide.
    mean = dirs.mean(axis=0)
    expected = np.array([0, 0.5, 0]) if coverage == "hemisphere" else np.zeros(3)
    assert np.linalg.norm(mean - expected) < 0.05
    gaps = np.arccos(np.clip(dirs @ dirs.T, -1, 1)) + np.eye(len(dirs)) * 10
    assert gaps.min(axis=1).min() > math.radians(8)
    assert abs(dirs[0, 0]) < 1e-9 and dirs[0, 2] > 0.8  # poster view: in front, a little above


def test_cameras_frame_every_hull_point_and_near_far_are_tight():
    rng = np.random.default_rng(1)
    hull = rng.uniform(-1, 1, size=(200, 3)) * [1.0, 0.6, 0.4]
    cams = make_cameras(hull, 20, "sphere", 64)
    depths = []
    for c2w in cams.c2w:
        cam = (hull - c2w[:3, 3]) @ c2w[:3, :3]  # camera frame: x right, y up, -z forward
        z = -cam[:, 2]
        px = cam[:, 0] / z * cams.focal + 32
        py = -cam[:, 1] / z * cams.focal + 32
        assert (px > 0).all() and (px < 64).all() and (py > 0).all() and (py < 64).all()
        depths.append(z)
    depths = np.concatenate(depths)
    assert depths.min() == pytest.approx(cams.depth_near) and depths.max() == pytest.approx(cams.depth_far)


def test_depth_encodings_round_trip_with_the_documented_formulas():
    near, far = 2.0, 5.0
    depth = np.linspace(near, far, 64 * 64, dtype=np.float32).reshape(64, 64)
    mask = np.ones_like(depth, dtype=bool)
    mask[0, :8] = False
    d8 = depth_levels(depth, mask, near, far, 255)
    d16 = depth_levels(depth, mask, near, far, 65535)
    dmm = metric_depth(depth, mask)
    assert (d8.dtype, d16.dtype, dmm.dtype) == (np.uint8, np.uint16, np.uint16)
    assert np.abs(d8[mask] / 255 * (far - near) + near - depth[mask]).max() <= 0.5 / 255 * (far - near) + 1e-6
    assert np.abs(d16[mask] / 65535 * (far - near) + near - depth[mask]).max() <= 0.5 / 65535 * (far - near) + 1e-6
    assert np.abs(dmm[mask] / 1000.0 - depth[mask]).max() <= 0.0005 + 1e-6
    assert (d8[~mask] == 255).all() and (d16[~mask] == 65535).all() and (dmm[~mask] == 0).all()
    assert d8[mask][0] < d8[mask][-1]  # closer = darker


def test_normals_rgb_and_composite_on_white():
    n = np.array([[[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]], dtype=np.float32)
    mask = np.array([[True, False]])
    rgb = normal_rgb(n, mask)
    assert rgb[0, 0].tolist() == [128, 128, 255] and rgb[0, 1].tolist() == [0, 0, 0]
    rgba = np.array([[[200, 10, 10, 255], [0, 0, 0, 128]]], dtype=np.uint8)
    out = rgb_on_white(rgba, mask)
    assert out[0, 0].tolist() == [200, 10, 10] and out[0, 1].tolist() == [255, 255, 255]


def test_split_and_contact_sheet_layout():
    train, test = split_indices(100)
    assert len(test) == 13 and not set(train) & set(test) and sorted(train + test) == list(range(100))
    sheet = ContactSheet(100, 800)
    assert (sheet.cols, sheet.rows, sheet.thumb) == (10, 10, 100)
    tile = np.zeros((800, 800, 3), np.uint8)
    sheet.add(99, tile, tile[..., 0], tile, tile[..., 0])
    assert sheet.image.getpixel((950, 950)) == (0, 0, 0) and sheet.image.getpixel((5, 5)) == (255, 255, 255)
