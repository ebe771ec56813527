"""KTX2 (KHR_texture_basisu): its header, read before anything runs, and transcoding to PNG.

No Linux libktx / pyktx is on PyPI, so Basis Universal's own ``basisu`` CLI (installed by
scripts/setup next to the venv's python) transcodes: ``basisu -unpack -no_ktx -format_only 6``
(BC7 RGBA) writes the level-0 RGBA image as a PNG. It runs in a fresh folder under the work folder,
with a timeout; a non-zero exit (it can crash on bad input) is the texture's fault, not a server error.
The header (base size, 2D only, the megapixel limit) is checked first, by :func:`read_ktx2_header`.
"""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from dxgl.contract import ErrorCode
from dxgl.errors import DxglError

from .limits import IngestLimits

KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"
# After the 12-byte identifier: vkFormat, typeSize, pixelWidth, pixelHeight, pixelDepth, layerCount,
# faceCount, levelCount, supercompressionScheme (uint32 little-endian).
_HEADER = struct.Struct("<9I")
SUPERCOMPRESSION = {0: "none", 1: "BasisLZ", 2: "Zstandard", 3: "ZLIB"}
INPUT_NAME = "texture.ktx2"
LEVEL0_PNG = "texture_unpacked_rgba_BC7_RGBA_0_0000.png"


class BasisuUnavailable(Exception):
    """The basisu binary is missing or cannot be started (the model is not at fault)."""


class TranscodeFailed(Exception):
    """basisu ran and failed on this texture (or gave no usable image): the texture is damaged."""


@dataclass(frozen=True)
class Ktx2Header:
    """What a KTX2 header declares."""

    vk_format: int
    type_size: int
    width: int
    height: int
    depth: int
    layers: int
    faces: int
    levels: int
    supercompression: int


def _refuse(message: str) -> DxglError:
    return DxglError(ErrorCode.INVALID_MODEL, message)


def parse_ktx2_header(data: bytes, label: str) -> Ktx2Header:
    """The header of a KTX2 file as declared (invalid_model when truncated); no limit is checked."""
    if not data.startswith(KTX2_MAGIC) or len(data) < len(KTX2_MAGIC) + _HEADER.size:
        raise _refuse(f"{label} is not a KTX2 image or its header is truncated")
    return Ktx2Header(*_HEADER.unpack_from(data, len(KTX2_MAGIC)))


def read_ktx2_header(data: bytes, label: str, limits: IngestLimits) -> Ktx2Header:
    """The header of a KTX2 file, its base level checked against ``limits.max_image_pixels``.
    Raises DxglError invalid_model for a truncated header or an image over the limit."""
    header = parse_ktx2_header(data, label)
    width, height = header.width, max(header.height, 1)
    if width * height > limits.max_image_pixels:
        raise _refuse(
            f"{label} is a KTX2 image of {header.width}x{header.height} ({width * height / 1e6:.0f} megapixels); "
            f"the limit is {limits.max_image_pixels // 1_000_000} megapixels"
        )
    return header


def check_2d(header: Ktx2Header, label: str) -> None:
    """Refuse what a material's 2D texture cannot be: 1D, 3D, array and cube-map KTX2 images, and
    images that are not Basis Universal (vkFormat must be VK_FORMAT_UNDEFINED)."""
    if header.width == 0 or header.height == 0:
        raise _refuse(f"{label} is a 1D KTX2 image; textures must be 2D")
    if header.depth > 0:
        raise _refuse(f"{label} is a 3D KTX2 image (depth {header.depth}); textures must be 2D")
    if header.faces != 1:
        raise _refuse(f"{label} is a KTX2 cube map ({header.faces} faces); textures must be 2D")
    if header.layers > 1:
        raise _refuse(f"{label} is a KTX2 array of {header.layers} layers; textures must be one 2D image")
    if header.vk_format != 0:
        raise _refuse(f"{label} is a KTX2 image in vkFormat {header.vk_format}, not Basis Universal")
    if header.supercompression not in (0, 1, 2):
        raise _refuse(f"{label} uses KTX2 supercompression scheme {header.supercompression}, which basisu cannot read")


def basisu_path() -> Path | None:
    """The basisu binary: next to the running python (the venv's, from scripts/setup), else on PATH."""
    beside = Path(sys.executable).with_name("basisu")
    if beside.is_file():
        return beside
    found = shutil.which("basisu")
    return Path(found) if found else None


def transcode_to_png(data: bytes, header: Ktx2Header, work_dir: Path, limits: IngestLimits) -> bytes:
    """The level-0 image of a checked 2D KTX2 (``header`` from read_ktx2_header, check_2d passed) as
    PNG bytes of the same size. Runs basisu in a fresh folder under ``work_dir``, removed afterwards.
    Raises BasisuUnavailable (no binary) or TranscodeFailed (the texture is damaged)."""
    binary = basisu_path()
    if binary is None:
        raise BasisuUnavailable("basisu is not installed")
    folder = Path(tempfile.mkdtemp(prefix="ktx2-", dir=work_dir))
    try:
        (folder / INPUT_NAME).write_bytes(data)
        try:
            result = subprocess.run(
                [str(binary), "-unpack", "-no_ktx", "-format_only", "6", INPUT_NAME],
                cwd=folder,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=limits.basisu_timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise TranscodeFailed(f"transcoding took longer than {limits.basisu_timeout_s:g} s") from None
        except OSError as exc:
            raise BasisuUnavailable(f"basisu could not be started ({type(exc).__name__})") from None
        if result.returncode != 0:
            how = f"signal {-result.returncode}" if result.returncode < 0 else f"exit status {result.returncode}"
            raise TranscodeFailed(f"basisu failed ({how})")
        png = folder / LEVEL0_PNG
        if not png.is_file():
            raise TranscodeFailed("basisu wrote no level-0 image")
        out = png.read_bytes()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    _check_png_size(out, header)
    return out


def _check_png_size(png: bytes, header: Ktx2Header) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(png)) as image:
            size = image.size
    except Exception:
        raise TranscodeFailed("basisu wrote an unreadable image") from None
    if size != (header.width, header.height):
        raise TranscodeFailed(f"basisu wrote a {size[0]}x{size[1]} image for a {header.width}x{header.height} texture")
