"""dxgl.render.environment: the built-in rooms, prefiltering, SH, the BRDF table and the cache."""

from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

from dxgl.render import environment as env
from dxgl.render.environment import (
    BRDF_LUT_SIZE,
    LEVEL_HEIGHT,
    LEVEL_WIDTH,
    SPECULAR_LEVELS,
    Environment,
    load_environment,
)

F32 = NDArray[np.float32]


@pytest.fixture(scope="module")
def studio_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("env-cache")


@pytest.fixture(scope="module")
def studio(studio_cache: Path) -> Environment:
    return load_environment("studio", cache_dir=studio_cache)


def _level(e: Environment, k: int) -> F32:
    return np.ascontiguousarray(e.specular[k * LEVEL_HEIGHT : (k + 1) * LEVEL_HEIGHT, :, :3])


def _unit(v: tuple[float, float, float]) -> F32:
    a = np.array(v, np.float32)
    return a / np.float32(np.linalg.norm(a))


def _angle(a: F32, b: F32) -> float:
    return math.acos(max(-1.0, min(1.0, float(a @ b))))


def test_shapes_and_dtypes(studio: Environment) -> None:
    assert studio.specular.shape == (SPECULAR_LEVELS * LEVEL_HEIGHT, LEVEL_WIDTH, 4)
    assert studio.irradiance_sh.shape == (9, 3)
    assert studio.brdf_lut.shape == (BRDF_LUT_SIZE, BRDF_LUT_SIZE, 4)
    assert studio.background.shape == (512, 1024, 4)
    for a in (studio.specular, studio.irradiance_sh, studio.brdf_lut, studio.background):
        assert a.dtype == np.float32 and np.isfinite(a).all()
    assert (studio.specular[..., 3] == 1).all() and (studio.background[..., 3] == 1).all()
    assert len(studio.key) == 64


def test_studio_lights_where_model_viewer_puts_them(studio: Environment) -> None:
    """The brightest texels look at the 80-intensity softboxes (three.js coordinates, the group
    at y = -3.5), the ceiling is brighter than the floor, the floor than the walls at the
    horizon (the point light hangs under the ceiling), and the mean stays as documented."""
    bg = np.ascontiguousarray(studio.background[..., :3])
    lights = [(-14.0, 10.0, 8.0), (-14.0, 14.0, -4.0), (7.0, 8.0, -14.0), (-7.0, 16.0, -14.0)]
    dirs = [_unit((x, y - 3.5, z)) for x, y, z in lights]
    for d in dirs:
        assert env.sample_equirect(bg, d[None])[0, 0] > 40.0  # radiance 80, blurred at the rim only
    # every texel above 40 lies within 0.2 rad of one of them
    grid = env.directions(1024, 512)
    bright = grid[bg[..., 0] > 40.0]
    assert len(bright) > 1000
    nearest = np.max(np.stack([bright @ d for d in dirs]), axis=0)
    assert (nearest > math.cos(0.2)).all()
    # the brightest texel of all is one of them
    row, col = np.unravel_index(np.argmax(bg[..., 0]), bg.shape[:2])
    assert min(_angle(grid[row, col], d) for d in dirs) < 0.15
    up, down = bg[:8].mean(), bg[-8:].mean()
    horizon = bg[250:262, :, 0]
    walls = np.median(horizon)
    assert up > down > walls
    assert env.mean_radiance(bg) == pytest.approx([env.STUDIO_MEAN_RADIANCE] * 3, rel=0.01)


