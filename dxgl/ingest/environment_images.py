"""check_environment_image: an uploaded environment overlay (.hdr / .exr) read in the sandbox.

The API process never decodes an uploaded HDR image itself: the whole file is decoded in a spawned
child under the ingest limits (``sandbox.run_limited``: address space and time), the same
containment model files get. The header alone would not do: a file may declare a size its data
does not hold (truncated, or lying), which only decoding finds. Every refusal is
``invalid_format`` with the reader's message (``dxgl.hdri``), a child stopped by a limit too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dxgl.contract import MAX_ENVIRONMENT_HEIGHT, MAX_ENVIRONMENT_WIDTH, ErrorCode
from dxgl.errors import DxglError

from .limits import DEFAULT_LIMITS, IngestLimits
from .sandbox import run_limited

# The stored image's media type and suffix by the reader's kind.
MEDIA_TYPES = {"hdr": "image/vnd.radiance", "exr": "image/x-exr"}
SUFFIXES = {"hdr": ".hdr", "exr": ".exr"}
ACCEPTED = (
    f"a Radiance .hdr or OpenEXR .exr equirectangular image of at most {MAX_ENVIRONMENT_WIDTH}x{MAX_ENVIRONMENT_HEIGHT}"
)


@dataclass(frozen=True)
class EnvironmentImageInfo:
    kind: str  # "hdr" | "exr"
    width: int
    height: int

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]

    @property
    def suffix(self) -> str:
        return SUFFIXES[self.kind]


def check_environment_image(path: Path, *, limits: IngestLimits = DEFAULT_LIMITS) -> EnvironmentImageInfo:
    """Blocking. Validate the environment image at ``path`` by decoding it whole in a sandboxed
    child; DxglError ``invalid_format`` naming what is wrong (not HDR/EXR, garbled header, larger
    than the limit, not 2:1, data truncated or inconsistent with the header, NaN values, or a
    file that needs more memory or time than the child is allowed)."""
    try:
        kind, width, height = run_limited(
            decode_in_child, (str(path),), memory_bytes=limits.child_memory_bytes, time_s=limits.child_time_s
        )
    except DxglError as err:
        if err.code == ErrorCode.INVALID_FORMAT:
            raise
        # The sandbox words a child stopped by a limit (or crashing) as a model's failure.
        raise DxglError(
            ErrorCode.INVALID_FORMAT,
            f"The environment image could not be read within the limits; it must be {ACCEPTED}",
        ) from None
    return EnvironmentImageInfo(str(kind), int(width), int(height))


def decode_in_child(path: str) -> tuple[str, int, int]:
    """The child side: (kind, width, height) of a valid image; DxglError invalid_format otherwise.
    Messages never name the temporary file (the reader's messages name only the format)."""
    from dxgl import hdri  # numpy, cv2 and OpenEXR load only in the child, under its limits

    try:
        kind, width, height = hdri.probe_environment_image(
            path, max_width=MAX_ENVIRONMENT_WIDTH, max_height=MAX_ENVIRONMENT_HEIGHT
        )
        hdri.read_environment_image(path, max_width=MAX_ENVIRONMENT_WIDTH, max_height=MAX_ENVIRONMENT_HEIGHT)
    except ValueError as err:
        message = str(err).replace(path, "the file")
        raise DxglError(ErrorCode.INVALID_FORMAT, f"The environment image is not usable: {message}") from None
    except OSError:
        raise DxglError(
            ErrorCode.INVALID_FORMAT, f"The environment image could not be read; it must be {ACCEPTED}"
        ) from None
    return kind, width, height
