"""The documented rules, one by one: MTL opacity, texture paths, orientation, and the child limits."""

from __future__ import annotations

import numpy as np
import pytest

from dxgl.errors import DxglError
from dxgl.ingest.mtl import parse_mtl, texture_basename
from dxgl.ingest.obj_convert import up_axis_rotation
from dxgl.ingest.sandbox import run_limited

from . import runaway


@pytest.mark.parametrize(
    "statements,opacity",
    [
        ("", 1.0),
        ("d 1", 1.0),
        ("d 0", 1.0),  # written by exporters meaning opaque: a scan must never be invisible
        ("Tr 1", 1.0),  # Meshlab's "Tr 1.000000"
        ("Tr 0", 1.0),
        ("d 0.5", 0.5),
        ("Tr 0.25", 0.75),
        ("d 0.6\nTr 0.9", 0.6),  # d wins over Tr
        ("d 0.03", 1.0),  # near-invisible counts as opaque too
    ],
)
def test_opacity_rule(statements: str, opacity: float):
    (material,) = parse_mtl(f"newmtl m\n{statements}\n").values()
    assert material.opacity == pytest.approx(opacity)


@pytest.mark.parametrize(
    "reference,name",
    [
        ("tex.jpg", "tex.jpg"),
        ("textures/sub/tex.jpg", "tex.jpg"),
        ("textures\\tex.jpg", "tex.jpg"),
        ("C:\\Users\\me\\Desktop\\scan_u1_v1.png", "scan_u1_v1.png"),
        ("/home/me/scan/tex.png", "tex.png"),
        ("my texture 01.jpg", "my texture 01.jpg"),
    ],
)
def test_texture_references_match_by_basename(reference: str, name: str):
    assert texture_basename(reference) == name
    (material,) = parse_mtl(f"newmtl m\nmap_Kd -o 0 0 0 -bm 1 {reference}\n").values()
    assert material.texture_ref == reference


def test_z_up_scan_resting_on_z0_is_turned_y_up():
    bounds = np.array([[-0.04, -0.04, 0.0], [0.04, 0.04, 0.2]])
    rotation = up_axis_rotation(bounds)
    assert rotation is not None
    top = rotation @ np.array([0, 0, 0.2, 1.0])
    assert top[1] == pytest.approx(0.2)  # +Z became +Y


def test_y_up_scan_is_left_alone():
    assert up_axis_rotation(np.array([[-0.5, 0.0, -0.5], [0.5, 0.3, 0.5]])) is None
    assert up_axis_rotation(np.array([[-0.5, -1.0, -0.5], [0.5, 1.0, 0.5]])) is None


def test_tall_along_z_without_floor_is_turned():
    assert up_axis_rotation(np.array([[-1.0, -1.0, -5.0], [1.0, 1.0, 5.0]])) is not None


def test_child_memory_runaway_is_stopped_as_invalid_model():
    with pytest.raises(DxglError) as caught:
        run_limited(runaway.allocate_forever, (), memory_bytes=512 * 1024 * 1024, time_s=30)
    assert caught.value.code == "invalid_model"
    assert "memory" in caught.value.message


@pytest.mark.slow  # waits out a deadline
def test_child_time_runaway_is_killed_as_invalid_model():
    with pytest.raises(DxglError) as caught:
        run_limited(runaway.spin_forever, (), memory_bytes=1024 * 1024 * 1024, time_s=1.5)
    assert caught.value.code == "invalid_model"
    assert "longer than 1.5 s" in caught.value.message


def test_child_that_dies_is_invalid_model():
    with pytest.raises(DxglError) as caught:
        run_limited(runaway.die_hard, (), memory_bytes=1024 * 1024 * 1024, time_s=30)
    assert caught.value.code == "invalid_model"


def test_child_result_comes_back():
    assert run_limited(runaway.answer, (21,), memory_bytes=1024 * 1024 * 1024, time_s=30) == 42
