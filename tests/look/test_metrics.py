"""The reference comparison's metrics on synthetic frames (no browser, no GL): they see framing
through, and see colour, lightness and shape differences."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from skimage.color import rgb2lab

from tests.look.metrics import compare, mean_lightness


def _product(
    size: tuple[int, int] = (640, 360),
    box: tuple[int, int, int, int] = (200, 60, 440, 320),
    colour: tuple[int, int, int] = (200, 160, 40),
    shape: str = "ellipse",
) -> NDArray[np.uint8]:
    """(H, W, 4) uint8: a shaded opaque shape (left half lighter) on a transparent background
    whose colour channels are garbage, drawn 4x and downsampled so its edge is anti-aliased."""
    scale = 4
    big = Image.new("RGBA", (size[0] * scale, size[1] * scale), (0, 255, 0, 0))
    draw = ImageDraw.Draw(big)
    x0, y0, x1, y1 = (v * scale for v in box)
    getattr(draw, shape)((x0, y0, x1, y1), fill=(*colour, 255))
    lighter = tuple(min(255, c + 40) for c in colour)
    mid = (x0 + x1) // 2
    half = Image.new("RGBA", big.size, (0, 0, 0, 0))
    ImageDraw.Draw(half).rectangle((x0, y0, mid, y1), fill=(*lighter, 255))
    mask = np.asarray(big)[..., 3] > 0
    arr = np.asarray(big).copy()
    arr[mask & (np.asarray(half)[..., 3] > 0), :3] = lighter
    small = Image.fromarray(arr).resize(size, Image.Resampling.BOX)
    return np.asarray(small).copy()


def test_identical_frames_match_exactly() -> None:
    frame = _product()
    c = compare(frame, frame)
    assert c.iou == 1.0 and c.de2000 == pytest.approx(0.0, abs=1e-9) and c.delta_l == 0.0


def test_framing_is_aligned_away() -> None:
    # The same product smaller and elsewhere in the picture: the shape and colour still match.
    a = _product(box=(200, 60, 440, 320))
    b = _product(box=(60, 100, 240, 295))
    c = compare(a, b)
    assert c.iou > 0.97, c
    assert c.de2000 < 1.0, c
    assert abs(c.delta_l) < 0.5, c
    # Without alignment the two barely overlap: the figure really comes from the alignment.
    raw = ((a[..., 3] > 127) & (b[..., 3] > 127)).sum() / ((a[..., 3] > 127) | (b[..., 3] > 127)).sum()
    assert raw < 0.5


def test_a_different_shape_lowers_iou() -> None:
    c = compare(_product(shape="ellipse"), _product(shape="rectangle"))
    assert c.iou < 0.9, c


def test_darker_render_is_measured() -> None:
    light = _product(colour=(200, 160, 40))
    dark = _product(colour=(150, 115, 20))
    c = compare(dark, light)
    expected = (
        rgb2lab(np.array([[[150, 115, 20]]]) / 255.0)[0, 0, 0] - rgb2lab(np.array([[[200, 160, 40]]]) / 255.0)[0, 0, 0]
    )
    assert c.delta_l < -10
    # Half of each product is 40 levels lighter: the mean shift is near, not equal to, the flat one.
    assert c.delta_l == pytest.approx(expected, abs=3.0)
    assert c.de2000 > 5


def test_lightness_leaves_edges_and_background_out() -> None:
    # A flat mid grey square: sRGB 119 is L* 50.0; the anti-aliased edge, blended with the
    # transparent background's colour, must not pull the mean.
    frame = np.zeros((100, 100, 4), np.uint8)
    frame[..., 1] = 255  # garbage colour under alpha 0
    frame[20:80, 20:80] = (119, 119, 119, 255)
    frame[19, 20:80] = (0, 255, 0, 120)  # a half-covered edge row
    assert mean_lightness(frame) == pytest.approx(50.0, abs=0.1)


def test_an_empty_frame_is_refused() -> None:
    empty = np.zeros((90, 160, 4), np.uint8)
    with pytest.raises(ValueError, match="no product"):
        compare(empty, _product(size=(160, 90), box=(40, 10, 120, 80)))
    with pytest.raises(ValueError, match=r"\(H, W, 4\)"):
        compare(np.zeros((90, 160, 3), np.uint8), empty)
