"""What one video job renders: effect, size, timing and look, as a frozen value (``JobSpec``).

The output-size table lives here and only here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

# (quality, aspect) -> (width, height). 1:1 and 9:16 keep the tier's short side (CLARIFICATIONS.md).
OUTPUT_SIZES: dict[tuple[str, str], tuple[int, int]] = {
    ("standard", "16:9"): (1920, 1080),
    ("standard", "1:1"): (1080, 1080),
    ("standard", "9:16"): (1080, 1920),
    ("4k", "16:9"): (3840, 2160),
    ("4k", "1:1"): (2160, 2160),
    ("4k", "9:16"): (2160, 3840),
    ("pro", "16:9"): (3840, 2160),
    ("pro", "1:1"): (2160, 2160),
    ("pro", "9:16"): (2160, 3840),
}

FPS = 30
EFFECT_PARAM_NAMES = ("sweepAngle", "easeOutRatio", "amplitude", "zoomStart", "zoomEnd", "scaleFrom")

# Fields that only change what happens after drawing (compositing / encoding); jobs that differ only
# in these can share one pass of drawn frames (render_variants).
POST_DRAW_FIELDS = frozenset({"bg_color", "bg_image", "bg_align", "fg_image", "fg_align", "watermark"})


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def _hex_to_rgb(value: str) -> tuple[int, int, int]:
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


@dataclass(frozen=True)
class JobSpec:
    effect: str
    aspect: str
    quality: str
    width: int
    height: int
    fps: int
    length: int
    bg_color: tuple[int, int, int]
    shadows: bool
    reflector: bool
    easing: bool
    rotate_y: float
    tilt_x: float
    params: dict = field(default_factory=dict, hash=False)
    watermark: bool = False
    bg_image: Path | None = None
    bg_align: str = "top-left"
    fg_image: Path | None = None
    fg_align: str = "top-left"

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        *,
        size: tuple[int, int] | None = None,
        watermark: bool = False,
        bg_image: Path | None = None,
        fg_image: Path | None = None,
        max_size: int = 0,
        max_length: int = 0,
    ) -> JobSpec:
        """Build from validated settings (camelCase keys, defaults filled by
        ``validate_render_settings``). ``size`` overrides the tier's size; ``max_size`` caps the long
        side keeping the aspect (even numbers); ``max_length`` caps seconds; 0 means no cap."""
        quality, aspect = settings["quality"], settings["aspect"]
        if settings.get("effect") == "dataset":
            raise ValueError("dataset renders are not video jobs")
        width, height = size if size is not None else OUTPUT_SIZES[(quality, aspect)]
        if max_size and max(width, height) > max_size:
            scale = max_size / max(width, height)
            width, height = _even(width * scale), _even(height * scale)
        length = int(settings["length"])
        if max_length:
            length = min(length, max_length)
        params = {k: float(settings[k]) for k in EFFECT_PARAM_NAMES if k in settings}
        return cls(
            effect=settings["effect"],
            aspect=aspect,
            quality=quality,
            width=int(width),
            height=int(height),
            fps=FPS,
            length=length,
            bg_color=_hex_to_rgb(settings["bgColor"]),
            shadows=bool(settings["shadows"]),
            reflector=bool(settings["reflector"]),
            easing=bool(settings["easing"]),
            rotate_y=float(settings["rotateY"]),
            tilt_x=float(settings["tiltX"]),
            params=params,
            watermark=watermark,
            bg_image=bg_image,
            bg_align=settings.get("bgAlign", "top-left"),
            fg_image=fg_image,
            fg_align=settings.get("fgAlign", "top-left"),
        )

    @property
    def frame_count(self) -> int:
        return max(1, int(round(self.fps * self.length)))

    def draw_key(self) -> tuple:
        """Everything that decides the drawn frames (not post-draw compositing)."""
        return tuple(
            (f.name, tuple(sorted(getattr(self, f.name).items())) if f.name == "params" else getattr(self, f.name))
            for f in fields(self)
            if f.name not in POST_DRAW_FIELDS
        )
