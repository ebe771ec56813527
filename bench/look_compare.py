"""dxgl's poster against model-viewer 4.4's render of the same model; prints one JSON object
{model: {l_dxgl, l_mv, delta_l, de2000, iou, ...}} (definitions: tests/look/metrics.py).

    EGL_PLATFORM=surfaceless .venv/bin/python bench/look_compare.py [--out DIR] [--cache DIR]
        [--all] [--diff] [MODEL ...]

* MODEL: names in the shared models folder (``Duck``, ``DamagedHelmet-gltf/DamagedHelmet.gltf``) or
  paths; default Duck, BoxTextured, CesiumMilkTruck. ``--all`` adds every other .glb/.gltf there
  but the KTX2 ones (``compressed/`` too: those that need a decoder model-viewer would download,
  Draco and meshopt, fail and are reported as {"error": ...}, as are those dxgl cannot read).
* ``--out DIR`` (default docs/images/reference): per model ``side_<model>.png`` (model-viewer | dxgl
  on a neutral grey, labelled, figures underneath), the raw RGBA frames ``mv_<model>.png`` and
  ``dxgl_<model>.png``, with ``--diff`` a ``diff_<model>.png`` CIEDE2000 map of the aligned products
  (black 0, white >= 10, blue where the colour is not compared), and ``figures.json``.
* ``--cache DIR``: model-viewer frames are kept there under a key of the model's bytes, the
  model-viewer bundle, the size and the camera, and reused: a tuning run then costs only dxgl's
  render (a few seconds), and no browser is started when every frame is cached.

dxgl is drawn as a real poster is (the default settings, ``shadows: false``; tests/look/harness.py),
so the figures follow whatever the current default look is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from tests.assets import MODELS_DIR
from tests.look.harness import CHROMIUM, HEIGHT, MODEL_VIEWER_JS, PAGE, WIDTH, ModelViewer, render_dxgl
from tests.look.metrics import Comparison, align, compare, delta_e_map

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODELS = ("Duck", "BoxTextured", "CesiumMilkTruck")
BACKGROUND = (204, 204, 204)  # neutral grey (L* 82) behind both products in the side-by-side
GAP, CAPTION = 8, 44


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def resolve(model: str) -> Path:
    """A model name (``Duck``), a name under the shared models folder, or a path."""
    for candidate in (Path(model), MODELS_DIR / model, MODELS_DIR / f"{model}.glb"):
        if candidate.is_file():
            return candidate.resolve()
    raise SystemExit(f"no model {model!r} (looked in {MODELS_DIR})")


def label(path: Path) -> str:
    """The model's name in file names and JSON: the file's stem (``compressed/`` ones keep theirs)."""
    return path.stem


def every_model() -> list[Path]:
    """Every .glb/.gltf of the shared models but the KTX2 ones: offline, model-viewer's Basis
    transcoder (fetched from a CDN) is missing and it draws them untextured, some without an error,
    which is no reference."""
    found = sorted(
        p
        for p in MODELS_DIR.rglob("*")
        if p.suffix.lower() in (".glb", ".gltf") and p.is_file() and "ktx2" not in p.name.lower()
    )
    return [p.resolve() for p in found]


def cache_key(model: Path, elevation: float) -> str:
    digest = hashlib.sha256()
    for part in (
        model.read_bytes(),
        MODEL_VIEWER_JS.read_bytes(),
        PAGE.encode(),
        f"{WIDTH}x{HEIGHT}@{elevation:g}".encode(),
    ):
        digest.update(hashlib.sha256(part).digest())
    return digest.hexdigest()[:16]


def over(frame: NDArray[np.uint8], colour: tuple[int, int, int]) -> Image.Image:
    """(H, W, 4) straight RGBA composited over ``colour``: an RGB image."""
    back = Image.new("RGBA", (frame.shape[1], frame.shape[0]), (*colour, 255))
    return Image.alpha_composite(back, Image.fromarray(frame, "RGBA")).convert("RGB")


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # a Pillow without FreeType sizes
        return ImageFont.load_default()


def side_by_side(
    name: str, mv: NDArray[np.uint8], dxgl: NDArray[np.uint8], figures: Comparison, env: str
) -> Image.Image:
    """model-viewer | dxgl, on ``BACKGROUND``, names in the corners and the figures underneath."""
    w, h = mv.shape[1], mv.shape[0]
    sheet = Image.new("RGB", (2 * w + GAP, h + CAPTION), (255, 255, 255))
    sheet.paste(over(mv, BACKGROUND), (0, 0))
    sheet.paste(over(dxgl, BACKGROUND), (w + GAP, 0))
    draw = ImageDraw.Draw(sheet)
    small, big = _font(14), _font(16)
    draw.text((8, 6), "model-viewer 4.4 (neutral environment)", fill=(40, 40, 40), font=small)
    draw.text((w + GAP + 8, 6), f"dxgl ({env})", fill=(40, 40, 40), font=small)
    text = (
        f"{name}:  L* model-viewer {figures.l_mv:.1f}, dxgl {figures.l_dxgl:.1f} ({figures.delta_l:+.1f})    "
        f"mean CIEDE2000 {figures.de2000:.2f}    silhouette IoU {figures.iou:.3f}"
    )
    draw.text((8, h + 12), text, fill=(20, 20, 20), font=big)
    return sheet


def diff_image(dxgl: NDArray[np.uint8], mv: NDArray[np.uint8]) -> Image.Image:
    """The aligned products' CIEDE2000 per pixel: grey 0 (black) .. 10+ (white), blue not compared."""
    de = delta_e_map(align(dxgl, mv))
    grey = np.clip(np.nan_to_num(de, nan=0.0) / 10.0 * 255.0, 0, 255).astype(np.uint8)
    rgb = np.stack([grey, grey, grey], axis=2)
    rgb[np.isnan(de)] = (40, 60, 110)
    return Image.fromarray(rgb, "RGB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", help="model names or paths (default: Duck BoxTextured CesiumMilkTruck)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "reference")
    parser.add_argument("--cache", type=Path, default=None, help="reuse model-viewer frames kept here")
    parser.add_argument("--all", action="store_true", help="add every other .glb/.gltf of the shared models")
    parser.add_argument("--diff", action="store_true", help="also write diff_<model>.png")
    args = parser.parse_args()

    paths = [resolve(m) for m in (args.models or DEFAULT_MODELS)]
    if args.all:
        paths += [p for p in every_model() if p not in paths]
    names = [label(p) for p in paths]
    if len(set(names)) != len(names):
        raise SystemExit(f"two models share a name: {names}")
    args.out.mkdir(parents=True, exist_ok=True)
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)

    from dxgl.contract import DEFAULT_ENVIRONMENT

    started = time.monotonic()
    results: dict[str, dict[str, object]] = {}
    drawn: dict[str, tuple[NDArray[np.uint8], float]] = {}
    try:  # one child for all: a tuning run pays for one start
        drawn = {name: (f.rgba, f.elevation) for name, f in zip(names, render_dxgl(paths))}
    except Exception as exc:  # one model dxgl cannot draw must not hide the others' figures: one by one
        log(f"dxgl: one child for all failed ({type(exc).__name__}: {str(exc)[:200]}); one child a model")
        for path, name in zip(paths, names):
            try:
                frame = render_dxgl([path])[0]
            except Exception as exc:
                results[name] = {"error": f"dxgl: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}
                continue
            drawn[name] = (frame.rgba, frame.elevation)
    log(f"dxgl: {len(drawn)} frames in {time.monotonic() - started:.1f} s")

    mv_frames: dict[str, NDArray[np.uint8]] = {}
    missing: list[tuple[Path, str, float, Path | None]] = []
    for path, name in zip(paths, names):
        if name not in drawn:
            continue
        elevation = drawn[name][1]
        cached = None if args.cache is None else args.cache / f"mv_{name}_{cache_key(path, elevation)}.png"
        if cached is not None and cached.is_file():
            mv_frames[name] = np.asarray(Image.open(cached).convert("RGBA")).copy()
        else:
            missing.append((path, name, elevation, cached))
    if missing:
        t0 = time.monotonic()
        with ModelViewer(CHROMIUM) as viewer:
            for path, name, elevation, cached in missing:
                try:
                    mv_frames[name] = viewer.render(path, elevation=elevation, timeout_s=45.0)
                except Exception as exc:
                    results[name] = {"error": f"model-viewer: {str(exc).splitlines()[0]}"}
                    continue
                if cached is not None:
                    Image.fromarray(mv_frames[name], "RGBA").save(cached)
            for error in viewer.errors:
                log(f"model-viewer page: {error}")
        log(f"model-viewer: {len(missing)} frames in {time.monotonic() - t0:.1f} s")

    for name in names:
        if name not in drawn or name not in mv_frames:
            continue
        dxgl, elevation = drawn[name]
        mv = mv_frames[name]
        try:
            figures = compare(dxgl, mv)
        except ValueError as exc:
            results[name] = {"error": str(exc)}
            continue
        results[name] = {**figures.as_dict(), "elevation": elevation}
        Image.fromarray(mv, "RGBA").save(args.out / f"mv_{name}.png")
        Image.fromarray(dxgl, "RGBA").save(args.out / f"dxgl_{name}.png")
        side_by_side(name, mv, dxgl, figures, DEFAULT_ENVIRONMENT.value).save(args.out / f"side_{name}.png")
        if args.diff:
            diff_image(dxgl, mv).save(args.out / f"diff_{name}.png")
    # One model a line: still JSON, and readable in a terminal while tuning.
    text = "{\n" + ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in results.items()) + "\n}\n"
    (args.out / "figures.json").write_text(text, encoding="utf-8")
    log(f"total {time.monotonic() - started:.1f} s; pictures in {args.out}")
    print(text, end="")


if __name__ == "__main__":
    main()
