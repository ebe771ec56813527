"""Compositor: background colour / image cover-crop anchors, foreground layer, watermark, alpha."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from dxgl.contract import Alignment
from dxgl.render.composite import Compositor, anchor_fractions, load_rgba_image
from dxgl.render.types import RenderError

W, H = 160, 90


def blank(width: int = W, height: int = H) -> np.ndarray:
    return np.zeros((height, width, 4), np.uint8)


def gradient_image(path: Path, width: int, height: int) -> Path:
    """R encodes x (0 at the left edge, 255 at the right), G encodes y: each pixel tells where it came from."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :].repeat(height, 0)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, np.full_like(x, 40)], axis=-1).round().astype(np.uint8)
    Image.fromarray(rgb, "RGB").save(path)
    return path


def test_empty_frame_is_the_background_colour() -> None:
    out = Compositor(W, H, (255, 136, 0)).over_background(blank())
    assert out.shape == (H, W, 3) and out.dtype == np.uint8
    assert (out == (255, 136, 0)).all()


def test_model_over_colour_opaque_and_half_transparent() -> None:
    frame = blank()
    frame[10:20, 10:20] = (0, 0, 255, 255)
    frame[40:50, 40:50] = (0, 0, 0, 128)  # a shadow: dark, half transparent
    out = Compositor(W, H, (200, 100, 50)).over_background(frame)
    assert (out[15, 15] == (0, 0, 255)).all()
    assert np.abs(out[45, 45].astype(int) - (100, 50, 25)).max() <= 1
    assert (out[80, 150] == (200, 100, 50)).all()


@pytest.mark.parametrize("align", [a.value for a in Alignment])
@pytest.mark.parametrize(
    "out_size, image_size",
    [((160, 90), (300, 300)), ((90, 160), (300, 300)), ((90, 90), (600, 300)), ((90, 90), (300, 600))],
    ids=["16:9 from square", "9:16 from square", "1:1 from wide", "1:1 from tall"],
)
def test_background_image_covers_and_crops_from_the_anchor(
    tmp_path: Path, align: str, out_size: tuple[int, int], image_size: tuple[int, int]
) -> None:
    width, height = out_size
    path = gradient_image(tmp_path / "bg.png", *image_size)
    out = (
        Compositor(width, height, (0, 0, 0), bg_image=path, bg_align=align)
        .over_background(blank(width, height))
        .astype(float)
    )
    fx, fy = anchor_fractions(align)
    scale = max(width / image_size[0], height / image_size[1])
    visible_x = width / scale / image_size[0]  # fraction of the image width that stays visible
    visible_y = height / scale / image_size[1]
    assert visible_x == pytest.approx(1) or visible_y == pytest.approx(1), "cover fills one side exactly"
    # The red channel of the left/right columns and the green of the top/bottom rows say which part
    # of the image survived the crop.
    left, right = out[:, 0, 0].mean(), out[:, -1, 0].mean()
    top, bottom = out[0, :, 1].mean(), out[-1, :, 1].mean()
    start_x, start_y = fx * (1 - visible_x), fy * (1 - visible_y)
    assert left == pytest.approx(255 * start_x, abs=5)
    assert right == pytest.approx(255 * (start_x + visible_x), abs=5)
    assert top == pytest.approx(255 * start_y, abs=5)
    assert bottom == pytest.approx(255 * (start_y + visible_y), abs=5)


def test_top_left_keeps_the_images_top_left_corner_and_bottom_right_its_bottom_right(tmp_path: Path) -> None:
    path = gradient_image(tmp_path / "bg.png", 300, 300)
    for align, corner, expected in [("top-left", (0, 0), (0, 0)), ("bottom-right", (-1, -1), (255, 255))]:
        out = Compositor(W, H, (0, 0, 0), bg_image=path, bg_align=align).over_background(blank())
        red, green = out[corner[0], corner[1], :2].astype(int)
        assert abs(red - expected[0]) <= 3 and abs(green - expected[1]) <= 3, (align, red, green)


def test_foreground_is_over_the_model_and_the_background(tmp_path: Path) -> None:
    fg = np.zeros((90, 160, 4), np.uint8)
    fg[:30, :40] = (255, 0, 0, 255)  # an opaque logo in the top-left corner
    Image.fromarray(fg, "RGBA").save(tmp_path / "fg.png")
    frame = blank()
    frame[:, :80] = (0, 0, 255, 255)  # the model covers the left half, logo included
    comp = Compositor(W, H, (0, 255, 0), fg_image=tmp_path / "fg.png")
    out = comp.over_background(frame)
    assert (out[10, 10] == (255, 0, 0)).all()  # logo over the model
    assert (out[60, 10] == (0, 0, 255)).all()  # model
    assert (out[60, 120] == (0, 255, 0)).all()  # background
    kept = comp.keep_alpha(frame)
    assert (kept[10, 10] == (255, 0, 0, 255)).all()
    assert (kept[60, 10] == (0, 0, 255, 255)).all()
    assert kept[60, 120, 3] == 0  # no background in the alpha output


