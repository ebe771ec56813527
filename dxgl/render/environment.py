"""Image-based lighting: an environment prefiltered once, cached by content hash on disk.

Equirectangular convention, everywhere in dxgl (prefiltering here, sampling in shaders.py): a world
direction d (unit, +Y up; the camera looks from +Z towards -Z) maps to
    u = 0.5 + atan2(d.x, -d.z) / (2 pi)      (u = 0.5 is -Z, the backdrop behind the model)
    v = acos(d.y) / pi                       (v = 0 is straight up, the array's first row)
Arrays are top row first (row 0 = v 0); the renderer uploads them as they are, so GL's t equals v.

The built-in environments are small box rooms ray-cast in numpy (``_Scene``): ``studio`` follows the
geometry and lights of model-viewer's "neutral" environment (Apache-2.0), which three.js renders
into a cube map from the origin, unlit by shadows or bounces, and blurs by 0.04 rad; ``soft`` and
``contrast`` are dxgl's own rooms, scaled to studio's mean radiance.

Everything is pure numpy (cv2 only for area resampling); no GL here.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from dxgl.contract import BuiltinEnvironment
from dxgl.hdri import read_environment_image
from dxgl.proc import Limits
from dxgl.render.types import RenderError

SPECULAR_LEVELS = 6  # roughness of level k: k / (SPECULAR_LEVELS - 1)
LEVEL_WIDTH, LEVEL_HEIGHT = 512, 256
BRDF_LUT_SIZE = 32
# The background (showEnvironment) of a user HDRI is kept at up to 4096 x 2048: about 11 px per
# degree, so a backdrop at 30 degrees field of view is soft (a shallow depth-of-field look), never
# blocky; the lighting itself only needs the 1024 x 512 working map.
BACKGROUND_MAX_WIDTH = 4096
# A stored HDRI was checked at upload, but its bytes are still a user's: the render side decodes it
# again in a child of its own under the same kind of limits as the upload's sandbox (address space,
# CPU), never in the render child itself.
DECODE_TIMEOUT_S = 180.0
DECODE_REFUSED = 3  # the decode child's exit status for a file it refused (its message on stderr)
DECODE_LIMITS = Limits(memory_bytes=3 * 1024**3, cpu_s=120.0, env={"OMP_NUM_THREADS": "1", "OPENCV_NUM_THREADS": "1"})
# Prefiltered files kept in a cache folder, all together (the oldest unused go first). An entry is
# 8 MB (built-in) to ~60 MB (a user HDRI with a 4096-wide background).
CACHE_MAX_BYTES = int(os.environ.get("DXGL_ENVIRONMENT_CACHE_MAX_BYTES", str(2 * 1024**3)))

# Bump when the prefiltering, the SH projection, the LUT or the cache layout change: every cached
# environment is then recomputed (the version is part of every key).
ALGORITHM_VERSION = "ibl-1"
# Bump when a built-in room changes.
GENERATOR_VERSION = "rooms-1"

WORKING_WIDTH, WORKING_HEIGHT = 1024, 512  # built-ins are generated, user images resampled, to this
BLUR_SIGMA = 0.04  # radians: model-viewer blurs its neutral cube map by this
LUT_SAMPLES = 1024
MIP_MIN_WIDTH = 64  # the coarsest level is filtered at this width

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True)
class Environment:
    """One environment, ready to upload.

    specular: (SPECULAR_LEVELS * LEVEL_HEIGHT, LEVEL_WIDTH, 4) float32, linear RGB and A = 1: the
        GGX-prefiltered radiance, level k in rows k*LEVEL_HEIGHT .. (k+1)*LEVEL_HEIGHT-1.
    irradiance_sh: (9, 3) float32: diffuse radiance for albedo 1 (irradiance / pi) as 9 real
        spherical-harmonic coefficients, Lambert convolution folded in; the shader evaluates
        c0*0.282095 + c1*0.488603*y + c2*0.488603*z + c3*0.488603*x + c4*1.092548*x*y
        + c5*1.092548*y*z + c6*0.315392*(3z^2-1) + c7*1.092548*x*z + c8*0.546274*(x^2-y^2).
    brdf_lut: (BRDF_LUT_SIZE, BRDF_LUT_SIZE, 4) float32: row = roughness, column = n.v (texel
        centres at (i + 0.5) / N); R, G = split-sum scale and bias (specular = F0 * R + G),
        B = the Charlie sheen lobe's directional albedo at that (sheen roughness, n.v), A = 1.
    background: (H, W, 4) float32, W <= BACKGROUND_MAX_WIDTH, H = W / 2: the environment itself,
        for ``showEnvironment``.
    key: the content hash the cache files are named by.
    """

    specular: NDArray[np.float32]
    irradiance_sh: NDArray[np.float32]
    brdf_lut: NDArray[np.float32]
    background: NDArray[np.float32]
    key: str


# --- directions ------------------------------------------------------------------------------


def directions(width: int, height: int) -> F32:
    """(height, width, 3) unit world directions of the equirect texel centres (the convention above)."""
    u = (np.arange(width, dtype=np.float64) + 0.5) / width
    v = (np.arange(height, dtype=np.float64) + 0.5) / height
    phi = (u - 0.5) * 2.0 * math.pi
    theta = v * math.pi
    st = np.sin(theta)[:, None]
    d = np.empty((height, width, 3), np.float64)
    d[..., 0] = st * np.sin(phi)[None, :]
    d[..., 1] = np.cos(theta)[:, None]
    d[..., 2] = -st * np.cos(phi)[None, :]
    return d.astype(np.float32)


def _frames(width: int, height: int) -> tuple[F32, F32, F32]:
    """(N, T, B), each (height, width, 3): the texel direction and the unit tangents along +phi
    and +theta; orthonormal and defined everywhere (texel centres never sit on a pole)."""
    u = (np.arange(width, dtype=np.float64) + 0.5) / width
    v = (np.arange(height, dtype=np.float64) + 0.5) / height
    phi = ((u - 0.5) * 2.0 * math.pi)[None, :]
    theta = (v * math.pi)[:, None]
    sp, cp, st, ct = np.sin(phi), np.cos(phi), np.sin(theta), np.cos(theta)
    one = np.ones((height, width))
    n = np.stack([st * sp, ct * one, -st * cp], axis=-1)
    t = np.stack([cp * one, 0.0 * one, sp * one], axis=-1)
    b = np.stack([ct * sp, -st * one, -ct * cp], axis=-1)
    return n.astype(np.float32), t.astype(np.float32), b.astype(np.float32)


def sample_equirect(image: F32, d: F32, *, unit: bool = False) -> F32:
    """Bilinear lookup of the (h, w, C) equirect ``image`` in the directions ``d`` (..., 3); u
    wraps around, v clamps at the poles. ``unit``: the caller promises |d| = 1 (skips a
    normalisation). Returns (..., C) float32."""
    h, w, c = image.shape
    d = d.astype(np.float32, copy=False)
    y_component = d[..., 1]
    if not unit:
        y_component = y_component / np.maximum(np.sqrt(np.einsum("...i,...i->...", d, d)), 1e-30)
    x = np.arctan2(d[..., 0], -d[..., 2])
    x *= np.float32(w / (2.0 * math.pi))
    x += np.float32(0.5 * w - 0.5)
    y = np.arccos(np.clip(y_component, -1.0, 1.0))
    y *= np.float32(h / math.pi)
    y -= np.float32(0.5)
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    xi0 = x0.astype(np.intp)
    if w & (w - 1) == 0:  # a power of two (all of dxgl's maps): a mask is cheaper than %
        xi0 &= w - 1
        xi1 = (xi0 + 1) & (w - 1)
    else:
        xi0 %= w
        xi1 = xi0 + 1
        xi1[xi1 == w] = 0
    yi0 = y0.astype(np.intp)
    yi1 = np.minimum(yi0 + 1, h - 1) * w
    np.maximum(yi0, 0, out=yi0)
    yi0 *= w
    flat = image.reshape(-1, c)
    # np.take along axis 0 is an order of magnitude faster than flat[index] for these shapes
    a = np.take(flat, yi0 + xi0, axis=0)
    a += (np.take(flat, yi0 + xi1, axis=0) - a) * fx
    b = np.take(flat, yi1 + xi0, axis=0)
    b += (np.take(flat, yi1 + xi1, axis=0) - b) * fx
    a += (b - a) * fy
    out: F32 = a.astype(np.float32, copy=False)
    return out


def _area_resize(image: F32, width: int, height: int) -> F32:
    """``image`` (h, w, 3) resampled to (height, width, 3): area averaging when shrinking, bilinear
    when enlarging."""
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    shrink = width <= image.shape[1] and height <= image.shape[0]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    out: F32 = cv2.resize(image, (width, height), interpolation=interp).astype(np.float32, copy=False)
    return out


def _solid_angles(width: int, height: int) -> F64:
    """(height, 1) solid angle of one texel in each row of a width x height equirect map."""
    v0 = np.arange(height) / height * math.pi
    v1 = (np.arange(height) + 1) / height * math.pi
    result: F64 = ((np.cos(v0) - np.cos(v1)) * (2.0 * math.pi / width))[:, None]
    return result


def mean_radiance(image: F32) -> F64:
    """(3,) the solid-angle-weighted mean radiance of an equirect map (h, w, 3)."""
    h, w = image.shape[:2]
    weights = _solid_angles(w, h)[:, :, None]
    result: F64 = (image.astype(np.float64) * weights).sum(axis=(0, 1)) / (4.0 * math.pi)
    return result


# --- the built-in rooms ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Box:
    """An oriented box: the unit cube scaled by ``scale``, turned ``rot_y`` radians about +Y (as
    three.js orders it: scale, then rotate, then translate), centred at ``center``. ``emit`` > 0
    makes it an unlit emitter of that radiance (three.js MeshBasicMaterial colour = intensity);
    otherwise a Lambert surface of albedo ``albedo``. ``inside``: seen from within (the room)."""

    center: tuple[float, float, float]
    scale: tuple[float, float, float]
    rot_y: float = 0.0
    albedo: float = 1.0
    emit: tuple[float, float, float] | None = None
    inside: bool = False


@dataclass(frozen=True)
class _PointLight:
    """three.js physically based point light: irradiance I / d^2 * clamp(1 - (d/cutoff)^4)^2."""

    position: tuple[float, float, float]
    intensity: float
    cutoff: float


@dataclass(frozen=True)
class _Scene:
    boxes: tuple[_Box, ...]
    lights: tuple[_PointLight, ...]
    offset_y: float = 0.0  # the whole group's translation (model-viewer: -3.5)
    ambient: float = 0.0  # extra irradiance / pi on every diffuse surface (a cheap bounce)
    target_mean: float | None = None  # scale the map to this mean radiance (None: as lit)
    tint: tuple[float, float, float] = field(default=(1.0, 1.0, 1.0))


# Mean radiance of studio as generated (``mean_radiance`` of its working map; a test keeps this in
# step): soft and contrast are scaled to it, so switching environments keeps the exposure.
STUDIO_MEAN_RADIANCE = 0.936


def _emit(value: float) -> tuple[float, float, float]:
    return (value, value, value)


# model-viewer 4.4's "neutral" environment (EnvironmentScene, Apache-2.0), as the vendored
# model-viewer.min.js builds it: a group at y = -3.5 holding a white room seen from inside, six white
# boxes, one point light and seven emitting "area light" boxes.
_STUDIO = _Scene(
    offset_y=-3.5,
    lights=(_PointLight((0.5, 14.0, 0.5), 400.0, 28.0),),
    boxes=(
        _Box((0.0, 13.2, 0.0), (31.5, 28.5, 31.5), inside=True),
        _Box((-10.906, -1.0, 1.846), (2.328, 7.905, 4.651), -0.195),
        _Box((-5.607, -0.754, -0.758), (1.97, 1.534, 3.955), 0.994),
        _Box((6.167, -0.16, 7.803), (3.927, 6.285, 3.687), 0.561),
        _Box((-2.017, 0.018, 6.124), (2.002, 4.566, 2.064), 0.333),
        _Box((2.291, -0.756, -2.621), (1.546, 1.552, 1.496), -0.286),
        _Box((-2.193, -0.369, -5.547), (3.875, 3.487, 2.986), 0.516),
        _Box((-14.0, 10.0, 8.0), (0.1, 2.5, 2.5), emit=_emit(80.0)),
        _Box((-14.0, 14.0, -4.0), (0.1, 2.5, 2.5), emit=_emit(80.0)),
        _Box((14.0, 12.0, 0.0), (0.1, 5.0, 5.0), emit=_emit(23.0)),
        _Box((0.0, 9.0, 14.0), (5.0, 5.0, 0.1), emit=_emit(16.0)),
        _Box((7.0, 8.0, -14.0), (2.5, 2.5, 0.1), emit=_emit(80.0)),
        _Box((-7.0, 16.0, -14.0), (2.5, 2.5, 0.1), emit=_emit(80.0)),
        _Box((0.0, 20.0, 0.0), (0.1, 0.1, 0.1), emit=_emit(1.0)),
    ),
)


# ``soft``: an overcast light box. A large ceiling softbox, four bright wall panels around the
# product at its height, light walls lifted by an ambient bounce: light from everywhere above the
# horizon, little contrast, broad soft highlights.
_SOFT = _Scene(
    offset_y=-2.0,
    target_mean=STUDIO_MEAN_RADIANCE,
    lights=(_PointLight((0.0, 9.0, 0.0), 160.0, 30.0),),
    ambient=0.35,
    boxes=(
        _Box((0.0, 5.0, 0.0), (24.0, 14.0, 24.0), inside=True, albedo=0.9),
        _Box((0.0, 11.8, 0.0), (14.0, 0.1, 14.0), emit=_emit(6.0)),
        _Box((0.0, 4.5, -11.9), (12.0, 6.0, 0.1), emit=_emit(3.0)),
        _Box((0.0, 4.5, 11.9), (12.0, 6.0, 0.1), emit=_emit(2.5)),
        _Box((-11.9, 4.5, 0.0), (0.1, 6.0, 12.0), emit=_emit(3.0)),
        _Box((11.9, 4.5, 0.0), (0.1, 6.0, 12.0), emit=_emit(3.0)),
    ),
)

# ``contrast``: one big key softbox above, left and in front of the product (towards the camera),
# a small weak strip light at the right for a rim, dark grey walls and no bounce: deep shading and
# crisp highlights.
_CONTRAST = _Scene(
    offset_y=-2.0,
    target_mean=STUDIO_MEAN_RADIANCE,
    lights=(_PointLight((0.0, 9.0, 0.0), 25.0, 30.0),),
    boxes=(
        _Box((0.0, 5.0, 0.0), (24.0, 14.0, 24.0), inside=True, albedo=0.15),
        # key: its face turned towards the origin (normal along (1, -1, -1) roughly)
        _Box((-7.5, 9.0, 7.5), (9.0, 7.0, 0.1), rot_y=-math.pi / 4, emit=_emit(60.0)),
        # fill / rim strip at the right, behind the product
        _Box((9.0, 4.0, -6.0), (0.1, 6.0, 1.5), rot_y=-0.6, emit=_emit(6.0)),
    ),
)


def _rot_y(angle: float) -> F64:
    """three.js Matrix4.makeRotationY: x' = cos x + sin z, z' = -sin x + cos z."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _raycast(scene: _Scene, d: F32) -> F32:
    """Radiance (..., 3) seen from the origin along the unit directions ``d`` (..., 3).

    Nearest hit among the boxes (slab test in each box's own frame); emitters give their radiance,
    diffuse surfaces the three.js MeshStandardMaterial (white albedo, roughness 1, metalness 0)
    response to the point lights without shadows: Lambert plus its GGX term at roughness 1.
    """
    shape = d.shape[:-1]
    dirs = d.reshape(-1, 3).astype(np.float32)
    count = dirs.shape[0]
    best_t = np.full(count, np.inf, np.float32)
    normal = np.zeros((count, 3), np.float32)
    which = np.full(count, -1, np.int32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for index, box in enumerate(scene.boxes):
            rot = _rot_y(box.rot_y)
            center = np.array(box.center) + np.array([0.0, scene.offset_y, 0.0])
            scale = np.array(box.scale)
            # Only the rays inside the cone around the box's bounding sphere can hit it: most
            # boxes cover a few percent of the sphere, so this is most of the speed.
            radius = 0.5 * float(np.linalg.norm(scale))
            distance = float(np.linalg.norm(center))
            if box.inside or distance <= radius:
                rays = np.arange(count)
            else:
                cos_cone = math.sqrt(1.0 - (radius / distance) ** 2)
                rays = np.flatnonzero(dirs @ (center / distance).astype(np.float32) >= cos_cone - 1e-4)
                if rays.size == 0:
                    continue
            # ray in the box's frame, where the box is [-0.5, 0.5]^3: o' = R^T (0 - c) / s
            origin = ((rot.T @ -center) / scale).astype(np.float32)
            local = (dirs[rays] @ rot.astype(np.float32)) / scale.astype(np.float32)  # R^T d / s
            inv = np.float32(1.0) / local
            t1 = (np.float32(-0.5) - origin) * inv
            t2 = (np.float32(0.5) - origin) * inv
            t_lo = np.minimum(t1, t2)
            t_hi = np.maximum(t1, t2)
            t_near = t_lo.max(axis=1)
            t_far = t_hi.min(axis=1)
            if box.inside:
                t = t_far
                axis = t_hi.argmin(axis=1)
                hit = np.isfinite(t) & (t > 0)
            else:
                t = t_near
                axis = t_lo.argmax(axis=1)
                hit = (t_near < t_far) & (t_near > 0)
            # the face's outward normal is -sign(d') along the axis for an entry and, for the
            # room's exit face, the inward one (facing us) is the same expression
            sign = -np.sign(local[np.arange(rays.size), axis])
            closer = hit & (t < best_t[rays])
            if not closer.any():
                continue
            sel = rays[closer]
            best_t[sel] = t[closer]
            which[sel] = index
            n_local = np.zeros((sel.size, 3), np.float32)
            n_local[np.arange(sel.size), axis[closer]] = sign[closer]
            normal[sel] = n_local @ rot.T.astype(np.float32)  # world normal = R n'
    radiance = np.zeros((count, 3), np.float32)
    missed = which < 0
    if missed.any():
        raise AssertionError("a built-in room must enclose the origin")  # geometry bug, not input
    emitters = [i for i, b in enumerate(scene.boxes) if b.emit is not None]
    for i in emitters:
        radiance[which == i] = np.array(scene.boxes[i].emit, np.float32)
    diffuse = ~np.isin(which, emitters)
    if diffuse.any():
        p = dirs[diffuse] * best_t[diffuse, None]
        n = normal[diffuse]
        albedo = np.array([b.albedo for b in scene.boxes], np.float32)[which[diffuse]]
        view = -dirs[diffuse]
        n_dot_v = np.clip(np.einsum("ij,ij->i", n, view), 0.0, 1.0)
        shade = np.full(p.shape[0], scene.ambient, np.float32) * albedo
        for light in scene.lights:
            to_light = np.array(light.position, np.float32) + np.array([0, scene.offset_y, 0], np.float32) - p
            dist = np.sqrt(np.einsum("ij,ij->i", to_light, to_light))
            l_dir = to_light / dist[:, None]
            n_dot_l = np.clip(np.einsum("ij,ij->i", n, l_dir), 0.0, 1.0)
            window = np.clip(1.0 - (dist / light.cutoff) ** 4, 0.0, 1.0) ** 2
            irradiance = light.intensity * n_dot_l / np.maximum(dist * dist, 0.01) * window
            # three.js BRDF_GGX at roughness 1 (alpha 1): D = 1/pi, V = 0.5 / (n.l + n.v),
            # Schlick F with F0 = 0.04
            half = l_dir + view
            half /= np.maximum(np.linalg.norm(half, axis=1, keepdims=True), 1e-8)
            v_dot_h = np.clip(np.einsum("ij,ij->i", view, half), 0.0, 1.0)
            fresnel = 0.04 + 0.96 * (1.0 - v_dot_h) ** 5
            specular = fresnel * 0.5 / np.maximum(n_dot_l + n_dot_v, 1e-6) / math.pi
            shade += irradiance * (albedo / math.pi + specular)
        radiance[diffuse] = shade[:, None] * np.array(scene.tint, np.float32)
    return radiance.reshape(*shape, 3)


def blur_equirect(image: F32, sigma: float) -> F32:
    """Gaussian blur of an equirect map (h, w, 3) by ``sigma`` radians of arc.

    Along theta: each pair of opposite meridians is one great circle through both poles, blurred
    as a periodic signal (FFT). Along phi: each row is a circle of radius sin(theta), so its blur
    is sigma / sin(theta) in phi (FFT, periodic). Separable, so approximate away from the axes, which
    is all a blur of 0.04 rad needs.
    """
    h, w, _ = image.shape
    img = image.astype(np.float64)
    if w % 2 == 0:
        # great circles: column j going down, then column j + w/2 coming back up
        half = w // 2
        circle = np.concatenate([img[:, :half], img[::-1, half:]], axis=0)  # (2h, w/2, 3)
        k = np.fft.rfftfreq(2 * h, d=1.0 / (2 * h))  # cycles per circle = per 2 pi
        gain = np.exp(-0.5 * (k * sigma) ** 2)[:, None, None]
        circle = np.fft.irfft(np.fft.rfft(circle, axis=0) * gain, n=2 * h, axis=0)
        img = np.concatenate([circle[:h], circle[h:][::-1]], axis=1)
    theta = (np.arange(h) + 0.5) / h * math.pi
    sigma_phi = sigma / np.maximum(np.sin(theta), 1e-3)
    k = np.fft.rfftfreq(w, d=1.0 / w)
    gain = np.exp(-0.5 * (k[None, :] * sigma_phi[:, None]) ** 2)[:, :, None]
    img = np.fft.irfft(np.fft.rfft(img, axis=1) * gain, n=w, axis=1)
    out: F32 = np.maximum(img, 0.0).astype(np.float32)
    return out


def _scene_of(name: str) -> _Scene:
    try:
        builtin = BuiltinEnvironment(name)
    except ValueError:
        known = ", ".join(BuiltinEnvironment)
        raise ValueError(f"unknown environment {name!r}; expected one of {known}") from None
    return {
        BuiltinEnvironment.STUDIO: _STUDIO,
        BuiltinEnvironment.SOFT: _SOFT,
        BuiltinEnvironment.CONTRAST: _CONTRAST,
    }[builtin]


def _render_scene(scene: _Scene) -> F32:
    """(WORKING_HEIGHT, WORKING_WIDTH, 3): the room ray-cast 2 x 2 supersampled, then blurred."""
    d = directions(2 * WORKING_WIDTH, 2 * WORKING_HEIGHT)
    fine = _raycast(scene, d)
    del d
    coarse = halve_equirect(fine)
    return blur_equirect(coarse, BLUR_SIGMA)


def generate_builtin(name: str) -> F32:
    """The built-in environment ``name`` as (WORKING_HEIGHT, WORKING_WIDTH, 3) float32 radiance."""
    scene = _scene_of(name)
    image = _render_scene(scene)
    if scene.target_mean is not None:
        image *= np.float32(scene.target_mean / float(mean_radiance(image).mean()))
    return image


# --- prefiltering ----------------------------------------------------------------------------


def _hammersley(n: int) -> tuple[F64, F64]:
    """The n-point Hammersley set: ((i + 0.5) / n, the base-2 radical inverse of i)."""
    i = np.arange(n, dtype=np.int64)
    inverse = np.zeros(n)
    bits, weight = i.copy(), 0.5
    while bits.any():
        inverse += weight * (bits & 1)
        bits >>= 1
        weight *= 0.5
    return (i + 0.5) / n, inverse


def halve_equirect(image: F32) -> F32:
    """(h/2, w/2, 3): 2 x 2 texels averaged with their solid angles as weights, so the mean
    radiance (``mean_radiance``) is kept exactly at every level (a plain box average would give
    the small polar texels the weight of the equator's)."""
    h, w = image.shape[0] // 2, image.shape[1] // 2
    weights = _solid_angles(image.shape[1], image.shape[0]).astype(np.float32)[:, :, None]  # (2h, 1, 1)
    weighted = (image * weights).reshape(h, 2, w, 2, 3).sum(axis=(1, 3))
    total = weights.reshape(h, 2, 1, 1).sum(axis=1) * 2.0  # two columns a texel
    out: F32 = (weighted / total).astype(np.float32)
    return out


def _mip_chain(image: F32) -> list[F32]:
    """``image`` and its solid-angle-weighted halvings down to MIP_MIN_WIDTH wide."""
    chain = [image]
    while chain[-1].shape[1] > MIP_MIN_WIDTH:
        chain.append(halve_equirect(chain[-1]))
    return chain


# The resolution (w, w/2) each level is filtered at, from the solid-angle mip of that width, before
# it is resampled to LEVEL_WIDTH x LEVEL_HEIGHT: the lobe of level k spans several texels there
# (level 1, alpha 0.04: about 13 texels of 512 across its half maximum).
_LEVEL_SOURCE_WIDTHS = {1: 512, 2: 256, 3: 128, 4: 64, 5: 64}


def _convolve_level(source: F32, roughness: float) -> F32:
    """GGX prefilter (split sum, N = V = R) of the (h, 2h, 3) equirect map ``source`` at
    perceptual ``roughness`` (alpha = r^2), exactly, at the same size.

    With N = V the importance-sampled estimator's limit is the integral of L(l) (n.l) D(h) over l,
    divided by the integral of (n.l) D(h); n.h^2 = (1 + n.l) / 2, so the kernel depends on n.l
    alone. Between an output row i and a source row j, n.l depends only on the longitude
    difference: each row pair is a circular convolution along phi, so the whole filter is one FFT
    along the rows and a (rows x rows) matrix product per frequency. No samples, so no noise and
    no blotches from a small bright softbox falling between samples (which importance sampling,
    even filtered, leaves at a few dozen samples), and the mean radiance is kept.
    """
    h, w = source.shape[:2]
    a2 = max(roughness * roughness, 1e-4) ** 2
    theta = (np.arange(h) + 0.5) / h * math.pi
    ct, st = np.cos(theta).astype(np.float32), np.sin(theta).astype(np.float32)
    cos_dphi = np.cos(np.arange(w) * (2.0 * math.pi / w)).astype(np.float32)
    d_omega = _solid_angles(w, h)[:, 0].astype(np.float32)
    # n.l for output row i, source row j, longitude step k: (h, h, w)
    c = (ct[:, None, None] * ct[None, :, None]) + (st[:, None, None] * st[None, :, None]) * cos_dphi
    denom = (1.0 + c) * np.float32(0.5 * (a2 - 1.0)) + np.float32(1.0)
    np.maximum(c, 0.0, out=c)
    c *= d_omega[None, :, None]
    c /= denom * denom  # the weight: (n.l) D(h) dOmega, D up to its constant factor
    del denom
    norm = c.sum(axis=(1, 2))  # (h,)
    kernel = np.fft.rfft(c, axis=2).transpose(2, 0, 1)  # (F, h_out, h_src)
    del c
    spectrum = np.fft.rfft(source.astype(np.float32), axis=1).transpose(1, 0, 2)  # (F, h_src, 3)
    out_spectrum = np.matmul(kernel, spectrum).transpose(1, 0, 2)  # (h_out, F, 3)
    out = np.fft.irfft(out_spectrum, n=w, axis=1) / norm[:, None, None]
    result: F32 = np.maximum(out, 0.0).astype(np.float32)
    return result


def prefilter(working: F32) -> F32:
    """(SPECULAR_LEVELS * LEVEL_HEIGHT, LEVEL_WIDTH, 4) float32 from a (h, w, 3) equirect map with
    w >= LEVEL_WIDTH (the working map): level 0 the map area-resampled, level k GGX at roughness
    k / (SPECULAR_LEVELS - 1)."""
    chain = _mip_chain(working)
    out = np.ones((SPECULAR_LEVELS * LEVEL_HEIGHT, LEVEL_WIDTH, 4), np.float32)
    level0 = working
    while level0.shape[1] >= 2 * LEVEL_WIDTH:
        level0 = halve_equirect(level0)
    out[:LEVEL_HEIGHT, :, :3] = _area_resize(level0, LEVEL_WIDTH, LEVEL_HEIGHT)
    full = directions(LEVEL_WIDTH, LEVEL_HEIGHT)
    by_width = {m.shape[1]: m for m in chain}
    for k in range(1, SPECULAR_LEVELS):
        level = _convolve_level(by_width[_LEVEL_SOURCE_WIDTHS[k]], k / (SPECULAR_LEVELS - 1))
        if level.shape[1] != LEVEL_WIDTH:
            level = sample_equirect(level, full, unit=True)  # bilinear, u wrapping: no seam at u = 0
        out[k * LEVEL_HEIGHT : (k + 1) * LEVEL_HEIGHT, :, :3] = level
    return out


def sh_basis(d: F32 | F64) -> F64:
    """(..., 9) the real SH basis of the Environment docstring at unit directions d (..., 3)."""
    x, y, z = d[..., 0].astype(np.float64), d[..., 1].astype(np.float64), d[..., 2].astype(np.float64)
    return np.stack(
        [
            0.282095 * np.ones_like(x),
            0.488603 * y,
            0.488603 * z,
            0.488603 * x,
            1.092548 * x * y,
            1.092548 * y * z,
            0.315392 * (3.0 * z * z - 1.0),
            1.092548 * x * z,
            0.546274 * (x * x - y * y),
        ],
        axis=-1,
    )


_SH_BAND = np.array([math.pi] + [2.0 * math.pi / 3.0] * 3 + [math.pi / 4.0] * 5)


def irradiance_sh(image: F32) -> F32:
    """(9, 3) float32: diffuse radiance for albedo 1 of the equirect map ``image`` (h, w, 3) as SH:
    projected with solid-angle weights, convolved with the clamped cosine (bands times pi, 2pi/3,
    pi/4), divided by pi. A constant environment L gives L back."""
    h, w = image.shape[:2]
    basis = sh_basis(directions(w, h)) * _solid_angles(w, h)[:, :, None]  # (h, w, 9)
    coeffs = np.einsum("hwk,hwc->kc", basis, image.astype(np.float64))
    out: F32 = (coeffs * (_SH_BAND / math.pi)[:, None]).astype(np.float32)
    return out


def eval_sh(coeffs: F32, d: F32) -> F32:
    """(..., 3) the SH of ``irradiance_sh`` evaluated at unit directions d (..., 3) (as the shader)."""
    out: F32 = (sh_basis(d) @ coeffs.astype(np.float64)).astype(np.float32)
    return out


def brdf_lut() -> F32:
    """(BRDF_LUT_SIZE, BRDF_LUT_SIZE, 4) float32, row = roughness, column = n.v at texel centres.

    R, G: Karis 2013's split-sum scale and bias (importance-sampled GGX, Smith G with k = alpha/2).
    B: directional albedo of the Charlie sheen lobe (Estevez & Kulla 2017 D, Neubelt V) at sheen
    roughness = the row's roughness (alpha = r^2), integrated over the hemisphere numerically.
    """
    size = BRDF_LUT_SIZE
    r = (np.arange(size) + 0.5) / size
    mu = (np.arange(size) + 0.5) / size
    out = np.ones((size, size, 4), np.float32)
    # split sum: view in the x-z plane, samples around the normal (z)
    e1, e2 = _hammersley(LUT_SAMPLES)
    for i, rough in enumerate(r):
        alpha = rough * rough
        a2 = alpha * alpha
        cos_t = np.sqrt((1.0 - e2) / (1.0 + (a2 - 1.0) * e2))[None, :]
        sin_t = np.sqrt(1.0 - cos_t * cos_t)
        phi = 2.0 * math.pi * e1[None, :]
        hx, hy, hz = sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t
        vx, vz = np.sqrt(1.0 - mu * mu)[:, None], mu[:, None]
        v_dot_h = vx * hx + vz * hz
        lz = 2.0 * v_dot_h * hz - vz
        ok = (lz > 0) & (v_dot_h > 0)
        n_dot_l = np.clip(lz, 1e-8, 1.0)
        k = alpha / 2.0
        g = (vz / (vz * (1 - k) + k)) * (n_dot_l / (n_dot_l * (1 - k) + k))
        g_vis = np.where(ok, g * v_dot_h / np.maximum(hz * vz, 1e-8), 0.0)
        fc = (1.0 - np.clip(v_dot_h, 0.0, 1.0)) ** 5
        out[i, :, 0] = ((1.0 - fc) * g_vis).mean(axis=1)
        out[i, :, 1] = (fc * g_vis).mean(axis=1)
        del hy
    # sheen albedo: E(mu) = integral of D_charlie(h) V_neubelt(l, v) (n.l) over l, midpoint rule
    n_t, n_p = 256, 128
    theta = (np.arange(n_t) + 0.5) / n_t * (math.pi / 2)
    phis = (np.arange(n_p) + 0.5) / n_p * (2 * math.pi)
    lx = (np.sin(theta)[:, None] * np.cos(phis)[None, :]).ravel()
    ly = (np.sin(theta)[:, None] * np.sin(phis)[None, :]).ravel()
    lz = (np.cos(theta)[:, None] * np.ones(n_p)[None, :]).ravel()
    d_omega = (np.sin(theta)[:, None] * (math.pi / 2 / n_t) * (2 * math.pi / n_p) * np.ones(n_p)).ravel()
    for j, m in enumerate(mu):
        view_x, view_z = math.sqrt(1.0 - m * m), float(m)
        hx, hy, hz = lx + view_x, ly, lz + view_z
        hn = np.sqrt(hx * hx + hy * hy + hz * hz)
        cos_h = hz / hn
        sin2_h = np.clip(1.0 - cos_h * cos_h, 0.0, 1.0)
        vis = 1.0 / (4.0 * (lz + view_z - lz * view_z))
        for i, rough in enumerate(r):
            alpha = max(rough * rough, 1e-4)
            inv = 1.0 / alpha
            dist = (2.0 + inv) * sin2_h ** (0.5 * inv) / (2.0 * math.pi)
            out[i, j, 2] = float((dist * vis * lz * d_omega).sum())
    # Neubelt's visibility is not energy-bounded: at grazing view and low sheen roughness the
    # integral passes 1. The table scales the base layer by 1 - sheen * E, so E is kept <= 1.
    np.minimum(out[..., 2], 1.0, out=out[..., 2])
    return out


# --- cache -----------------------------------------------------------------------------------


def cache_root() -> Path:
    """Where prefiltered environments are kept: ``$DXGL_ENVIRONMENT_CACHE``, else a folder in the
    system's temporary directory."""
    configured = os.environ.get("DXGL_ENVIRONMENT_CACHE")
    if configured:
        return Path(configured)
    # Per user and private: a shared temporary directory must not let another user plant a file.
    folder = Path(tempfile.gettempdir()) / f"dxgl-environments-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise RenderError(f"{folder} is not a private folder of this user: set DXGL_ENVIRONMENT_CACHE")
    return folder


def environment_key(name: str, image: Path | None = None) -> str:
    """The cache key: sha256 over the algorithm version and either the built-in's name and
    generator version or the image file's bytes (streamed)."""
    digest = hashlib.sha256()
    digest.update(f"dxgl-environment\0{ALGORITHM_VERSION}\0".encode())
    if image is None:
        _scene_of(name)
        digest.update(f"builtin\0{name}\0{GENERATOR_VERSION}".encode())
    else:
        digest.update(b"image\0")
        with open(image, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def _disk(array: F32) -> NDArray[np.float16] | F32:
    """float16 when it holds the values (halves the files), else float32 (a sun can pass 65504)."""
    if float(np.abs(array).max(initial=0.0)) < 60000.0:
        return array.astype(np.float16)
    return array


def _write_atomic(path: Path, arrays: Mapping[str, NDArray[Any]]) -> None:
    """np.savez to a temporary file beside ``path``, then os.replace: a reader never sees half a
    file, and two writers racing leave one whole file. The temporary name ends in ``.part``: the
    worker's blob cache (dxgl/storage/cache.py), whose folder may hold this one, never evicts those."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_cached(path: Path, shapes: dict[str, tuple[int, ...] | None]) -> dict[str, F32] | None:
    """The arrays of a cache file as float32, or None when it is missing, corrupt or of the wrong
    shapes (``None`` shape: any (h, 2h, 3))."""
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {name: np.asarray(data[name], dtype=np.float32) for name in shapes}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    for name, shape in shapes.items():
        arr = out[name]
        if shape is None:
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[1] != 2 * arr.shape[0]:
                return None
        elif arr.shape != shape:
            return None
        if not np.isfinite(arr).all():
            return None
    return out


_LUT_MEMO: dict[Path, F32] = {}


def load_brdf_lut(cache_dir: Path | None = None) -> F32:
    """``brdf_lut()``, computed once and then read from ``cache_dir`` (it depends on no environment)."""
    cache_dir = cache_dir or cache_root()
    if cache_dir in _LUT_MEMO:
        return _LUT_MEMO[cache_dir]
    key = hashlib.sha256(f"dxgl-brdf-lut\0{ALGORITHM_VERSION}\0{BRDF_LUT_SIZE}".encode()).hexdigest()
    path = cache_dir / f"brdf-{key[:32]}.npz"
    cached = _read_cached(path, {"lut": (BRDF_LUT_SIZE, BRDF_LUT_SIZE, 3)})
    if cached is not None:
        lut = np.ones((BRDF_LUT_SIZE, BRDF_LUT_SIZE, 4), np.float32)
        lut[..., :3] = cached["lut"]
    else:
        lut = brdf_lut()
        _write_atomic(path, {"lut": lut[..., :3].astype(np.float32)})
    _LUT_MEMO[cache_dir] = lut
    return lut


def _with_alpha(rgb: F32) -> F32:
    out = np.ones(rgb.shape[:2] + (4,), np.float32)
    out[..., :3] = rgb
    return out


def _compute(name: str, image: Path | None) -> dict[str, F32]:
    """The arrays of one environment (RGB, no alpha): specular, sh, background."""
    if image is None:
        working = generate_builtin(name)
        background = working
    else:
        background = _decode_limited(image)
        working = _area_resize(background, WORKING_WIDTH, WORKING_HEIGHT)
    specular = prefilter(working)[..., :3]
    return {"specular": specular, "sh": irradiance_sh(working), "background": background}


def _decode_background(path: str) -> F32:
    """Child side of ``_decode_limited``: the image as a (h, 2h, 3) float32 background, h even and
    at most BACKGROUND_MAX_WIDTH / 2."""
    source = read_environment_image(Path(path))
    bw = min(BACKGROUND_MAX_WIDTH, source.shape[1]) & ~1
    return _area_resize(source, bw, bw // 2)


def _decode_limited(image: Path) -> F32:
    """Decode the user's HDRI at ``image`` in a limited child (``DECODE_LIMITS``); RenderError
    with a message for the user when it cannot be read there. The child is a plain subprocess
    (``python -m dxgl.render.environment decode``): the render child that asks is itself a daemonic
    multiprocessing child, which may not start multiprocessing children of its own."""
    with tempfile.TemporaryDirectory(prefix="dxgl-hdri-") as tmp:
        out = Path(tmp) / "background.npy"
        try:
            result = subprocess.run(
                [sys.executable, "-m", "dxgl.render.environment", "decode", str(image), str(out)],
                capture_output=True,
                text=True,
                timeout=DECODE_TIMEOUT_S,
                env={**os.environ, **DECODE_LIMITS.env},
                preexec_fn=DECODE_LIMITS.apply,  # rlimits set in the child before it runs Python
            )
        except subprocess.TimeoutExpired:
            raise RenderError(f"The environment image could not be read within {DECODE_TIMEOUT_S:g} s") from None
        if result.returncode != 0 or not out.is_file():
            lines = [line for line in result.stderr.splitlines() if line.strip()]
            said = lines[-1] if result.returncode == DECODE_REFUSED and lines else "it needs more than the limits allow"
            raise RenderError(f"The environment image could not be read: {said}")
        background: F32 = np.load(out, allow_pickle=False).astype(np.float32, copy=False)
    return background


def _touch_and_bound(cache_dir: Path, keep: Path) -> None:
    """Mark ``keep`` used now and delete the least recently used other entries while the folder's
    entries exceed CACHE_MAX_BYTES (a cache: anything here may be rebuilt)."""
    try:
        os.utime(keep)
        entries = sorted((p.stat().st_mtime, p.stat().st_size, p) for p in cache_dir.glob("env-*.npz"))
    except OSError:
        return
    total = sum(size for _, size, _ in entries)
    for _, size, path in entries:
        if total <= CACHE_MAX_BYTES:
            break
        if path != keep:
            path.unlink(missing_ok=True)
            total -= size


def load_environment(name: str, image: Path | None = None, cache_dir: Path | None = None) -> Environment:
    """The built-in environment ``name`` (contract.BuiltinEnvironment), or the equirectangular
    .hdr / .exr at ``image`` when given; prefiltered once and then read from ``cache_dir``
    (default: ``cache_root()``). ValueError for an unknown name or an unreadable image."""
    cache_dir = cache_dir or cache_root()
    key = environment_key(name, image)
    path = cache_dir / f"env-{key}.npz"
    shapes: dict[str, tuple[int, ...] | None] = {
        "specular": (SPECULAR_LEVELS * LEVEL_HEIGHT, LEVEL_WIDTH, 3),
        "sh": (9, 3),
        "background": None,
    }
    arrays = _read_cached(path, shapes)
    if arrays is None:  # missing or corrupt: (re)compute and replace
        computed = _compute(name, image)
        stored = {
            "specular": _disk(computed["specular"]),
            "sh": computed["sh"].astype(np.float32),
            "background": _disk(computed["background"]),
        }
        _write_atomic(path, stored)
        # what a later hit reads back (float16-rounded): a cold and a warm render are identical
        arrays = {k: v.astype(np.float32) for k, v in stored.items()}
    _touch_and_bound(cache_dir, path)
    return Environment(
        specular=_with_alpha(arrays["specular"]),
        irradiance_sh=arrays["sh"].astype(np.float32),
        brdf_lut=load_brdf_lut(cache_dir),
        background=_with_alpha(arrays["background"]),
        key=key,
    )


# --- previews --------------------------------------------------------------------------------


def tonemap_preview(image: F32, exposure: float = 1.0) -> NDArray[np.uint8]:
    """(h, w, 3) uint8 sRGB of linear radiance: times ``exposure``, clamped to 1, sRGB-encoded."""
    x = np.clip(image * exposure, 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    out: NDArray[np.uint8] = np.round(srgb * 255.0).astype(np.uint8)
    return out


def write_previews(out_dir: Path) -> list[Path]:
    """One <name>.png (WORKING_WIDTH x WORKING_HEIGHT) a built-in environment in ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for builtin in BuiltinEnvironment:
        rgb = tonemap_preview(generate_builtin(builtin.value))
        path = out_dir / f"{builtin.value}.png"
        if not cv2.imwrite(str(path), rgb[:, :, ::-1]):
            raise OSError(f"could not write {path}")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    """``python -m dxgl.render.environment preview OUT_DIR``; ``... decode IMAGE OUT.npy`` (the
    limited decode child of ``_decode_limited``)."""
    if len(argv) == 3 and argv[0] == "decode":
        try:
            background = _decode_background(argv[1])
        except ValueError as exc:
            print(str(exc).replace(argv[1], "the file"), file=sys.stderr)
            return DECODE_REFUSED
        np.save(argv[2], background.astype(np.float32), allow_pickle=False)
        return 0
    if len(argv) != 2 or argv[0] != "preview":
        print("usage: python -m dxgl.render.environment preview OUT_DIR | decode IMAGE OUT.npy", file=sys.stderr)
        return 2
    for path in write_previews(Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
