"""What one dataset render makes (``DatasetSpec``) and the files it produced (``DatasetOutputs``).

Plain values: no GL, no numpy. The tiers (views, image size) and the coverages are the contract's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dxgl.contract import DATASET_DEFAULTS, DATASET_TIERS, Coverage, DatasetNormals, DatasetQuality, OutputFile
from dxgl.render.look import Look

MIN_SIZE = 16  # the smallest image side a dataset may have, pixels


@dataclass(frozen=True)
class DatasetSpec:
    """What one dataset render makes: ``views`` square images of ``size`` px over ``coverage``."""

    views: int
    size: int  # square image side, pixels
    coverage: str  # a contract.Coverage value: "hemisphere" | "sphere"
    look: Look = field(default_factory=Look)
    normals: str = DatasetNormals.GEOMETRIC.value  # a contract.DatasetNormals value

    def __post_init__(self) -> None:
        if self.normals not in tuple(DatasetNormals):
            raise ValueError(f"unknown datasetNormals {self.normals!r}; expected one of {', '.join(DatasetNormals)}")
        if self.coverage not in tuple(Coverage):
            raise ValueError(f"unknown coverage {self.coverage!r}; expected one of {', '.join(Coverage)}")
        if self.views < 1 or self.size < MIN_SIZE:
            raise ValueError(f"a dataset needs at least 1 view of at least {MIN_SIZE} px")

    @classmethod
    def from_settings(
        cls,
        settings: dict[str, Any],
        *,
        max_size: int = 0,
        max_views: int = 0,
        environment_image: Path | None = None,
    ) -> DatasetSpec:
        """From validated render settings (``datasetQuality``, ``coverage``; defaults from
        ``contract.DATASET_DEFAULTS``). ``max_size`` caps the image side and ``max_views`` the view
        count (tests, previews); 0 means no cap."""
        quality = settings.get("datasetQuality", DATASET_DEFAULTS["datasetQuality"])
        if quality not in tuple(DatasetQuality):
            raise ValueError(f"unknown datasetQuality {quality!r}; expected one of {', '.join(DatasetQuality)}")
        tier = DATASET_TIERS[DatasetQuality(quality)]
        views, size = tier.views, tier.size
        if max_size:
            size = min(size, max(MIN_SIZE, int(max_size)))
        if max_views:
            views = min(views, max(1, int(max_views)))
        return cls(
            views=views,
            size=size,
            coverage=settings.get("coverage", DATASET_DEFAULTS["coverage"]),
            look=Look.from_settings(settings, environment_image=environment_image),
            normals=str(settings.get("datasetNormals", DatasetNormals.GEOMETRIC.value)),
        )


@dataclass(frozen=True)
class DatasetOutputs:
    """The files one dataset render produced (names from ``contract.OutputFile``)."""

    archive: Path  # out_dir/dataset.zip: the whole dataset (the render's bundle download)
    poster_full: Path  # out_dir/poster.png: the first RGB view, on white
    poster_small: Path  # out_dir/poster_small.png: POSTER_SMALL_LONG_SIDE px (or the image size if smaller)

    @classmethod
    def in_folder(cls, out_dir: Path) -> DatasetOutputs:
        """The files a dataset render writes into ``out_dir``."""
        out_dir = Path(out_dir)
        return cls(
            archive=out_dir / OutputFile.DATASET_ARCHIVE,
            poster_full=out_dir / OutputFile.POSTER,
            poster_small=out_dir / OutputFile.POSTER_SMALL,
        )

    @property
    def main(self) -> Path:
        """The file whose size is the render's ``fileSize``: the dataset archive."""
        return self.archive

    def files(self) -> list[Path]:
        """Every file to publish, the archive first (``contract.DATASET_OUTPUT_FILES`` order)."""
        return [self.archive, self.poster_full, self.poster_small]
