"""Reading untrusted equirectangular environment images: Radiance .hdr (RGBE) and OpenEXR.

Used twice: by the ingest sandbox to validate an uploaded environment overlay, and by the render
child to load a stored one. Both trust nothing in the file, so the header is parsed here first
(kind, size, the limits, the 2:1 shape) and only then are the pixels decoded; a file whose data
disagrees with its header is refused.

Imports only the standard library, numpy, cv2 and OpenEXR (no dxgl packages), so either side may
use it.

Decisions: NaN or infinite values are refused (they would poison every prefiltered texel);
negative values, which resampling filters leave behind as small ringing, are clamped to 0; values
above ``MAX_RADIANCE`` are refused (no real HDRI holds them and they would overflow float32 sums);
the image must be equirectangular, width = 2 x height within 1 %.
"""

from __future__ import annotations

import math
import os
import re
import struct
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

MAX_WIDTH = 8192
MAX_HEIGHT = 4096
MAX_RADIANCE = 1.0e8
ASPECT_TOLERANCE = 0.01  # width / height within 1 % of 2

_HDR_MAGICS = (b"#?RADIANCE", b"#?RGBE")
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_HDR_HEADER_MAX = 65536  # a header longer than this is not a header
_EXR_HEADER_MAX = 1 << 20
_HDR_RESOLUTION = re.compile(rb"^([-+])([XY]) (\d{1,9}) ([-+])([XY]) (\d{1,9})$")

# EXR version-field flags (OpenEXR file layout): tiled single part, long names, deep data, multipart.
_EXR_TILED = 0x200
_EXR_NON_IMAGE = 0x800
_EXR_MULTIPART = 0x1000


class ImageTooLarge(ValueError):
    """The image's declared size is above the limits: a ValueError like every other refusal here
    (dxgl's overlays answer ``invalid_format`` for too many pixels, as for background images; the
    class lets a caller tell the two apart)."""


def _check_size(kind: str, width: int, height: int, max_width: int, max_height: int) -> None:
    """Refuses zero sizes, sizes above the limits and shapes that are not 2:1."""
    if width <= 0 or height <= 0:
        raise ValueError(f"the .{kind} file declares an empty image ({width}x{height})")
    if width > max_width or height > max_height:
        raise ImageTooLarge(f"the .{kind} image is {width}x{height}, larger than the {max_width}x{max_height} allowed")
    if abs(width / height - 2.0) > 2.0 * ASPECT_TOLERANCE:
        raise ValueError(
            f"the .{kind} image is {width}x{height}: an equirectangular environment must be twice as "
            "wide as it is high (2:1)"
        )


def _hdr_header(data: bytes) -> tuple[int, int, int]:
    """(width, height, offset of the pixel data) from the start of a Radiance file; ValueError if
    the header is missing, garbled, not RGBE, or in an orientation other than ``-Y H +X W``."""
    end = data.find(b"\n\n")
    if end < 0:
        raise ValueError("the .hdr header has no end (no blank line before the resolution line)")
    lines = data[:end].split(b"\n")
    fmt = None
    for line in lines[1:]:
        if line.startswith(b"FORMAT="):
            fmt = line[len(b"FORMAT=") :].strip()
    if fmt is not None and fmt != b"32-bit_rle_rgbe":
        shown = fmt[:40].decode("ascii", "replace")
        raise ValueError(f"the .hdr pixel format {shown!r} is not supported (only 32-bit_rle_rgbe)")
    res_end = data.find(b"\n", end + 2)
    if res_end < 0:
        raise ValueError("the .hdr file has no resolution line")
    res_line = data[end + 2 : res_end].strip()
    match = _HDR_RESOLUTION.match(res_line)
    if match is None:
        raise ValueError("the .hdr resolution line is garbled (expected '-Y <height> +X <width>')")
    sign1, axis1, n1, sign2, axis2, n2 = match.groups()
    if (sign1, axis1, sign2, axis2) != (b"-", b"Y", b"+", b"X"):
        shown = res_line.decode("ascii", "replace")
        raise ValueError(f"the .hdr orientation {shown!r} is not supported: only the standard '-Y <height> +X <width>'")
    return int(n2), int(n1), res_end + 1


