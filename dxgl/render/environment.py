"""Image-based lighting: an environment prefiltered once, cached by content hash on disk.

STUB (the interface the renderer uses); the implementation follows.

Equirectangular convention, everywhere in dxgl (prefiltering here, sampling in shaders.py): a world
direction d (unit, +Y up; the camera looks from +Z towards -Z) maps to
    u = 0.5 + atan2(d.x, -d.z) / (2 pi)      (u = 0.5 is -Z, the backdrop behind the model)
    v = acos(d.y) / pi                       (v = 0 is straight up, the array's first row)
Arrays are top row first (row 0 = v 0); the renderer uploads them as they are, so GL's t equals v.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

SPECULAR_LEVELS = 6  # roughness of level k: k / (SPECULAR_LEVELS - 1)
LEVEL_WIDTH, LEVEL_HEIGHT = 512, 256
BRDF_LUT_SIZE = 32
BACKGROUND_MAX_WIDTH = 2048


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


def load_environment(name: str, image: Path | None = None, cache_dir: Path | None = None) -> Environment:
    """The built-in environment ``name`` (contract.BuiltinEnvironment), or the equirectangular
    .hdr / .exr at ``image`` when given; prefiltered once and then read from ``cache_dir``
    (default: ``cache_root()``)."""
    raise NotImplementedError


def cache_root() -> Path:
    """Where prefiltered environments are kept: ``$DXGL_ENVIRONMENT_CACHE``, else a folder in the
    system's temporary directory."""
    raise NotImplementedError
