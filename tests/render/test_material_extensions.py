"""glTF KHR_materials_* extensions: read from the model into scene.Material (gltf_materials.py), kept
through ingest's decoding, and warned about at upload where dxgl draws less than the file says."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError
from dxgl.ingest.limits import DEFAULT_LIMITS
from dxgl.ingest.normalise import normalise_glb
from dxgl.render.scene import Material, load_scene
from dxgl.render.types import RenderError
from tests.ingest import builders as b

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
