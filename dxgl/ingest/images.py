"""Texture checks that read only an image's header: the pixel count is known before any decode."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import IngestLimits

# MIME types a GLB may carry; KTX2 (KHR_texture_basisu) is passed through without a Pillow check.
MIME_BY_PIL_FORMAT = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"


def image_mime(data: bytes, label: str, limits: IngestLimits) -> str:
    """Return the MIME type of an encoded image after checking its header size.

    Raises DxglError invalid_model when the image is not PNG/JPEG/WebP/KTX2, or when its header
    declares more than ``limits.max_image_pixels`` pixels. Nothing is decoded.
    """
    if data.startswith(KTX2_MAGIC):
        return "image/ktx2"
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
    return MIME_BY_PIL_FORMAT[fmt]


def check_pixels(width: int, height: int, label: str, limits: IngestLimits) -> None:
    """Refuse images whose declared size exceeds the megapixel limit."""
    if width * height > limits.max_image_pixels:
        raise DxglError(
            ErrorCode.INVALID_MODEL,
            f"{label} is {width}x{height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {limits.max_image_pixels // 1_000_000} megapixels",
        )
