"""Comparing two renders of one product: dxgl's poster frame against model-viewer's.

Both inputs are (H, W, 4) uint8 straight-alpha sRGB frames on a transparent background; they may
differ in size and in framing (each renderer fits the product to the picture its own way), so the
silhouette and the colour difference are measured after aligning the two products' bounding boxes.

Definitions (docs/rendering.md, "Reference comparison"):

* **product mask**: alpha > 0.5 (``MASK_ALPHA``).
* **alignment**: each frame is cropped to its mask's bounding box and the crop resized to a common
  size, the mean of the two boxes' widths and heights. Resizing uses the same filter on both
  (Pillow's antialiased bilinear) and works on premultiplied colour, so transparent pixels (whose
  colour means nothing) do not bleed into the edge; colour is un-premultiplied afterwards.
* **silhouette IoU**: intersection over union of the two aligned masks (aligned alpha > 0.5).
* **mean L\\***: CIELAB L* (D65, 2° observer, from the sRGB pixels by scikit-image) averaged over
  each frame's *own* opaque pixels (alpha > 0.9, ``OPAQUE_ALPHA``), at its native size, before any
  resampling. "How light is the product as drawn" should not depend on how well the other renderer's
  silhouette lines up; anti-aliased edges (alpha <= 0.9) are left out so the background colour a
  pixel was blended with cannot count.
* **mean CIEDE2000**: ``skimage.color.deltaE_ciede2000`` per pixel between the two aligned crops,
  averaged over the pixels opaque (aligned alpha > 0.9) in both: a per-pixel colour difference needs
  the same point of the product in both pictures, which only the aligned intersection gives.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from skimage.color import deltaE_ciede2000, rgb2lab

MASK_ALPHA = 0.5  # alpha above which a pixel belongs to the product
OPAQUE_ALPHA = 0.9  # alpha above which a pixel's colour is compared (anti-aliased edges are not)

RGBA = NDArray[np.uint8]  # (H, W, 4) straight-alpha sRGB
Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), x1/y1 exclusive


@dataclass(frozen=True)
class Comparison:
    """The figures for one model. ``l_dxgl``/``l_mv``: mean L* (0-100) over each frame's own opaque
    pixels; ``delta_l`` = l_dxgl - l_mv (negative: dxgl darker); ``de2000``: mean CIEDE2000 over the
    aligned opaque intersection; ``iou``: aligned silhouette IoU; ``bbox_*``: each product's bounding
    box (x0, y0, x1, y1) in its own frame; ``compared_px``: how many aligned pixels ``de2000``
    averages over."""

    l_dxgl: float
    l_mv: float
    delta_l: float
    de2000: float
    iou: float
    bbox_dxgl: Box
    bbox_mv: Box
    compared_px: int

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, floats rounded to what the figures mean (0.01 L*/ΔE, 0.0001 IoU)."""
        out = asdict(self)
        for key in ("l_dxgl", "l_mv", "delta_l", "de2000"):
            out[key] = round(out[key], 2)
        out["iou"] = round(out["iou"], 4)
        out["bbox_dxgl"] = list(self.bbox_dxgl)
        out["bbox_mv"] = list(self.bbox_mv)
        return out

    def summary(self) -> str:
        """One line for logs and assertion messages."""
        return (
            f"L* dxgl {self.l_dxgl:.1f} vs model-viewer {self.l_mv:.1f} (Δ {self.delta_l:+.1f}), "
            f"ΔE2000 {self.de2000:.2f}, IoU {self.iou:.3f}"
        )


def _check_rgba(frame: NDArray[np.uint8], name: str) -> None:
    if frame.ndim != 3 or frame.shape[2] != 4 or frame.dtype != np.uint8:
        raise ValueError(f"{name}: expected (H, W, 4) uint8 RGBA, got {frame.shape} {frame.dtype}")


def product_mask(frame: RGBA) -> NDArray[np.bool_]:
    """(H, W) bool: alpha > ``MASK_ALPHA``."""
    _check_rgba(frame, "frame")
    mask: NDArray[np.bool_] = frame[..., 3] > round(MASK_ALPHA * 255)
    return mask


