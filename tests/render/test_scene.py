"""Scene loading: normalisation, instancing, materials, and refusal of bad files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from dxgl.render.scene import CANONICAL_SIZE, load_scene
from dxgl.render.types import RenderError
from tests.render.conftest import MODELS


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_is_centred_grounded_and_canonical(name):
    scene = load_scene(MODELS[name])
    lo, hi = scene.bounds
    assert lo[1] == pytest.approx(0.0, abs=1e-5)  # stands on the ground
    assert (lo[0] + hi[0]) / 2 == pytest.approx(0.0, abs=1e-5)
    assert (lo[2] + hi[2]) / 2 == pytest.approx(0.0, abs=1e-5)
    assert float((hi - lo).max()) == pytest.approx(CANONICAL_SIZE, rel=1e-5)
    for prim in scene.primitives:
        assert prim.positions.dtype == np.float32 and prim.positions.shape[1] == 3
        assert prim.indices.dtype == np.uint32 and prim.indices.max() < len(prim.positions)
        assert np.allclose(np.linalg.norm(prim.normals, axis=1), 1.0, atol=1e-3)
        tex = prim.material.base_color_texture
        if tex is not None:
            assert tex.dtype == np.uint8 and tex.ndim == 3 and tex.shape[2] == 4


def test_truck_wheel_instances_are_all_placed():
    scene = load_scene(MODELS["CesiumMilkTruck"])
    # The wheel mesh is instanced by two nodes: both copies exist, at different places.
    wheel_like = {}
    for prim in scene.primitives:
        wheel_like.setdefault(len(prim.positions), []).append(prim.positions.mean(axis=0))
    instanced = [c for c in wheel_like.values() if len(c) >= 2]
    assert instanced, "instanced wheel mesh appears once only"
    assert np.linalg.norm(instanced[0][0] - instanced[0][1]) > 0.3


def test_duck_palette_texture_becomes_rgba_and_factors_default():
    prim = load_scene(MODELS["Duck"]).primitives[0]
    tex = prim.material.base_color_texture
    assert tex.shape[2] == 4 and tex[..., 3].min() == 255
    assert tex[..., :3].std() > 5  # a real image, not a flat fill
    assert prim.uvs is not None and prim.uvs.shape == (len(prim.positions), 2)


def test_alpha_modes_and_helmet_maps_are_read():
    modes = {p.material.alpha_mode for p in load_scene(MODELS["AlphaBlendModeTest"]).primitives}
    assert {"OPAQUE", "MASK", "BLEND"} <= modes
    mat = load_scene(MODELS["DamagedHelmet"]).primitives[0].material
    for tex in (mat.normal_texture, mat.metallic_roughness_texture, mat.occlusion_texture, mat.emissive_texture):
        assert tex is not None and tex.shape[2] == 4
    assert mat.metallic == 1.0 and mat.roughness == 1.0  # missing factors mean 1.0


def test_untextured_model_has_a_plain_material():
    prim = load_scene(MODELS["monkey"]).primitives[0]
    assert prim.material.base_color_texture is None
    assert prim.material.features(prim.uvs is not None, prim.colors is not None) == frozenset()


def test_mirrored_instance_flips_winding(tmp_path: Path):
    import trimesh

    box = trimesh.creation.box()
    scene = trimesh.Scene()
    scene.add_geometry(box, node_name="plain", geom_name="box")
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0])
    mirror[0, 3] = 3.0
    scene.add_geometry(box, node_name="mirrored", geom_name="box", transform=mirror)
    path = tmp_path / "mirrored.glb"
    path.write_bytes(scene.export(file_type="glb"))
    loaded = load_scene(path)
    assert len(loaded.primitives) == 2
    for prim in loaded.primitives:  # both copies stay outward-facing: face normals agree with normals
        tri = prim.positions[prim.indices]
        face_n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        centre = prim.positions.mean(axis=0)
        outward = ((tri.mean(axis=1) - centre) * face_n).sum(axis=1)
        assert (outward > 0).all()


def test_multi_file_gltf_loads_from_its_folder(tmp_path: Path):
    folder = tmp_path / "helmet"
    shutil.copytree(MODELS["DamagedHelmet"].parent, folder)
    assert load_scene(folder / "DamagedHelmet.gltf").primitives[0].material.base_color_texture is not None
    (folder / "DamagedHelmet.bin").unlink()
    with pytest.raises(RenderError, match="DamagedHelmet.gltf"):
        load_scene(folder / "DamagedHelmet.gltf")


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(7)
    files = {
        "empty": (tmp_path / "empty.glb", b""),
        "random": (tmp_path / "random.glb", rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()),
        "truncated": (tmp_path / "truncated.glb", MODELS["Duck"].read_bytes()[:5000]),
        "text": (tmp_path / "text.glb", b"this is a text file, not a model\n" * 20),
        "random_gltf": (tmp_path / "random.gltf", rng.integers(0, 256, 512, dtype=np.uint8).tobytes()),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {k: p for k, (p, _) in files.items()}


@pytest.mark.parametrize("kind", ["empty", "random", "truncated", "text", "random_gltf"])
def test_bad_files_raise_render_error(tmp_path: Path, kind: str):
    path = _bad_files(tmp_path)[kind]
    with pytest.raises(RenderError) as info:
        load_scene(path)
    assert path.name in str(info.value)


def test_wrong_suffix_and_missing_file(tmp_path: Path):
    with pytest.raises(RenderError, match="Unsupported"):
        load_scene(tmp_path / "model.fbx")
    with pytest.raises(RenderError, match="does not exist"):
        load_scene(tmp_path / "missing.glb")
