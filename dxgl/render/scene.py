"""Loading a model file (GLB, glTF, OBJ) into plain scene data: numpy arrays and dataclasses.

Conventions (docs/rendering.md): right-handed, +Y up, the model's front faces +Z. After loading, the
model is centred on the Y axis, stands on the ground (min y = 0) and its largest bounding-box side is
``CANONICAL_SIZE`` units long. UVs follow trimesh's convention (origin bottom-left: trimesh already
flipped glTF's V), and textures are stored bottom row first so GL's t=0 is the image's bottom row.
Animations are ignored: the rest pose (node transforms) is drawn.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dxgl.render.gltf_materials import MaterialSource, material_source
from dxgl.render.types import RenderError

CANONICAL_SIZE = 2.0
# The renderer's useful texture size: a texture's long side is scaled down to this before it goes to
# GL (docs/rendering.md, "Textures"). The largest output is 4K (3840 px on the long side): a texture
# spread across the whole frame still has a texel per output pixel at 4096, and GL 4.5 guarantees
# GL_MAX_TEXTURE_SIZE >= 16384 (llvmpipe: 16384), so every driver takes it.
MAX_TEXTURE_SIDE = 4096
SUPPORTED_SUFFIXES = (".glb", ".gltf", ".obj")

Texture = NDArray[np.uint8]  # (H, W, 4) uint8 RGBA, bottom row first


@dataclass
class Material:
    """glTF metallic-roughness material. Factors are linear; textures are (H, W, 4) uint8 RGBA,
    bottom row first. Colour textures (base colour, emissive) hold sRGB-encoded values."""

    base_color: tuple[float, float, float, float] = (0.8, 0.8, 0.8, 1.0)
    base_color_texture: Texture | None = None
    metallic: float = 1.0
    roughness: float = 1.0
    metallic_roughness_texture: Texture | None = None  # G = roughness, B = metallic
    normal_texture: Texture | None = None
    occlusion_texture: Texture | None = None  # R = occlusion
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    emissive_texture: Texture | None = None
    alpha_mode: str = "OPAQUE"  # OPAQUE | MASK | BLEND
    alpha_cutoff: float = 0.5
    double_sided: bool = False
    # glTF KHR_materials_* extensions (docs/rendering.md, "Materials"); the defaults are the
    # extensions' own (a material without them renders as plain metallic-roughness).
    emissive_strength: float = 1.0  # KHR_materials_emissive_strength
    unlit: bool = False  # KHR_materials_unlit
    clearcoat: float = 0.0  # KHR_materials_clearcoat
    clearcoat_roughness: float = 0.0
    sheen_color: tuple[float, float, float] = (0.0, 0.0, 0.0)  # KHR_materials_sheen (linear)
    sheen_roughness: float = 0.0
    specular: float = 1.0  # KHR_materials_specular
    specular_color: tuple[float, float, float] = (1.0, 1.0, 1.0)  # linear
    ior: float = 1.5  # KHR_materials_ior
    transmission: float = 0.0  # KHR_materials_transmission
    thickness: float = 0.0  # KHR_materials_volume (model units of the file)
    attenuation_distance: float = float("inf")
    attenuation_color: tuple[float, float, float] = (1.0, 1.0, 1.0)  # linear

    def features(self, has_uv: bool, has_colors: bool) -> frozenset[str]:
        """The shader feature set (one compiled variant per set, see shaders.py).

        An unlit material (KHR_materials_unlit) draws its base colour only: its lighting textures and
        the other extensions' lobes are left out of its set. Specular, IOR and emissive strength are
        uniforms of every variant; CLEARCOAT, SHEEN and TRANSMISSION (with KHR_materials_volume) add
        shader code only where their factor makes them visible."""
        out: set[str] = set()
        textures = [("BASE_TEX", self.base_color_texture)]
        if not self.unlit:
            textures += [
                ("MR_TEX", self.metallic_roughness_texture),
                ("NORMAL_TEX", self.normal_texture),
                ("OCCLUSION_TEX", self.occlusion_texture),
                ("EMISSIVE_TEX", self.emissive_texture),
            ]
        if has_uv:
            out.update(name for name, tex in textures if tex is not None)
        if has_colors:
            out.add("VERTEX_COLOR")
        if self.alpha_mode == "MASK":
            out.add("ALPHA_MASK")
        if self.unlit:
            out.add("UNLIT")
        else:
            if self.clearcoat > 0.0:
                out.add("CLEARCOAT")
            if max(self.sheen_color) > 0.0:
                out.add("SHEEN")
            if self.transmission > 0.0:
                out.add("TRANSMISSION")
        return frozenset(out)


@dataclass
class Primitive:
    """One drawable piece, already in normalised model space.

    positions (N, 3) float32, normals (N, 3) float32 unit, uvs (N, 2) float32 or None,
    colors (N, 4) float32 linear RGBA or None, indices (M, 3) uint32 counter-clockwise."""

    positions: NDArray[np.float32]
    normals: NDArray[np.float32]
    uvs: NDArray[np.float32] | None
    colors: NDArray[np.float32] | None
    indices: NDArray[np.uint32]
    material: Material


@dataclass
class Scene:
    """A whole model. ``frame_points`` (K, 3) float32 are its convex-hull vertices, used for framing."""

    primitives: list[Primitive]
    bounds: NDArray[np.float32]  # (2, 3) float32: min and max corners after normalisation
    frame_points: NDArray[np.float32] = field(repr=False)
    source_scale: float = 1.0  # factor applied to the file's units

    @property
    def triangle_count(self) -> int:
        """Triangles over every primitive."""
        return int(sum(len(p.indices) for p in self.primitives))


def fitted_size(width: int, height: int, max_side: int = MAX_TEXTURE_SIDE) -> tuple[int, int]:
    """(width, height) scaled down, aspect kept, so that the long side is at most ``max_side``."""
    if max(width, height) <= max_side:
        return width, height
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def texture_array(image: Any, max_side: int = MAX_TEXTURE_SIDE) -> Texture:
    """PIL image (palette, greyscale, RGB, ...) -> (H, W, 4) uint8 RGBA, bottom row first, its long
    side at most ``max_side``. A JPEG is decoded at a reduced scale when it is larger (``draft``);
    afterwards the full-size decoded pixels are released (``image`` is closed: the loader's scene is
    discarded after loading, so a model's large textures are never all decoded at once)."""
    from PIL import Image

    width, height = image.size
    target = fitted_size(width, height, max_side)
    try:
        if target != image.size:
            if image.format == "JPEG":
                image.draft(image.mode, target)  # DCT scaling: decodes at 1/2 .. 1/8, never below target
            small = image.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
        else:
            small = image
        rgba = np.asarray(small.convert("RGBA"), dtype=np.uint8)
        return np.ascontiguousarray(rgba[::-1])
    finally:
        image.close()


class _Textures:
    """Converted textures by loader image: an image used by several materials or slots (one glTF
    ``images`` entry) becomes one array, hence one GL texture (the renderer keys textures by array)."""

    def __init__(self) -> None:
        self._by_image: dict[int, tuple[Any, Texture]] = {}  # id(image) -> (image kept alive, array)

    def get(self, image: Any) -> Texture | None:
        if image is None:
            return None
        held = self._by_image.get(id(image))
        if held is None:
            held = (image, texture_array(image))
            self._by_image[id(image)] = held
        return held[1]


def _material(visual: Any, textures: _Textures, source: MaterialSource) -> Material:
    """The loader's material of ``visual`` as a :class:`Material`, with its glTF material's
    ``KHR_materials_*`` values from ``source`` (found by the name trimesh kept, gltf_materials.py)."""
    from trimesh.visual.material import PBRMaterial, SimpleMaterial

    mat: Any = getattr(visual, "material", None)
    if isinstance(mat, SimpleMaterial):
        mat = mat.to_pbr()  # type: ignore[no-untyped-call]  # trimesh is untyped
    if not isinstance(mat, PBRMaterial):
        return Material(metallic=0.0, roughness=0.5)
    factor = mat.baseColorFactor
    base: Any = (1.0, 1.0, 1.0, 1.0) if factor is None else np.asarray(factor, dtype=np.float64) / 255.0
    if len(base) == 3:
        base = (*base, 1.0)
    r, g, b, a = (float(x) for x in base[:4])
    # glTF: a missing metallic or roughness factor means 1.0.
    metallic = 1.0 if mat.metallicFactor is None else float(mat.metallicFactor)
    roughness = 1.0 if mat.roughnessFactor is None else float(mat.roughnessFactor)
    emissive_factor = mat.emissiveFactor
    emissive: tuple[float, float, float] = (0.0, 0.0, 0.0)
    if emissive_factor is not None:
        er, eg, eb = (float(x) for x in np.asarray(emissive_factor)[:3])
        emissive = (er, eg, eb)
    if mat.emissiveTexture is not None and not any(emissive):
        emissive = (1.0, 1.0, 1.0)
    material = Material(
        base_color=(r, g, b, a),
        base_color_texture=textures.get(mat.baseColorTexture),
        metallic=metallic,
        roughness=roughness,
        metallic_roughness_texture=textures.get(mat.metallicRoughnessTexture),
        normal_texture=textures.get(mat.normalTexture),
        occlusion_texture=textures.get(mat.occlusionTexture),
        emissive=emissive,
        emissive_texture=textures.get(mat.emissiveTexture),
        alpha_mode=(mat.alphaMode or "OPAQUE").upper(),
        alpha_cutoff=0.5 if mat.alphaCutoff is None else float(mat.alphaCutoff),
        double_sided=bool(mat.doubleSided),
    )
    return replace(material, **source.fields(mat.name))


def _vertex_colors(mesh: Any) -> NDArray[np.float32] | None:
    """(N, 4) float32 linear RGBA vertex colours of ``mesh``, or None when it has none."""
    visual = mesh.visual
    colors = None
    if getattr(visual, "kind", None) == "vertex":
        colors = visual.vertex_colors
    elif hasattr(visual, "vertex_attributes") and "color" in visual.vertex_attributes:
        colors = visual.vertex_attributes["color"]
    if colors is None or len(colors) != len(mesh.vertices):
        return None
    colors = np.asarray(colors, dtype=np.float32)
    if colors.shape[1] == 3:
        colors = np.concatenate([colors, np.full((len(colors), 1), 255.0, np.float32)], axis=1)
    colors = colors / 255.0
    # sRGB-encoded 8-bit colours -> linear, matching glTF's linear COLOR_0.
    colors[:, :3] = np.where(colors[:, :3] <= 0.04045, colors[:, :3] / 12.92, ((colors[:, :3] + 0.055) / 1.055) ** 2.4)
    return colors.astype(np.float32, copy=False)  # float32 already: no copy


def _load_trimesh_scene(path: Path, payload: bytes | None = None) -> Any:
    """The file as a trimesh.Scene (untyped). ``payload``: the file's bytes to load instead (its
    materials renamed, gltf_materials.py), resolving other files against ``path`` as a file load does."""
    import trimesh

    if int(str(trimesh.__version__).split(".")[0]) < 5:
        raise RenderError("trimesh >= 5 is required (older versions follow glTF URIs outside the folder)")
    try:
        if payload is None:
            return trimesh.load(str(path), force="scene", process=False)
        return trimesh.load(
            io.BytesIO(payload),
            file_type=path.suffix.lower().lstrip("."),
            resolver=trimesh.resolvers.FilePathResolver(str(path)),
            force="scene",
            process=False,
        )
    except RenderError:
        raise
    except Exception as exc:  # trimesh raises many types for damaged input
        raise RenderError(
            f"The model file {path.name} could not be read: it is damaged or not a "
            f"valid {path.suffix.lstrip('.').upper()} file ({type(exc).__name__})."
        ) from exc


def load_scene(path: Path) -> Scene:
    """Read ``path`` into a normalised :class:`Scene`. RenderError on wrong, empty, unreadable files."""
    path = Path(path)
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise RenderError(f"Unsupported model file type {path.suffix or '(none)'}: use .glb, .gltf or .obj")
    if not path.is_file():
        raise RenderError(f"The model file {path.name} does not exist")
    if path.stat().st_size == 0:
        raise RenderError(f"The model file {path.name} is empty")
    source = material_source(path)
    loaded = _load_trimesh_scene(path, source.payload)

    raw: list[
        tuple[
            NDArray[np.float64],
            NDArray[np.float64],
            NDArray[np.float32] | None,
            NDArray[np.float32] | None,
            NDArray[np.uint32],
            Material,
        ]
    ] = []
    materials: dict[int, Material] = {}
    textures = _Textures()
    for node in loaded.graph.nodes_geometry:
        transform, geom_name = loaded.graph[node]
        mesh = loaded.geometry.get(geom_name)
        if mesh is None or not hasattr(mesh, "faces") or len(mesh.faces) == 0:
            continue  # point clouds, lines: nothing to shade
        transform = np.asarray(transform, dtype=np.float64)
        verts = np.asarray(mesh.vertices, dtype=np.float64)
        positions = verts @ transform[:3, :3].T + transform[:3, 3]
        normal_matrix = np.linalg.inv(transform[:3, :3]).T
        normals = np.asarray(mesh.vertex_normals, dtype=np.float64) @ normal_matrix.T
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        indices = np.asarray(mesh.faces, dtype=np.uint32)
        if np.linalg.det(transform[:3, :3]) < 0:  # mirrored instance: keep faces counter-clockwise
            indices = indices[:, ::-1]
        uv = getattr(mesh.visual, "uv", None)
        uv = None if uv is None or len(uv) != len(verts) else np.asarray(uv, dtype=np.float32)
        key = id(getattr(mesh.visual, "material", None))  # instances share one converted material
        if key not in materials:
            materials[key] = _material(mesh.visual, textures, source)
        raw.append((positions, normals, uv, _vertex_colors(mesh), np.ascontiguousarray(indices), materials[key]))

    if not raw:
        raise RenderError(f"The model file {path.name} contains no triangle meshes to render")
    all_points = np.concatenate([r[0] for r in raw])
    if not np.isfinite(all_points).all():
        raise RenderError(f"The model file {path.name} has invalid (NaN or infinite) vertex positions")
    lo, hi = all_points.min(axis=0), all_points.max(axis=0)
    extent = float((hi - lo).max())
    if extent <= 0:
        raise RenderError(f"The model file {path.name} has no size (all vertices at one point)")
    scale = CANONICAL_SIZE / extent
    offset = np.array([-(lo[0] + hi[0]) / 2, -lo[1], -(lo[2] + hi[2]) / 2])

    primitives = [
        Primitive(
            positions=((pos + offset) * scale).astype(np.float32),
            normals=nrm.astype(np.float32),
            uvs=uv,
            colors=col,
            indices=idx,
            material=mat,
        )
        for pos, nrm, uv, col, idx, mat in raw
    ]
    normalised = ((all_points + offset) * scale).astype(np.float32)
    return Scene(
        primitives=primitives,
        bounds=np.stack([normalised.min(axis=0), normalised.max(axis=0)]),
        frame_points=_hull_points(normalised),
        source_scale=scale,
    )


def _hull_points(points: NDArray[np.float32]) -> NDArray[np.float32]:
    """Convex-hull vertices (K, 3) float32 of ``points`` (N, 3) float32: every projection of the
    model fits iff these fit."""
    try:
        from scipy.spatial import ConvexHull

        hull: NDArray[np.float32] = points[ConvexHull(points.astype(np.float64)).vertices].astype(np.float32)
        return hull
    except Exception:  # flat or degenerate models: all points are still a correct (slower) answer
        return np.unique(points, axis=0).astype(np.float32)
