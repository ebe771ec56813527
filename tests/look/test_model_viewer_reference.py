"""dxgl's poster against ``<model-viewer>`` 4.4's render of the same GLB (issue 15, "Reference
comparison" and "Acceptance"): at the built-in default environment, on Duck, BoxTextured and
CesiumMilkTruck, mean L* over the product within 3 of model-viewer's, mean CIEDE2000 <= 5 and the
silhouette IoU >= 0.95 after aligning the framing (definitions: tests/look/metrics.py).

model-viewer runs in headless chromium (one browser for all models), dxgl in one spawned GL child
for all models (tests/look/harness.py). ``pytest -s`` prints each model's figures; the assertion
messages carry them too. ``bench/look_compare.py`` makes the side-by-side pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from tests.assets import MODELS_DIR
from tests.look.harness import DEFAULT_ELEVATION, ModelViewer, render_dxgl
from tests.look.metrics import Comparison, compare

pytestmark = [pytest.mark.look, pytest.mark.render, pytest.mark.slow]

MODELS = {name: MODELS_DIR / f"{name}.glb" for name in ("Duck", "BoxTextured", "CesiumMilkTruck")}
MAX_DELTA_L = 3.0  # |mean L* dxgl - mean L* model-viewer|
MAX_DE2000 = 5.0  # mean CIEDE2000 over the aligned product
MIN_IOU = 0.95  # silhouette IoU after aligning the bounding boxes


@dataclass(frozen=True)
class Pair:
    dxgl: NDArray[np.uint8]
    mv: NDArray[np.uint8]
    elevation: float
    figures: Comparison


@pytest.fixture(scope="module")
def pairs(chromium_path: str) -> dict[str, Pair]:
    """Every model drawn by both renderers once, with its figures."""
    for path in MODELS.values():
        assert path.is_file(), f"{path} is missing (the shared models, DXGL_ASSETS)"
    drawn = render_dxgl(list(MODELS.values()))
    out: dict[str, Pair] = {}
    # The browser closes before any test runs: Playwright's sync API holds an event loop open in
    # this thread while it lives.
    with ModelViewer(chromium_path) as viewer:
        for (name, path), frame in zip(MODELS.items(), drawn):
            mv = viewer.render(Path(path), elevation=frame.elevation)
            out[name] = Pair(frame.rgba, mv, frame.elevation, compare(frame.rgba, mv))
        for error in viewer.errors:
            print(f"\n[look] model-viewer page: {error}")
    for name, pair in out.items():
        print(f"\n[look] {name}: {pair.figures.summary()}")
    return out


@pytest.mark.parametrize("name", list(MODELS))
def test_look_matches_model_viewer(pairs: dict[str, Pair], name: str) -> None:
    pair = pairs[name]
    f = pair.figures
    # The comparison is between like pictures: the upright camera model-viewer's orbit describes,
    # and both products really drawn on a transparent background.
    assert pair.elevation == DEFAULT_ELEVATION, f"{name}: dxgl chose elevation {pair.elevation}°"
    for who, frame in (("dxgl", pair.dxgl), ("model-viewer", pair.mv)):
        assert frame.shape == (360, 640, 4), f"{name}: {who} frame {frame.shape}"
        assert (frame[..., 3] > 128).mean() > 0.05, f"{name}: {who} drew almost nothing"
        assert (frame[..., 3] == 0).mean() > 0.3, f"{name}: {who}'s background is not transparent"
    summary = f"{name}: {f.summary()}"
    assert f.iou >= MIN_IOU, f"silhouette IoU below {MIN_IOU}: {summary}"
    assert abs(f.delta_l) <= MAX_DELTA_L, f"mean L* off by more than {MAX_DELTA_L}: {summary}"
    assert f.de2000 <= MAX_DE2000, f"mean CIEDE2000 above {MAX_DE2000}: {summary}"
