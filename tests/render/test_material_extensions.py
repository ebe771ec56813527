"""glTF KHR_materials_* extensions: read from the model into scene.Material (gltf_materials.py), kept
through ingest's decoding, warned about at upload where dxgl draws less than the file says, and shaded
(MESH_FRAG: spheres drawn in a spawned child at 96x54 under the default environment)."""

from __future__ import annotations

import base64
import json
import multiprocessing
import struct
from pathlib import Path

import numpy as np
import pytest
import trimesh
from trimesh.visual.material import PBRMaterial

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.normalise import normalise_glb
from dxgl.render.scene import Material, load_scene
from dxgl.render.types import RenderError
from tests.ingest import builders as b
from tests.render.conftest import small_spec

ALL_EXTENSIONS = {
    "KHR_materials_emissive_strength": {"emissiveStrength": 5.0},
    "KHR_materials_clearcoat": {"clearcoatFactor": 0.75, "clearcoatRoughnessFactor": 0.125},
    "KHR_materials_sheen": {"sheenColorFactor": [0.5, 0.25, 0.125], "sheenRoughnessFactor": 0.625},
    "KHR_materials_specular": {"specularFactor": 0.5, "specularColorFactor": [2.0, 1.0, 0.5]},
    "KHR_materials_ior": {"ior": 1.33},
    "KHR_materials_transmission": {"transmissionFactor": 0.875},
    "KHR_materials_volume": {"thicknessFactor": 0.3, "attenuationDistance": 2.5, "attenuationColor": [0.9, 0.5, 0.1]},
}


def _quads(materials: list[dict], *, offset: float = 2.0) -> b.GltfBuilder:
    """One quad per material, side by side along x (quad i's vertices start at x = i * offset)."""
    g = b.GltfBuilder()
    for i, fields in enumerate(materials):
        m = g.material(**fields)
        positions = b.quad_positions() + np.array([i * offset, 0, 0], np.float32)
        prim = {"attributes": {"POSITION": g.accessor(positions, "VEC3")}, "material": m}
        prim["indices"] = g.accessor(b.QUAD_INDICES, "SCALAR")
        g.node(mesh=g.mesh(prim))
    for fields in materials:
        g.use(*fields.get("extensions", {}))
    return g


def _by_x(path: Path) -> list[Material]:
    """Each primitive's material, ordered by the primitive's position along x (quad order)."""
    prims = sorted(load_scene(path).primitives, key=lambda p: float(p.positions[:, 0].min()))
    return [p.material for p in prims]


def test_every_extension_factor_reaches_the_material(tmp_path: Path):
    path = _quads([{"name": "all", "extensions": ALL_EXTENSIONS}, {"name": "plain"}]).glb(tmp_path / "m.glb")
    m, plain = _by_x(path)
    assert m.emissive_strength == 5.0
    assert (m.clearcoat, m.clearcoat_roughness) == (0.75, 0.125)
    assert (m.sheen_color, m.sheen_roughness) == ((0.5, 0.25, 0.125), 0.625)
    assert (m.specular, m.specular_color) == (0.5, (2.0, 1.0, 0.5))  # specularColorFactor may exceed 1
    assert m.ior == pytest.approx(1.33)
    assert m.transmission == 0.875
    assert (m.thickness, m.attenuation_distance, m.attenuation_color) == (0.3, 2.5, (0.9, 0.5, 0.1))
    assert not m.unlit
    assert plain == Material(
        base_color=plain.base_color, metallic=plain.metallic, roughness=plain.roughness
    )  # the extensions' own defaults
    assert m.features(False, False) == {"CLEARCOAT", "SHEEN", "TRANSMISSION"}
    assert plain.features(False, False) == frozenset()


def test_unlit_is_read_and_its_variant_draws_the_base_colour_only(tmp_path: Path):
    fields = {
        "name": "flat",
        "extensions": {"KHR_materials_unlit": {}, "KHR_materials_clearcoat": {"clearcoatFactor": 1}},
    }
    (m,) = _by_x(_quads([fields]).glb(tmp_path / "m.glb"))
    assert m.unlit and m.clearcoat == 1.0
    assert m.features(False, True) == {"UNLIT", "VERTEX_COLOR"}  # no CLEARCOAT lobe on an unlit material