def test_equirect_convention_of_a_user_hdr(tmp_path: Path) -> None:
    """A spot at u = 0.5, v = 0.5 is -Z (behind the model); one at u = 0.75, v = 0.25 is 45 deg up
    towards +X; rows are top first."""
    img = np.full((128, 256, 3), 0.1, np.float32)
    img[62:66, 126:130] = [50.0, 40.0, 30.0]
    img[30:34, 190:194] = [0.0, 0.0, 60.0]
    path = tmp_path / "spot.hdr"
    assert cv2.imwrite(str(path), img[:, :, ::-1])
    e = load_environment("studio", image=path, cache_dir=tmp_path / "cache")
    level0 = _level(e, 0)
    rows, cols = np.nonzero(level0[..., 0] > 10.0)  # the red spot (the blue one has no red)
    row, col = rows.mean(), cols.mean()  # its centre: between texels 127/128 and 255/256
    assert abs(row - 127.5) < 0.5 and abs(col - 255.5) < 0.5
    assert env.directions(LEVEL_WIDTH, LEVEL_HEIGHT)[round(row), round(col)] @ np.array([0, 0, -1]) > 0.99
    blue = env.sample_equirect(level0, _unit((1.0, 1.0, 0.0))[None])[0]
    assert blue[2] > 20.0 and blue[0] < 1.0
    assert e.background.shape == (128, 256, 4)  # a small image keeps its size
    assert env.sample_equirect(np.ascontiguousarray(e.background[..., :3]), _unit((0, 0, -1))[None])[0, 0] > 40


def test_sh_of_a_constant_is_that_constant() -> None:
    img = np.full((64, 128, 3), [0.7, 0.2, 1.5], np.float32)
    coeffs = env.irradiance_sh(img)
    assert coeffs.shape == (9, 3) and coeffs.dtype == np.float32
    rng = np.random.default_rng(1)
    d = rng.normal(size=(100, 3)).astype(np.float32)
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(env.eval_sh(coeffs, d), np.broadcast_to([0.7, 0.2, 1.5], (100, 3)), rtol=2e-3)
    np.testing.assert_allclose(coeffs[1:], 0.0, atol=1e-3)


def test_sh_of_a_sky_lights_the_top() -> None:
    """L = max(0, y): the diffuse radiance of an upward face is (1/pi) * integral of cos^2 = 2/3,
    of a downward face 0 (SH9 rings a little: within 0.05)."""
    d = env.directions(256, 128)
    img = np.repeat(np.maximum(d[..., 1:2], 0.0), 3, axis=2)
    coeffs = env.irradiance_sh(img)
    up_down = env.eval_sh(coeffs, np.array([[0, 1, 0], [0, -1, 0]], np.float32))[:, 0]
    assert up_down[0] == pytest.approx(2 / 3, abs=0.05)
    assert abs(up_down[1]) < 0.05


def test_prefiltered_levels_smooth_and_keep_energy(studio: Environment) -> None:
    level0 = _level(studio, 0)
    mean0 = env.mean_radiance(level0)
    variances = []
    for k in range(SPECULAR_LEVELS):
        level = _level(studio, k)
        np.testing.assert_allclose(env.mean_radiance(level), mean0, rtol=0.10)
        variances.append(float(level.var()))
    assert variances[5] < 0.05 * variances[0]
    assert all(b < a for a, b in zip(variances, variances[1:4], strict=False))
    # level 5 (roughness 1) also has no texel-to-texel noise: neighbours differ by < 2 %
    level5 = _level(studio, 5)[..., 0]
    assert (np.abs(np.diff(level5, axis=1)) / level5[:, 1:]).max() < 0.02


def test_brdf_lut(studio: Environment) -> None:
    lut = studio.brdf_lut
    scale, bias, sheen = lut[..., 0], lut[..., 1], lut[..., 2]
    assert scale[0, -1] == pytest.approx(1.0, abs=0.02)  # smooth, head-on: F0 * 1 + 0
    assert bias[0, -1] == pytest.approx(0.0, abs=0.02)
    assert (scale + bias <= 1.05).all() and (scale >= 0).all() and (bias >= 0).all()
    assert (bias[:, 0] > bias[:, -1]).all()  # Fresnel: grazing views reflect more
    assert (scale[-1, 16:] < scale[0, 16:]).all()  # rough surfaces lose energy to shadowing
    assert ((sheen >= 0) & (sheen <= 1)).all()
    assert sheen[-1, -1] > sheen[4, -1]  # head-on, a rough sheen reflects more than a smooth one
    assert (lut[..., 3] == 1).all()
    np.testing.assert_allclose(lut, env.brdf_lut(), atol=1e-6)  # the cached table is the computed one


