"""Plain data shared across the render library: its one exception type and a job's output files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class RenderError(Exception):
    """The one exception the render library raises for wrong, empty or unreadable input and for
    render or encode failures. Its message is meant for the user (it becomes ``errorMessage``)."""


@dataclass(frozen=True)
class RenderOutputs:
    """The files one video render produced; names match the bundle members of the API."""

    video: Path  # video.mp4 (standard / 4k, H.264) or video.mov (pro, ProRes 4444 with alpha)
    web: Path  # web.mp4: lighter H.264, fast start
    thumb: Path  # thumb.mp4: quarter resolution
    poster_full: Path  # poster.png: full resolution
    poster_small: Path  # poster_small.png: 480 px on the long side
