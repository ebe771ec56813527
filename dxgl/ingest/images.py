"""Texture checks that read only an image's header: the pixel count is known before any decode.

Two limits, both from headers alone: one image may not declare more than ``max_image_pixels``, and
the images of one model together may not need more than ``texture_budget_mpx`` megapixels once
decoded, mip levels included (:class:`TextureBudget`).
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

from PIL import Image

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .ktx2 import KTX2_MAGIC, parse_ktx2_header
from .limits import IngestLimits

# MIME types a GLB may carry; KTX2 (KHR_texture_basisu) is checked from its own header (ktx2.py),
# without Pillow, and transcoded to PNG by normalise.py.
MIME_BY_PIL_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}


@dataclass(frozen=True)
class ImageHeader:
    """What an image's header declares: its MIME type and its base level's size."""

    mime: str
    width: int
    height: int
    layers: int = 1  # KTX2 array layers times cube faces; 1 for PNG, JPEG, WebP


def read_image_header(data: bytes, label: str, limits: IngestLimits) -> ImageHeader:
    """The MIME type and size of an encoded image, after checking its header size.

    Raises DxglError invalid_model when the image is not PNG/JPEG/WebP/KTX2, or when its header
    declares more than ``limits.max_image_pixels`` pixels. Nothing is decoded.
    """
    if data.startswith(KTX2_MAGIC):
        return _ktx2_header(data, label)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as img:  # parses the header only
                width, height = img.size
                fmt = img.format
    except Image.DecompressionBombError:
        raise DxglError(
            ErrorCode.INVALID_MODEL, f"{label} is larger than {limits.max_image_pixels // 1_000_000} megapixels"
        ) from None
    except Exception:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{label} is not a readable PNG, JPEG or WebP image") from None
    if fmt not in MIME_BY_PIL_FORMAT:
        raise DxglError(ErrorCode.INVALID_MODEL, f"{label} is a {fmt} image; textures must be PNG, JPEG or WebP")
    check_pixels(width, height, label, limits)
    return ImageHeader(MIME_BY_PIL_FORMAT[fmt], width, height)


def _ktx2_header(data: bytes, label: str) -> ImageHeader:
    # Counted in the texture budget here; the per-image megapixel limit is checked when the KTX2 is
    # transcoded (normalise), after the budget, so an oversized KTX2 is refused by whichever comes first.
    header = parse_ktx2_header(data, label)
    return ImageHeader("image/ktx2", header.width, max(header.height, 1), max(header.layers, 1) * max(header.faces, 1))


def image_mime(data: bytes, label: str, limits: IngestLimits) -> str:
    """The MIME type of an encoded image after its header size check (see read_image_header)."""
    return read_image_header(data, label, limits).mime


def check_pixels(width: int, height: int, label: str, limits: IngestLimits) -> None:
    """Refuse images whose declared size exceeds the megapixel limit."""
    if width * height > limits.max_image_pixels:
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"{label} is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {limits.max_image_pixels // 1_000_000} megapixels",
        )


def mip_chain_texels(width: int, height: int) -> int:
    """Texels of a full mip chain from width x height down to 1x1 (about 4/3 of the base level)."""
    total = 0
    while True:
        total += width * height
        if width == 1 and height == 1:
            return total
        width, height = max(width // 2, 1), max(height // 2, 1)


@dataclass
class TextureBudget:
    """The decoded-texture budget of one model: texels over every image, full mip chains included.

    ``add`` each distinct image once (every entry of a glTF ``images`` array; every texture file of an
    OBJ scan), then ``check``. Read from headers only; raises DxglError invalid_model over the budget.
    """

    limits: IngestLimits
    texels: int = 0
    images: int = 0

    def add(self, header: ImageHeader) -> None:
        self.texels += mip_chain_texels(max(header.width, 1), max(header.height, 1)) * header.layers
        self.images += 1

    def check(self) -> None:
        budget = self.limits.texture_budget_mpx
        if self.texels <= budget * 1_000_000:
            return
        need = math.ceil(self.texels / 1_000_000)
        plural = "image" if self.images == 1 else "images"
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"the model's textures need {need} megapixels decoded ({self.images} {plural}, mip levels "
            f"included); the texture budget is {budget:g} megapixels per model: use fewer or smaller textures",
        )
