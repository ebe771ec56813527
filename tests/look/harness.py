"""Rendering one product two ways for the reference comparison (``tests.look.metrics``).

* ``ModelViewer``: ``<model-viewer>`` 4.4.0 (the portal's vendored copy) in Debian's headless
  chromium through Playwright's sync API, on a page served from a local ``http.server`` thread.
  Attributes: ``environment-image="neutral"``, ``camera-orbit="0deg 78deg auto"`` (12° above the
  horizon, dxgl's upright default; for a model dxgl films from higher, by its flat-model rule, the
  polar angle follows: 90° - dxgl's elevation), ``field-of-view="30deg"``, ``interaction-prompt="none"``, the
  element 640x360 CSS px at device scale factor 1. Everything else is model-viewer's default, read
  in its minified source: ``tone-mapping`` "auto", which maps to three.js NeutralToneMapping (7),
  and with the neutral environment ``preRender`` multiplies the exposure (default 1) by 1.3;
  ``shadow-intensity`` 0 (no ground shadow); transparent background. Its dynamic render scaling is
  pinned (``minimumRenderScale = 1``) so a slow software GL cannot shrink the frame, and each
  capture is checked: exact size, transparent corners, two captures a few frames apart identical.
* ``render_dxgl``: dxgl's poster frame, drawn the way ``dxgl.render.video_child`` draws one (the
  validated default settings with ``shadows: false`` and the requested size, ``JobSpec.from_settings``,
  ``camera_path``, ``Renderer(..., look=spec.look).draw`` of ``poster_frame_index``; keep this in
  step with video_child) in one spawned child for all models
  (GL never runs in the calling process). No lighting is set here: whatever the default look of
  the current dxgl is, is what is measured.

Both give (H, W, 4) uint8 straight-alpha sRGB frames with a transparent background.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from tests.browser import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
MODEL_VIEWER_JS = ROOT / "dxgl" / "portal" / "vendor" / "model-viewer-4.4.0" / "model-viewer.min.js"
WIDTH, HEIGHT = 640, 360
DEFAULT_ELEVATION = 12.0  # degrees: camera-orbit "0deg 78deg auto", dxgl's upright default
CHROMIUM_ARGS = ["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist"]

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>reference</title><link rel="icon" href="data:,">
<style>html,body{{margin:0;padding:0;background:transparent}}
model-viewer{{display:block;width:{width}px;height:{height}px;background-color:transparent}}</style>
<script type="module">
import "/model-viewer.min.js";
// A slow software GL must not make model-viewer lower its render resolution.
customElements.get("model-viewer").minimumRenderScale = 1;
</script></head>
<body><model-viewer src="{src}" environment-image="neutral" camera-orbit="0deg {polar:g}deg auto"
field-of-view="30deg" interaction-prompt="none"></model-viewer></body></html>
"""

# Runs in the page: wait for the model, let a few frames go by, return the canvas as a PNG data URL.
CAPTURE_JS = """async ([frames, timeoutMs]) => {
  const mv = document.querySelector("model-viewer");
  if (!mv.loaded) {
    // page.evaluate itself never times out: the page gives up on its own.
    await new Promise((resolve, reject) => {
      setTimeout(() => reject(new Error("no load event in " + timeoutMs + " ms")), timeoutMs);
      mv.addEventListener("load", resolve, {once: true});
      mv.addEventListener("error", (e) => reject(new Error("model-viewer error: " +
        JSON.stringify(e.detail && e.detail.type) + " " + String(e.detail && e.detail.sourceError))), {once: true});
    });
  }
  await mv.updateComplete;
  for (let i = 0; i < frames; i++) await new Promise((r) => requestAnimationFrame(r));
  const blob = await mv.toBlob({mimeType: "image/png"});
  return await new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsDataURL(blob);
  });
}"""


class ReferenceError_(RuntimeError):
    """model-viewer did not give a usable frame (said why)."""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "(no message)"


