"""The GL renderer: vispy gloo, offscreen, 2x supersampled, straight-alpha RGBA frames.

Must be created and used on one thread (the one that made the context current: other threads get
black frames and no error). Only the render child process imports this module.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray
from vispy import gloo
from vispy.gloo.gl import gl2

from dxgl.render.camera import FramePose, model_matrix
from dxgl.render.environment import LEVEL_HEIGHT, SPECULAR_LEVELS, Environment, load_environment
from dxgl.render.gl_platform import create_canvas
from dxgl.render.look import Look
from dxgl.render.scene import Material, Primitive, Scene
from dxgl.render.shaders import (
    BACKGROUND_FRAG,
    BACKGROUND_VERT,
    BAKE_FRAG,
    BAKE_VERT,
    GEOMETRY_FRAG,
    GEOMETRY_VERT,
    GROUND_FRAG,
    GROUND_VERT,
    MESH_FRAG,
    MESH_VERT,
    RESOLVE_FRAG,
    RESOLVE_VERT,
    with_defines,
)
from dxgl.render.shadow import SHADOW_EXTENT, SHADOW_FALLOFF, SHADOW_SIZE, blur_shadow

SSAA = 2
SHADOW_STRENGTH = 0.55
# The look's base exposure (EV 0): the linear factor applied before tone mapping. model-viewer
# lights its neutral environment with 1.3 under the same tone mapping; dxgl's studio is made after
# that environment, and the reference test (tests/look) holds the two within 3 L* of each other.
BASE_EXPOSURE = 1.3
_TEXTURE_UNIFORMS = (
    ("BASE_TEX", "u_base_tex", "base_color_texture"),
    ("MR_TEX", "u_mr_tex", "metallic_roughness_texture"),
    ("NORMAL_TEX", "u_normal_tex", "normal_texture"),
    ("OCCLUSION_TEX", "u_occ_tex", "occlusion_texture"),
    ("EMISSIVE_TEX", "u_emissive_tex", "emissive_texture"),
)
_QUAD = np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]], dtype=np.float32)


ReadPixels = Callable[[int, int, int, int, int, int, int], None]  # glReadPixels(x, y, w, h, format, type, address)


def _read_pixels_fn() -> ReadPixels:
    """``glReadPixels`` straight from the GL library, into memory the caller owns (vispy's
    ``read_pixels`` allocates and copies: 40 ms against 2.4 ms at 4K, RENDERING-NOTES.md)."""
    fn = gl2._lib.glReadPixels  # a ctypes function (vispy is untyped)
    fn.restype = None
    fn.argtypes = [
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.c_uint,
        ctypes.c_void_p,
    ]
    read_pixels: ReadPixels = fn
    return read_pixels


class _GpuPrimitive:
    """A primitive's buffers and textures on the GPU, plus its compiled-variant key."""

    def __init__(self, prim: Primitive, textures: dict[int, Any]) -> None:
        self.material = prim.material
        self.features = prim.material.features(prim.uvs is not None, prim.colors is not None)
        if any(f.endswith("_TEX") for f in self.features):
            self.features |= {"HAS_UV"}
        self.positions = gloo.VertexBuffer(prim.positions)
        self.normals = gloo.VertexBuffer(prim.normals)
        self.uvs = gloo.VertexBuffer(prim.uvs) if "HAS_UV" in self.features else None
        self.colors = gloo.VertexBuffer(prim.colors) if "VERTEX_COLOR" in self.features else None
        self.indices = gloo.IndexBuffer(prim.indices)
        self.textures: dict[str, Any] = {}  # uniform name -> gloo.Texture2D
        for feature, uniform, attr in _TEXTURE_UNIFORMS:
            image = getattr(prim.material, attr)
            if feature in self.features:
                key = id(image)  # one GPU texture per image, however many primitives use it
                if key not in textures:
                    textures[key] = gloo.Texture2D(
                        image, interpolation="linear", wrapping="repeat", internalformat="rgba8"
                    )
                self.textures[uniform] = textures[key]
        self.centroid = prim.positions.mean(axis=0)
        self.blend = prim.material.alpha_mode == "BLEND"
        self.extension_uniforms = material_extension_uniforms(prim.material)


