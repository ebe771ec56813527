"""Compositing of rendered frames with the job's background, foreground layer and watermark.

The renderer gives (H, W, 4) uint8 straight RGBA frames on a transparent background. Layers, bottom
to top:

1. background: ``bg_color``, or ``bg_image`` scaled to cover the frame and cropped from ``bg_align``
   (when an image is given the colour is not used);
2. the rendered model (with its semi-transparent ground shadow);
3. the foreground layer ``fg_image``: treated like the background (scaled to cover the frame, cropped
   from ``fg_align``), because overlays are full-frame designs (frames, logos in a corner, vignettes)
   made for the output's aspect; its own alpha decides what shows through;
4. the "PREVIEW" watermark, when asked.

``over_background`` gives all four layers flattened to RGB. ``keep_alpha`` gives layers 2-4 with a
straight alpha channel (for ProRes 4444: the background is left to the editor). ``flatten`` puts the
background under a ``keep_alpha`` result; since "over" is associative it equals ``over_background``
of the original frame (within rounding).

Everything that does not depend on the frame (background, foreground, watermark, their blend) is
computed once per job. Per frame, only the bounding box of the model's non-zero alpha is blended, in
float32, in place on a copy of the precomputed result.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from dxgl.contract import DEFAULT_ALIGNMENT, MAX_IMAGE_PIXELS, Alignment
from dxgl.render.spec import DEFAULT_BG_COLOR
from dxgl.render.types import RenderError

RGBA8 = NDArray[np.uint8]  # (H, W, 4) uint8 straight RGBA
RGB8 = NDArray[np.uint8]  # (H, W, 3) uint8 RGB
WATERMARK_TEXT = "PREVIEW"
WATERMARK_OPACITY = 0.45  # visible on light and dark backgrounds, model still readable through it
_INV255 = np.float32(1.0 / 255.0)


def anchor_fractions(align: str) -> tuple[float, float]:
    """(fx, fy) in [0, 1]: where the anchor sits horizontally and vertically ("top-left" -> (0, 0))."""
    if align not in tuple(Alignment):
        raise RenderError(f"unknown alignment {align!r}; expected one of {', '.join(Alignment)}")
    vertical, _, horizontal = align.partition("-")
    if align == Alignment.CENTER:
        vertical, horizontal = "center", "center"
    fx = {"left": 0.0, "center": 0.5, "right": 1.0}[horizontal]
    fy = {"top": 0.0, "center": 0.5, "bottom": 1.0}[vertical]
    return fx, fy


def load_rgba_image(path: Path) -> Image.Image:
    """Open an image of any mode (palette, greyscale, RGB, RGBA, CMYK...) as RGBA, EXIF rotation applied.

    The pixel count is checked from the header, before decoding, so a huge image costs no memory."""
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise RenderError(
                    f"image {Path(path).name} is {width}x{height}: over the "
                    f"{MAX_IMAGE_PIXELS // 1_000_000} megapixel limit"
                )
            upright = ImageOps.exif_transpose(img)
            return upright.convert("RGBA")
    except Image.DecompressionBombError as exc:
        raise RenderError(f"image {Path(path).name} is over the pixel limit") from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise RenderError(f"could not read image {Path(path).name}: {exc}") from exc


def cover_crop(img: Image.Image, width: int, height: int, align: str) -> RGBA8:
    """Scale ``img`` (preserving aspect) to cover width x height and crop it from the ``align`` anchor.

    Returns (height, width, 4) uint8 straight RGBA. The crop box is taken in source pixels and
    resampled once (Pillow resamples RGBA premultiplied, so transparent edges do not bleed)."""
    fx, fy = anchor_fractions(align)
    src_w, src_h = img.size
    scale = max(width / src_w, height / src_h)
    box_w, box_h = width / scale, height / scale
    left, top = (src_w - box_w) * fx, (src_h - box_h) * fy
    box = (left, top, left + box_w, top + box_h)
    resized = img.resize((width, height), Image.Resampling.LANCZOS, box=box)
    return np.asarray(resized, dtype=np.uint8).copy()


def watermark_layer(width: int, height: int) -> RGBA8:
    """ "PREVIEW" along the frame's diagonal (rising left to right), ~60% of the diagonal long: white
    letters with a dark outline, so it shows on any background, at ``WATERMARK_OPACITY``. Along the
    diagonal it stays large on portrait (9:16) frames too. Returns (height, width, 4) uint8 straight RGBA.

    Drawn with Pillow's built-in scalable font (no font file)."""
    diagonal = math.hypot(width, height)
    probe_size = 100
    left, top, right, bottom = ImageFont.load_default(size=probe_size).getbbox(WATERMARK_TEXT)
    size = max(8, int(probe_size * 0.6 * diagonal / max(1, right - left)))
    font = ImageFont.load_default(size=size)
    stroke = max(1, size // 14)
    left, top, right, bottom = font.getbbox(WATERMARK_TEXT, stroke_width=stroke)
    text = Image.new("RGBA", (int(right - left) + 2, int(bottom - top) + 2), (0, 0, 0, 0))
    ImageDraw.Draw(text).text(
        (1 - left, 1 - top),
        WATERMARK_TEXT,
        font=font,
        fill=(255, 255, 255, 255),
        stroke_width=stroke,
        stroke_fill=(0, 0, 0, 255),
    )
    angle = math.degrees(math.atan2(height, width))
    text = text.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    # Centre it on the frame; crop() pads with transparent pixels where the box passes the edges.
    x0, y0 = (text.width - width) // 2, (text.height - height) // 2
    layer = text.crop((x0, y0, x0 + width, y0 + height))
    rgba = np.asarray(layer, dtype=np.uint8).copy()
    rgba[..., 3] = (rgba[..., 3].astype(np.float32) * WATERMARK_OPACITY + 0.5).astype(np.uint8)
    return rgba


def _over(top: RGBA8, bottom: RGBA8) -> RGBA8:
    """Straight RGBA ``top`` over straight RGBA ``bottom``, both (H, W, 4) uint8 -> (H, W, 4) uint8."""
    ta = top[..., 3:4].astype(np.float32) * _INV255
    ba = bottom[..., 3:4].astype(np.float32) * _INV255
    out_a = ta + ba * (1.0 - ta)
    premul = top[..., :3] * ta + bottom[..., :3] * (ba * (1.0 - ta))
    rgb = premul / np.maximum(out_a, 1e-6)
    out = np.empty(top.shape, np.uint8)
    out[..., :3] = np.clip(rgb + 0.5, 0, 255)
    out[..., 3:4] = out_a * 255.0 + 0.5
    return out


def _alpha_bbox(alpha: NDArray[np.uint8]) -> tuple[slice, slice] | None:
    """Row and column slices of the smallest box holding every non-zero pixel of (H, W) ``alpha``."""
    rows = np.flatnonzero(alpha.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(alpha[rows[0] : rows[-1] + 1].any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


class Compositor:
    """Per-job compositor; see the module docstring for the layer order and the foreground choice."""

    def __init__(
        self,
        width: int,
        height: int,
        bg_color: tuple[int, int, int] = DEFAULT_BG_COLOR,
        bg_image: Path | None = None,
        bg_align: str = DEFAULT_ALIGNMENT,
        fg_image: Path | None = None,
        fg_align: str = DEFAULT_ALIGNMENT,
        watermark: bool = False,
    ) -> None:
        self.width, self.height = width, height
        anchor_fractions(bg_align), anchor_fractions(fg_align)  # refuse a bad anchor early
        if bg_image is not None:
            bg_rgba = cover_crop(load_rgba_image(bg_image), width, height, bg_align)
            # A background image with holes shows bg_color through them: the output must be opaque.
            solid = np.empty_like(bg_rgba)
            solid[..., :3], solid[..., 3] = bg_color, 255
            bg_rgb = _over(bg_rgba, solid)[..., :3]
        else:
            bg_rgb = np.empty((height, width, 3), np.uint8)
            bg_rgb[...] = bg_color
        self._bg_rgb = bg_rgb  # (H, W, 3) uint8
        self._bg = bg_rgb.astype(np.float32)  # (H, W, 3) float32, 0..255

        overlay = None  # foreground then watermark, merged into one straight RGBA layer
        if fg_image is not None:
            overlay = cover_crop(load_rgba_image(fg_image), width, height, fg_align)
        if watermark:
            mark = watermark_layer(width, height)
            overlay = mark if overlay is None else _over(mark, overlay)
        self._overlay = overlay  # (H, W, 4) uint8 straight RGBA, or None
        if overlay is not None:
            ov_alpha = overlay[..., 3:4].astype(np.float32) * _INV255
            self._ov_premul = overlay[..., :3] * ov_alpha  # (H, W, 3) float32
            self._ov_keep = 1.0 - ov_alpha  # (H, W, 1) float32: how much of what is below shows
            base = self._ov_premul + self._bg * self._ov_keep
        else:
            base = self._bg
        self._base = (base + 0.5).astype(np.uint8)  # (H, W, 3): a frame with nothing rendered

    def _check(self, rgba: RGBA8) -> None:
        """Refuse anything but an (H, W, 4) uint8 frame of this compositor's size."""
        if rgba.shape != (self.height, self.width, 4) or rgba.dtype != np.uint8:
            raise RenderError(f"frame must be ({self.height}, {self.width}, 4) uint8, got {rgba.shape} {rgba.dtype}")

    def over_background(self, rgba: RGBA8) -> RGB8:
        """(H, W, 4) uint8 straight RGBA render -> (H, W, 3) uint8 RGB with every layer applied."""
        self._check(rgba)
        return self._flatten(rgba, with_overlay=True)

    def flatten(self, rgba: RGBA8) -> RGB8:
        """(H, W, 4) uint8 output of ``keep_alpha`` -> (H, W, 3) uint8 RGB over the background only."""
        self._check(rgba)
        return self._flatten(rgba, with_overlay=False)

    def _flatten(self, rgba: RGBA8, with_overlay: bool) -> RGB8:
        """(H, W, 4) uint8 straight RGBA over the background (and the overlay) -> (H, W, 3) uint8."""
        use_overlay = with_overlay and self._overlay is not None
        out = (self._base if use_overlay else self._bg_rgb).copy()
        box = _alpha_bbox(rgba[..., 3])
        if box is None:
            return out
        bg = self._bg[box]
        alpha = rgba[box][..., 3:4] * _INV255
        mixed = rgba[box][..., :3] - bg  # float32
        mixed *= alpha
        mixed += bg
        if use_overlay:
            mixed *= self._ov_keep[box]
            mixed += self._ov_premul[box]
        mixed += 0.5
        np.copyto(out[box], mixed, casting="unsafe")
        return out

    def keep_alpha(self, rgba: RGBA8) -> RGBA8:
        """(H, W, 4) uint8 straight RGBA render -> (H, W, 4) uint8 straight RGBA with the foreground
        and watermark over it; no background. Without those layers it is a plain copy."""
        self._check(rgba)
        if self._overlay is None:
            return rgba.copy()
        out = self._overlay.copy()
        box = _alpha_bbox(rgba[..., 3])
        if box is None:
            return out
        region = rgba[box]
        keep = self._ov_keep[box]
        weight = region[..., 3:4] * _INV255  # model alpha, float32
        weight *= keep  # how much of the model shows through the overlay
        out_alpha = weight + (1.0 - keep)
        premul = region[..., :3] * weight
        premul += self._ov_premul[box]
        premul /= np.maximum(out_alpha, 1e-6)
        premul += 0.5
        np.clip(premul, 0, 255, out=premul)
        target = out[box]
        np.copyto(target[..., :3], premul, casting="unsafe")
        np.copyto(target[..., 3:4], out_alpha * 255.0 + 0.5, casting="unsafe")
        return out