def test_cache_reads_the_file(studio: Environment, studio_cache: Path) -> None:
    path = studio_cache / f"env-{studio.key}.npz"
    assert path.is_file()
    before = path.stat()
    again = load_environment("studio", cache_dir=studio_cache)
    after = path.stat()
    assert (after.st_ino, after.st_size) == (
        before.st_ino,
        before.st_size,
    )  # not rewritten (a rewrite renames a new file in)
    assert after.st_mtime_ns >= before.st_mtime_ns  # a hit marks the entry used (least recently used go first)
    np.testing.assert_array_equal(again.specular, studio.specular)
    np.testing.assert_array_equal(again.irradiance_sh, studio.irradiance_sh)
    np.testing.assert_array_equal(again.background, studio.background)
    assert not list(studio_cache.glob("*.part"))  # the atomic write left nothing behind


def test_cache_is_what_is_returned(tmp_path: Path) -> None:
    """Proof that a hit comes from the file: doctor the file, get the doctored values back."""
    image = tmp_path / "env.hdr"
    assert cv2.imwrite(str(image), np.full((512, 1024, 3), 0.5, np.float32))
    first = load_environment("studio", image=image, cache_dir=tmp_path)
    path = tmp_path / f"env-{first.key}.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["sh"] = np.full((9, 3), 7.0, np.float32)
    np.savez(path, **arrays)
    assert (load_environment("studio", image=image, cache_dir=tmp_path).irradiance_sh == 7.0).all()


def test_corrupt_cache_is_rebuilt(tmp_path: Path) -> None:
    image = tmp_path / "env.hdr"
    assert cv2.imwrite(str(image), np.full((64, 128, 3), 0.25, np.float32))
    first = load_environment("studio", image=image, cache_dir=tmp_path)
    path = tmp_path / f"env-{first.key}.npz"
    for garbage in (path.read_bytes()[:1000],):  # a truncated file (a crash mid-write elsewhere)
        path.write_bytes(garbage)
        again = load_environment("studio", image=image, cache_dir=tmp_path)
        np.testing.assert_array_equal(again.specular, first.specular)
        assert path.stat().st_size > 100_000  # rewritten whole
    # a well-formed file of the wrong shapes is also recomputed
    np.savez(path, specular=np.zeros((4, 4, 3), np.float16), sh=np.zeros((9, 3)), background=np.zeros((2, 4, 3)))
    np.testing.assert_array_equal(load_environment("studio", image=image, cache_dir=tmp_path).specular, first.specular)


def test_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = tmp_path / "a.hdr", tmp_path / "b.hdr"
    assert cv2.imwrite(str(a), np.full((64, 128, 3), 0.5, np.float32))
    assert cv2.imwrite(str(b), np.full((64, 128, 3), 0.6, np.float32))
    keys = {env.environment_key("studio"), env.environment_key("soft"), env.environment_key("x", a)}
    keys.add(env.environment_key("x", b))
    assert len(keys) == 4
    assert env.environment_key("studio", a) == env.environment_key("soft", a)  # the image decides
    before = env.environment_key("studio")
    monkeypatch.setattr(env, "ALGORITHM_VERSION", "ibl-test")
    assert env.environment_key("studio") != before


def test_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DXGL_ENVIRONMENT_CACHE", str(tmp_path / "here"))
    assert env.cache_root() == tmp_path / "here"
    monkeypatch.delenv("DXGL_ENVIRONMENT_CACHE")
    monkeypatch.setattr(env.tempfile, "gettempdir", lambda: str(tmp_path))
    root = env.cache_root()
    assert root == tmp_path / f"dxgl-environments-{os.getuid()}"
    assert root.stat().st_mode & 0o777 == 0o700  # private to this user
    root.chmod(0o777)  # a folder others may write into is refused, not used
    with pytest.raises(env.RenderError, match="not a private folder"):
        env.cache_root()


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown environment"):
        load_environment("disco", cache_dir=tmp_path)
    bad = tmp_path / "bad.hdr"
    bad.write_bytes(b"#?RADIANCE\n\n-Y 64 +X 128\n" + bytes(10))
    # decoded in a limited child of its own (DECODE_LIMITS): its refusal comes back as a RenderError
    with pytest.raises(env.RenderError, match="truncated or corrupt"):
        load_environment("studio", image=bad, cache_dir=tmp_path)
    assert not list(tmp_path.glob("env-*"))