def material_extension_uniforms(m: Material) -> dict[str, float | tuple[float, ...]]:
    """MESH_FRAG's uniforms for the KHR_materials_* values of ``m`` (shaders.py; docs/rendering.md,
    "Materials"), computed once per primitive: the dielectric F0 / F90 of KHR_materials_ior and
    _specular, and the volume's transmittance over its thickness (Beer-Lambert)."""
    ior = m.ior
    reflectance = ((ior - 1.0) / (ior + 1.0)) ** 2  # ior 0 (allowed by the schema): 1
    f0 = tuple(min(reflectance * c, 1.0) * m.specular for c in m.specular_color)
    if m.thickness > 0.0 and math.isfinite(m.attenuation_distance):
        # thickness and attenuationDistance are both in the file's units: their ratio needs no scale.
        attenuation = tuple(float(max(c, 0.0) ** (m.thickness / m.attenuation_distance)) for c in m.attenuation_color)
    else:
        attenuation = (1.0, 1.0, 1.0)
    return {
        "u_dielectric_f0": f0,
        "u_dielectric_f90": m.specular,
        "u_clearcoat": m.clearcoat,
        "u_clearcoat_roughness": m.clearcoat_roughness,
        "u_sheen_color": m.sheen_color,
        "u_sheen_roughness": m.sheen_roughness,
        "u_transmission": m.transmission,
        "u_ior": max(ior, 1.0),
        "u_thick": 1.0 if m.thickness > 0.0 else 0.0,
        "u_attenuation": attenuation,
    }


# The prefiltered levels go to the GPU as RGBM in 8 bits (radiance = rgb * a * RGBM_RANGE): llvmpipe
# filters 8-bit textures on its fast path, float16 ones on a slow one (with the BRDF table in 8 bits
# too, about a tenth of a frame's instructions). Up to 64 times white: a studio softbox is 69, which
# a chrome reflection shows as white anyway; the diffuse light (SH9) and the background keep the
# full range.
RGBM_RANGE = 64.0


def rgbm(radiance: NDArray[np.float32]) -> NDArray[np.uint8]:
    """(H, W, 3) float32 linear radiance -> (H, W, 4) uint8 RGBM: a = the smallest multiplier (in
    1/255 steps of RGBM_RANGE) that holds the texel's brightest channel, rgb = radiance / (a * range)."""
    m = np.clip(radiance.max(axis=2, keepdims=True) / RGBM_RANGE, 1.0 / 255.0, 1.0)
    m = np.ceil(m * 255.0) / 255.0
    rgb = np.clip(radiance / (m * RGBM_RANGE), 0.0, 1.0)
    encoded: NDArray[np.uint8] = np.rint(np.concatenate([rgb, m], axis=2) * 255.0).astype(np.uint8)
    return encoded


def env_rotation(degrees: float) -> NDArray[np.float32]:
    """(3, 3) float32 matrix taking world directions to the environment's own, for an environment
    turned by ``degrees`` about +Y (counter-clockwise seen from above)."""
    a = np.radians(-degrees)
    c, s = float(np.cos(a)), float(np.sin(a))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]], dtype=np.float32)