def bounding_box(mask: NDArray[np.bool_]) -> Box:
    """(x0, y0, x1, y1) of the True pixels of an (H, W) mask; ValueError if there are none."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if len(xs) == 0:
        raise ValueError("the frame shows no product (no pixel with alpha > 0.5)")
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def aligned_crop(frame: RGBA, box: Box, size: tuple[int, int]) -> NDArray[np.float32]:
    """``frame`` cropped to ``box`` and resized to ``size`` (w, h): (h, w, 4) float32 in 0..1,
    straight alpha. Resampled premultiplied (antialiased bilinear, each channel alone), then
    un-premultiplied, so fully transparent pixels contribute nothing to their neighbours."""
    x0, y0, x1, y1 = box
    crop = frame[y0:y1, x0:x1].astype(np.float32) / 255.0
    alpha = crop[..., 3:4]
    premul = np.concatenate([crop[..., :3] * alpha, alpha], axis=2)
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(premul[..., c])).resize(size, Image.Resampling.BILINEAR))
        for c in range(4)
    ]
    out = np.clip(np.stack(channels, axis=2), 0.0, 1.0)
    a = out[..., 3:4]
    out[..., :3] = np.where(a > 1e-6, np.clip(out[..., :3] / np.maximum(a, 1e-6), 0.0, 1.0), 0.0)
    result: NDArray[np.float32] = out.astype(np.float32)
    return result


def mean_lightness(frame: RGBA) -> float:
    """Mean CIELAB L* (D65) over the frame's opaque pixels (alpha > ``OPAQUE_ALPHA``)."""
    _check_rgba(frame, "frame")
    opaque = frame[..., 3] > round(OPAQUE_ALPHA * 255)
    if not opaque.any():
        raise ValueError("the frame has no opaque product pixel (alpha > 0.9)")
    rgb = frame[..., :3][opaque].astype(np.float64)[None] / 255.0  # (1, N, 3)
    return float(rgb2lab(rgb)[..., 0].mean())


@dataclass(frozen=True)
class Aligned:
    """The two products on a common grid: ``dxgl`` and ``mv`` (h, w, 4) float32 0..1 straight
    alpha (``aligned_crop``), and each product's box in its own frame."""

    dxgl: NDArray[np.float32]
    mv: NDArray[np.float32]
    box_dxgl: Box
    box_mv: Box

    def opaque_in_both(self) -> NDArray[np.bool_]:
        """(h, w) bool: the pixels whose colour is compared (aligned alpha > 0.9 in both)."""
        both: NDArray[np.bool_] = (self.dxgl[..., 3] > OPAQUE_ALPHA) & (self.mv[..., 3] > OPAQUE_ALPHA)
        return both


def align(dxgl: RGBA, mv: RGBA) -> Aligned:
    """Crop both frames to their products' bounding boxes and resize both crops to the mean of the
    two boxes' sizes (neither crop is favoured by the resampling)."""
    _check_rgba(dxgl, "dxgl frame")
    _check_rgba(mv, "model-viewer frame")
    box_d = bounding_box(product_mask(dxgl))
    box_m = bounding_box(product_mask(mv))
    width = max(1, round(((box_d[2] - box_d[0]) + (box_m[2] - box_m[0])) / 2))
    height = max(1, round(((box_d[3] - box_d[1]) + (box_m[3] - box_m[1])) / 2))
    return Aligned(aligned_crop(dxgl, box_d, (width, height)), aligned_crop(mv, box_m, (width, height)), box_d, box_m)


def delta_e_map(aligned: Aligned) -> NDArray[np.float64]:
    """(h, w) CIEDE2000 per aligned pixel, NaN where the colour is not compared."""
    both = aligned.opaque_in_both()
    out = np.full(both.shape, np.nan)
    if both.any():
        lab_d = rgb2lab(aligned.dxgl[..., :3][both].astype(np.float64)[None])
        lab_m = rgb2lab(aligned.mv[..., :3][both].astype(np.float64)[None])
        out[both] = deltaE_ciede2000(lab_d, lab_m)[0]  # type: ignore[no-untyped-call]
    return out


def compare(dxgl: RGBA, mv: RGBA) -> Comparison:
    """All the figures for one model: ``dxgl`` and ``mv`` (model-viewer) are (H, W, 4) uint8
    straight-alpha sRGB frames with transparent backgrounds (sizes may differ)."""
    aligned = align(dxgl, mv)
    box_d, box_m = aligned.box_dxgl, aligned.box_mv
    mask_d, mask_m = aligned.dxgl[..., 3] > MASK_ALPHA, aligned.mv[..., 3] > MASK_ALPHA
    iou = float((mask_d & mask_m).sum() / max(int((mask_d | mask_m).sum()), 1))
    both = aligned.opaque_in_both()
    if not both.any():
        raise ValueError("the aligned products share no opaque pixel")
    de = float(np.nanmean(delta_e_map(aligned)))
    l_d, l_m = mean_lightness(dxgl), mean_lightness(mv)
    return Comparison(
        l_dxgl=l_d,
        l_mv=l_m,
        delta_l=l_d - l_m,
        de2000=de,
        iou=iou,
        bbox_dxgl=box_d,
        bbox_mv=box_m,
        compared_px=int(both.sum()),
    )
