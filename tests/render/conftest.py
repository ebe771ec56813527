from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dxgl.render.spec import JobSpec
from dxgl.services.render_settings import validate_render_settings
from tests.assets import MODELS_DIR as SHARED_MODELS

MODELS_DIR = SHARED_MODELS
MODELS = {
    "Duck": MODELS_DIR / "Duck.glb",
    "BoxTextured": MODELS_DIR / "BoxTextured.glb",
    "CesiumMilkTruck": MODELS_DIR / "CesiumMilkTruck.glb",
    "AlphaBlendModeTest": MODELS_DIR / "AlphaBlendModeTest.glb",
    "monkey": MODELS_DIR / "monkey.glb",
    "DamagedHelmet": MODELS_DIR / "DamagedHelmet-gltf" / "DamagedHelmet.gltf",
}
EFFECTS = ("turntable", "hero-spin", "showcase", "zoom-orbit", "reveal")


def small_spec(
    settings: dict | None = None, *, size: tuple[int, int] = (160, 90), fps: int = 3, length: int = 3, **changes
) -> JobSpec:
    """A test-sized job: tiny frames and few of them (fps * length)."""
    spec = JobSpec.from_settings(validate_render_settings(settings or {}), size=size)
    return replace(spec, fps=fps, length=length, **changes)


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"