class Renderer:
    """Draws frames of one scene at ``width`` x ``height`` output pixels, lit by ``look``'s environment.

    ``draw`` returns a (height, width, 4) uint8 straight-alpha RGBA array, top row first, with a
    transparent background (alpha 0 where there is neither model, shadow nor reflection), or the
    environment itself, opaque, with ``look.show_environment``."""

    def __init__(self, scene: Scene, width: int, height: int, look: Look | None = None) -> None:
        self.look = look or Look()
        # Prefiltered once per environment and cached on disk (environment.py): before the GL
        # context, so a first build's numpy work never holds one.
        environment = load_environment(self.look.environment, self.look.environment_image)
        self.canvas, self.description = create_canvas()
        self.scene = scene
        self.width, self.height = width, height
        iw, ih = width * SSAA, height * SSAA
        self._color = gloo.Texture2D(shape=(ih, iw, 4), format="rgba", internalformat="rgba8", interpolation="linear")
        self._fbo = gloo.FrameBuffer(color=self._color, depth=gloo.RenderBuffer((ih, iw), format="depth"))
        self._out_fbo = gloo.FrameBuffer(color=gloo.RenderBuffer((height, width), format="color"))
        self._read_pixels = _read_pixels_fn()
        self._frame = np.empty((height, width, 4), dtype=np.uint8)

        textures: dict[int, Any] = {}  # id(image) -> gloo.Texture2D
        self._prims = [_GpuPrimitive(p, textures) for p in scene.primitives]
        self._programs: dict[frozenset[str], Any] = {}  # feature set -> gloo.Program
        # Per program: the material-extension uniforms last set (set again only when they change).
        self._bound_extensions: dict[frozenset[str], dict[str, Any]] = {}
        quad = gloo.VertexBuffer(_QUAD)
        self._resolve = gloo.Program(RESOLVE_VERT, RESOLVE_FRAG)
        self._resolve["a_position"] = quad
        self._resolve["u_source"] = self._color
        self._ground = gloo.Program(GROUND_VERT, GROUND_FRAG)
        self._ground["a_position"] = quad
        self._ground["u_extent"] = SHADOW_EXTENT
        self._ground["u_strength"] = SHADOW_STRENGTH
        self._shadow_tex = gloo.Texture2D(
            shape=(SHADOW_SIZE, SHADOW_SIZE, 1),
            format="luminance",
            internalformat="r32f",
            interpolation="linear",
            wrapping="clamp_to_edge",
        )
        self._ground["u_shadow"] = self._shadow_tex
        self._bake_color = gloo.Texture2D(shape=(SHADOW_SIZE, SHADOW_SIZE, 4), format="rgba", internalformat="rgba8")
        self._bake_fbo = gloo.FrameBuffer(
            color=self._bake_color, depth=gloo.RenderBuffer((SHADOW_SIZE, SHADOW_SIZE), format="depth")
        )
        self._bake = gloo.Program(BAKE_VERT, BAKE_FRAG)
        self._bake["u_extent"] = SHADOW_EXTENT
        self._bake["u_falloff"] = SHADOW_FALLOFF
        self._bake_pixels = np.empty((SHADOW_SIZE, SHADOW_SIZE, 4), dtype=np.uint8)
        self._baked_key: tuple[str, float] | None = None
        self._center_y = float(scene.bounds[:, 1].mean())
        # Dataset geometry pass (FBO, program, (H, W, 4) float32 readback), made on first use.
        self._geometry: tuple[Any, dict[bool, Any], NDArray[np.float32]] | None = None
        self._env_rot = env_rotation(self.look.environment_rotation)
        self._exposure = float(BASE_EXPOSURE * 2.0**self.look.exposure)
        self._upload_environment(environment, quad)

    def _upload_environment(self, env: Environment, quad: Any) -> None:
        """The environment's textures (float16 on the GPU: HDR radiance without 8-bit banding)."""
        # Levels are stacked in t: repeat across (the equirect's seam), clamp down (the shader keeps
        # within a level; a non-power-of-two repeat would cost llvmpipe a modulo per fetch).
        self._env_spec = gloo.Texture2D(
            rgbm(env.specular[..., :3]),
            format="rgba",
            internalformat="rgba8",
            interpolation="linear",
            wrapping=("repeat", "clamp_to_edge"),
        )
        # The BRDF table's values are all in [0, 1]: 8 bits each (llvmpipe's fastest texture path).
        lut = np.rint(np.clip(env.brdf_lut, 0.0, 1.0) * 255.0).astype(np.uint8)
        self._env_lut = gloo.Texture2D(
            lut, format="rgba", internalformat="rgba8", interpolation="linear", wrapping="clamp_to_edge"
        )
        self._env_sh = env.irradiance_sh.astype(np.float32)
        self._background: Any | None = None
        if self.look.show_environment:
            self._background = gloo.Program(BACKGROUND_VERT, BACKGROUND_FRAG)
            self._background["a_position"] = quad
            self._background["u_background"] = gloo.Texture2D(
                env.background, format="rgba", internalformat="rgba16f", interpolation="linear", wrapping="repeat"
            )
            self._background["u_env_rot"] = self._env_rot.T
            self._background["u_exposure"] = self._exposure

    # -- programs -------------------------------------------------------------------------------
    def _program(self, features: frozenset[str]) -> Any:
        prog = self._programs.get(features)
        if prog is None:
            prog = gloo.Program(with_defines(MESH_VERT, features), with_defines(MESH_FRAG, features))
            # The environment is the same for every draw: set once per program.
            prog["u_env_spec"] = self._env_spec
            prog["u_env_lut"] = self._env_lut
            for i, coefficient in enumerate(self._env_sh):
                prog[f"u_sh[{i}]"] = tuple(float(x) for x in coefficient)
            prog["u_env_rot"] = self._env_rot.T
            prog["u_env_levels"] = float(SPECULAR_LEVELS)
            prog["u_env_rgbm_range"] = RGBM_RANGE
            prog["u_env_u_shift"] = float(self.look.environment_rotation) / 360.0
            prog["u_env_half_texel"] = 0.5 / LEVEL_HEIGHT
            prog["u_exposure"] = self._exposure
            self._programs[features] = prog
        return prog

    def _bind(self, gp: _GpuPrimitive, features: frozenset[str]) -> Any:
        prog = self._program(features)
        prog["a_position"] = gp.positions
        prog["a_normal"] = gp.normals
        if gp.uvs is not None:
            prog["a_uv"] = gp.uvs
        if gp.colors is not None:
            prog["a_color"] = gp.colors
        for name, tex in gp.textures.items():
            prog[name] = tex
        m = gp.material
        prog["u_base_color"] = m.base_color
        prog["u_metallic"] = m.metallic
        prog["u_roughness"] = m.roughness
        prog["u_emissive"] = tuple(c * m.emissive_strength for c in m.emissive)
        prog["u_alpha_cutoff"] = m.alpha_cutoff
        prog["u_blend"] = 1.0 if gp.blend else 0.0
        # The extensions' uniforms are the same for most materials (their defaults): a program keeps
        # them until a primitive with other values is drawn with it (5 us per uniform set, 10 of them).
        bound = self._bound_extensions
        if bound.get(features) != gp.extension_uniforms:
            for name, value in gp.extension_uniforms.items():
                prog[name] = value
            bound[features] = gp.extension_uniforms
        return prog

    # -- shadow -----------------------------------------------------------------------------------
    def _bake_shadow(self, model: NDArray[np.float32]) -> None:
        """Render the model from below into the bake target, blur it and upload it as the shadow.
        ``model`` (4, 4) float32: the model matrix to bake with."""
        with self._bake_fbo:
            gloo.set_viewport(0, 0, SHADOW_SIZE, SHADOW_SIZE)
            gloo.set_state(blend=False, depth_test=True, cull_face=False, depth_mask=True)
            gloo.set_clear_color((0, 0, 0, 0))
            gloo.clear(color=True, depth=True)
            self._bake["u_model"] = model.T
            for gp in self._prims:
                self._bake["a_position"] = gp.positions
                self._bake.draw("triangles", gp.indices)
            self.canvas.context.flush_commands()
            self._read_pixels(
                0, 0, SHADOW_SIZE, SHADOW_SIZE, gl2.GL_RGBA, gl2.GL_UNSIGNED_BYTE, self._bake_pixels.ctypes.data
            )
        self._shadow_tex.set_data(blur_shadow(self._bake_pixels[:, :, 0])[:, :, None])

    def _ensure_shadow(self, pose: FramePose, tilt_x: float) -> NDArray[np.float32]:
        """Return the ground quad's (4, 4) float32 model matrix, baking the shadow when needed.
        Without tilt one bake serves every spin angle: the baked quad simply turns with the model."""
        if tilt_x == 0.0:
            key = ("spin", round(pose.scale, 6))
            if key != self._baked_key:
                self._bake_shadow(model_matrix(0.0, max(pose.scale, 1e-3), 0.0, self._center_y).astype(np.float32))
                self._baked_key = key
            return model_matrix(pose.spin_deg, 1.0, 0.0, self._center_y).astype(np.float32)
        self._bake_shadow(pose.model)
        self._baked_key = None
        return np.eye(4, dtype=np.float32)

    # -- frames -----------------------------------------------------------------------------------
    def _draw_meshes(
        self, pose: FramePose, model: NDArray[np.float32], viewproj: NDArray[np.float32], reflection: bool
    ) -> None:
        """Draw every primitive, opaque first, then blended back to front. ``model`` and
        ``viewproj`` (4, 4) float32; ``reflection``: the mirrored pass (front faces flip)."""
        normal_matrix = np.linalg.inv(model[:3, :3].astype(np.float64)).T.astype(np.float32)

        def eye_dist(gp: _GpuPrimitive) -> float:
            return -float(np.linalg.norm((model[:3, :3] @ gp.centroid + model[:3, 3]) - pose.eye))

        opaque = [gp for gp in self._prims if not gp.blend]
        blended = sorted((gp for gp in self._prims if gp.blend), key=eye_dist)  # back to front
        gloo.set_front_face("cw" if reflection else "ccw")
        for group, depth_write in ((opaque, True), (blended, False)):
            for gp in group:
                features = gp.features | {"REFLECTION"} if reflection else gp.features
                prog = self._bind(gp, frozenset(features))
                prog["u_model"] = model.T
                prog["u_normal_matrix"] = normal_matrix.T
                prog["u_viewproj"] = viewproj.T
                prog["u_eye"] = pose.eye
                prog["u_mirror"] = -1.0 if reflection else 1.0
                gloo.set_state(cull_face=not gp.material.double_sided, depth_mask=depth_write)
                prog.draw("triangles", gp.indices)
        gloo.set_front_face("ccw")

    def draw(self, pose: FramePose, *, shadows: bool, reflector: bool, tilt_x: float = 0.0) -> NDArray[np.uint8]:
        """Render one frame. Returns the renderer's own (H, W, 4) uint8 straight-RGBA buffer, top
        row first: copy it to keep it."""
        ground_model = self._ensure_shadow(pose, tilt_x) if shadows else None
        viewproj = (pose.proj.astype(np.float64) @ pose.view.astype(np.float64)).astype(np.float32)
        iw, ih = self.width * SSAA, self.height * SSAA
        with self._fbo:
            gloo.set_viewport(0, 0, iw, ih)
            gloo.set_clear_color((0, 0, 0, 0))
            gloo.clear(color=True, depth=True)
            if self._background is not None:
                gloo.set_state(blend=False, depth_test=False, cull_face=False, depth_mask=False)
                inv = np.linalg.inv(viewproj.astype(np.float64)).astype(np.float32)
                self._background["u_inv_viewproj"] = inv.T
                self._background["u_eye"] = pose.eye
                self._background.draw("triangle_strip")
                gloo.set_state(depth_mask=True)
            gloo.set_state(blend=True, blend_func=("one", "one_minus_src_alpha"), depth_test=True)
            gloo.set_cull_face("back")
            if reflector:
                mirror = np.diag([1.0, -1.0, 1.0, 1.0]).astype(np.float32)
                self._draw_meshes(pose, mirror @ pose.model, viewproj, reflection=True)
                gloo.clear(color=False, depth=True)
            if ground_model is not None:
                gloo.set_state(cull_face=False, depth_mask=False)
                self._ground["u_model"] = ground_model.T
                self._ground["u_viewproj"] = viewproj.T
                self._ground.draw("triangle_strip")
            self._draw_meshes(pose, pose.model, viewproj, reflection=False)
            gloo.set_state(depth_mask=True)
        with self._out_fbo:
            gloo.set_viewport(0, 0, self.width, self.height)
            gloo.set_state(blend=False, depth_test=False, cull_face=False)
            self._resolve.draw("triangle_strip")
            self.canvas.context.flush_commands()
            self._read_pixels(0, 0, self.width, self.height, gl2.GL_RGBA, gl2.GL_UNSIGNED_BYTE, self._frame.ctypes.data)
        return self._frame

    def draw_geometry(self, pose: FramePose, *, shading_normals: bool = False) -> NDArray[np.float32]:
        """Dataset pass: one sample at each output pixel centre (no supersampling, so depth never mixes
        a surface with the background), every triangle drawn whatever its material (no culling,
        alpha ignored). Returns the renderer's own (H, W, 4) float32 buffer, top row first:
        [..., :3] unit normal in world space (facing the camera; bent by each material's normal map
        when ``shading_normals``), [..., 3] z-depth; all 0 where no surface is. Copy it to keep it."""
        if self._geometry is None:
            target = gloo.Texture2D(shape=(self.height, self.width, 4), format="rgba", internalformat="rgba32f")
            fbo = gloo.FrameBuffer(color=target, depth=gloo.RenderBuffer((self.height, self.width), format="depth"))
            programs = {
                mapped: gloo.Program(with_defines(GEOMETRY_VERT, features), with_defines(GEOMETRY_FRAG, features))
                for mapped, features in ((False, frozenset()), (True, frozenset({"NORMAL_TEX"})))
            }
            self._geometry = (fbo, programs, np.empty((self.height, self.width, 4), dtype=np.float32))
        fbo, programs, pixels = self._geometry
        model = pose.model.astype(np.float32)
        normal_matrix = np.linalg.inv(model[:3, :3].astype(np.float64)).T.astype(np.float32)
        for prog in programs.values():
            prog["u_model"] = model.T
            prog["u_normal_matrix"] = normal_matrix.T
            prog["u_view"] = pose.view.astype(np.float32).T
            prog["u_proj"] = pose.proj.astype(np.float32).T
            prog["u_eye"] = pose.eye
        with fbo:
            gloo.set_viewport(0, 0, self.width, self.height)
            gloo.set_clear_color((0, 0, 0, 0))
            gloo.clear(color=True, depth=True)
            gloo.set_state(blend=False, depth_test=True, cull_face=False, depth_mask=True)
            for gp in self._prims:
                mapped = shading_normals and "u_normal_tex" in gp.textures and gp.uvs is not None
                prog = programs[mapped]
                prog["a_position"] = gp.positions
                prog["a_normal"] = gp.normals
                if mapped:
                    prog["a_uv"] = gp.uvs
                    prog["u_normal_tex"] = gp.textures["u_normal_tex"]
                prog.draw("triangles", gp.indices)
            self.canvas.context.flush_commands()
            self._read_pixels(0, 0, self.width, self.height, gl2.GL_RGBA, gl2.GL_FLOAT, pixels.ctypes.data)
        flipped: NDArray[np.float32] = pixels[::-1]
        return flipped

    def close(self) -> None:
        """Close the canvas and so the GL context."""
        try:
            self.canvas.close()
        except Exception:  # tearing down a context must never mask the job's real outcome
            pass