EXR_MAX_CHANNELS = 8  # RGB(A) and a few more; a multi-layer render pass file is refused


def _exr_channel_count(chlist: bytes) -> int:
    """Entries of an OpenEXR ``chlist`` value: name, NUL, then 16 bytes each, up to an empty name."""
    count, pos = 0, 0
    while pos < len(chlist) and chlist[pos] != 0:
        end = chlist.find(b"\0", pos)
        if end < 0:
            raise ValueError("the OpenEXR channel list is garbled")
        count, pos = count + 1, end + 1 + 16
    return count


def _exr_header(path: Path) -> tuple[int, int]:
    """(width, height) of an OpenEXR file's data window, parsed from the header bytes."""
    with open(path, "rb") as f:
        head = f.read(_EXR_HEADER_MAX)
    if len(head) < 8 or head[:4] != _EXR_MAGIC:
        raise ValueError("not an OpenEXR file")
    (version,) = struct.unpack_from("<I", head, 4)
    if version & 0xFF != 2:
        raise ValueError(f"OpenEXR file format version {version & 0xFF} is not supported")
    if version & _EXR_NON_IMAGE:
        raise ValueError("deep OpenEXR images are not supported (a flat RGB image is needed)")
    if version & _EXR_MULTIPART:
        raise ValueError("multi-part OpenEXR files are not supported (a single-part RGB image is needed)")
    pos = 8
    window: tuple[int, int, int, int] | None = None
    while True:
        name_end = head.find(b"\0", pos)
        if name_end < 0:
            raise ValueError("the OpenEXR header is truncated or garbled")
        if name_end == pos:  # the empty name ends the header
            break
        type_end = head.find(b"\0", name_end + 1)
        if type_end < 0 or type_end + 5 > len(head):
            raise ValueError("the OpenEXR header is truncated or garbled")
        name = head[pos:name_end]
        (size,) = struct.unpack_from("<i", head, type_end + 1)
        value_at = type_end + 5
        if size < 0 or value_at + size > len(head):
            raise ValueError("the OpenEXR header is truncated or garbled")
        if name == b"dataWindow":
            if head[name_end + 1 : type_end] != b"box2i" or size != 16:
                raise ValueError("the OpenEXR dataWindow attribute is garbled")
            window = struct.unpack_from("<4i", head, value_at)
        elif name == b"channels" and _exr_channel_count(head[value_at : value_at + size]) > EXR_MAX_CHANNELS:
            # Every channel is decoded: a file of many extra layers would cost their memory and time.
            raise ValueError(f"the OpenEXR image has more than {EXR_MAX_CHANNELS} channels (R, G, B are needed)")
        pos = value_at + size
    if window is None:
        raise ValueError("the OpenEXR header has no dataWindow")
    x_min, y_min, x_max, y_max = window
    return x_max - x_min + 1, y_max - y_min + 1