def test_blur_keeps_a_constant_and_spreads_a_spot() -> None:
    flat = np.full((128, 256, 3), 2.0, np.float32)
    np.testing.assert_allclose(env.blur_equirect(flat, 0.1), flat, rtol=1e-4)
    spot = np.zeros((128, 256, 3), np.float32)
    spot[63:65, 127:129] = 1.0
    out = env.blur_equirect(spot, 0.1)
    # 4 texels (0.1 rad, one sigma) away: exp(-1/2) of the peak; 32 texels (8 sigma): nothing
    assert 0.45 < out[64, 132, 0] / out[64, 128, 0] < 0.75
    assert out[64, 160, 0] < 1e-3 * out.max()
    assert out.sum() == pytest.approx(spot.sum(), rel=0.05)


@pytest.mark.slow
def test_soft_and_contrast_keep_studios_exposure_and_previews(tmp_path: Path) -> None:
    written = env.main(["preview", str(tmp_path)])
    assert written == 0
    for name in ("studio", "soft", "contrast"):
        png = cv2.imread(str(tmp_path / f"{name}.png"))
        assert png is not None and png.shape == (512, 1024, 3)
    soft, contrast = env.generate_builtin("soft"), env.generate_builtin("contrast")
    for image in (soft, contrast):
        assert env.mean_radiance(image) == pytest.approx([env.STUDIO_MEAN_RADIANCE] * 3, rel=0.01)
    # contrast: a much wider range than soft
    assert np.percentile(contrast, 99.5) / np.percentile(contrast, 5) > 10 * (
        np.percentile(soft, 99.5) / np.percentile(soft, 5)
    )
    # contrast's key light is above, left, in front (-X, +Y, +Z)
    row, col = np.unravel_index(np.argmax(contrast[..., 0]), contrast.shape[:2])
    d = env.directions(1024, 512)[row, col]
    assert d[0] < -0.3 and d[1] > 0.2 and d[2] > 0.3


def test_the_cache_keeps_to_its_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past CACHE_MAX_BYTES the least recently used entries go; the one just used stays."""
    import dxgl.render.environment as environment

    cache = tmp_path / "cache"
    cache.mkdir()
    old = [cache / f"env-old{i}.npz" for i in range(3)]
    for i, path in enumerate(old):
        path.write_bytes(b"x" * 4_000_000)
        os.utime(path, (1_000_000 + i, 1_000_000 + i))
    monkeypatch.setattr(environment, "CACHE_MAX_BYTES", 10_000_000)
    studio = load_environment("studio", cache_dir=cache)
    kept = sorted(p.name for p in cache.glob("env-*.npz"))
    assert f"env-{studio.key}.npz" in kept
    assert "env-old0.npz" not in kept  # the least recently used went first
    assert sum(p.stat().st_size for p in cache.glob("env-*.npz")) <= 10_000_000


def test_a_user_image_is_decoded_under_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The render side never decodes a user's bytes in its own process: a child does, under
    DECODE_LIMITS (here shrunk below what any decode needs, so the child is stopped)."""
    image = tmp_path / "env.hdr"
    assert cv2.imwrite(str(image), np.full((512, 1024, 3), 0.5, np.float32))
    monkeypatch.setattr(env, "DECODE_LIMITS", env.Limits(memory_bytes=64 * 1024 * 1024))
    with pytest.raises(env.RenderError, match="environment image could not be read"):
        load_environment("studio", image=image, cache_dir=tmp_path / "a")
    monkeypatch.undo()
    loaded = load_environment("studio", image=image, cache_dir=tmp_path / "b")
    np.testing.assert_allclose(loaded.background[..., :3], 0.5, atol=0.01)
