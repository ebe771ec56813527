"""Soft contact shadow, baked once per model (RENDERING-NOTES.md: right for every turntable angle).

The renderer draws the model from below into a small square covering the ground around it; each
texel holds how close the lowest surface above it is to the floor (1 at contact, fading with height).
Here that image is blurred into a soft shadow; the renderer then lays it on a ground quad that turns
with the model.
"""

from __future__ import annotations

import numpy as np

SHADOW_SIZE = 256  # bake resolution, texels per side
SHADOW_EXTENT = 2.0  # half-size of the shadowed ground square, model units (model is 2 units max)
SHADOW_FALLOFF = 0.35  # height (model units) over which a surface's shadow fades by 1/e


def _gaussian_kernel(sigma: float) -> np.ndarray:
    radius = max(1, int(3 * sigma))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    k = _gaussian_kernel(sigma)
    pad = len(k) // 2
    out = np.pad(image, pad, mode="constant")
    out = sum(k[i] * out[:, i : i + out.shape[1] - 2 * pad] for i in range(len(k)))
    out = sum(k[i] * out[i : i + out.shape[0] - 2 * pad, :] for i in range(len(k)))
    return out


def blur_shadow(darkness: np.ndarray) -> np.ndarray:
    """(S, S) uint8 darkness -> (S, S) float32 shadow opacity in [0, 1]: a tight contact core plus a
    wide soft penumbra. Edges fade to 0 so the quad's border never shows."""
    d = darkness.astype(np.float32) / 255.0
    contact = _blur(d * d, 1.5)
    soft = _blur(d, 7.0)
    shadow = np.clip(0.55 * contact + 0.6 * soft, 0.0, 1.0)
    ramp = np.minimum(np.arange(len(shadow)), np.arange(len(shadow))[::-1]).astype(np.float32)
    edge = np.clip(ramp / 8.0, 0.0, 1.0)
    return (shadow * edge[:, None] * edge[None, :]).astype(np.float32)
