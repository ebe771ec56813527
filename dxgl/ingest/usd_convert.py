"""USD uploads (USDZ, USDA, USDC, or a USD layer in a ZIP) into one GLB.

No external file is ever read: the stage is opened by ``usd_containment.open_checked_stage``, which
checks every layer and asset path it would pull in first.

Converted: every visible ``UsdGeom.Mesh`` (not guide or proxy purpose; instance proxies included) with
its world transform; polygons fanned into triangles (holes dropped); ``normals``; the texture
coordinates its material reads (``st`` by default; any interpolation, face-varying values get their own
vertices); ``displayColor`` / ``displayOpacity`` when no material is bound; the bound
``UsdPreviewSurface`` (per ``GeomSubset`` too): diffuseColor (constant or a ``UsdUVTexture``), metallic,
roughness (constants or textures, combined into one glTF metallic-roughness image), normal and emissive
textures, opacity (constant, or the diffuse texture's alpha) and opacityThreshold; ``doubleSided``. The
stage's ``upAxis`` (Z-up is turned Y-up) and ``metersPerUnit`` (scaled to metres; USD's own fallback,
centimetres, when unset) apply. Anything else is left out with a warning.
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import numpy as np
from pxr import Sdf, Usd, UsdGeom, UsdShade

from dxgl.errors import DxglError

from .images import ImageHeader, TextureBudget, read_image_header
from .limits import IngestLimits
from .mesh_convert import Z_UP_TO_Y_UP, Material, Part, Texture, write_parts_glb
from .usd_containment import open_checked_stage, refuse

TEXTURE_MIMES = ("image/png", "image/jpeg")
MAX_WARNINGS = 20
_IGNORED_TYPES = (
    "Cube",
    "Sphere",
    "Cylinder",
    "Cone",
    "Capsule",
    "Plane",
    "Points",
    "BasisCurves",
    "NurbsCurves",
    "NurbsPatch",
    "HermiteCurves",
    "TetMesh",
)
_CHANNELS = {"r": 0, "g": 1, "b": 2, "a": 3}


# --- the conversion ---------------------------------------------------------------------------------


def convert_usd(
    root_layer: Path, root: Path, out_path: Path, limits: IngestLimits, label: str, *, single_file: bool = False
) -> list[str]:
    """Write the GLB of the USD stage whose root layer is ``root_layer`` (inside folder ``root``);
    returns user-visible warnings."""
    stage = open_checked_stage(root_layer, root, label, single_file=single_file)
    converter = _StageConverter(stage, root.resolve(), limits, label)
    parts = converter.run()
    write_parts_glb(parts, out_path)
    return converter.warnings()


def _array(value, dtype) -> np.ndarray | None:
    if value is None:
        return None
    return np.asarray(value, dtype=dtype)


def _srgb8(linear: np.ndarray) -> np.ndarray:
    """Linear 0..1 colours -> 8-bit sRGB-encoded, as COLOR_0 is read by the renderer and trimesh."""
    c = np.clip(linear, 0.0, 1.0)
    encoded = np.where(c <= 0.0031308, c * 12.92, 1.055 * np.power(c, 1 / 2.4) - 0.055)
    return np.round(encoded * 255).astype(np.uint8)


class _StageConverter:
    def __init__(self, stage: Usd.Stage, root: Path, limits: IngestLimits, label: str):
        self.stage = stage
        self.root = root
        self.limits = limits
        self.label = label
        self.time = Usd.TimeCode.EarliestTime()
        self.xforms = UsdGeom.XformCache(self.time)
        self._warnings: dict[str, None] = {}
        fix = np.eye(4)
        if UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z:
            fix = Z_UP_TO_Y_UP.copy()
        meters = float(UsdGeom.GetStageMetersPerUnit(stage))
        if not stage.HasAuthoredMetadata("metersPerUnit"):
            self.warn(f"{label}: the stage does not set metersPerUnit; read as centimetres (USD's default)")
        if not (meters > 0 and np.isfinite(meters)):
            raise refuse(f"{label}: metersPerUnit {meters} is not a positive number")
        fix[:3, :3] *= meters
        self.fix = fix
        self.points = 0
        self.triangles = 0
        self.budget = TextureBudget(limits)
        self.textures: dict[Path, Texture | None] = {}
        self.decoded: dict[Path, object] = {}
        self.materials: dict[tuple[str, bool], tuple[Material | None, str | None]] = {}
        self.ignored: dict[str, int] = {}

    def warn(self, message: str) -> None:
        self._warnings.setdefault(message, None)

    def warnings(self) -> list[str]:
        found = list(self._warnings)
        if len(found) > MAX_WARNINGS:
            found = [*found[:MAX_WARNINGS], f"... and {len(found) - MAX_WARNINGS} more notes about the USD conversion"]
        return found

    def run(self) -> list[Part]:
        parts: list[Part] = []
        it = iter(Usd.PrimRange.Stage(self.stage, Usd.TraverseInstanceProxies()))
        for prim in it:
            if prim.IsA(UsdGeom.PointInstancer):
                self.ignored["PointInstancer"] = self.ignored.get("PointInstancer", 0) + 1
                it.PruneChildren()  # its prototypes are drawn only through it
                continue
            if prim.IsA(UsdGeom.Imageable):
                imageable = UsdGeom.Imageable(prim)
                if imageable.GetVisibilityAttr().Get(self.time) == UsdGeom.Tokens.invisible:
                    it.PruneChildren()
                    continue
                if imageable.GetPurposeAttr().Get() in (UsdGeom.Tokens.guide, UsdGeom.Tokens.proxy):
                    it.PruneChildren()
                    continue
            if prim.IsA(UsdGeom.Mesh):
                parts.extend(self.mesh(prim))
            elif prim.GetTypeName() in _IGNORED_TYPES:
                self.ignored[str(prim.GetTypeName())] = self.ignored.get(str(prim.GetTypeName()), 0) + 1
        for type_name, count in sorted(self.ignored.items()):
            plural = "prim" if count == 1 else "prims"
            self.warn(f"{self.label}: {count} {type_name} {plural} left out (only Mesh prims are converted)")
        if not parts:
            raise refuse(f"{self.label}: the USD stage holds no visible mesh with faces")
        return parts

    # -- one mesh --

    def mesh(self, prim: Usd.Prim) -> list[Part]:
        mesh = UsdGeom.Mesh(prim)
        where = f"{self.label} ({prim.GetPath()})"
        t = self.time
        points = _array(mesh.GetPointsAttr().Get(t), np.float64)
        counts = _array(mesh.GetFaceVertexCountsAttr().Get(t), np.int64)
        idx = _array(mesh.GetFaceVertexIndicesAttr().Get(t), np.int64)
        if points is None or counts is None or idx is None or len(points) == 0 or len(counts) == 0:
            self.warn(f"{where}: the mesh has no points or faces; left out")
            return []
        points = points.reshape(-1, 3)
        self.points += len(points)
        if self.points > self.limits.max_obj_vertices:
            raise refuse(f"{self.label}: the USD stage has more than {self.limits.max_obj_vertices:,} vertices")
        if (counts < 0).any() or int(counts.sum()) != len(idx):
            raise refuse(f"{where}: faceVertexCounts and faceVertexIndices disagree")
        if len(idx) and (idx.min() < 0 or idx.max() >= len(points)):
            raise refuse(f"{where}: a face names a point that does not exist")
        if not np.isfinite(points).all():
            raise refuse(f"{where}: the mesh has NaN or infinite points")
        keep = counts >= 3
        holes = _array(mesh.GetHoleIndicesAttr().Get(t), np.int64)
        if holes is not None and len(holes):
            holes = holes[(holes >= 0) & (holes < len(counts))]
            keep[holes] = False
        per_face = np.where(keep, counts - 2, 0)
        n_tris = int(per_face.sum())
        self.triangles += n_tris
        if self.triangles > self.limits.max_obj_faces:
            raise refuse(f"{self.label}: the USD stage has more than {self.limits.max_obj_faces:,} triangles")
        if n_tris == 0:
            self.warn(f"{where}: the mesh has no polygon with three corners; left out")
            return []
        starts = np.cumsum(counts) - counts
        face_of_tri = np.repeat(np.arange(len(counts)), per_face)
        k = np.arange(n_tris) - np.repeat(np.cumsum(per_face) - per_face, per_face)
        c0 = starts[face_of_tri]
        corners = np.stack([c0, c0 + k + 1, c0 + k + 2], axis=1)

        world = np.asarray(self.xforms.GetLocalToWorldTransform(prim), dtype=np.float64).T  # column vectors
        total = self.fix @ world
        flip = (mesh.GetOrientationAttr().Get(t) == UsdGeom.Tokens.leftHanded) != (np.linalg.det(total[:3, :3]) < 0)
        if flip:
            corners = corners[:, [0, 2, 1]]

        double_sided = bool(mesh.GetDoubleSidedAttr().Get(t))
        groups = self._material_groups(prim, face_of_tri, len(counts), double_sided, where)
        uv_name = next((name for _, (m, name) in groups if m is not None and name), None)

        shape = (len(points), len(counts), len(idx))
        primvars = UsdGeom.PrimvarsAPI(prim)
        attrs: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values, per-corner value index)
        normals = self._normals(mesh, primvars, shape, idx, face_of_tri, corners, where)
        if normals is not None:
            attrs["normal"] = normals
        uv = self._uv(primvars, uv_name, shape, idx, face_of_tri, corners, where) if uv_name else None
        if uv is not None:
            attrs["uv"] = uv
        if any(m is None for _, (m, _) in groups):
            color = self._primvar(mesh.GetDisplayColorPrimvar(), shape, idx, face_of_tri, corners, where, 3)
            opacity = self._primvar(mesh.GetDisplayOpacityPrimvar(), shape, idx, face_of_tri, corners, where, 1)
            if color is not None:
                attrs["color"] = color
            if opacity is not None:
                attrs["opacity"] = opacity

        # One vertex per distinct (point, value of each per-corner attribute).
        point_of_corner = idx[corners].reshape(-1)
        columns = [point_of_corner] + [vi.reshape(-1) for _, vi in attrs.values()]
        if len(columns) == 1:
            unique, inverse = np.unique(point_of_corner, return_inverse=True)
            representative = np.zeros(len(unique), dtype=np.int64)
            representative[inverse] = np.arange(len(inverse))
        else:
            key = np.stack(columns, axis=1)
            _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
            representative = first
        inverse = np.asarray(inverse).reshape(-1)
        triangles = inverse.reshape(-1, 3)
        positions = points[point_of_corner[representative]] @ total[:3, :3].T + total[:3, 3]
        values = {name: vals[vi.reshape(-1)[representative]] for name, (vals, vi) in attrs.items()}

        if "normal" in values:
            normal_matrix = np.linalg.inv(total[:3, :3]).T
            n = values["normal"].reshape(-1, 3) @ normal_matrix.T
            values["normal"] = n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
        if "uv" in values:
            st = values["uv"].reshape(-1, 2)
            values["uv"] = np.stack([st[:, 0], 1.0 - st[:, 1]], axis=1)

        parts: list[Part] = []
        for tri_mask, (material, _) in groups:
            tris = triangles if tri_mask is None else triangles[tri_mask]
            if len(tris) == 0:
                continue
            used, local = np.unique(tris, return_inverse=True)
            if len(used) == len(positions):
                used, local = None, tris.reshape(-1)
            pick = (lambda a: a) if used is None else (lambda a, u=used: a[u])
            colors = None
            if material is None:
                material, colors = self._display_material(values, pick, double_sided)
            elif _textured(material) and "uv" not in values:
                material = self._untextured(material, where)
            parts.append(
                Part(
                    positions=pick(positions).astype(np.float32),
                    triangles=np.asarray(local).reshape(-1, 3).astype(np.uint32),
                    material=material,
                    normals=pick(values["normal"]).astype(np.float32) if "normal" in values else None,
                    uv=pick(values["uv"]).astype(np.float32) if "uv" in values and _textured(material) else None,
                    colors=pick(colors) if colors is not None else None,
                    name=str(prim.GetName()),
                )
            )
        return parts

    def _corner_index(self, interp: str, indices, n_values: int, shape, idx, face_of_tri, corners) -> np.ndarray | None:
        n_points, n_faces, n_corners = shape
        if interp == UsdGeom.Tokens.constant:
            base, expected = np.zeros_like(corners), 1
        elif interp == UsdGeom.Tokens.uniform:
            base, expected = np.broadcast_to(face_of_tri[:, None], corners.shape), n_faces
        elif interp in (UsdGeom.Tokens.vertex, UsdGeom.Tokens.varying):
            base, expected = idx[corners], n_points
        elif interp == UsdGeom.Tokens.faceVarying:
            base, expected = corners, n_corners
        else:
            return None
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64)
            if len(indices) < expected or (len(indices) and (indices.min() < 0 or indices.max() >= n_values)):
                return None
            return indices[base]
        if n_values < expected:
            return None
        return np.asarray(base)

    def _primvar(self, pv, shape, idx, face_of_tri, corners, where, width: int):
        if not pv or not pv.HasAuthoredValue():
            return None
        raw = pv.Get(self.time)
        if raw is None or len(raw) == 0:
            return None
        values = np.asarray(raw, dtype=np.float64).reshape(len(raw), -1)
        if values.shape[1] != width:
            return None
        indices = pv.GetIndices(self.time) if pv.IsIndexed() else None
        vi = self._corner_index(pv.GetInterpolation(), indices, len(values), shape, idx, face_of_tri, corners)
        if vi is None:
            self.warn(f"{where}: primvar {pv.GetPrimvarName()} has the wrong number of values; ignored")
            return None
        return values, vi

    def _normals(self, mesh, primvars, shape, idx, face_of_tri, corners, where):
        pv = primvars.GetPrimvar("normals")
        if pv and pv.HasAuthoredValue():
            return self._primvar(pv, shape, idx, face_of_tri, corners, where, 3)
        attr = mesh.GetNormalsAttr()
        raw = attr.Get(self.time) if attr.HasAuthoredValue() else None
        if raw is None or len(raw) == 0:
            return None
        values = np.asarray(raw, dtype=np.float64).reshape(-1, 3)
        vi = self._corner_index(mesh.GetNormalsInterpolation(), None, len(values), shape, idx, face_of_tri, corners)
        if vi is None:
            self.warn(f"{where}: normals have the wrong number of values; ignored")
            return None
        return values, vi

    def _uv(self, primvars, name: str, shape, idx, face_of_tri, corners, where):
        pv = primvars.GetPrimvar(name)
        if not (pv and pv.HasAuthoredValue()):
            pv = primvars.GetPrimvar("st")
        if not (pv and pv.HasAuthoredValue()):
            pv = next(
                (
                    p
                    for p in primvars.GetPrimvarsWithAuthoredValues()
                    if p.GetTypeName().role == Sdf.ValueRoleNames.TextureCoordinate
                    or str(p.GetTypeName()) in ("float2[]", "texCoord2f[]")
                ),
                None,
            )
        if pv is None:
            self.warn(f"{where}: the material has a texture but the mesh has no texture coordinates; left untextured")
            return None
        return self._primvar(pv, shape, idx, face_of_tri, corners, where, 2)

    def _display_material(self, values, pick, double_sided: bool) -> tuple[Material, np.ndarray | None]:
        """A material from displayColor / displayOpacity (no UsdPreviewSurface bound)."""
        color = values.get("color")
        opacity = values.get("opacity")
        material = Material(name="displayColor", base_color=(0.5, 0.5, 0.5, 1.0), roughness=0.5)
        material.double_sided = double_sided
        if color is None and opacity is None:
            return material, None
        rgb = pick(color.reshape(-1, 3)) if color is not None else None
        alpha = pick(opacity.reshape(-1)) if opacity is not None else None
        n = len(rgb) if rgb is not None else len(alpha)
        if rgb is not None and np.ptp(rgb, axis=0).max() == 0 and (alpha is None or np.ptp(alpha) == 0):
            a = float(alpha[0]) if alpha is not None else 1.0
            material.base_color = (*[float(c) for c in np.clip(rgb[0], 0, 1)], a)
            material.alpha_mode = "BLEND" if a < 1.0 else "OPAQUE"
            return material, None
        material.base_color = (1.0, 1.0, 1.0, 1.0)
        colors = np.full((n, 4), 255, dtype=np.uint8)
        if rgb is not None:
            colors[:, :3] = _srgb8(rgb)
        if alpha is not None:
            colors[:, 3] = np.round(np.clip(alpha, 0, 1) * 255).astype(np.uint8)
            if (colors[:, 3] < 255).any():
                material.alpha_mode = "BLEND"
        return material, colors

    def _untextured(self, material: Material, where: str) -> Material:
        return replace(
            material,
            base_color_texture=None,
            metallic_roughness_texture=None,
            normal_texture=None,
            emissive_texture=None,
        )

    # -- materials --

    def _material_groups(self, prim, face_of_tri, n_faces: int, double_sided: bool, where: str):
        """[(triangle mask or None for all, (Material or None for displayColor, uv primvar name))]."""
        binding = UsdShade.MaterialBindingAPI(prim)
        subsets = binding.GetMaterialBindSubsets() if prim.HasAPI(UsdShade.MaterialBindingAPI) else []
        whole = self._bound(prim, double_sided)
        if not subsets:
            return [(None, whole)]
        owner = np.full(n_faces, -1, dtype=np.int64)
        found = []
        for i, subset in enumerate(subsets):
            faces = _array(subset.GetIndicesAttr().Get(self.time), np.int64)
            if faces is None:
                continue
            faces = faces[(faces >= 0) & (faces < n_faces)]
            faces = faces[owner[faces] < 0]
            owner[faces] = i
            found.append((i, self._bound(subset.GetPrim(), double_sided)))
        groups = [(owner[face_of_tri] == i, bound) for i, bound in found]
        rest = owner[face_of_tri] < 0
        if rest.any():
            groups.append((rest, whole))
        return groups

    def _bound(self, prim, double_sided: bool) -> tuple[Material | None, str | None]:
        material, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial(UsdShade.Tokens.preview)
        if not material:
            return None, None
        key = (str(material.GetPath()), double_sided)
        if key not in self.materials:
            self.materials[key] = self._material(material, double_sided)
        return self.materials[key]

    def _input(self, shader: UsdShade.Shader, name: str):
        """(constant value, None) or (None, (source shader, output name)) for one shader input."""
        inp = shader.GetInput(name)
        if not inp:
            return None, None
        attrs = inp.GetValueProducingAttributes()
        if not attrs:
            return None, None
        attr = attrs[0]
        if UsdShade.Output.IsOutput(attr):
            return None, (UsdShade.Shader(attr.GetPrim()), UsdShade.Output(attr).GetBaseName())
        return attr.Get(self.time), None

    def _material(self, usd_material: UsdShade.Material, double_sided: bool) -> tuple[Material | None, str | None]:
        name = str(usd_material.GetPrim().GetName())
        where = f"{self.label} (material {usd_material.GetPath()})"
        shader = usd_material.ComputeSurfaceSource()[0]
        shader_id = shader.GetShaderId() if shader else None
        if shader_id != "UsdPreviewSurface":
            self.warn(f"{where}: surface shader {shader_id or 'none'} is not UsdPreviewSurface; displayColor used")
            return None, None
        m = Material(name=name, base_color=(0.18, 0.18, 0.18, 1.0), metallic=0.0, roughness=0.5)
        m.double_sided = double_sided
        uv_name: str | None = None
        alpha = 1.0

        value, source = self._input(shader, "diffuseColor")
        diffuse_path: Path | None = None
        if source is not None:
            tex = self._texture(source, where, "diffuseColor")
            if tex is not None:
                m.base_color_texture, uv_name, scale, diffuse_path, _ = tex
                m.base_color = (*scale[:3], 1.0)
        elif value is not None:
            m.base_color = (*[float(c) for c in value], 1.0)

        value, source = self._input(shader, "opacity")
        texture_alpha = False
        if source is not None:
            tex = self._texture(source, where, "opacity")
            if tex is not None and tex[3] == diffuse_path and tex[4] == "a":
                texture_alpha = True
            else:
                self.warn(f"{where}: opacity from a texture other than the diffuse texture's alpha is ignored")
        elif value is not None:
            alpha = float(value)
        threshold, _ = self._input(shader, "opacityThreshold")
        m.base_color = (*m.base_color[:3], alpha)
        if threshold is not None and float(threshold) > 0 and (alpha < 1.0 or texture_alpha):
            m.alpha_mode, m.alpha_cutoff = "MASK", float(threshold)
        elif alpha < 1.0 or texture_alpha:
            m.alpha_mode = "BLEND"

        channels: dict[str, tuple[Path, int]] = {}
        for input_name in ("metallic", "roughness"):
            value, source = self._input(shader, input_name)
            if source is not None:
                tex = self._texture(source, where, input_name)
                if tex is not None:
                    uv_name = uv_name or tex[1]
                    channels[input_name] = (tex[3], _CHANNELS.get(tex[4][:1], 0))
                    setattr(m, input_name, 1.0)
            elif value is not None:
                setattr(m, input_name, float(value))
        if channels:
            m.metallic_roughness_texture = self._metallic_roughness(channels, where)

        _, source = self._input(shader, "normal")
        if source is not None:
            tex = self._texture(source, where, "normal")
            if tex is not None:
                m.normal_texture, uv_name = tex[0], uv_name or tex[1]
        value, source = self._input(shader, "emissiveColor")
        if source is not None:
            tex = self._texture(source, where, "emissiveColor")
            if tex is not None:
                m.emissive_texture, uv_name = tex[0], uv_name or tex[1]
                m.emissive = tuple(float(c) for c in tex[2][:3])  # type: ignore[assignment]
        elif value is not None:
            m.emissive = tuple(float(c) for c in value)  # type: ignore[assignment]
        specular, _ = self._input(shader, "useSpecularWorkflow")
        if specular:
            self.warn(f"{where}: the specular workflow is approximated as metallic {m.metallic:g}")
        return m, (uv_name or "st") if _textured(m) else None

    def _texture(self, source, where: str, input_name: str):
        """(Texture, uv primvar name, scale rgba, file, output channel) or None with a warning."""
        shader, output = source
        if shader.GetShaderId() != "UsdUVTexture":
            self.warn(f"{where}: {input_name} comes from a {shader.GetShaderId()} shader; only UsdUVTexture is read")
            return None
        asset, _ = self._input(shader, "file")
        if not isinstance(asset, Sdf.AssetPath) or not asset.path:
            self.warn(f"{where}: the {input_name} texture names no file; ignored")
            return None
        if not asset.resolvedPath:
            raise refuse(f'{where}: texture "{asset.path}" is not in the upload')
        path = Path(asset.resolvedPath).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise refuse(f'{where}: texture "{asset.path}" is not in the upload')
        texture = self._load_texture(path, where)
        if texture is None:
            return None
        uv_name = "st"
        _, reader = self._input(shader, "st")
        if reader is not None:
            reader_shader = reader[0]
            if reader_shader.GetShaderId() == "UsdTransform2d":
                self.warn(f"{where}: texture transforms (UsdTransform2d) are ignored")
                _, reader = self._input(reader_shader, "in")
                reader_shader = reader[0] if reader is not None else None
            if reader_shader is not None and str(reader_shader.GetShaderId()).startswith("UsdPrimvarReader"):
                varname, _ = self._input(reader_shader, "varname")
                if varname:
                    uv_name = str(varname)
        scale, _ = self._input(shader, "scale")
        scale = tuple(float(c) for c in scale) if scale is not None else (1.0, 1.0, 1.0, 1.0)
        return texture, uv_name, scale, path, str(output)

    def _load_texture(self, path: Path, where: str) -> Texture | None:
        if path in self.textures:
            return self.textures[path]
        rel = path.relative_to(self.root).as_posix()
        data = path.read_bytes()
        texture: Texture | None = None
        try:
            header = read_image_header(data, f'texture "{rel}"', self.limits)
        except DxglError as exc:
            if "megapixels" in exc.message:
                raise
            self.warn(f'{where}: texture "{rel}" is not a readable PNG or JPEG; left untextured')
        else:
            if header.mime in TEXTURE_MIMES:
                self.budget.add(header)
                self.budget.check()
                texture = Texture(data, header.mime)
            else:
                self.warn(f'{where}: texture "{rel}" is {header.mime}; only PNG and JPEG are read; left untextured')
        self.textures[path] = texture
        return texture

    def _metallic_roughness(self, channels: dict[str, tuple[Path, int]], where: str) -> Texture | None:
        """One glTF image: roughness in G, metallic in B (each from its texture's channel)."""
        from PIL import Image

        planes: dict[str, np.ndarray] = {}
        size: tuple[int, int] | None = None
        for name in ("roughness", "metallic"):
            if name not in channels:
                continue
            path, channel = channels[name]
            image = Image.open(io.BytesIO(self.textures[path].data))  # type: ignore[union-attr]
            image = image.convert("RGBA")
            if size is None:
                size = image.size
            elif image.size != size:
                image = image.resize(size)
            planes[name] = np.asarray(image)[..., channel]
        assert size is not None
        width, height = size
        out = np.full((height, width, 3), 255, dtype=np.uint8)
        out[..., 0] = 0
        if "roughness" in planes:
            out[..., 1] = planes["roughness"]
        if "metallic" in planes:
            out[..., 2] = planes["metallic"]
        self.budget.add(ImageHeader("image/png", width, height))
        self.budget.check()
        buffer = io.BytesIO()
        Image.fromarray(out, "RGB").save(buffer, format="PNG")
        return Texture(buffer.getvalue(), "image/png")


def _textured(m: Material) -> bool:
    return any(
        t is not None
        for t in (m.base_color_texture, m.metallic_roughness_texture, m.normal_texture, m.emissive_texture)
    )