def test_materials_sharing_a_name_keep_their_own_extensions(tmp_path: Path):
    """Same name, same core factors, different extensions: trimesh cannot tell them apart, dxgl must."""
    materials = [
        {"name": "Material.001", "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0}}},
        {"name": "Material.001", "extensions": {"KHR_materials_transmission": {"transmissionFactor": 1.0}}},
        {"name": "Material.001"},
        {"extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 3.0}}},  # no name
        {"extensions": {"KHR_materials_unlit": {}}},  # no name either
    ]
    coat, glass, plain, bright, unlit = _by_x(_quads(materials).glb(tmp_path / "m.glb"))
    assert (coat.clearcoat, coat.transmission) == (1.0, 0.0)
    assert (glass.clearcoat, glass.transmission) == (0.0, 1.0)
    assert (plain.clearcoat, plain.transmission, plain.emissive_strength) == (0.0, 0.0, 1.0)
    assert bright.emissive_strength == 3.0 and not bright.unlit
    assert unlit.unlit and unlit.emissive_strength == 1.0


def test_a_gltf_file_with_an_external_buffer_is_read_too(tmp_path: Path):
    """A .gltf (JSON file): duplicate names make dxgl load a renamed copy from memory, and the copy
    still finds its .bin beside the file."""
    g = _quads(
        [
            {"name": "x", "extensions": {"KHR_materials_sheen": {"sheenColorFactor": [1, 1, 1]}}},
            {"name": "x", "extensions": {"KHR_materials_ior": {"ior": 2.0}}},
        ]
    )
    (tmp_path / "model.bin").write_bytes(bytes(g.blob))
    g.doc["buffers"] = [{"byteLength": len(g.blob), "uri": "model.bin"}]
    (tmp_path / "model.gltf").write_text(json.dumps(g.doc))
    sheen, dense = _by_x(tmp_path / "model.gltf")
    assert (sheen.sheen_color, sheen.ior) == ((1.0, 1.0, 1.0), 1.5)
    assert (dense.sheen_color, dense.ior) == ((0.0, 0.0, 0.0), 2.0)


def test_a_gltf_file_with_an_embedded_buffer_and_unique_names(tmp_path: Path):
    g = _quads([{"name": "coat", "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 0.5}}}])
    g.doc["buffers"] = [
        {"byteLength": len(g.blob), "uri": "data:application/octet-stream;base64," + base64.b64encode(g.blob).decode()}
    ]
    (tmp_path / "m.gltf").write_text(json.dumps(g.doc))
    (m,) = _by_x(tmp_path / "m.gltf")
    assert m.clearcoat == 0.5


def test_out_of_range_factors_are_clamped_and_wrong_types_leave_the_default(tmp_path: Path):
    extensions = {
        "KHR_materials_clearcoat": {"clearcoatFactor": 4.0, "clearcoatRoughnessFactor": "rough"},
        "KHR_materials_transmission": {"transmissionFactor": -1},
        "KHR_materials_ior": {"ior": 0.5},
        "KHR_materials_volume": {"attenuationDistance": 0, "attenuationColor": [2, 0.5]},
        "KHR_materials_emissive_strength": {"emissiveStrength": True},
    }
    (m,) = _by_x(_quads([{"name": "bad", "extensions": extensions}]).glb(tmp_path / "m.glb"))
    assert (m.clearcoat, m.clearcoat_roughness, m.transmission) == (1.0, 0.0, 0.0)
    assert m.ior == 1.0 and m.emissive_strength == 1.0
    assert (m.attenuation_distance, m.attenuation_color) == (float("inf"), (1.0, 1.0, 1.0))


def test_ior_zero_is_kept(tmp_path: Path):
    """The schema allows ior = 0 (F0 = 1, a perfect mirror of a dielectric)."""
    (m,) = _by_x(_quads([{"name": "m", "extensions": {"KHR_materials_ior": {"ior": 0}}}]).glb(tmp_path / "m.glb"))
    assert m.ior == 0.0


def test_a_damaged_glb_header_is_a_render_error(tmp_path: Path):
    path = _quads([{"name": "m"}]).glb(tmp_path / "m.glb")
    data = bytearray(path.read_bytes())
    data[12:16] = (10**6).to_bytes(4, "little")  # the JSON chunk claims more bytes than the file has
    path.write_bytes(bytes(data))
    with pytest.raises(RenderError, match="could not be read"):
        load_scene(path)


# --- ingest: the extensions are rendered natively, their textures are warned about ---------------------


def _normalise(g: b.GltfBuilder, tmp: Path):
    src = g.glb(tmp / "model.glb")
    return normalise_glb(src, tmp / "decoded.glb", DEFAULT_LIMITS, label="model.glb")


def test_supported_material_extensions_pass_ingest_without_warnings_even_when_required(tmp_path: Path):
    g = _quads(
        [{"name": "all", "extensions": ALL_EXTENSIONS}, {"name": "u", "extensions": {"KHR_materials_unlit": {}}}]
    )
    g.use(*ALL_EXTENSIONS, "KHR_materials_unlit", required=True)
    result = _normalise(g, tmp_path)
    assert result.warnings == []
    assert result.extensions_required == [*ALL_EXTENSIONS, "KHR_materials_unlit"]


def test_an_extension_dxgl_does_not_shade_is_still_warned_about_and_refused_when_required(tmp_path: Path):
    g = _quads([{"name": "m", "extensions": {"KHR_materials_iridescence": {"iridescenceFactor": 1}}}])
    assert _normalise(g, tmp_path).warnings == [
        "The model uses KHR_materials_iridescence, which dxgl does not render yet; it is rendered without it."
    ]
    g.use("KHR_materials_iridescence", required=True)
    with pytest.raises(DxglError) as caught:
        _normalise(g, tmp_path)
    assert caught.value.code == ErrorCode.UNSUPPORTED_EXTENSION


def test_every_extension_texture_is_named_in_a_warning(tmp_path: Path):
    g = _quads([{"name": "placeholder"}])
    t = g.texture(b.flat_png(2, 2, (255, 255, 255)))
    g.doc["materials"][0] = {
        "name": "Lacquer",
        "extensions": {
            "KHR_materials_clearcoat": {
                "clearcoatFactor": 1,
                "clearcoatTexture": {"index": t},
                "clearcoatRoughnessTexture": {"index": t},
                "clearcoatNormalTexture": {"index": t},
            },
            "KHR_materials_sheen": {"sheenColorTexture": {"index": t}, "sheenRoughnessTexture": {"index": t}},
            "KHR_materials_specular": {"specularTexture": {"index": t}, "specularColorTexture": {"index": t}},
            "KHR_materials_transmission": {"transmissionTexture": {"index": t}},
            "KHR_materials_volume": {"thicknessTexture": {"index": t}},
        },
    }
    g.use("KHR_materials_clearcoat", "KHR_materials_sheen", "KHR_materials_specular")
    g.use("KHR_materials_transmission", "KHR_materials_volume")
    warnings = _normalise(g, tmp_path).warnings
    assert warnings[0] == (
        "Material 'Lacquer' (materials[0]) uses KHR_materials_clearcoat's clearcoatTexture, which dxgl does not "
        "render; the clearcoat factor is used alone."
    )
    slots = [
        "clearcoatTexture",
        "clearcoatRoughnessTexture",
        "clearcoatNormalTexture",
        "sheenColorTexture",
        "sheenRoughnessTexture",
        "specularTexture",
        "specularColorTexture",
        "transmissionTexture",
        "thicknessTexture",
    ]
    assert len(warnings) == len(slots)
    for slot, warning in zip(slots, warnings, strict=True):
        assert f"'s {slot}, which dxgl does not render" in warning


def test_bad_factors_are_warned_about_at_upload(tmp_path: Path):
    extensions = {
        "KHR_materials_clearcoat": {"clearcoatFactor": 4.0},
        "KHR_materials_sheen": {"sheenColorFactor": [1, 1]},
        "KHR_materials_ior": {"ior": 0.5},
        "KHR_materials_volume": {"attenuationDistance": 0},
        "KHR_materials_unlit": {},
    }
    warnings = _normalise(_quads([{"extensions": extensions}]), tmp_path).warnings
    assert warnings == [
        "Material materials[0]: KHR_materials_clearcoat.clearcoatFactor = 4.0 is outside its range "
        "(between 0 and 1); it is clamped into it.",
        "Material materials[0]: KHR_materials_sheen.sheenColorFactor is not 3 numbers; the default [0, 0, 0] is used.",
        "Material materials[0]: KHR_materials_volume.attenuationDistance = 0 is not above 0; the default "
        "infinity (no attenuation) is used.",
        "Material materials[0]: KHR_materials_ior.ior = 0.5 is neither 0 nor at least 1; 1 is used.",
        "Material materials[0] is unlit (KHR_materials_unlit), so its KHR_materials_clearcoat, KHR_materials_ior, "
        "KHR_materials_sheen and KHR_materials_volume are not rendered.",
    ]


def test_the_decoded_copy_keeps_the_material_extensions(tmp_path: Path):
    """A file ingest rewrites (here: declared quantized) keeps the blocks the renderer reads, and renders them."""
    g = _quads(
        [
            {"name": "a", "extensions": {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0}}},
            {"name": "a", "extensions": {"KHR_materials_transmission": {"transmissionFactor": 0.5}}},
        ]
    )
    g.use("KHR_mesh_quantization")
    result = _normalise(g, tmp_path)
    assert result.path == tmp_path / "decoded.glb" and result.warnings == []
    coat, glass = _by_x(result.path)
    assert (coat.clearcoat, glass.transmission) == (1.0, 0.5)


# --- shading ------------------------------------------------------------------------------------------

SIZE = (96, 54)
RED = (0.8, 0.2, 0.2, 1.0)


def _sphere(path: Path, extensions: dict, *, base=RED, metallic=0.0, roughness=0.5, emissive=None) -> Path:
    """A sphere GLB (trimesh's export) whose one material gets ``extensions`` patched into its JSON."""
    mesh = trimesh.creation.icosphere(subdivisions=4, radius=0.1)
    mesh.visual = trimesh.visual.TextureVisuals(
        material=PBRMaterial(
            baseColorFactor=[round(c * 255) for c in base],
            metallicFactor=metallic,
            roughnessFactor=roughness,
            emissiveFactor=emissive,
        )
    )
    data = mesh.export(file_type="glb")
    (length,) = struct.unpack("<I", data[12:16])
    doc = json.loads(data[20 : 20 + length])
    doc["materials"][0]["extensions"] = extensions
    if extensions:
        doc["extensionsUsed"] = list(extensions)
    text = json.dumps(doc).encode()
    text += b" " * (-len(text) % 4)
    rest = data[20 + length :]
    header = b"glTF" + struct.pack("<IIII", 2, 20 + len(text) + len(rest), len(text), b.GLB_JSON)
    path.write_bytes(header + text + rest)
    return path


def _draw_all(models: list[str], spec) -> list[np.ndarray]:
    from dxgl.render.camera import camera_path
    from dxgl.render.renderer import Renderer

    frames = []
    for model in models:
        scene = load_scene(Path(model))
        pose = camera_path(spec, scene.frame_points, scene.bounds)[0]
        renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
        frames.append(renderer.draw(pose, shadows=False, reflector=False).copy())
        renderer.close()
    return frames


SPHERES = {
    "plain": ({}, {}),
    "coat": ({"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05}}, {}),
    "rough": ({}, {"roughness": 1.0}),
    "rough_coat": (
        {"KHR_materials_clearcoat": {"clearcoatFactor": 1.0, "clearcoatRoughnessFactor": 0.05}},
        {"roughness": 1.0},
    ),
    "sheen": (
        {"KHR_materials_sheen": {"sheenColorFactor": [1, 1, 1], "sheenRoughnessFactor": 0.5}},
        {"roughness": 1.0},
    ),
    "unlit": ({"KHR_materials_unlit": {}}, {}),
    "glow1": ({"KHR_materials_emissive_strength": {"emissiveStrength": 1.0}}, {"emissive": [0.1, 0.1, 0.02]}),
    "glow5": ({"KHR_materials_emissive_strength": {"emissiveStrength": 5.0}}, {"emissive": [0.1, 0.1, 0.02]}),
    "no_specular": ({"KHR_materials_specular": {"specularFactor": 0.0}}, {"roughness": 0.2}),
    "smooth": ({}, {"roughness": 0.2}),
    "diamond": ({"KHR_materials_ior": {"ior": 2.4}}, {"roughness": 0.2}),
    "glass": ({"KHR_materials_transmission": {"transmissionFactor": 1.0}}, {"base": (1, 1, 1, 1), "roughness": 0.0}),
    "green_glass": (
        {
            "KHR_materials_transmission": {"transmissionFactor": 1.0},
            "KHR_materials_volume": {
                "thicknessFactor": 0.2,
                "attenuationDistance": 0.1,
                "attenuationColor": [0.2, 0.9, 0.2],
            },
        },
        {"base": (1, 1, 1, 1), "roughness": 0.0},
    ),
    "white": ({}, {"base": (1, 1, 1, 1), "roughness": 0.0}),
}


@pytest.fixture(scope="module")
def spheres(tmp_path_factory) -> dict[str, np.ndarray]:
    """Each SPHERES case drawn once: name -> (H, W, 4) uint8 straight RGBA."""
    folder = tmp_path_factory.mktemp("spheres")
    paths = [str(_sphere(folder / f"{name}.glb", ext, **kw)) for name, (ext, kw) in SPHERES.items()]
    spec = small_spec({"shadows": False}, size=SIZE)
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        frames = pool.apply(_draw_all, (paths, spec))
    return dict(zip(SPHERES, frames, strict=True))


def _inside(frame: np.ndarray) -> np.ndarray:
    """(H, W) bool: the sphere's own pixels (opaque), without the anti-aliased rim."""
    return frame[..., 3] == 255


def _lum(frame: np.ndarray) -> np.ndarray:
    """(N,) float64 Rec. 709 luminance of the sphere's pixels (sRGB values, 0..255)."""
    return frame[..., :3][_inside(frame)].astype(np.float64) @ np.array([0.2126, 0.7152, 0.0722])


def test_the_spheres_cover_the_frame_centre(spheres):
    for name, frame in spheres.items():
        assert _inside(frame).sum() > 600, name


def test_a_clear_coat_adds_a_sharp_highlight(spheres):
    rough, coated = _lum(spheres["rough"]), _lum(spheres["rough_coat"])
    # A fully rough base has no sharp reflection; the coat (roughness 0.05) mirrors the room on it.
    assert np.percentile(coated, 99) > np.percentile(rough, 99) + 15, (
        np.percentile(coated, 99),
        np.percentile(rough, 99),
    )
    assert coated.std() > rough.std() * 1.3, (coated.std(), rough.std())
    assert np.abs(spheres["coat"].astype(int) - spheres["plain"].astype(int)).mean() > 1.0


def test_emissive_strength_multiplies_the_emission(spheres):
    assert _lum(spheres["glow5"]).mean() > _lum(spheres["glow1"]).mean() + 20


def test_an_unlit_material_shows_its_base_colour(spheres):
    pixels = spheres["unlit"][..., :3][_inside(spheres["unlit"])].astype(np.float64)
    expected = [255 * (1.055 * c ** (1 / 2.4) - 0.055) for c in RED[:3]]  # linear factor -> sRGB
    assert np.abs(pixels.mean(axis=0) - expected).max() < 2.0, (pixels.mean(axis=0), expected)
    assert pixels.std(axis=0).max() < 1.0  # no shading gradient at all


def test_specular_and_ior_change_the_dielectric_reflection(spheres):
    smooth, dull, diamond = _lum(spheres["smooth"]), _lum(spheres["no_specular"]), _lum(spheres["diamond"])
    # specularFactor 0: no reflection at all, just the diffuse colour (smoother, no highlight) ...
    assert np.percentile(dull, 99) < np.percentile(smooth, 99) - 5
    assert dull.std() < smooth.std()
    # ... ior 2.4: F0 0.17 instead of 0.04: a brighter reflection.
    assert np.percentile(diamond, 99) > np.percentile(smooth, 99) + 5


def test_sheen_brightens_the_rough_base(spheres):
    plain, sheen = spheres["rough"], spheres["sheen"]
    assert _lum(sheen).mean() > _lum(plain).mean() + 5
    # White sheen on a red base: the green and blue channels gain most.
    gain = sheen[..., :3][_inside(sheen)].astype(float).mean(0) - plain[..., :3][_inside(plain)].astype(float).mean(0)
    assert gain[1] > 5 and gain[2] > 5


def test_transmission_shows_the_environment_through_the_glass(spheres):
    glass, white = spheres["glass"], spheres["white"]
    pixels = glass[..., :3][_inside(glass)].astype(np.float64)
    # Not the flat base colour (white): the room seen through it, varied, and unlike the opaque sphere.
    assert _lum(glass).std() > 10
    assert np.abs(glass.astype(int) - white.astype(int))[_inside(glass)].mean() > 5
    assert (glass[..., 3][_inside(white)] == 255).all()  # glass stays opaque over the environment
    assert pixels.std(axis=0).max() - pixels.std(axis=0).min() < 2  # white glass: neutral


def test_volume_attenuation_tints_thick_glass(spheres):
    green = spheres["green_glass"][..., :3][_inside(spheres["green_glass"])].astype(np.float64).mean(axis=0)
    assert green[1] > green[0] + 30 and green[1] > green[2] + 30, green
