"""Dataset export for NeRF / Gaussian splatting: the public entry point (docs/dataset.md).

``render_dataset`` runs the GL work in a spawned child (like ``render_job``): this module imports
no vispy and creates no context. The child (``dataset_worker``) renders every view once, RGB plus a
geometry pass (depth, normals, mask), and streams the ZIP to disk as it goes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dxgl.render.engine import run_in_child

# datasetQuality -> (views, square image side in pixels)
DATASET_TIERS: dict[str, tuple[int, int]] = {"100x800": (100, 800), "196x1024": (196, 1024), "400x2048": (400, 2048)}
COVERAGES = ("hemisphere", "sphere")
MIN_SIZE = 16


@dataclass(frozen=True)
class DatasetSpec:
    views: int
    size: int  # square image side, pixels
    coverage: str  # "hemisphere" | "sphere"

    def __post_init__(self) -> None:
        if self.coverage not in COVERAGES:
            raise ValueError(f"unknown coverage {self.coverage!r}; expected one of {', '.join(COVERAGES)}")
        if self.views < 1 or self.size < MIN_SIZE:
            raise ValueError(f"a dataset needs at least 1 view of at least {MIN_SIZE} px")

    @classmethod
    def from_settings(cls, settings: dict[str, Any], *, max_size: int = 0, max_views: int = 0) -> DatasetSpec:
        """From validated render settings (``datasetQuality``, ``coverage``; defaults 100x800 and
        hemisphere). ``max_size`` caps the image side and ``max_views`` the view count (tests,
        previews); 0 means no cap."""
        quality = settings.get("datasetQuality", "100x800")
        if quality not in DATASET_TIERS:
            raise ValueError(f"unknown datasetQuality {quality!r}; expected one of {', '.join(DATASET_TIERS)}")
        views, size = DATASET_TIERS[quality]
        if max_size:
            size = min(size, max(MIN_SIZE, int(max_size)))
        if max_views:
            views = min(views, max(1, int(max_views)))
        return cls(views=views, size=size, coverage=settings.get("coverage", "hemisphere"))


@dataclass(frozen=True)
class DatasetOutputs:
    archive: Path  # out_dir/dataset.zip: the whole dataset (the render's bundle download)
    poster_full: Path  # out_dir/poster.png: the first RGB view, on white
    poster_small: Path  # out_dir/poster_small.png: 480 px on the long side (or the image size if smaller)


def render_dataset(
    model_path: Path,
    spec: DatasetSpec,
    out_dir: Path,
    *,
    on_event: Callable[[str, dict], None] | None = None,
    timeout_s: float | None = None,
) -> DatasetOutputs:
    """Render the dataset of ``model_path`` into ``out_dir`` (dataset.zip, poster.png, poster_small.png).

    Events to ``on_event`` on the caller's thread: ("started", {}), ("poster", {"path": ...}) once
    poster.png and poster_small.png exist (after the first view), ("frames", {"done": i, "total": n})
    now and then, ("encoding", {}) while the archive is finished. A wrong or unreadable model, a
    failure, or running past ``timeout_s`` (the child is killed) raise RenderError."""
    from dxgl.render.dataset_worker import dataset_child_main  # plain module: no vispy at import

    forward = None
    if on_event is not None:

        def forward(name: str, payload: dict) -> None:
            on_event(name, {k: v for k, v in payload.items() if k != "job"})

    return run_in_child(dataset_child_main, Path(model_path), (spec, str(out_dir)), forward, timeout_s)
