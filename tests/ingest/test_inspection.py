"""The inspection report computed at upload: counts as drawn, size in metres, what the file has."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import trimesh

from dxgl.ingest import prepare_model
from dxgl.ingest.inspection import inspect_glb
from tests.assets import MODELS_DIR

from . import builders as b

REPORT_KEYS = {
    "triangles",
    "vertices",
    "meshes",
    "materials",
    "textures",
    "extensionsUsed",
    "extensionsRequired",
    "sizeMeters",
    "hasUVs",
    "hasNormals",
    "hasVertexColors",
    "animationsIgnored",
    "warnings",
}


def _report(path: Path, **kw) -> dict:
    return inspect_glb(
        path,
        extensions_used=kw.get("used", []),
        extensions_required=kw.get("required", []),
        warnings=kw.get("warnings", []),
    )


def test_duck_report_agrees_with_trimesh(tmp_path: Path):
    prepared = prepare_model(MODELS_DIR / "Duck.glb", tmp_path / "work", original_name="Duck.glb")
    report = prepared.inspection
    assert set(report) == REPORT_KEYS
    scene = trimesh.load(MODELS_DIR / "Duck.glb", force="scene", process=False)
    drawn = scene.to_geometry()
    assert report["triangles"] == len(drawn.faces) == 4212
    assert report["vertices"] == len(drawn.vertices)
    np.testing.assert_allclose(report["sizeMeters"], scene.extents, rtol=1e-4)
    assert report["textures"] == [{"width": 512, "height": 512, "format": "png"}]
    assert (report["meshes"], report["materials"]) == (1, 1)
    assert report["hasUVs"] and report["hasNormals"] and not report["hasVertexColors"]
    assert report["animationsIgnored"] == 0
    json.dumps(report)  # stored as JSON: plain types only


def test_truck_animation_is_reported_as_ignored(tmp_path: Path):
    prepared = prepare_model(MODELS_DIR / "CesiumMilkTruck.glb", tmp_path / "work", original_name="truck.glb")
    assert prepared.inspection["animationsIgnored"] == 1
    assert prepared.inspection["meshes"] == 2 and prepared.inspection["materials"] == 4


def test_a_mesh_used_by_two_nodes_counts_twice_and_transforms_shape_the_size(tmp_path: Path):
    # One triangle spanning (0,0,0)-(1,1,0), drawn at the origin and again 3 m along x, scaled ×2.
    doc, blob = b.triangle_document(
        extra_nodes=[{"children": [1, 2]}, {"mesh": 0}, {"mesh": 0, "translation": [3, 0, 0], "scale": [2, 2, 2]}]
    )
    doc["scenes"] = [{"nodes": [0]}]
    doc["accessors"][0]["min"], doc["accessors"][0]["max"] = [0, 0, 0], [1, 1, 0]
    doc["animations"] = [{"channels": [], "samplers": []}, {"channels": [], "samplers": []}]
    path = b.write_glb(tmp_path / "two.glb", doc, blob)
    report = _report(path, used=["KHR_x", "KHR_x"], required=[], warnings=["a note"])
    assert report["triangles"] == 2 and report["vertices"] == 6
    assert report["meshes"] == 1
    np.testing.assert_allclose(report["sizeMeters"], [5.0, 2.0, 0.0])  # x: 0..(3+2), y: 0..2
    assert report["animationsIgnored"] == 2
    assert report["extensionsUsed"] == ["KHR_x"] and report["warnings"] == ["a note"]
    assert not report["hasUVs"] and not report["hasNormals"]


def test_size_is_read_from_the_data_when_the_accessor_has_no_bounds(tmp_path: Path):
    doc, blob = b.triangle_document()
    doc["accessors"][0].pop("min", None)
    doc["accessors"][0].pop("max", None)
    doc["nodes"][0]["matrix"] = [0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 0.5, 0, 0, 0, 0, 1]
    report = _report(b.write_glb(tmp_path / "m.glb", doc, blob))
    np.testing.assert_allclose(report["sizeMeters"], [0.5, 0.5, 0.0])
    assert report["triangles"] == 1


def test_vertex_colours_are_reported(tmp_path: Path):
    mesh = trimesh.creation.box(extents=(0.1, 0.3, 0.1))
    mesh.visual = trimesh.visual.ColorVisuals(mesh, vertex_colors=np.tile([200, 30, 30, 255], (len(mesh.vertices), 1)))
    path = tmp_path / "coloured.glb"
    path.write_bytes(trimesh.Scene(mesh).export(file_type="glb"))
    report = _report(path)
    assert report["hasVertexColors"] and report["triangles"] == 12
    np.testing.assert_allclose(sorted(report["sizeMeters"]), [0.1, 0.1, 0.3], atol=1e-6)
