"""What one video job renders: effect, size, timing and look, as a frozen value (``JobSpec``).

Sizes, the frame rate, the effects' parameters and their defaults are the contract's
(``dxgl.contract``); this module only turns validated settings into a spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from dxgl.contract import (
    BASE_DEFAULTS,
    DEFAULT_ALIGNMENT,
    EFFECT_PARAM_NAMES,
    FPS,
    Effect,
    effect_defaults,
    output_size,
)
from dxgl.render.look import Look

# Fields that only change what happens after drawing (compositing / encoding); jobs that differ only
# in these can share one pass of drawn frames (render_variants).
POST_DRAW_FIELDS = frozenset({"bg_color", "bg_image", "bg_align", "fg_image", "fg_align", "watermark"})

DrawKey = tuple[tuple[str, Any], ...]


def _even(value: float) -> int:
    return max(2, int(round(value / 2.0)) * 2)


def hex_to_rgb(value: str) -> tuple[int, int, int]:
    """``"#rrggbb"`` -> (r, g, b), each 0..255."""
    value = value.lstrip("#")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


DEFAULT_BG_COLOR = hex_to_rgb(str(BASE_DEFAULTS["bgColor"]))


@dataclass(frozen=True)
class JobSpec:
    """One video job: what is drawn (effect, size, timing, camera, look) and what is composited
    over and under it (post-draw fields). Build it with ``from_settings``."""

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
    # Every parameter of ``effect`` (contract.EFFECT_PARAMS), camelCase name -> value.
    params: dict[str, float] = field(default_factory=dict, hash=False)
    watermark: bool = False
    bg_image: Path | None = None
    bg_align: str = DEFAULT_ALIGNMENT
    fg_image: Path | None = None
    fg_align: str = DEFAULT_ALIGNMENT
    look: Look = field(default_factory=Look)
    # Camera height angle in degrees; None: chosen from the model's shape (contract.auto_elevation).
    elevation: float | None = None

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        *,
        size: tuple[int, int] | None = None,
        watermark: bool = False,
        bg_image: Path | None = None,
        fg_image: Path | None = None,
        environment_image: Path | None = None,
        max_size: int = 0,
        max_length: int = 0,
    ) -> JobSpec:
        """Build from validated settings (camelCase keys, defaults filled by
        ``validate_render_settings``). ``environment_image``: the file of the environment overlay the
        settings' ``environment`` names, if it names one. ``size`` overrides the tier's size; ``max_size`` caps the long
        side keeping the aspect (even numbers); ``max_length`` caps seconds; 0 means no cap. Every
        parameter of the effect the settings lack gets the contract's default."""
        quality, aspect = settings["quality"], settings["aspect"]
        if settings.get("effect") == Effect.DATASET:
            raise ValueError("dataset renders are not video jobs")
        width, height = size if size is not None else output_size(quality, aspect)
        if max_size and max(width, height) > max_size:
            scale = max_size / max(width, height)
            width, height = _even(width * scale), _even(height * scale)
        length = int(settings["length"])
        if max_length:
            length = min(length, max_length)
        params = effect_defaults(settings["effect"])
        params.update({k: float(settings[k]) for k in EFFECT_PARAM_NAMES if k in settings})
        return cls(
            effect=settings["effect"],
            aspect=aspect,
            quality=quality,
            width=int(width),
            height=int(height),
            fps=FPS,
            length=length,
            bg_color=hex_to_rgb(settings["bgColor"]),
            shadows=bool(settings["shadows"]),
            reflector=bool(settings["reflector"]),
            easing=bool(settings["easing"]),
            rotate_y=float(settings["rotateY"]),
            tilt_x=float(settings["tiltX"]),
            params=params,
            watermark=watermark,
            bg_image=bg_image,
            bg_align=settings.get("bgAlign", DEFAULT_ALIGNMENT),
            fg_image=fg_image,
            fg_align=settings.get("fgAlign", DEFAULT_ALIGNMENT),
            look=Look.from_settings(settings, environment_image=environment_image),
            elevation=None if settings.get("elevation") is None else float(settings["elevation"]),
        )

    @property
    def frame_count(self) -> int:
        """fps x length seconds, at least 1."""
        return max(1, int(round(self.fps * self.length)))

    def draw_key(self) -> DrawKey:
        """Everything that decides the drawn frames (not post-draw compositing)."""
        return tuple(
            (f.name, tuple(sorted(getattr(self, f.name).items())) if f.name == "params" else getattr(self, f.name))
            for f in fields(self)
            if f.name not in POST_DRAW_FIELDS
        )