def probe_environment_image(
    path: Path | str, *, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT
) -> tuple[str, int, int]:
    """("hdr" | "exr", width, height) of the environment image at ``path``, from its header only
    (no pixels are decoded). ValueError, with a message for the user, when the content is neither
    a Radiance .hdr nor an OpenEXR file, the header is garbled, the size is 0 or above the limits,
    the image is not 2:1, or (.hdr) the file is too short or too long for its declared size."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(_HDR_HEADER_MAX)
    if head[:4] == _EXR_MAGIC:
        width, height = _exr_header(path)
        _check_size("exr", width, height, max_width, max_height)
        return "exr", width, height
    if not any(head.startswith(m) for m in _HDR_MAGICS):
        raise ValueError("not a Radiance .hdr or OpenEXR .exr image (unrecognised file content)")
    width, height, offset = _hdr_header(head)
    _check_size("hdr", width, height, max_width, max_height)
    data_size = os.path.getsize(path) - offset
    first = head[offset : offset + 4]
    rle = 8 <= width <= 0x7FFF and len(first) == 4 and first[0] == 2 and first[1] == 2 and not first[2] & 0x80
    if not rle:
        # Flat (uncompressed) RGBE: exactly four bytes a pixel.
        if data_size != width * height * 4:
            raise ValueError(
                f"the .hdr file declares {width}x{height} pixels but holds {data_size} bytes of "
                f"uncompressed data (needs {width * height * 4}): it is truncated or corrupt"
            )
    else:
        # Run-length encoded: each scanline is a 4-byte marker and four channels, each at least
        # ceil(width / 128) two-byte packets (a literal packet holds at most 128 bytes): a cheap
        # bound that refuses a small file claiming a huge image before anything is decoded.
        least = height * (4 + 4 * 2 * math.ceil(width / 128))
        if data_size < least:
            raise ValueError(
                f"the .hdr file declares {width}x{height} pixels but holds only {data_size} bytes "
                "of data: it is truncated or corrupt"
            )
    return "hdr", width, height


def _finish(rgb: NDArray[np.float32], kind: str) -> NDArray[np.float32]:
    """Refuses non-finite or absurd values, clamps negative ones to 0 (in place)."""
    if not np.isfinite(rgb).all():
        raise ValueError(f"the .{kind} image holds NaN or infinite values")
    if float(rgb.max(initial=0.0)) > MAX_RADIANCE:
        raise ValueError(f"the .{kind} image holds values above {MAX_RADIANCE:g}: not a plausible radiance")
    np.maximum(rgb, 0.0, out=rgb)
    return rgb


def _read_hdr(path: Path, width: int, height: int) -> NDArray[np.float32]:
    import cv2  # a heavy import only the decoding needs

    # cv2's RGBE reader (Radiance's rgbe.c) fails on every short read and on a wrong scanline
    # marker, and imread then returns None rather than a partial image: truncation is refused.
    bgr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if bgr is None:
        raise ValueError("the .hdr pixel data could not be decoded: the file is truncated or corrupt")
    if bgr.shape != (height, width, 3):
        raise ValueError(
            f"the .hdr header declares {width}x{height} but the data decodes to "
            f"{bgr.shape[1]}x{bgr.shape[0]}: the file is corrupt"
        )
    cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB, dst=bgr)  # in place: no second 400 MB copy at 8192x4096
    rgb: NDArray[np.float32] = np.asarray(bgr, dtype=np.float32)
    return rgb


def _read_exr(path: Path, width: int, height: int) -> NDArray[np.float32]:
    import OpenEXR

    try:
        with OpenEXR.File(str(path), separate_channels=True) as f:
            channels = f.channels()
            names = set(channels)
            if not {"R", "G", "B"} <= names:
                shown = ", ".join(sorted(names)[:8]) or "none"
                raise ValueError(f"the OpenEXR image needs R, G and B channels (it has: {shown})")
            planes = [channels[c].pixels for c in ("R", "G", "B")]
    except ValueError:
        raise
    except Exception as exc:  # the binding raises RuntimeError (and others) on corrupt data
        raise ValueError(f"the OpenEXR pixel data could not be decoded: {exc}") from exc
    for plane in planes:
        if plane is None or plane.ndim != 2:
            raise ValueError("the OpenEXR pixel data could not be decoded (subsampled or missing channel)")
        if plane.shape != (height, width):
            raise ValueError(
                f"the OpenEXR header declares {width}x{height} but a channel decodes to "
                f"{plane.shape[1]}x{plane.shape[0]}: the file is corrupt"
            )
        if plane.dtype not in (np.float16, np.float32):
            raise ValueError(f"OpenEXR channels of type {plane.dtype} are not supported (half or float)")
    rgb = np.empty((height, width, 3), np.float32)
    for i, plane in enumerate(planes):
        rgb[:, :, i] = plane
    return rgb


def read_environment_image(
    path: Path | str, *, max_width: int = MAX_WIDTH, max_height: int = MAX_HEIGHT
) -> NDArray[np.float32]:
    """The environment image at ``path`` as (H, W, 3) float32 linear RGB, top row first.

    Probes the header first (``probe_environment_image``: kind, limits, 2:1) so an oversized file
    is refused before any pixel is decoded; then decodes and checks the data matches the header.
    ValueError with a user-readable message for anything wrong.
    """
    path = Path(path)
    kind, width, height = probe_environment_image(path, max_width=max_width, max_height=max_height)
    rgb = _read_hdr(path, width, height) if kind == "hdr" else _read_exr(path, width, height)
    return _finish(rgb, kind)