def _decode_png(data_url: str) -> NDArray[np.uint8]:
    head, _, body = data_url.partition(",")
    if not head.startswith("data:image/png;base64"):
        raise ReferenceError_(f"model-viewer returned {head[:40]!r}, not a PNG")
    image = Image.open(io.BytesIO(base64.b64decode(body)))
    return np.asarray(image.convert("RGBA")).copy()


class ModelViewer:
    """One chromium and one local web server for many models; use as a context manager.
    ``render(path)`` -> (HEIGHT, WIDTH, 4) uint8 RGBA. ``path`` is a .glb or a .gltf (its folder is
    served, so relative buffers and textures load)."""

    def __init__(self, chromium: str = CHROMIUM, *, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.chromium, self.width, self.height = chromium, width, height
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: http.server.ThreadingHTTPServer | None = None
        self._playwright: Any = None
        self._browser: Any = None
        self._served: dict[Path, str] = {}
        self.errors: list[str] = []

    def __enter__(self) -> ModelViewer:
        from playwright.sync_api import sync_playwright

        self._tmp = tempfile.TemporaryDirectory(prefix="dxgl-look-")
        root = Path(self._tmp.name)
        (root / "model-viewer.min.js").symlink_to(MODEL_VIEWER_JS)
        handler = functools.partial(_QuietHandler, directory=str(root))
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=self.chromium, args=CHROMIUM_ARGS)
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._playwright is not None:
            self._playwright.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._tmp is not None:
            self._tmp.cleanup()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "use ModelViewer as a context manager"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _serve(self, model: Path) -> str:
        """The model's URL path: its folder is linked into the served root once."""
        assert self._tmp is not None
        folder = model.resolve().parent
        if folder not in self._served:
            name = f"m{len(self._served)}"
            (Path(self._tmp.name) / name).symlink_to(folder, target_is_directory=True)
            self._served[folder] = name
        return f"/{self._served[folder]}/{model.name}"

    def render(
        self, model: Path, *, elevation: float = DEFAULT_ELEVATION, timeout_s: float = 120.0, attempts: int = 6
    ) -> NDArray[np.uint8]:
        """(height, width, 4) uint8 straight-alpha sRGB: the settled frame of ``model`` seen from
        ``elevation`` degrees above the horizon (camera-orbit's polar angle is 90 - elevation)."""
        assert self._tmp is not None and self._browser is not None, "use ModelViewer as a context manager"
        if not model.is_file():
            raise FileNotFoundError(model)
        page_name = f"page-{len(list(Path(self._tmp.name).glob('page-*.html')))}.html"
        html = PAGE.format(width=self.width, height=self.height, src=self._serve(model), polar=90.0 - elevation)
        (Path(self._tmp.name) / page_name).write_text(html, encoding="utf-8")
        context = self._browser.new_context(
            viewport={"width": self.width + 40, "height": self.height + 40}, device_scale_factor=1
        )
        try:
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(_first_line(str(exc))))
            page.on("console", lambda m: errors.append(_first_line(m.text)) if m.type == "error" else None)
            page.set_default_timeout(timeout_s * 1000)
            page.goto(f"{self.base_url}/{page_name}")
            page.wait_for_function("customElements.get('model-viewer') !== undefined")
            deadline = time.monotonic() + timeout_s
            wait_ms = int(timeout_s * 1000)
            try:
                previous = _decode_png(page.evaluate(CAPTURE_JS, [3, wait_ms]))
            except Exception as exc:  # Playwright's Error: say which model and why, in one line
                raise ReferenceError_(f"{model.name}: {_first_line(str(exc))} ({'; '.join(errors)[:400]})") from exc
            for _ in range(attempts):
                frame = _decode_png(page.evaluate(CAPTURE_JS, [3, wait_ms]))
                if np.array_equal(frame, previous):
                    break
                previous = frame
                if time.monotonic() > deadline:
                    raise ReferenceError_(f"{model.name}: model-viewer's frame did not settle in {timeout_s:g} s")
            else:
                raise ReferenceError_(f"{model.name}: model-viewer's frame did not settle in {attempts} captures")
            self.errors.extend(f"{model.name}: {e}" for e in errors)
            if errors:
                # A texture or buffer that did not load makes a picture that is no reference.
                raise ReferenceError_(f"{model.name}: the page reported errors: {'; '.join(errors)[:400]}")
        finally:
            context.close()
        self._check(model, frame)
        return frame

    def _check(self, model: Path, frame: NDArray[np.uint8]) -> None:
        if frame.shape != (self.height, self.width, 4):
            raise ReferenceError_(
                f"{model.name}: model-viewer gave a {frame.shape[1]}x{frame.shape[0]} frame, "
                f"not {self.width}x{self.height} (render scale or device pixel ratio is off)"
            )
        corners = frame[[0, 0, -1, -1], [0, -1, 0, -1], 3]
        if corners.any():
            raise ReferenceError_(
                f"{model.name}: model-viewer's background is not transparent (corner alpha {corners})"
            )
        if not (frame[..., 3] > 128).any():
            raise ReferenceError_(f"{model.name}: model-viewer drew nothing")


