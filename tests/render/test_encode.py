"""JobEncoder with the real ffmpeg: every output's format, colour, alpha, sizes, posters and failures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import psutil
import pytest
from PIL import Image

from dxgl.render.composite import Compositor
from dxgl.render.encode import (
    EncodePlan,
    JobEncoder,
    poster_small_size,
    thumb_size,
    web_size,
)
from dxgl.render.types import RenderError
from tests.render.ffprobe import decode_frames, probe, top_level_atoms

pytestmark = pytest.mark.render

W, H, N = 160, 96, 12
DISC = (0, 200, 60)  # saturated green: read back with the wrong matrix it is off by ~30 levels
BG = (255, 136, 0)
OUTPUT_NAMES = ("video.mp4", "video.mov", "web.mp4", "thumb.mp4", "poster.png", "poster_small.png")


def disc_centre(i: int) -> tuple[int, int]:
    """(row, col) of the disc in frame i: it moves right by 6 px a frame."""
    return H // 2, 30 + 6 * i


def disc_frame(i: int) -> np.ndarray:
    """(H, W, 4) uint8: an opaque disc (radius 16) on a transparent background."""
    yy, xx = np.mgrid[0:H, 0:W]
    cy, cx = disc_centre(i)
    frame = np.zeros((H, W, 4), np.uint8)
    frame[(yy - cy) ** 2 + (xx - cx) ** 2 < 16**2] = (*DISC, 255)
    return frame


def encode(tmp_path: Path, **plan_args: object) -> tuple[dict[str, Path], list[int]]:
    """Runs a whole job; returns its files and, for each on_poster call, how many frames were written."""
    plan = EncodePlan(out_dir=tmp_path / "out", width=W, height=H, frame_count=N, **plan_args)  # type: ignore[arg-type]
    written: list[int] = []
    poster_calls: list[int] = []

    def on_poster() -> None:
        assert (plan.out_dir / "poster.png").is_file() and (plan.out_dir / "poster_small.png").is_file()
        poster_calls.append(len(written))

    with JobEncoder(plan, on_poster=on_poster) as encoder:
        for i in range(N):
            encoder.write(disc_frame(i))
            written.append(i)
        outputs = encoder.close()
    files = {
        "video": outputs.video,
        "web": outputs.web,
        "thumb": outputs.thumb,
        "poster": outputs.poster_full,
        "poster_small": outputs.poster_small,
    }
    return files, poster_calls


def assert_bt709_h264(path: Path, size: tuple[int, int]) -> None:
    info = probe(path)
    assert (info.codec, info.pix_fmt, (info.width, info.height)) == ("h264", "yuv420p", size)
    assert info.fps == 30 and info.frame_count == N and info.duration == pytest.approx(N / 30, abs=0.02)
    assert (info.colorspace, info.color_primaries, info.color_trc, info.color_range) == (
        "bt709",
        "bt709",
        "bt709",
        "tv",
    )


def near(pixel: np.ndarray, colour: tuple[int, ...], tolerance: int) -> bool:
    return int(np.abs(pixel.astype(int) - colour).max()) <= tolerance


def test_standard_job_outputs(tmp_path: Path) -> None:
    files, poster_calls = encode(tmp_path, bg_color=BG, poster_frame=5)
    assert files["video"].name == "video.mp4"
    assert_bt709_h264(files["video"], (W, H))
    assert_bt709_h264(files["web"], (W, H))  # under the 1280 cap: not enlarged
    assert_bt709_h264(files["thumb"], (40, 24))
    for name in ("video", "web", "thumb"):
        atoms = top_level_atoms(files[name])
        assert atoms.index("moov") < atoms.index("mdat"), f"{name} is not fast start: {atoms}"

    frames = decode_frames(files["video"])  # converted back as BT.709
    for i in (0, 5, 11):
        cy, cx = disc_centre(i)
        assert near(frames[i, cy, cx], DISC, 8), frames[i, cy, cx]
        assert near(frames[i, 4, W - 5], BG, 6), frames[i, 4, W - 5]
    # Read back as BT.601 the saturated disc is clearly off: the file really holds BT.709.
    as_601 = decode_frames(files["video"], matrix="bt601")
    assert not near(as_601[0, H // 2, 30], DISC, 15)

    thumb = decode_frames(files["thumb"])
    assert near(thumb[0, 2, 37], BG, 8)

    assert poster_calls == [5], "on_poster must come once, as soon as the poster frame is written"
    poster = np.asarray(Image.open(files["poster"]))
    assert poster.shape == (H, W, 3)
    assert (poster == Compositor(W, H, BG).over_background(disc_frame(5))).all()
    assert Image.open(files["poster_small"]).size == (480, 288)


def test_pro_job_keeps_alpha_in_the_mov_and_the_background_elsewhere(tmp_path: Path) -> None:
    files, poster_calls = encode(tmp_path, quality="pro", bg_color=BG)
    assert files["video"].name == "video.mov"
    assert not (files["video"].parent / "video.mp4").exists()
    info = probe(files["video"])
    assert info.codec == "prores" and info.pix_fmt.startswith("yuva444p")
    assert (info.width, info.height, info.fps, info.frame_count) == (W, H, 30, N)
    assert (info.colorspace, info.color_primaries, info.color_trc) == ("bt709", "bt709", "bt709")

    mov = decode_frames(files["video"], "rgba")
    cy, cx = disc_centre(3)
    assert mov[3, cy, cx, 3] >= 254 and near(mov[3, cy, cx, :3], DISC, 6)
    assert mov[3, 5, 5, 3] <= 1 and mov[3, H - 5, W - 5, 3] <= 1  # transparent: no bgColor in the .mov

    assert_bt709_h264(files["web"], (W, H))
    assert_bt709_h264(files["thumb"], (40, 24))
    web = decode_frames(files["web"])
    assert near(web[3, 5, 5], BG, 6) and near(web[3, cy, cx], DISC, 8)
    poster = np.asarray(Image.open(files["poster"]))
    assert near(poster[5, 5], BG, 0) and poster_calls == [0]


def test_4k_tier_with_foreground_and_watermark(tmp_path: Path) -> None:
    fg = np.zeros((H, W, 4), np.uint8)
    fg[:20, :20] = (0, 255, 0, 255)  # opaque corner logo
    Image.fromarray(fg, "RGBA").save(tmp_path / "fg.png")
    files, _ = encode(tmp_path, quality="4k", bg_color=(255, 255, 255), fg_image=tmp_path / "fg.png", watermark=True)
    assert_bt709_h264(files["video"], (W, H))
    video = decode_frames(files["video"])
    assert near(video[0, 8, 8], (0, 255, 0), 8)  # the foreground is over the disc's path and background
    plain = Compositor(W, H, (255, 255, 255)).over_background(disc_frame(0))
    poster = np.asarray(Image.open(files["poster"]))
    assert (np.abs(poster.astype(int) - plain).max(axis=-1) > 40).mean() > 0.03, "no visible watermark"


def test_pro_mov_carries_foreground_and_watermark(tmp_path: Path) -> None:
    fg = np.zeros((H, W, 4), np.uint8)
    fg[:20, :20] = (0, 255, 0, 255)
    Image.fromarray(fg, "RGBA").save(tmp_path / "fg.png")
    files, _ = encode(tmp_path, quality="pro", fg_image=tmp_path / "fg.png", watermark=True)
    mov = decode_frames(files["video"], "rgba")
    assert mov[0, 8, 8, 3] >= 254 and near(mov[0, 8, 8, :3], (0, 255, 0), 6)
    assert (mov[0, ..., 3] > 20).mean() > 0.1, "watermark letters should be in the alpha channel"


def test_watermark_changes_pixels_only_when_asked(tmp_path: Path) -> None:
    plain, _ = encode(tmp_path / "plain")
    marked, _ = encode(tmp_path / "marked", watermark=True)
    expected = Compositor(W, H, (255, 255, 255)).over_background(disc_frame(0))
    plain_poster = np.asarray(Image.open(plain["poster"]))
    marked_poster = np.asarray(Image.open(marked["poster"]))
    assert (plain_poster == expected).all()
    assert (np.abs(marked_poster.astype(int) - expected).max(axis=-1) > 40).mean() > 0.03


def test_output_sizes() -> None:
    assert thumb_size(1920, 1080) == (480, 270)
    assert thumb_size(3840, 2160) == (960, 540)
    assert thumb_size(1080, 1920) == (270, 480)
    assert web_size(1920, 1080, "standard") == (1280, 720)
    assert web_size(1080, 1920, "standard") == (720, 1280)
    assert web_size(1080, 1080, "standard") == (1080, 1080)
    assert web_size(3840, 2160, "4k") == (1920, 1080)
    assert web_size(2160, 3840, "pro") == (1080, 1920)
    assert poster_small_size(1920, 1080) == (480, 270)
    assert poster_small_size(2160, 3840) == (270, 480)
    for w, h in [(1920, 1080), (2160, 2160), (1000, 562)]:
        assert all(side % 2 == 0 for side in thumb_size(w, h) + web_size(w, h, "standard"))


def no_outputs_left(out_dir: Path) -> bool:
    return not any((out_dir / name).is_file() for name in OUTPUT_NAMES)


def test_odd_size_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="even"):
        JobEncoder(EncodePlan(out_dir=tmp_path, width=161, height=90, frame_count=N))
    assert no_outputs_left(tmp_path)


def test_ffmpeg_failure_is_a_render_error_with_its_message(tmp_path: Path) -> None:
    (tmp_path / "video.mp4").mkdir()  # ffmpeg cannot open its output
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N)
    with pytest.raises(RenderError, match="(?i)is a directory|error opening"), JobEncoder(plan) as encoder:
        for i in range(N):
            encoder.write(disc_frame(i))
        encoder.close()
    assert no_outputs_left(tmp_path)


@pytest.mark.parametrize("quality", ["standard", "pro"])
def test_killed_ffmpeg_is_a_render_error_and_leaves_no_files(tmp_path: Path, quality: str) -> None:
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N, quality=quality)
    with pytest.raises(RenderError), JobEncoder(plan) as encoder:
        encoder.write(disc_frame(0))
        children = [p for p in psutil.Process().children() if "ffmpeg" in p.name()]
        assert children, "the encoder should have started ffmpeg"
        children[0].kill()
        for i in range(1, N):
            encoder.write(disc_frame(i))
        encoder.close()
    assert no_outputs_left(tmp_path)
    assert not [p for p in psutil.Process().children() if "ffmpeg" in p.name()]


def test_abort_leaves_no_partial_files(tmp_path: Path) -> None:
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N)
    encoder = JobEncoder(plan)
    for i in range(N // 2):
        encoder.write(disc_frame(i))  # the posters are written by now
    assert (tmp_path / "poster.png").is_file()
    encoder.abort()
    encoder.abort()  # twice is harmless
    assert no_outputs_left(tmp_path)
    assert not [p for p in psutil.Process().children() if "ffmpeg" in p.name()]


def test_exception_in_the_with_block_aborts(tmp_path: Path) -> None:
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N)
    with pytest.raises(KeyError), JobEncoder(plan) as encoder:
        encoder.write(disc_frame(0))
        raise KeyError("renderer failed")
    assert no_outputs_left(tmp_path)


def test_frame_count_is_enforced(tmp_path: Path) -> None:
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=3)
    encoder = JobEncoder(plan)
    encoder.write(disc_frame(0))
    with pytest.raises(RenderError, match="1 of the planned 3"):
        encoder.close()
    assert no_outputs_left(tmp_path)

    encoder = JobEncoder(plan)
    for i in range(3):
        encoder.write(disc_frame(i))
    with pytest.raises(RenderError, match="more than"):
        encoder.write(disc_frame(3))
    assert no_outputs_left(tmp_path)


def test_wrong_frame_shape_is_a_render_error(tmp_path: Path) -> None:
    encoder = JobEncoder(EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N))
    with pytest.raises(RenderError, match="uint8"):
        encoder.write(np.zeros((H, W, 3), np.uint8))
    assert no_outputs_left(tmp_path)


@pytest.mark.parametrize("quality", ["standard", "pro"])
def test_reused_and_flipped_buffers_are_copied_not_kept(tmp_path: Path, quality: str) -> None:
    """A renderer reads pixels into one buffer, bottom row first, and passes a flipped view each frame."""
    plan = EncodePlan(out_dir=tmp_path, width=W, height=H, frame_count=N, quality=quality)
    bottom_up = np.zeros((H, W, 4), np.uint8)
    with JobEncoder(plan) as encoder:
        for i in range(N):
            bottom_up[...] = disc_frame(i)[::-1]
            encoder.write(bottom_up[::-1])
        outputs = encoder.close()
    frames = decode_frames(outputs.video)
    first, last = disc_centre(0), disc_centre(N - 1)
    assert near(frames[0][first], DISC, 8) and near(frames[N - 1][last], DISC, 8)
    assert not near(frames[N - 1][first], DISC, 40), "the last frame still shows the first frame's disc"
