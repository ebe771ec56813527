"""Soft contact shadow, baked once per model (RENDERING-NOTES.md: right for every turntable angle).

The renderer draws the model from below into a small square covering the ground around it; each
texel holds how close the lowest surface above it is to the floor (1 at contact, fading with height).
Here that image is blurred into a soft shadow; the renderer then lays it on a ground quad that turns
with the model.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

SHADOW_SIZE = 256  # bake resolution, texels per side
SHADOW_EXTENT = 2.0  # half-size of the shadowed ground square, model units (model is 2 units max)
SHADOW_FALLOFF = 0.35  # height (model units) over which a surface's shadow fades by 1/e


def _gaussian_kernel(sigma: float) -> NDArray[np.float32]:
    """(2r + 1,) float32 normalised Gaussian taps, r = 3 sigma."""
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    taps: NDArray[np.float32] = k / k.sum()
    return taps


def _blur(image: NDArray[np.float32], sigma: float) -> NDArray[np.float32]:
    """Separable Gaussian blur of (S, S) float32 ``image``, zero outside; same shape."""
    k = _gaussian_kernel(sigma)
    pad = len(k) // 2
    out = np.pad(image, pad, mode="constant")
    out = sum(k[i] * out[:, i : i + out.shape[1] - 2 * pad] for i in range(len(k)))
    blurred: NDArray[np.float32] = sum(k[i] * out[i : i + out.shape[0] - 2 * pad, :] for i in range(len(k)))
    return blurred


def blur_shadow(darkness: NDArray[np.uint8]) -> NDArray[np.float32]:
    """(S, S) uint8 darkness -> (S, S) float32 shadow opacity in [0, 1]: a tight contact core plus a
    wide soft penumbra. Edges fade to 0 so the quad's border never shows."""
    d = darkness.astype(np.float32) / 255.0
    contact = _blur(d * d, 1.5)
    soft = _blur(d, 7.0)
    shadow = np.clip(0.55 * contact + 0.6 * soft, 0.0, 1.0)
    ramp = np.minimum(np.arange(len(shadow)), np.arange(len(shadow))[::-1]).astype(np.float32)
    edge = np.clip(ramp / 8.0, 0.0, 1.0)
    opacity: NDArray[np.float32] = (shadow * edge[:, None] * edge[None, :]).astype(np.float32)
    return opacity