# --- dxgl ---------------------------------------------------------------------------------------


def _dxgl_frames(models: list[str], width: int, height: int) -> list[tuple[NDArray[np.uint8], float]]:
    """In the spawned child: (poster frame, camera elevation in degrees) of each model, drawn the way
    video_child draws a job's frames."""
    from dxgl.render.camera import camera_path, elevation_of, poster_frame_index
    from dxgl.render.renderer import Renderer
    from dxgl.render.scene import load_scene
    from dxgl.render.spec import JobSpec
    from dxgl.services.render_settings import validate_render_settings

    # The default settings a real job gets, except the ground shadow: model-viewer draws none by
    # default, and a shadow would be counted as product in the mask.
    spec = JobSpec.from_settings(validate_render_settings({"shadows": False}), size=(width, height))
    frames = []
    for model in models:
        scene = load_scene(Path(model))
        poses = camera_path(spec, scene.frame_points, scene.bounds)
        renderer = Renderer(scene, spec.width, spec.height, look=spec.look)
        try:
            pose = poses[poster_frame_index(spec)]
            frame = renderer.draw(pose, shadows=spec.shadows, reflector=spec.reflector, tilt_x=spec.tilt_x)
            frames.append((np.array(frame, dtype=np.uint8, copy=True), elevation_of(spec, scene.bounds)))
        finally:
            renderer.close()
    return frames


@dataclass(frozen=True)
class DxglFrame:
    """``rgba`` (height, width, 4) uint8 straight-alpha sRGB; ``elevation`` the camera height angle
    (degrees) dxgl chose for the model (its flat-model rule: model-viewer is given the same)."""

    rgba: NDArray[np.uint8]
    elevation: float


def render_dxgl(models: Sequence[Path], *, width: int = WIDTH, height: int = HEIGHT) -> list[DxglFrame]:
    """dxgl's poster frames, drawn in one spawned child for all ``models`` (EGL_PLATFORM defaults
    to surfaceless there, as on these machines)."""
    os.environ.setdefault("EGL_PLATFORM", "surfaceless")
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        drawn: list[tuple[NDArray[np.uint8], float]] = pool.apply(
            _dxgl_frames, ([str(m) for m in models], width, height)
        )
    frames = [DxglFrame(rgba, float(elevation)) for rgba, elevation in drawn]
    for model, frame in zip(models, (f.rgba for f in frames)):
        if frame.shape != (height, width, 4):
            raise RuntimeError(f"{model.name}: dxgl gave a {frame.shape} frame, not ({height}, {width}, 4)")
    return frames
