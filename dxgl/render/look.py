"""How a render is lit: its environment, the environment's turn and the exposure (``Look``).

Plain values, shared by video jobs (``JobSpec.look``) and datasets (``DatasetSpec.look``). The
environment itself (the prefiltered maps) is built by ``dxgl.render.environment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxgl.contract import DEFAULT_ENVIRONMENT, BuiltinEnvironment


@dataclass(frozen=True)
class Look:
    """``environment`` a built-in name (``contract.BuiltinEnvironment``), or ``environment_image``
    the path of an equirectangular .hdr / .exr that replaces it; ``environment_rotation`` degrees
    about +Y (positive turns the environment counter-clockwise seen from above); ``exposure`` in EV
    (each +1 doubles the light); ``show_environment``: the environment is the background (opaque
    frames) instead of the transparent one ``bgColor`` fills."""

    environment: str = DEFAULT_ENVIRONMENT.value
    environment_image: Path | None = None
    environment_rotation: float = 0.0
    exposure: float = 0.0
    show_environment: bool = False

    def __post_init__(self) -> None:
        if self.environment_image is None and self.environment not in tuple(BuiltinEnvironment):
            raise ValueError(
                f"unknown environment {self.environment!r}; expected one of {', '.join(BuiltinEnvironment)}"
            )

    @classmethod
    def from_settings(cls, settings: dict[str, Any], *, environment_image: Path | None = None) -> Look:
        """From validated render settings. ``environment`` in the settings is a built-in name or an
        environment overlay's id; for an id the caller passes the overlay's file as
        ``environment_image``."""
        name = str(settings.get("environment", DEFAULT_ENVIRONMENT.value))
        return cls(
            # An overlay id without its file fails in __post_init__ (never a silent fallback).
            environment=name if environment_image is None else DEFAULT_ENVIRONMENT.value,
            environment_image=environment_image,
            environment_rotation=float(settings.get("environmentRotation", 0.0)),
            exposure=float(settings.get("exposure", 0.0)),
            show_environment=bool(settings.get("showEnvironment", False)),
        )