def test_keep_alpha_keeps_straight_alpha_correct(tmp_path: Path) -> None:
    fg = np.zeros((90, 160, 4), np.uint8)
    fg[...] = (255, 255, 255, 128)  # half-transparent white over everything
    Image.fromarray(fg, "RGBA").save(tmp_path / "fg.png")
    frame = blank()
    frame[:, :80] = (0, 0, 0, 255)
    kept = Compositor(W, H, (0, 0, 0), fg_image=tmp_path / "fg.png").keep_alpha(frame)
    # over nothing: the white layer alone, colour unchanged (straight, not premultiplied)
    assert abs(int(kept[45, 120, 3]) - 128) <= 1 and (kept[45, 120, :3] == 255).all()
    # over opaque black: opaque mid grey
    assert kept[45, 20, 3] == 255 and np.abs(kept[45, 20, :3].astype(int) - 128).max() <= 1


def test_flatten_of_keep_alpha_equals_over_background(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fg = rng.integers(0, 256, (90, 160, 4), dtype=np.uint8)
    Image.fromarray(fg, "RGBA").save(tmp_path / "fg.png")
    comp = Compositor(W, H, (30, 60, 90), fg_image=tmp_path / "fg.png", watermark=True)
    frame = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)
    diff = comp.flatten(comp.keep_alpha(frame)).astype(int) - comp.over_background(frame)
    assert np.abs(diff).max() <= 2


def test_keep_alpha_without_layers_is_an_unchanged_copy() -> None:
    frame = np.random.default_rng(2).integers(0, 256, (H, W, 4), dtype=np.uint8)
    kept = Compositor(W, H, (1, 2, 3)).keep_alpha(frame)
    assert kept is not frame and (kept == frame).all()


@pytest.mark.parametrize("size", [(480, 270), (270, 480), (1920, 1080)])
def test_watermark_only_when_asked_and_visible_at_thumbnail_size(size: tuple[int, int]) -> None:
    width, height = size
    plain = Compositor(width, height, (255, 255, 255)).over_background(blank(width, height))
    marked = Compositor(width, height, (255, 255, 255), watermark=True).over_background(blank(width, height))
    assert (plain == 255).all()
    changed = np.abs(marked.astype(int) - plain).max(axis=-1) > 40
    cols = np.flatnonzero(changed.any(axis=0))
    assert changed.mean() > 0.02, "too little of the frame carries the watermark"
    assert cols[-1] - cols[0] > 0.5 * width, "the text should span most of the width"
    # semi-transparent: a black background shows through the white letters
    dark = Compositor(width, height, (0, 0, 0), watermark=True).over_background(blank(width, height))
    assert 40 < dark.max() < 200


@pytest.mark.parametrize("mode", ["P", "L", "LA", "RGB", "RGBA", "CMYK"])
def test_images_of_any_mode_load_as_rgba(tmp_path: Path, mode: str) -> None:
    path = tmp_path / ("img.jpg" if mode == "CMYK" else "img.png")
    source = Image.new("RGB", (40, 20), (10, 200, 30))
    # an adaptive palette holds the colour exactly (the default web palette would dither it)
    converted = source.convert("P", palette=Image.Palette.ADAPTIVE) if mode == "P" else source.convert(mode)
    converted.save(path)
    img = load_rgba_image(path)
    assert img.mode == "RGBA" and img.size == (40, 20)
    comp = Compositor(W, H, (0, 0, 0), bg_image=path)
    assert comp.over_background(blank()).reshape(-1, 3).std(axis=0).max() < 8  # one flat colour


def test_images_over_50_megapixels_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (8000, 6400)).save(path)  # 51.2 Mpx, a few kB on disk
    with pytest.raises(RenderError, match="megapixel"):
        Compositor(W, H, (0, 0, 0), bg_image=path)


def test_unreadable_image_and_unknown_anchor_are_render_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(RenderError):
        Compositor(W, H, (0, 0, 0), fg_image=bad)
    with pytest.raises(RenderError):
        Compositor(W, H, (0, 0, 0), bg_align="middle")


def test_wrong_frame_shape_is_a_render_error() -> None:
    with pytest.raises(RenderError):
        Compositor(W, H, (0, 0, 0)).over_background(np.zeros((H, W, 3), np.uint8))
