"""``dxgl render MODEL -o OUT``: render one video job locally, no server, database or Redis.

It lives beside (not inside) ``dxgl/render`` because it validates settings with the services' rule
(``dxgl.services.render_settings``), which the pure render library must not import.

``render_command`` is what the main ``dxgl`` CLI calls; ``python -m dxgl.render_cli`` runs it too.
Exit codes: 0 done, 2 bad settings / bad model / render failure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from dxgl.contract import BuiltinEnvironment, Effect
from dxgl.errors import DxglError
from dxgl.render import JobSpec, RenderError, render_job
from dxgl.services.render_settings import validate_render_settings

_SIZE = re.compile(r"^(\d{2,5})x(\d{2,5})$")


def parse_size(size: str) -> tuple[int, int]:
    """ "WxH" -> (W, H); both even (video encoders need it), 16..16384 / 2."""
    match = _SIZE.match(size.strip().lower())
    if not match:
        raise RenderError(f'--size must look like 1280x720, got "{size}"')
    w, h = int(match.group(1)), int(match.group(2))
    if not (16 <= w <= 8192 and 16 <= h <= 8192) or w % 2 or h % 2:
        raise RenderError("--size needs even width and height from 16 to 8192")
    return w, h


def render_command(
    model: str, out_dir: str, settings_json: str | None, size: str | None, environment_image: str | None = None
) -> int:
    """Validate settings, render ``model`` into ``out_dir`` with a progress bar; return the exit code.
    ``environment_image``: a local .hdr / .exr to light with (an environment overlay's file)."""
    from tqdm import tqdm

    try:
        try:
            raw = json.loads(settings_json) if settings_json else None
        except json.JSONDecodeError as exc:
            raise RenderError(f"--settings is not valid JSON: {exc.msg}") from None
        try:
            settings = validate_render_settings(raw)
        except DxglError as exc:
            raise RenderError(str(exc)) from None
        if settings["effect"] == Effect.DATASET:
            raise RenderError("dataset renders are not supported by this command; choose a video effect")
        image = Path(environment_image) if environment_image else None
        if image is not None and not image.is_file():
            raise RenderError(f"--environment-image {image} is not a file")
        if image is None and settings["environment"] not in tuple(BuiltinEnvironment):
            raise RenderError(
                f"environment {settings['environment']!r} names an overlay, which lives on a server; "
                "to light with a local HDRI pass --environment-image PATH"
            )
        spec = JobSpec.from_settings(settings, size=parse_size(size) if size else None, environment_image=image)
        bar = tqdm(total=spec.frame_count, unit="frame", desc="rendering", file=sys.stderr)

        def on_event(name: str, payload: dict[str, Any]) -> None:
            if name == "frames":
                bar.update(payload["done"] - bar.n)
            elif name == "encoding":
                bar.set_description("encoding")
            elif name == "poster":
                bar.write(f"poster: {payload['path']}")

        try:
            outputs = render_job(Path(model), spec, Path(out_dir), on_event=on_event)
        finally:
            bar.close()
    except RenderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path in outputs.files():
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dxgl.render_cli", description="Render a 3D model to video")
    parser.add_argument("model", help="a .glb, .gltf or .obj file")
    parser.add_argument("-o", "--out", required=True, help="output folder")
    parser.add_argument("--settings", default=None, help="renderSettings as JSON")
    parser.add_argument("--size", default=None, help="output size WxH, overrides the quality tier's size")
    parser.add_argument("--environment-image", default=None, help="a local .hdr / .exr to light with")
    args = parser.parse_args(argv)
    return render_command(args.model, args.out, args.settings, args.size, args.environment_image)


if __name__ == "__main__":
    sys.exit(main())
