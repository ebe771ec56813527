"""dxgl.hdri: reading untrusted .hdr / .exr environment images, header first."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from numpy.typing import NDArray

from dxgl.hdri import ImageTooLarge, probe_environment_image, read_environment_image


def _image(h: int = 64, w: int = 128, seed: int = 0) -> NDArray[np.float32]:
    rng = np.random.default_rng(seed)
    img = (rng.random((h, w, 3)) * 8.0).astype(np.float32)
    img[: h // 4] = [4.0, 2.0, 1.0]  # a coloured band: catches BGR/RGB mix-ups and row order
    return img


def _assert_rgbe_close(out: NDArray[np.float32], img: NDArray[np.float32]) -> None:
    """RGBE shares one exponent a pixel: each channel is exact to 1/128 of the pixel's largest."""
    tol = img.max(axis=2, keepdims=True) / 128.0 + 1e-6
    assert (np.abs(out - img) <= tol).all()


def _write_hdr(path: Path, img: NDArray[np.float32]) -> Path:
    assert cv2.imwrite(str(path), img[:, :, ::-1])
    return path


def _rgbe(img: NDArray[np.float32]) -> bytes:
    """Flat (uncompressed) RGBE pixels, written by hand after Radiance's float2rgbe."""
    m = img.max(axis=2)
    mant, exp = np.frexp(m)
    scale = np.where(m > 1e-32, mant * 256.0 / np.where(m > 0, m, 1.0), 0.0)
    out = np.zeros(img.shape[:2] + (4,), np.uint8)
    out[..., :3] = np.clip(img * scale[..., None], 0, 255).astype(np.uint8)
    out[..., 3] = np.where(m > 1e-32, exp + 128, 0)
    return out.tobytes()


def _flat_hdr(path: Path, img: NDArray[np.float32], header_size: tuple[int, int] | None = None) -> Path:
    h, w = header_size or img.shape[:2]
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y %d +X %d\n" % (h, w) + _rgbe(img))
    return path


def test_hdr_round_trip_cv2(tmp_path: Path) -> None:
    img = _image()
    path = _write_hdr(tmp_path / "a.hdr", img)
    assert probe_environment_image(path) == ("hdr", 128, 64)
    out = read_environment_image(path)
    assert out.shape == (64, 128, 3) and out.dtype == np.float32
    _assert_rgbe_close(out, img)
    np.testing.assert_allclose(out[0, 0], [4.0, 2.0, 1.0], rtol=1e-3)  # RGB order, top row first


def test_hdr_flat_round_trip(tmp_path: Path) -> None:
    img = _image(seed=1)
    path = _flat_hdr(tmp_path / "flat.hdr", img)
    out = read_environment_image(path)
    _assert_rgbe_close(out, img)
    np.testing.assert_allclose(out[0, 5], [4.0, 2.0, 1.0], rtol=1e-3)


@pytest.mark.parametrize("half", [False, True])
def test_exr_round_trip(tmp_path: Path, half: bool) -> None:
    img = _image(seed=2)
    path = tmp_path / "a.exr"
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if half:
        chans = {c: np.ascontiguousarray(img[:, :, i]).astype(np.float16) for i, c in enumerate("RGB")}
        OpenEXR.File(header, chans).write(str(path))
    else:
        OpenEXR.File(header, {"RGB": img}).write(str(path))
    assert probe_environment_image(path) == ("exr", 128, 64)
    out = read_environment_image(path)
    assert out.shape == (64, 128, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out, img, rtol=1e-3 if half else 0, atol=1e-6)


def test_exr_negative_clamped_nan_refused(tmp_path: Path) -> None:
    img = _image(seed=3)
    img[10, 10] = [-0.5, 1.0, 1.0]
    path = tmp_path / "neg.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": img}).write(str(path))
    assert read_environment_image(path)[10, 10, 0] == 0.0
    img[3, 3, 1] = np.nan
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": img}).write(str(path))
    with pytest.raises(ValueError, match="NaN or infinite"):
        read_environment_image(path)


