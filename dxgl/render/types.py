"""Plain data shared across the render library: its one exception type and a video job's output files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dxgl.contract import OutputFile, main_video_file


class RenderError(Exception):
    """The one exception the render library raises for wrong, empty or unreadable input and for
    render or encode failures. Its message is meant for the user (it becomes ``errorMessage``)."""


@dataclass(frozen=True)
class RenderOutputs:
    """The files one video render produced; names match the bundle members of the API
    (``dxgl.contract.OutputFile``)."""

    video: Path  # video.mp4 (standard / 4k, H.264) or video.mov (pro, ProRes 4444 with alpha)
    web: Path  # web.mp4: lighter H.264, fast start
    thumb: Path  # thumb.mp4: quarter resolution
    poster_full: Path  # poster.png: full resolution
    poster_small: Path  # poster_small.png: POSTER_SMALL_LONG_SIDE px on the long side

    @classmethod
    def in_folder(cls, out_dir: Path, quality: str) -> RenderOutputs:
        """The files a render of ``quality`` writes into ``out_dir``."""
        out_dir = Path(out_dir)
        return cls(
            video=out_dir / main_video_file(quality),
            web=out_dir / OutputFile.WEB,
            thumb=out_dir / OutputFile.THUMB,
            poster_full=out_dir / OutputFile.POSTER,
            poster_small=out_dir / OutputFile.POSTER_SMALL,
        )

    @property
    def main(self) -> Path:
        """The file whose size is the render's ``fileSize``: the main video."""
        return self.video

    def files(self) -> list[Path]:
        """Every file to publish, the main video first (``contract.video_output_files`` order)."""
        return [self.video, self.web, self.thumb, self.poster_full, self.poster_small]