def test_exr_truncated(tmp_path: Path) -> None:
    path = tmp_path / "a.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": _image(seed=4)}).write(str(path))
    data = path.read_bytes()
    for cut in (len(data) - 10, len(data) // 2):
        (tmp_path / "t.exr").write_bytes(data[:cut])
        with pytest.raises(ValueError):
            read_environment_image(tmp_path / "t.exr")


def test_hdr_truncated_rle(tmp_path: Path) -> None:
    path = _write_hdr(tmp_path / "a.hdr", _image(256, 512, seed=5))
    data = path.read_bytes()
    assert data[data.index(b"+X 512\n") + 7] == 2  # cv2 wrote run-length-encoded scanlines
    for cut in (len(data) - 1, len(data) - 300, len(data) // 2, 60):
        (tmp_path / "t.hdr").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            read_environment_image(tmp_path / "t.hdr")


def test_hdr_truncated_flat(tmp_path: Path) -> None:
    path = _flat_hdr(tmp_path / "flat.hdr", _image(seed=6))
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) - 4, len(data) // 2):
        (tmp_path / "t.hdr").write_bytes(data[:cut])
        with pytest.raises(ValueError, match="truncated or corrupt"):
            probe_environment_image(tmp_path / "t.hdr")
        with pytest.raises(ValueError, match="truncated or corrupt"):
            read_environment_image(tmp_path / "t.hdr")


def test_hdr_lying_header(tmp_path: Path) -> None:
    """A header that claims more pixels than the data holds (2048x1024 over 128x64 of data)."""
    small = _write_hdr(tmp_path / "small.hdr", _image(seed=7)).read_bytes()
    lying = small.replace(b"-Y 64 +X 128", b"-Y 1024 +X 2048")
    (tmp_path / "lying.hdr").write_bytes(lying)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_environment_image(tmp_path / "lying.hdr")
    # The same for a lie that passes the size bound: 256x128 declared over 128x64 RLE scanlines
    # padded out with trailing bytes; the scanline markers say 128 wide, so the decoder refuses.
    lying2 = small.replace(b"-Y 64 +X 128", b"-Y 128 +X 256") + bytes(200_000)
    (tmp_path / "lying2.hdr").write_bytes(lying2)
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_environment_image(tmp_path / "lying2.hdr")
    flat = _flat_hdr(tmp_path / "flat.hdr", _image(seed=7), header_size=(128, 256))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_environment_image(flat)


def test_oversized_refused_from_header(tmp_path: Path) -> None:
    """16384x8192 declared with no data: refused by the limits, before any decoding."""
    path = tmp_path / "huge.hdr"
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 8192 +X 16384\n")
    with pytest.raises(ImageTooLarge, match="larger than the 8192x4096 allowed"):
        probe_environment_image(path)
    with pytest.raises(ValueError, match="larger than the 8192x4096 allowed"):
        read_environment_image(path)
    with pytest.raises(ValueError, match="larger than the 64x32 allowed"):
        read_environment_image(_write_hdr(tmp_path / "a.hdr", _image()), max_width=64, max_height=32)


def test_oversized_exr_refused_from_header(tmp_path: Path) -> None:
    path = tmp_path / "a.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": _image(seed=8)}).write(str(path))
    with pytest.raises(ValueError, match="larger than the 64x32 allowed"):
        probe_environment_image(path, max_width=64, max_height=32)


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(100),
        b"#?NOTRADIANCE\n\n-Y 64 +X 128\n" + bytes(100),
        b"",
        b"v/1",
    ],
)
def test_wrong_magic(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.hdr"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a Radiance .hdr or OpenEXR"):
        read_environment_image(path)


@pytest.mark.parametrize(
    ("resolution", "message"),
    [
        (b"-Y 64 X 128", "garbled"),
        (b"nonsense", "garbled"),
        (b"+Y 64 +X 128", "orientation"),
        (b"-Y 0 +X 0", "empty image"),
    ],
)
def test_bad_resolution_line(tmp_path: Path, resolution: bytes, message: str) -> None:
    path = tmp_path / "x.hdr"
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + resolution + b"\n" + bytes(4 * 64 * 128))
    with pytest.raises(ValueError, match=message):
        probe_environment_image(path)


def test_no_blank_line_and_xyze(tmp_path: Path) -> None:
    path = tmp_path / "x.hdr"
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n-Y 64 +X 128\n")
    with pytest.raises(ValueError, match="no end"):
        probe_environment_image(path)
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_xyze\n\n-Y 64 +X 128\n" + bytes(4 * 64 * 128))
    with pytest.raises(ValueError, match="not supported"):
        probe_environment_image(path)


def test_not_two_to_one(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2:1"):
        read_environment_image(_write_hdr(tmp_path / "sq.hdr", _image(64, 64)))
    exr = tmp_path / "sq.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"RGB": _image(64, 100)}).write(str(exr))
    with pytest.raises(ValueError, match="2:1"):
        read_environment_image(exr)
    # within 1 %: 129 x 64 is accepted
    assert read_environment_image(_write_hdr(tmp_path / "ok.hdr", _image(64, 129))).shape == (64, 129, 3)


def test_exr_tiled(tmp_path: Path) -> None:
    img = _image(seed=9)
    path = tmp_path / "tiled.exr"
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.tiledimage, "tiles": OpenEXR.TileDescription()}
    OpenEXR.File(header, {"RGB": img}).write(str(path))
    np.testing.assert_allclose(read_environment_image(path), img)


def test_an_exr_with_many_channels_is_refused_from_its_header(tmp_path: Path) -> None:
    plane = np.zeros((64, 128), np.float32)
    channels = {"R": plane, "G": plane, "B": plane, **{f"extra{i}": plane for i in range(8)}}
    path = tmp_path / "layers.exr"
    OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}, channels).write(str(path))
    with pytest.raises(ValueError, match="more than 8 channels"):
        probe_environment_image(path)
    few = tmp_path / "rgb.exr"
    OpenEXR.File(
        {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage},
        {"RGB": np.zeros((64, 128, 3), np.float32)},
    ).write(str(few))
    assert probe_environment_image(few) == ("exr", 128, 64)
